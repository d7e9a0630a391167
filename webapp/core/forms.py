"""Form pieces every area shares: filters, fields whose parse errors are in Chinese, and the
versioned base of every form that changes a row.

No field here carries the browser's ``required`` flag (``Needed`` instead of ``InputRequired``):
a page often holds several actions, and the button of one must never be blocked by an empty
field of another. Dates and times are typed in the district's local time.
"""

import uuid
from datetime import UTC, date, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import DateField, HiddenField, IntegerField, TimeField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import Length, Optional, StopValidation
from wtforms.widgets import HiddenInput

from . import calendar, clock

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
# Row ids are 32-bit integers on PostgreSQL: a larger number names no row and must never reach
# the database (where it would be an error, not "not found").
MAX_ID = 2**31 - 1


# Every date a form accepts lies within the campaign's plausible years; a date a person sets
# for work to be done (a deadline, an extension, a reply-by date) lies within a few years of today.
# Beyond that a date is a typing slip or an attack (9999-12-31 made every page count working
# days for seconds), and the working-day calendar is not defined there.
# The working-day calendar's range: every date a form accepts can be counted in working days.
EARLIEST = calendar.FIRST_DAY
LATEST = calendar.LAST_DAY
DEADLINE_YEARS = 5


def date_error(day: date | None, *, ahead_years: int | None = None) -> str | None:
    """Why ``day`` is refused (a Chinese message), or None when it is acceptable."""
    if day is None:
        return None
    if isinstance(day, datetime):
        day = day.date()
    if not EARLIEST <= day <= LATEST:
        return str(_l("日期须在 %(lo)s 至 %(hi)s 之间。", lo=EARLIEST.isoformat(), hi=LATEST.isoformat()))
    if ahead_years is not None:
        today = clock.today()
        latest = today.replace(year=today.year + ahead_years, day=min(today.day, 28))
        if day > latest:
            return str(_l("日期不能晚于 %(day)s（今天起 %(years)d 年内）。", day=latest.isoformat(),
                          years=ahead_years))
    return None


def strip(value):
    """A WTForms filter: surrounding blanks off (non-strings pass through)."""
    return value.strip() if isinstance(value, str) else value


