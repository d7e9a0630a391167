"""The problem page's handling panels: each area registers what its panel needs.

``cases.routes.detail`` asks every registered provider for its context (``provider(user,
problem) -> dict | None``) and passes them as ``panels[name]``; the template
``cases/_panels.html`` includes each area's ``<area>/_panel.html`` in the order registered.
A provider returns None when its panel has nothing to show for this user and problem. Providers
read through the problem (already scoped by ``get_problem_or_404``) and decide nothing about
rights themselves: they ask ``workflow`` (``may``/``may_do``) like everyone else.
"""

from collections.abc import Callable

PROVIDERS: dict[str, tuple[str, Callable]] = {}
# The order of the page, whatever the order the areas register in: plan, work, meetings, closure, reply.
ORDER = ("taskbook", "progress", "meetings", "notices", "closure", "replies")


def register(name: str, template: str, provider: Callable) -> None:
    PROVIDERS[name] = (template, provider)


def context(user, problem) -> list[tuple[str, str, dict]]:
    """``[(name, template, ctx)]`` of the panels that have something to show."""
    out = []
    names = sorted(PROVIDERS, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
    for name in names:
        template, provider = PROVIDERS[name]
        ctx = provider(user, problem)
        if ctx is not None:
            out.append((name, template, ctx))
    return out
