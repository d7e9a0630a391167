"""What the areas built on ``cases`` add to the problem page: their panels, and the rules by which
their rows make an allowed action moot right now (no button for it).

Panels:
``cases.routes.detail`` asks every registered provider for its context (``provider(user,
problem) -> dict | None``) and passes them as ``panels[name]``; the template
``cases/_panels.html`` includes each area's ``<area>/_panel.html`` in the order registered.
A provider returns None when its panel has nothing to show for this user and problem. Providers
read through the problem (already scoped by ``get_problem_or_404``) and decide nothing about
rights themselves: they ask ``workflow`` (``may``/``may_do``) like everyone else.

Moot rules: ``register_moot(rule)`` with ``rule(problem) -> set[Action]``, e.g. deciding an
extension when none waits (the rows of ``handling``). ``actions.buttons`` hides their union.
"""

from collections.abc import Callable

PROVIDERS: dict[str, tuple[str, Callable]] = {}
MOOT_RULES: list[Callable] = []
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


def register_moot(rule: Callable) -> None:
    if rule not in MOOT_RULES:
        MOOT_RULES.append(rule)


def moot(problem) -> set:
    """The actions the registered rules make moot for ``problem`` now."""
    out: set = set()
    for rule in MOOT_RULES:
        out |= rule(problem)
    return out
