"""Form pieces every area shares: filters, fields whose parse errors are in Chinese, and the
versioned base of every form that changes a row.

No field here carries the browser's ``required`` flag (``Needed`` instead of ``InputRequired``):
a page often holds several actions, and the button of one must never be blocked by an empty
field of another. Dates and times are typed in the district's local time.
"""

import uuid
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, TimeField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import Length, Optional, StopValidation
from wtforms.widgets import HiddenInput

from . import calendar, clock

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def strip(value):
    """A WTForms filter: surrounding blanks off (non-strings pass through)."""
    return value.strip() if isinstance(value, str) else value


def int_or_none(value):
    """A ``coerce`` for selects whose empty choice means none: an int, or None."""
    if value in (None, "", "None"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


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
    """An integer field whose parse error is in Chinese."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(str(_l("请输入整数。"))) from exc


class LocalDateField(DateField):
    """An ``<input type=date>`` whose parse error is in Chinese; dates outside the working-day
    calendar's range (a typo such as 0226 or 9999) are refused here, before any deadline is
    counted from them."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(str(_l("请输入有效的日期。"))) from exc
        if self.data is not None and not calendar.in_range(self.data):
            raise ValueError(str(_l("请输入 %(first)s 至 %(last)s 之间的日期。", first=calendar.FIRST_DAY.isoformat(),
                                    last=calendar.LAST_DAY.isoformat())))


class LocalTimeField(TimeField):
    """An ``<input type=time>`` whose parse error is in Chinese."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(str(_l("请输入有效的时间，例如 09:30。"))) from exc


class LocalDateTimeField(DateTimeLocalField):
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
