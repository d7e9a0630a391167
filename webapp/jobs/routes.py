"""Pages of background jobs: follow one (the status block polls itself while the job is queued
or running), fetch its file, list one's own. Nothing here writes."""

import io
import mimetypes

from flask import Blueprint, abort, request, send_file
from flask_login import current_user

from ..accounts.gates import any_user
from ..core.jobs import kind_of, read_result, result_name
from ..core.render import render
from . import queries

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.get("")
@any_user
def index():
    """The user's own background jobs; the office may ask for everyone's (``?scope=all``)."""
    everyone = request.args.get("scope") == "all" and queries.may_see_all(current_user)
    return render("jobs/index.html", rows=queries.listing(current_user, everyone=everyone),
                  everyone=everyone, may_see_all=queries.may_see_all(current_user), kind_of=kind_of)


@bp.get("/<int:job_id>")
@any_user
def detail(job_id: int):
    """A job's status, progress and result; htmx polls ask for the status block alone."""
    job = queries.get_visible(job_id, current_user)
    return render("jobs/detail.html", block="status", job=job, kind=kind_of(job.kind),
                  owner=queries.owner_of(job), has_file=result_name(job) is not None)


@bp.get("/<int:job_id>/download")
@any_user
def download(job_id: int):
    """The job's result file, to whoever may see the job."""
    job = queries.get_visible(job_id, current_user)
    data = read_result(job)
    if data is None:
        abort(404)
    name = (job.result or {}).get("filename") or job.file
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    # Read whole, as the photos are (an export is capped at 100,000 rows, about 10 MB), from
    # whichever store holds it: no file handle outlives the request.
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                         download_name=name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
