"""The office's list of problem categories (问题类别): create, rename / reorder, deactivate, reactivate.

A category is never deleted: problems keep pointing at it. A deactivated category disappears
from the intake and triage selects (they list ``active()`` only) and stays on the problems that
have it. Every write locks the row, checks the fingerprint the form was drawn with (``stamp()``),
audits (``category.create``, ``category.update``, ``category.deactivate``,
``category.reactivate``) and flushes; the caller commits. See ``settings.choices``.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..cases.models import Category, Problem
from ..core.extensions import db
from .choices import ChoiceError, ChoiceList, NameMessages, StaleChoice

NAME_MAX = 32

STALE = _l("该类别已被他人修改，未作任何更改。以下为最新内容，请核对后重新提交。")


class CategoryError(ChoiceError):
    """Invalid input; ``errors`` maps each form field to a message in Chinese."""


class StaleCategory(StaleChoice):
    """The category changed since the form was drawn."""


CATEGORIES = ChoiceList(
    model=Category, audit_name="category", name_max=NAME_MAX, error=CategoryError, stale=StaleCategory,
    messages=NameMessages(
        missing=_l("请填写类别名称。"),
        too_long=_l("类别名称最多 %(n)d 个字。"),
        taken=_l("已有名为“%(name)s”的类别。"),
        taken_inactive=_l("已有名为“%(name)s”的停用类别，可在列表中重新启用它。"),
    ),
)

stamp = CATEGORIES.stamp
all_categories = CATEGORIES.all
active = CATEGORIES.active  # what the intake and triage selects offer
next_sort_order = CATEGORIES.next_sort_order
create_category = CATEGORIES.create
update_category = CATEGORIES.update
set_active = CATEGORIES.set_active


def usage() -> dict[int, int]:
    """How many problems have each category (one grouped statement)."""
    return dict(db.session.execute(
        select(Problem.category_id, func.count()).group_by(Problem.category_id)).all())
