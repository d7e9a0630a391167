"""The navigation: every entry names its endpoint; the role gate decides who sees it.

An entry shows only when the endpoint exists and the user's role passes its gate, so the menu
can never offer what the route would refuse.
"""

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from .gates import role_may


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    # A further condition on the user where the role alone does not decide (e.g. the registers:
    # a town's handlers have them, a district department's handlers, of the same role, do not).
    when: Callable | None = None


# Areas append their entries here, in menu order.
NAV: list[NavItem] = [
    NavItem("accounts.home", _l("首页")),
]


def register(endpoint: str, label, when: Callable | None = None) -> None:
    """Add a menu entry (called once by each area's blueprint module)."""
    if all(item.endpoint != endpoint for item in NAV):
        NAV.append(NavItem(endpoint, label, when))


def items_for(user) -> list[NavItem]:
    if not user.is_authenticated or user.role is None:
        return [NAV[0]]
    return [
        item
        for item in NAV
        if item.endpoint in current_app.view_functions and role_may(user.role, item.endpoint)
        and (item.when is None or item.when(user))
    ]
