"""What each role's home page shows besides who you are: counts that link to the list behind
them, and the next things to do ordered by deadline.

Areas above register providers (they may not be imported from here)::

    from ..accounts import home

    @home.counts
    def my_counts(user) -> list[home.Count]: ...

    @home.todo
    def my_next(user) -> list[home.Todo]: ...

Each provider is called with the logged-in user and returns what concerns that user only;
providers that have nothing for the role return an empty list.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Count:
    key: str        # stable name (CSS hook, tests)
    label: object   # 待签收、即将到期 …
    n: int
    url: str
    alert: bool = False  # shown in red when n > 0 (late work)


@dataclass(frozen=True)
class Todo:
    due: dt.date | None
    label: object   # what to do
    title: str      # about what
    url: str
    state: str = "ok"  # overdue | today | soon | ok


_COUNTS: list[Callable] = []
_NEXT_STEPS: list[Callable] = []


def counts(provider: Callable) -> Callable:
    if provider not in _COUNTS:
        _COUNTS.append(provider)
    return provider


def todo(provider: Callable) -> Callable:
    if provider not in _NEXT_STEPS:
        _NEXT_STEPS.append(provider)
    return provider


def counts_for(user) -> list[Count]:
    return [c for provider in _COUNTS for c in provider(user)]


def todo_for(user, limit: int = 8) -> list[Todo]:
    items = [t for provider in _NEXT_STEPS for t in provider(user)]
    items.sort(key=lambda t: (t.due is None, t.due or dt.date.max))
    return items[:limit]