def int_or_none(value):
    """A ``coerce`` for selects whose empty choice means none: an int, or None."""
    if value in (None, "", "None"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def record_id(value) -> int:
    """A ``coerce`` for checkbox lists of rows: a positive id in range, else ``ValueError``
    (WTForms then shows the field's "invalid choice" error)."""
    number = int(value)
    if not 0 < number <= MAX_ID:
        raise ValueError(value)
    return number


class Needed:
    """Like ``InputRequired`` but without the HTML ``required`` flag (see the module docstring)."""

    def __init__(self, message):
        self.message = message

    def __call__(self, form, field):
        data = field.data
        if data is None or (isinstance(data, str) and not data.strip()) or data == []:
            field.errors[:] = []
            raise StopValidation(str(self.message))


class Filled(Needed):
    """``Needed`` that keeps a parse error ("请输入有效的日期。") rather than "please fill in"."""

    def __call__(self, form, field):
        if field.process_errors:
            raise StopValidation(str(field.process_errors[0]))
        super().__call__(form, field)


class WholeNumberField(IntegerField):
    """An integer field whose parse error is in Chinese; beyond ±``MAX_ID`` is refused too
    (no count, day or version the campaign keeps is that large, and the database could not hold it)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(str(_l("请输入整数。"))) from exc
        if self.data is not None and abs(self.data) > MAX_ID:
            self.data = None
            raise ValueError(str(_l("数字超出允许范围。")))


class BoundedDate:
    """Refuses a date outside the campaign's years (or, with ``ahead_years``, too far ahead),
    before any other validator runs: the message is the field's, whatever else it requires."""

    ahead_years: int | None = None

    def pre_validate(self, form):
        message = date_error(self.data, ahead_years=self.ahead_years)
        if message:
            raise StopValidation(message)


class LocalDateField(BoundedDate, DateField):
    """An ``<input type=date>`` whose parse error is in Chinese, bounded (``date_error``).

    ``ahead_years=DEADLINE_YEARS`` for dates by which work is due."""

    def __init__(self, label=None, validators=None, *, ahead_years: int | None = None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.ahead_years = ahead_years
        self.render_kw = {"min": EARLIEST.isoformat(), "max": LATEST.isoformat(), **(self.render_kw or {})}

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(str(_l("请输入有效的日期。"))) from exc


class LocalTimeField(TimeField):
    """An ``<input type=time>`` whose parse error is in Chinese."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(str(_l("请输入有效的时间，例如 09:30。"))) from exc


class LocalDateTimeField(BoundedDate, DateTimeLocalField):
    """``<input type=datetime-local>`` read in Asia/Shanghai; ``utc`` gives the stored instant."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=[LOCAL_FORMAT, LOCAL_FORMAT + ":%S"], tz=clock.LOCAL_TZ,
                         invalid_value_message=_l("请输入有效的日期和时间。"), **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not (valuelist[0] or "").strip():
            self.data = None
            return
        super().process_formdata(valuelist)

    @property
    def utc(self) -> datetime | None:
        return self.data.astimezone(UTC) if self.data is not None else None


def local_now_minute() -> datetime:
    """Now in the district, to the minute (what the time field shows by default)."""
    return clock.local(clock.now()).replace(second=0, microsecond=0)


def new_token() -> str:
    return uuid.uuid4().hex


class VersionedForm(FlaskForm):
    """A form carrying the version of the row it was drawn from (the problem's, a notice's …):
    a stale one is refused with 409. The one base of the forms that change a row."""

    HIDDEN = ("csrf_token", "version", "token")  # fields the user cannot see
    version = IntegerField(widget=HiddenInput(), validators=[Needed(_l("表单缺少版本号，请刷新页面。"))])

    @property
    def hidden_errors(self) -> list[str]:
        """Errors of the fields the user cannot see (shown above the form)."""
        return [e for name in self.HIDDEN if name in self._fields for e in self._fields[name].errors]

    def now_at(self, version: int) -> None:
        """The user has now seen ``version``: the form carries it (the posted value is drawn otherwise)."""
        self.version.data = version
        self.version.raw_data = [str(version)]

    def set_field_errors(self, errors: dict) -> None:
        """Put an operation's field errors (``FieldsInvalid.errors``) on the fields of this form."""
        for name, message in errors.items():
            field = self._fields.get(name)
            if field is None:
                self.form_errors.append(str(message))
            else:
                field.errors = [*(field.errors or []), str(message)]


class ActionForm(VersionedForm):
    """A versioned form with a client token: a double submit does the work once."""

    token = HiddenField(filters=[strip], validators=[Optional(), Length(max=48)])

    def ensure_token(self) -> None:
        if not self.token.data:
            self.token.data = new_token()


# ---------------------------------------------------------------- the error summary

# Fields drawn as a group of inputs (radios, checkboxes): the summary links to the first option.
_GROUPED = ("RadioField", "MultiCheckboxField")
_UNSEEN = ("HiddenField", "CSRFTokenField")


def option_tags(pairs, selected) -> Markup:
    """``<option>`` elements of (value, label) pairs, the one whose value equals ``selected``
    marked selected: a filter's long lists (villages, units) without a template loop per option."""
    chosen = "" if selected is None else str(selected)
    return Markup("".join(  # noqa: S704 - every value and label goes through escape()
        f'<option value="{escape(value)}"{" selected" if str(value) == chosen else ""}>{escape(label)}</option>'
        for value, label in pairs))


def error_items(forms, *, extra=(), id_suffix: str = "") -> list[tuple[str | None, str, str]]:
    """Every field error of ``forms`` (a form, or several; None skipped) as (anchor id, label,
    message), in the order the fields are drawn. Rows of a ``FieldList`` of sub-forms are named
    by the form's ``entry_title(list_name, index)`` when it has one (e.g. "问题 2 · 联系电话").
    Hidden fields are left out (their errors are shown above the form). ``id_suffix`` follows
    ids a page made unique (``dept_lead-p5``). ``extra``: messages not tied to a field, first —
    a string (anchor None), or (anchor id, message) to link to a block of the page."""
    out: list[tuple[str | None, str, str]] = [
        (m[0], "", str(m[1])) if isinstance(m, tuple) else (None, "", str(m)) for m in extra]
    if not isinstance(forms, list | tuple):
        forms = [forms]
    for form in forms:
        if form is not None:
            _collect(form, form, "", id_suffix, out)
    return out


def _collect(root, form, prefix: str, id_suffix: str, out: list) -> None:
    for f in form:
        if f.type in _UNSEEN or not f.errors:
            continue
        if f.type == "FieldList":
            for i, entry in enumerate(f.entries):
                title = getattr(root, "entry_title", None)
                name = str(title(f.short_name, i)) if title else f"{f.label.text} {i + 1}"
                if entry.type == "FormField":
                    _collect(root, entry.form, f"{name} · ", id_suffix, out)
                else:
                    out.extend((entry.id, name, str(e)) for e in entry.errors)
            continue
        anchor = f.id + (f"-{id_suffix}" if id_suffix else "")
        if f.type in _GROUPED:
            anchor += "-0" if f.type == "RadioField" else ""
        out.extend((anchor, f"{prefix}{f.label.text}", str(e)) for e in f.errors)
