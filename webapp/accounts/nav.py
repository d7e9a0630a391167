"""The navigation: every entry names its endpoint; the role gate decides who sees it.

An entry shows only when the endpoint exists and the user's role passes its gate, so the menu
can never offer what the route would refuse.

A long menu (the office's has some 25 entries) is drawn in groups (``GROUPS``): each group a
``<details>`` disclosure in the top bar — a dropdown on a desk, a section of the phone menu —
that opens without JavaScript and by keyboard. A group the user sees one entry of is drawn as
that entry; a menu of at most ``FLAT_UP_TO`` entries is not grouped at all. The areas register
their entries where they are; which group an endpoint belongs to is said here, in one place.
"""

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, render_template, request
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from .gates import role_may


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    # A further condition on the user where the role alone does not decide (e.g. the registers:
    # a town's handlers have them, a district department's handlers, of the same role, do not).
    when: Callable | None = None


@dataclass(frozen=True)
class NavGroup:
    key: str
    label: object
    items: tuple[NavItem, ...]


# Areas append their entries here, in menu order.
NAV: list[NavItem] = [
    NavItem("accounts.home", _l("首页")),
]

FLAT_UP_TO = 8

# The menu's order: top-level entries (key None) and groups, each with its endpoints in order.
# An endpoint named nowhere here stays a top-level entry after the groups (before 消息).
GROUPS: list[tuple[str | None, object, tuple[str, ...]]] = [
    (None, None, ("accounts.home", "cases.queue", "visits.new_visit")),
    ("visits", _l("走访"), ("visits.index", "coverage.mine", "coverage.index", "coverage.rounds",
                           "registers.households", "registers.enterprises", "ledger.index", "ledger.unlinked",
                           "imports.households")),
    ("casework", _l("研判办理"), ("triage.queue", "lists.index", "meetings.index", "replies.queue")),
    ("supervision", _l("督查问责"), ("supervision.index", "notices.index", "papers.index", "agendas.index",
                                   "integrity.index", "spotchecks.index", "accountability.index")),
    (None, None, ("stats.dashboard",)),
    ("admin", _l("管理设置"), ("settings.index", "notifications.outbox", "users.index", "org.index",
                            "api_keys.index", "role_changes.index", "security.roles", "security.policy",
                            "audit.index")),
]
_LAST = ("notifications.inbox",)


def register(endpoint: str, label, when: Callable | None = None) -> None:
    """Add a menu entry (called once by each area's blueprint module)."""
    if all(item.endpoint != endpoint for item in NAV):
        NAV.append(NavItem(endpoint, label, when))


def _rank(endpoint: str) -> tuple[int, int]:
    for g, (_key, _label, endpoints) in enumerate(GROUPS):
        if endpoint in endpoints:
            return g, endpoints.index(endpoint)
    return (len(GROUPS) + 1, 0) if endpoint in _LAST else (len(GROUPS), 0)


def _group_of(endpoint: str) -> tuple[str | None, object]:
    for key, label, endpoints in GROUPS:
        if endpoint in endpoints:
            return key, label
    return None, None


def items_for(user) -> list[NavItem]:
    """The entries the user may open, in menu order (groups' entries together)."""
    if not user.is_authenticated or user.role is None:
        return [NAV[0]]
    items = [
        item
        for item in NAV
        if item.endpoint in current_app.view_functions and role_may(user.role, item.endpoint)
        and (item.when is None or item.when(user))
    ]
    return sorted(items, key=lambda item: _rank(item.endpoint))


def menu_for(items: list[NavItem]) -> list[NavItem | NavGroup]:
    """The top bar's menu of a user's entries (``items_for``): entries and groups of entries
    (see the module docstring)."""
    if len(items) <= FLAT_UP_TO:
        return items
    out: list[NavItem | NavGroup] = []
    for item in items:
        key, label = _group_of(item.endpoint)
        if key is None:
            out.append(item)
        elif out and isinstance(out[-1], NavGroup) and out[-1].key == key:
            out[-1] = NavGroup(key, label, (*out[-1].items, item))
        else:
            out.append(NavGroup(key, label, (item,)))
    return [entry.items[0] if isinstance(entry, NavGroup) and len(entry.items) == 1 else entry for entry in out]


def menu_markup(items: list[NavItem], locale: str) -> Markup:
    """The menu drawn as HTML. It is the same on every page of one set of entries in one
    language, so each app process draws it once per (entries, language, page) and reuses it."""
    drawn = current_app.extensions.setdefault("huiyin.menus", {})
    key = (tuple(item.endpoint for item in items), locale, request.endpoint, request.script_root)
    html = drawn.get(key)
    if html is None:
        if len(drawn) >= MENUS_KEPT:
            drawn.clear()
        # An autoescaping template's output (labels and addresses escaped by Jinja).
        html = drawn[key] = Markup(render_template(  # noqa: S704
            "accounts/_menu.html", menu=menu_for(items), endpoint=request.endpoint))
    return html


# Roles × their pages × two languages: a few hundred menus at most in a worker.
MENUS_KEPT = 1000
