"""The audit log filter (a GET form: no CSRF token, it changes nothing)."""

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, ValidationError

from ..core.forms import LocalDateField as BoundedDateField
from .queries import AuditFilter, event_label, result_label
from .sentences import KINDS

MAX_TEXT = 64


class LocalDateField(BoundedDateField):
    """A date (YYYY-MM-DD, the district's local date) with a Chinese message when malformed
    (bounded like every date the app accepts)."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = date.fromisoformat(valuelist[0].strip())
        except ValueError as exc:
            self.data = None
            raise ValueError(_l("日期格式应为 年-月-日，例如 2026-03-01。")) from exc


def _text(label):
    return StringField(
        label,
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[Length(max=MAX_TEXT, message=_l("最多 %(max)s 个字符。", max=MAX_TEXT))],
    )


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    date_from = LocalDateField(_l("起始日期"))
    date_to = LocalDateField(_l("结束日期"))
    user = _text(_l("用户（用户名或姓名）"))
    unit = _text(_l("单位"))
    event = SelectField(_l("事件类型"), validate_choice=False)
    object_type = _text(_l("对象类型"))
    object_id = _text(_l("对象编号"))
    result = SelectField(_l("结果"), validate_choice=False)
    ip = _text(_l("IP 地址（前缀）"))
    kind = SelectField(_l("事件类别"), validate_choice=False)
    obj = _text(_l("对象（问题编号、标题、姓名或文书编号）"))

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("结束日期不能早于起始日期。"))

    def set_choices(self, events: list[str]) -> None:
        events = list(events)
        if self.event.data and self.event.data not in events:
            events.append(self.event.data)
        self.event.choices = [("", _l("全部事件"))] + [(e, event_label(e)) for e in events]
        results = ["success", "failure"]
        if self.result.data and self.result.data not in results:
            results.append(self.result.data)
        self.result.choices = [("", _l("全部结果"))] + [(r, result_label(r)) for r in results]
        self.kind.choices = [("", _l("全部类别"))] + [(k, label) for k, (label, _p) in KINDS.items()]

    def to_filter(self, upto: int | None) -> AuditFilter:
        return AuditFilter(
            date_from=self.date_from.data,
            date_to=self.date_to.data,
            user=self.user.data or "",
            unit=self.unit.data or "",
            event=(self.event.data or "")[:MAX_TEXT],
            object_type=self.object_type.data or "",
            object_id=self.object_id.data or "",
            result=(self.result.data or "")[:16],
            ip=self.ip.data or "",
            kind=(self.kind.data or "") if (self.kind.data or "") in KINDS else "",
            obj=self.obj.data or "",
            upto=upto,
        )
