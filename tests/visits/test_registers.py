"""Registers, rounds and coverage: the operations and the grouped figures."""

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.visits import factories as vf
from webapp.accounts.roles import Role
from webapp.core.audit import AuditEvent
from webapp.core.errors import Conflict, FieldsInvalid
from webapp.core.extensions import db
from webapp.visits import coverage, credit_code
from webapp.visits import operations as ops
from webapp.visits.access import enterprise_scope, household_scope
from webapp.visits.models import Enterprise, Household, Visit


def events(name):
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event == name))


def test_credit_code_check_character():
    # A published example code and one character changed.
    assert credit_code.normalise("91350100M000100Y43") == "91350100M000100Y43"
    assert credit_code.normalise(" 91350100m000100y43 ") == "91350100M000100Y43"
    assert credit_code.normalise("91350100M000100Y44") is None
    assert credit_code.normalise("91350100M000100Y4") is None  # 17 characters
    assert credit_code.normalise("9135010OM000100Y43") is None  # letter O is not used
    assert credit_code.normalise(vf.credit_code(12)) == vf.credit_code(12)


def test_household_number_unique_per_village(app):
    with app.app_context():
        vf.household("001", village="权台村")
        vf.household("001", village="马庄村")  # another village may reuse the number
        with pytest.raises(FieldsInvalid) as exc:
            vf.household("001", village="权台村")
        assert "number" in exc.value.errors
        assert events("household.create") == 2


def test_enterprise_needs_code_or_individual_mark(app):
    with app.app_context():
        with pytest.raises(FieldsInvalid) as exc:
            vf.enterprise("无码商店", credit_code=None)
        assert "credit_code" in exc.value.errors
        e = vf.enterprise("张记小吃", credit_code=None, is_individual=True)
        assert e.credit_code is None and e.is_individual and e.initials == "zjxc"
        vf.enterprise("甲公司", serial=5)
        with pytest.raises(FieldsInvalid):
            vf.enterprise("乙公司", serial=5)


def test_close_needs_reason_and_refuses_stale_or_twice(app):
    with app.app_context():
        h = vf.household("002")
        with pytest.raises(FieldsInvalid):
            ops.close_entry(h, f.user("office"), reason="  ")
        with pytest.raises(Conflict):
            ops.close_entry(h, f.user("office"), reason="迁出", version=h.version + 1)
        ops.close_entry(h, f.user("office"), reason="全家迁出", version=h.version)
        assert h.is_closed and h.closed_reason == "全家迁出" and events("household.close") == 1
        with pytest.raises(Conflict):
            ops.close_entry(h, f.user("office"), reason="again")
        assert db.session.get(Household, h.id) is not None  # closed, never deleted


def test_bulk_reassignment_moves_open_entries_in_one_audited_step(app):
    with app.app_context():
        other = f.make_user("cadre-pah2", "潘安湖街道工作组", Role.cadre)
        hs = [vf.household(f"1{i:02d}") for i in range(3)]
        vf.enterprise("丙公司", serial=7)
        ops.close_entry(hs[0], f.user("office"), reason="迁出")
        moved = ops.reassign(f.user("office"), from_cadre=f.user("cadre"), to_cadre=other)
        db.session.flush()
        assert moved == {"household": 2, "enterprise": 1}
        assert db.session.get(Household, hs[0].id).cadre_id == f.user("cadre").id  # closed stays
        assert {db.session.get(Household, h.id).cadre_id for h in hs[1:]} == {other.id}
        assert events("register.reassign") == 1


def test_coverage_counts_visits_inside_the_round_only(app):
    with app.app_context():
        r = vf.visit_round(starts_on=date(2026, 7, 1), ends_on=date(2026, 8, 31))
        a, b, c = (vf.household(f"2{i:02d}", village=v) for i, v in enumerate(["权台村", "权台村", "马庄村"]))
        closed = vf.household("299")
        ops.close_entry(closed, f.user("office"), reason="迁出")
        vf.visit(a, date(2026, 7, 1))            # first day: inside
        vf.visit(a, date(2026, 7, 20))           # twice: still one household
        vf.visit(b, date(2026, 6, 30))           # the day before: outside
        vf.visit(c, date(2026, 8, 31))           # last day: inside
        vf.visit(closed, date(2026, 7, 5))       # closed entries are not counted
        office = f.user("office")
        (district,) = coverage.figures(Household, r, "district", household_scope(office))
        assert (district.total, district.covered) == (3, 2)
        by_village = {x.name: (x.total, x.covered) for x in coverage.figures(Household, r, "village",
                                                                            household_scope(office))}
        assert by_village == {"权台村": (2, 1), "马庄村": (1, 1)}
        total, items = coverage.uncovered(Household, r, household_scope(office))
        assert total == 1 and [h.id for h in items] == [b.id]


def test_coverage_statements_do_not_grow_with_the_register(app):
    from sqlalchemy import event

    with app.app_context():
        r = vf.visit_round()
        office = f.user("office")

        def statements(n_new):
            for i in range(n_new):
                h = vf.household(f"s{len(db.session.new)}{i}-{n_new}")
                if i % 2:
                    vf.visit(h, date(2026, 7, 2))
            db.session.flush()
            seen = []
            listener = lambda *a, **k: seen.append(a[2])  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                for by in ("district", "town", "village", "group", "cadre"):
                    coverage.figures(Household, r, by, household_scope(office))
                    coverage.figures(Enterprise, r, by, enterprise_scope(office))
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
            return len(seen)

        assert statements(2) == statements(30)


def test_link_by_name_only_when_unambiguous(app):
    with app.app_context():
        one = vf.household("301", head="钱多多", village="权台村")
        vf.household("302", head="孙同名", village="权台村")
        vf.household("303", head="孙同名", village="权台村")
        mk = dict(visited_on=date(2026, 7, 3), village=f.unit("权台村"), household_kind="household",
                  visitors="x", situation="", demands="", client_token=None)
        v1, _ = ops.record_visit(f.user("cadre"), household_name="钱多多家", **mk)
        v2, _ = ops.record_visit(f.user("cadre"), household_name="孙同名", **mk)
        assert ops.link_visits_by_name() == 1
        db.session.expire_all()
        assert db.session.get(Visit, v1.id).household_id == one.id
        assert db.session.get(Visit, v2.id).household_id is None
