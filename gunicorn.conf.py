"""Settings gunicorn reads from the folder it starts in (``make run``, the benchmarks).

After a worker has loaded the app, everything alive then (the app, its routes, templates,
SQLAlchemy's metadata, the translations) is moved out of the garbage collector's sight
(``gc.freeze``): those objects live as long as the process, and the full collections the
requests' allocations trigger no longer walk them each time.
"""

import gc


def post_worker_init(worker):
    gc.collect()
    gc.freeze()
