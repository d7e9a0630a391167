"""The access matrix: every route × every demo role (and anonymous), with the expected answer.

Each area adds a module here defining ``RULES``: a list of :class:`Rule`. The matrix test runs
each rule for every demo account and fails for any route of the app that no rule covers.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

# One demo account per role (see webapp/demo/org.py).
USERS = ["office", "leader", "cadre", "grouplead", "town", "townlead", "dept", "deptlead",
         "desk", "sysadmin", "secadmin", "auditor"]
CASEWORK = {"office", "leader", "cadre", "grouplead", "town", "townlead", "dept", "deptlead", "desk"}
EVERYONE = set(USERS)


@dataclass
class Rule:
    """``allow``: the demo users who get through; everyone else gets ``deny`` (403, or 404 where
    an object outside the user's scope must not even be admitted to exist)."""

    endpoint: str
    path: str | Callable  # a callable receives the Objects fixture and returns the path
    allow: set[str]
    method: str = "GET"
    data: dict | Callable | None = None
    deny: int = 403
    public: bool = False  # anonymous users get through too
    note: str = ""
    redirects_to_login: bool = False  # allowed, and the answer sends the user to the login page
    headers: dict = field(default_factory=dict)
    # Users who pass the role gate but for whom the object lies outside their scope: 404, not ``deny``.
    not_found: set[str] = field(default_factory=set)
