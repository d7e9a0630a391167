"""One ``render`` for full pages and htmx fragments (locality of behaviour, one view per page)."""

from flask import make_response, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    """True for an htmx request that wants a fragment (not a history restore)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def render(template: str, block: str | None = None, *, status: int = 200, trigger: str | None = None, **ctx):
    """Render ``block`` of ``template`` for htmx requests, the whole page otherwise.

    ``trigger`` names an htmx event sent with the response (``HX-Trigger``) so that other parts of
    the page, such as counters, refresh themselves.
    """
    if block and is_htmx():
        body = render_block(template, block, **ctx)
    else:
        body = render_template(template, **ctx)
    response = make_response(body, status)
    response.headers["Vary"] = "HX-Request"
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response
