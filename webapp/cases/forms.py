"""Forms of the work queues and the problem page: the queue filter's choices, sign for, return."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import IntegerField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import HiddenInput

from ..core.extensions import db
from ..core.forms import strip as _strip
from ..org.models import HANDLING, TERRITORIAL, Unit, UnitKind
from .models import Category
from .queries import SORTS
from .workflow import Status, Tier

RETURN_REASON_MIN = 5


class ActionForm(FlaskForm):
    """Every action form carries the version of the problem it was drawn with."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class SignForForm(ActionForm):
    pass


class LateReturnForm(ActionForm):
    reason = TextAreaField(
        _l("同意理由"),
        filters=[_strip],
        validators=[DataRequired(_l("请说明同意逾期退回的理由。")), Length(max=500)],
    )


class ReturnForm(ActionForm):
    reason = TextAreaField(
        _l("退回原因"),
        filters=[_strip],
        validators=[
            DataRequired(_l("请填写退回原因。")),
            Length(min=RETURN_REASON_MIN, max=500, message=_l("退回原因请写 5 到 500 个字。")),
        ],
    )


SORT_LABELS = {
    "new": _l("最新登记在前"),
    "old": _l("最早登记在前"),
    "deadline": _l("办理时限最近在前"),
    "number": _l("按问题编号"),
    "updated": _l("最近更新在前"),
}
assert set(SORT_LABELS) == set(SORTS)


class FilterChoices:
    """The choices of the queue filter as (value, label) pairs, loaded in two queries (units,
    categories); the page draws them with ``option_tags``."""

    def __init__(self):
        # Plain rows (id, name, kind, parent_id), not ORM objects: hundreds of villages on every page.
        units = db.session.execute(
            select(Unit.id, Unit.name, Unit.kind, Unit.parent_id)
            .where(Unit.kind.in_(list(HANDLING | {UnitKind.village})), Unit.is_active.is_(True))
            .order_by(Unit.id)
        ).all()
        # The statistics' groups first (their links land here), then every status.
        self.statuses = [("solved", _l("已化解（已销号、已办结）")), ("handling", _l("办理中（含待核销）")),
                         ("awaiting", _l("待交办")), ("other_ended", _l("不予受理/合并"))]
        self.statuses += [(s.value, s.label) for s in Status]
        self.tiers = [(t.value, t.label) for t in Tier]
        self.sorts = list(SORT_LABELS.items())
        towns = [u for u in units if u.kind in TERRITORIAL]
        self.towns = [(u.id, u.name) for u in towns]
        # Lead units: towns/streets/zones, then departments, then the desk.
        order = {UnitKind.town: 0, UnitKind.street: 0, UnitKind.zone: 0, UnitKind.department: 1, UnitKind.desk: 2}
        self.units = [(u.id, u.name) for u in sorted((u for u in units if u.kind in HANDLING),
                                                     key=lambda u: (order[u.kind], u.id))]
        villages_of = {}
        for u in units:
            if u.kind == UnitKind.village:
                villages_of.setdefault(u.parent_id, []).append((u.id, u.name))
        self.village_groups = [(t.name, villages_of[t.id]) for t in towns if t.id in villages_of]
        # Filtering covers old problems too: deactivated categories stay, listed after the active ones.
        # The objects are held for the request: the cards' categories are then found in the
        # session (whose identity map keeps only what is referenced), not queried again.
        self.held = db.session.scalars(
            select(Category).order_by(Category.is_active.desc(), Category.sort_order, Category.id)).all()
        stopped = _l("（已停用）")
        self.categories = [(c.id, c.name if c.is_active else f"{c.name}{stopped}") for c in self.held]
