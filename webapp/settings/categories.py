"""The office's list of problem categories (问题类别): create, rename / reorder, deactivate, reactivate.

A category is never deleted: problems keep pointing at it. A deactivated category disappears
from the intake and triage selects (they list ``active()`` only) and stays on the problems that
have it. Every write locks the row, checks the fingerprint the form was drawn with (the table
has no version column, so ``stamp()`` stands in for one), audits and flushes; the caller commits.
"""

import hashlib

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..cases.models import Category
from ..core import audit
from ..core.extensions import db

NAME_MAX = 32
SORT_MIN, SORT_MAX = 0, 9999

STALE = _l("该类别已被他人修改，未作任何更改。以下为最新内容，请核对后重新提交。")


class CategoryError(ValueError):
    """Invalid input; ``errors`` maps each form field to a message in Chinese."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class StaleCategory(Exception):  # noqa: N818 - named like the other conflicts (HTTP 409)
    """The category changed since the form was drawn."""


def stamp(category: Category) -> str:
    """A fingerprint of what the form showed (name, order, active): the category's "version"."""
    raw = f"{category.id}|{category.name}|{category.sort_order}|{int(bool(category.is_active))}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def all_categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.sort_order, Category.id)))


def active() -> list[Category]:
    """The categories the intake and triage selects offer."""
    return list(db.session.scalars(
        select(Category).where(Category.is_active.is_(True)).order_by(Category.sort_order, Category.id)))


def next_sort_order() -> int:
    highest = db.session.scalar(select(func.max(Category.sort_order)))
    return min((highest or 0) + 10, SORT_MAX)


def _clean_name(name) -> str:
    return " ".join(str(name or "").split())


def _check(name: str, sort_order, *, exclude_id: int | None = None) -> None:
    errors = {}
    if not name:
        errors["name"] = str(_l("请填写类别名称。"))
    elif len(name) > NAME_MAX:
        errors["name"] = str(_l("类别名称最多 %(n)d 个字。", n=NAME_MAX))
    else:
        clash = db.session.scalar(select(Category).where(func.lower(Category.name) == name.lower()))
        if clash is not None and clash.id != exclude_id:
            errors["name"] = (str(_l("已有名为“%(name)s”的类别。", name=clash.name)) if clash.is_active else
                              str(_l("已有名为“%(name)s”的停用类别，可在列表中重新启用它。", name=clash.name)))
    if isinstance(sort_order, bool) or not isinstance(sort_order, int):
        errors["sort_order"] = str(_l("请输入整数。"))
    elif not SORT_MIN <= sort_order <= SORT_MAX:
        errors["sort_order"] = str(_l("请输入 %(low)s 到 %(high)s 之间的整数。", low=SORT_MIN, high=SORT_MAX))
    if errors:
        raise CategoryError(errors)


def _locked(category_id: int) -> Category | None:
    return db.session.scalar(select(Category).where(Category.id == category_id).with_for_update())


def create_category(name: str, sort_order: int | None = None, *, user=None, token: str | None = None) -> Category:
    """A new, active category (audited ``category.create``; ``token``, the form's client token,
    goes into the audit detail so that a double submit is recognised)."""
    name = _clean_name(name)
    if sort_order is None:
        sort_order = next_sort_order()
    _check(name, sort_order)
    category = Category(name=name, sort_order=sort_order, is_active=True)
    db.session.add(category)
    db.session.flush()
    audit.record("category.create", obj=category, user=user,
                 detail={"name": name, "sort_order": sort_order, **({"token": token} if token else {})})
    return category


def update_category(category_id: int, *, name: str, sort_order: int, expected: str | None,
                    user=None) -> tuple[Category, bool]:
    """Rename and/or reorder (audited ``category.update`` with before/after).

    Returns ``(category, changed)``. Raises ``StaleCategory`` when the category changed since the
    form was drawn — unless it already reads what was asked (a double submit): then nothing
    happens. ``LookupError`` when there is no such category.
    """
    category = _locked(category_id)
    if category is None:
        raise LookupError(category_id)
    name = _clean_name(name)
    if category.name == name and category.sort_order == sort_order:
        return category, False
    if expected is not None and expected != stamp(category):
        raise StaleCategory()
    _check(name, sort_order, exclude_id=category.id)
    before = {"name": category.name, "sort_order": category.sort_order}
    category.name, category.sort_order = name, sort_order
    db.session.flush()
    after = {"name": category.name, "sort_order": category.sort_order}
    audit.record("category.update", obj=category, user=user, detail={
        "before": {k: v for k, v in before.items() if after[k] != v},
        "after": {k: v for k, v in after.items() if before[k] != v},
    })
    return category, True


def set_active(category_id: int, active: bool, *, expected: str | None, user=None) -> tuple[Category, bool]:
    """Deactivate (``active=False``) or reactivate; audited ``category.deactivate`` / ``.reactivate``.

    Returns ``(category, changed)``; already in that state (a double submit) → nothing happens.
    """
    category = _locked(category_id)
    if category is None:
        raise LookupError(category_id)
    if bool(category.is_active) == active:
        return category, False
    if expected is not None and expected != stamp(category):
        raise StaleCategory()
    category.is_active = active
    db.session.flush()
    audit.record("category.reactivate" if active else "category.deactivate", obj=category, user=user,
                 detail={"name": category.name})
    return category, True
