"""Document numbers drawn at the same instant by several processes' worth of connections: each
gets its own number, none is skipped, none given twice (the counter row is locked while drawn)."""

import threading

from sqlalchemy import select

from webapp.core.db import writing
from webapp.core.extensions import db
from webapp.core.numbering import NumberSequence, next_number

CLERKS = 6


def test_numbers_drawn_at_once_are_distinct_and_consecutive(app):
    start = db.session.scalar(select(NumberSequence.last).where(
        NumberSequence.kind == "notice", NumberSequence.year == 2026)) or 0
    db.session.commit()
    barrier = threading.Barrier(CLERKS)
    drawn: list = [None] * CLERKS

    def clerk(i):
        try:
            with app.app_context(), writing():
                barrier.wait(timeout=30)
                drawn[i] = next_number("notice", 2026)[2]
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            drawn[i] = exc

    threads = [threading.Thread(target=clerk, args=(i,)) for i in range(CLERKS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(isinstance(d, BaseException) for d in drawn), drawn
    expected = {f"贾走访督〔2026〕{n:04d}号" for n in range(start + 1, start + CLERKS + 1)}
    assert set(drawn) == expected
