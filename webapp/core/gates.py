"""Markers read by the one authorisation hook (``accounts.gates``).

Every view must declare who may call it: ``@public`` here, or ``@roles_required(...)`` in
``accounts.gates``. A view with neither is refused (fail closed), and the access-matrix test
fails for it.
"""


def public(view):
    """Mark a view as reachable without login (login page, health check, static)."""
    view.gate = "public"
    return view


def gate_of(view) -> object | None:
    return getattr(view, "gate", None)
