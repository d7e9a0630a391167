"""Register entries, rounds and visits for the visits tests (on the demo organisation)."""

from datetime import date

from tests.cases import factories as f
from webapp.core.extensions import db
from webapp.visits import operations as ops
from webapp.visits.credit_code import check_char
from webapp.visits.models import AttentionMark, HouseholdKind, VisitMode


def mark(name: str) -> AttentionMark:
    m = db.session.query(AttentionMark).filter_by(name=name).one_or_none()
    if m is None:
        m = AttentionMark(name=name)
        db.session.add(m)
        db.session.flush()
    return m


def household(number: str, head: str = "", village: str = "权台村", cadre: str = "cadre", **kw):
    data = ops.HouseholdInput(village=f.unit(village), number=number, head_name=head or f"户主{number}",
                              cadre=f.user(cadre), **kw)
    return ops.create_household(f.user("office"), data)


def credit_code(serial: int) -> str:
    first = f"91320305MA{serial:07d}"
    return first + check_char(first)


def enterprise(name: str, town: str = "潘安湖街道", cadre: str = "cadre", serial: int | None = None, **kw):
    kw.setdefault("credit_code", credit_code(serial if serial is not None else abs(hash(name)) % 10_000_000))
    data = ops.EnterpriseInput(name=name, town=f.unit(town), cadre=f.user(cadre), **kw)
    return ops.create_enterprise(f.user("office"), data)


def visit_round(name="第一轮走访", starts_on=date(2026, 7, 1), ends_on=date(2026, 8, 31)):
    return ops.save_round(f.user("office"), name=name, starts_on=starts_on, ends_on=ends_on)


def visit(entry, on: date, username: str = "cadre", **kw):
    is_household = entry.__tablename__ == "households"
    village = entry.village if is_household else kw.pop("village", None) or f.unit("权台村")
    v, _ = ops.record_visit(
        f.user(username), visited_on=on, village=village,
        household_kind=HouseholdKind.household if is_household else HouseholdKind.enterprise,
        household_name=entry.head_name if is_household else entry.name, visitors="测试", situation="",
        demands="", client_token=None, household=entry if is_household else None,
        enterprise=None if is_household else entry,
        mode=VisitMode.home if is_household else VisitMode.enterprise, **kw)
    return v
