"""Forms of the task book (任务书): writing or revising it, the leader's review, ticking a step.

The roadmap (路线图 + 时间表) is a list of rows, each a step's text and date (and, in a
revision, the hidden id of the step of the book in force it carries on). The rows are plain
request fields (``steps-<i>-title``, ``steps-<i>-due_on``, ``steps-<i>-from_step_id``) read by
:func:`read_steps`, so that the page can draw as many rows as the user needs without JavaScript
and keep every row as typed when the form comes back with a message. Whether a book is
complete (handler, leader, deadline within the limit, steps in order …) is decided by
``handling.submit_plan`` (``FieldsInvalid``); these forms only check shape and length.
"""

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, Length, Optional, StopValidation

from ..core.forms import DEADLINE_YEARS, LocalDateField, Needed, VersionedForm, date_error
from ..core.forms import int_or_none as _int_or_none
from ..core.forms import strip as _strip
from .operations import MAX_STEPS

TEXT_MAX = 4000
NOTE_MAX = 1000
TITLE_MAX = 255
MIN_ROWS = 3  # empty rows drawn for a new roadmap (再加一步 adds more)


class _BookForm(VersionedForm):
    """The problem's version when the form was drawn (a stale form is refused with 409)."""

    HIDDEN = ("csrf_token", "version", "action")


class TaskBookForm(_BookForm):
    """任务书: 专人, 责任领导, 责任科室, 化解措施, 完成时限 (the steps are :class:`StepRow` rows)."""

    handler_id = SelectField(_l("专人"), coerce=_int_or_none, validate_choice=False)
    responsible_leader = StringField(_l("责任领导"), filters=[_strip], validators=[
        Length(max=64, message=_l("不能超过64个字。"))])
    responsible_department = StringField(_l("责任科室（部门）"), filters=[_strip], validators=[
        Length(max=64, message=_l("不能超过64个字。"))])
    measures = TextAreaField(_l("化解措施"), filters=[_strip], validators=[
        Length(max=TEXT_MAX, message=_l("不能超过%(n)d个字。", n=TEXT_MAX))])
    deadline = LocalDateField(_l("完成时限"), validators=[Optional()], ahead_years=DEADLINE_YEARS)
    revision_reason = TextAreaField(_l("修订原因"), filters=[_strip], validators=[
        Length(max=NOTE_MAX, message=_l("不能超过%(n)d个字。", n=NOTE_MAX))])


class ReviewForm(_BookForm):
    """The unit leader's decision on the submitted book: approve (note optional) or reject (reason)."""

    action = HiddenField(validators=[AnyOf(["approve_plan", "reject_plan"], message=_l("请选择批准或退回。"))])
    note = TextAreaField(_l("审核意见（可选）"), filters=[_strip], validators=[
        Length(max=NOTE_MAX, message=_l("不能超过%(n)d个字。", n=NOTE_MAX))])
    reason = TextAreaField(_l("退回理由"), filters=[_strip], validators=[
        Length(max=NOTE_MAX, message=_l("不能超过%(n)d个字。", n=NOTE_MAX))])

    def validate_reason(self, field):
        if self.action.data == "reject_plan" and not field.data:
            raise StopValidation(str(_l("退回任务书请写明理由。")))


class TickForm(FlaskForm):
    """完成步骤: what was done, and optional photos or documents."""

    note = TextAreaField(_l("完成情况"), filters=[_strip], validators=[
        Needed(_l("请简要说明完成情况。")), Length(max=NOTE_MAX, message=_l("不能超过%(n)d个字。", n=NOTE_MAX))])
    files = MultipleFileField(_l("照片或材料（可选）"))


# ---------------------------------------------------------------- the roadmap's rows


@dataclass
class StepRow:
    """One row of the roadmap as the user typed it (kept verbatim when the form comes back)."""

    title: str = ""
    due_on: str = ""  # ISO date as typed
    from_step_id: int | None = None  # the step of the book in force this row carries on
    error: str | None = None

    @property
    def blank(self) -> bool:
        return not self.title and not self.due_on

    @property
    def date(self) -> date | None:
        try:
            return date.fromisoformat(self.due_on) if self.due_on else None
        except ValueError:
            return None

    def check(self) -> bool:
        """Shape only (a date that parses, a title that fits); completeness is the operation's."""
        if self.due_on and self.date is None:
            self.error = str(_l("请输入有效的日期。"))
        elif date_error(self.date, ahead_years=DEADLINE_YEARS):
            self.error = date_error(self.date, ahead_years=DEADLINE_YEARS)
        elif len(self.title) > TITLE_MAX:
            self.error = str(_l("步骤内容不能超过%(n)d个字。", n=TITLE_MAX))
        return self.error is None


def read_steps(formdata) -> tuple[list[StepRow], int]:
    """The filled rows in the order drawn, and how many rows the form had (blank ones included)."""
    indices = set()
    for key in formdata:
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == "steps" and parts[1].isdigit() and len(parts[1]) < 4:
            indices.add(int(parts[1]))
    rows = []
    for i in sorted(indices):
        row = StepRow(title=(formdata.get(f"steps-{i}-title") or "").strip(),
                      due_on=(formdata.get(f"steps-{i}-due_on") or "").strip(),
                      from_step_id=_int_or_none(formdata.get(f"steps-{i}-from_step_id")))
        if not row.blank:
            rows.append(row)
    return rows, len(indices)


def padded(rows: list[StepRow], *, at_least: int = MIN_ROWS, extra: int = 0) -> list[StepRow]:
    """The rows to draw: the filled ones, then empty rows (at least ``at_least`` in all, at
    least one empty row while there is room, ``extra`` more for 再加一步), never over MAX_STEPS."""
    total = max(at_least, len(rows) + (0 if extra else 1)) + extra
    total = max(min(total, MAX_STEPS), len(rows))  # typed rows are never dropped
    return [*rows, *(StepRow() for _ in range(total - len(rows)))]
