"""The office's list of attention marks (关注标记: 低保、五保、独居老人…): add, rename / reorder,
deactivate, reactivate, and delete a mark no household carries.

A mark that households carry is never deleted, only deactivated: it disappears from the register's
filter and form (they list the active marks only) and stays on the households that have it. Every
write locks the row, checks the fingerprint the form was drawn with (``stamp()``), audits
(``attention_mark.create``, ``.update``, ``.deactivate``, ``.reactivate``, ``.delete``) and
flushes; the caller commits. See ``settings.choices``.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select

from ..core import audit
from ..core.extensions import db
from ..visits.models import AttentionMark, household_marks
from .choices import ChoiceError, ChoiceList, NameMessages, StaleChoice

NAME_MAX = 16


class MarkError(ChoiceError):
    """Invalid input; ``errors`` maps each form field to a message in Chinese."""


class StaleMark(StaleChoice):
    """The mark changed since the form was drawn."""


class MarkInUse(Exception):  # noqa: N818 - a refusal, like StaleMark
    """Households carry the mark: it can only be deactivated."""


MARKS = ChoiceList(
    model=AttentionMark, audit_name="attention_mark", name_max=NAME_MAX, error=MarkError, stale=StaleMark,
    messages=NameMessages(
        missing=_l("请填写标记名称。"),
        too_long=_l("标记名称最多 %(n)d 个字。"),
        taken=_l("已有名为“%(name)s”的标记。"),
        taken_inactive=_l("已有名为“%(name)s”的停用标记，可在列表中重新启用它。"),
    ),
)

stamp = MARKS.stamp
all_marks = MARKS.all
next_sort_order = MARKS.next_sort_order
create_mark = MARKS.create
update_mark = MARKS.update
set_active = MARKS.set_active


def usage() -> dict[int, int]:
    """How many households carry each mark (one grouped statement)."""
    return dict(db.session.execute(
        select(household_marks.c.mark_id, func.count()).group_by(household_marks.c.mark_id)).all())


def households_with(mark_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(household_marks)
                             .where(household_marks.c.mark_id == mark_id)) or 0


def delete_mark(mark_id: int, *, expected: str | None, user=None) -> str:
    """Delete a mark no household carries (audited ``attention_mark.delete``); returns its name.

    ``MarkInUse`` when a household carries it (deactivate it instead), ``StaleMark`` when it
    changed since the form was drawn, ``LookupError`` when it is gone already.
    """
    mark = MARKS.locked(mark_id)
    if mark is None:
        raise LookupError(mark_id)
    if expected is not None and expected != stamp(mark):
        raise StaleMark()
    if households_with(mark_id):
        raise MarkInUse()
    name = mark.name
    audit.record("attention_mark.delete", obj=mark, user=user, detail={"name": name})
    db.session.execute(delete(AttentionMark).where(AttentionMark.id == mark_id))
    return name
