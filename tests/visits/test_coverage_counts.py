"""The coverage counters: kept by the writes (the operations, imports, bulk loads), equal to a
fresh count after any sequence of them; the coverage page reads them — never the visits — in the
same number of statements whatever the register's size; ``flask coverage verify|rebuild``."""

import os
from datetime import date, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from tests.cases import factories as f
from tests.visits import factories as vf
from webapp.accounts.roles import Role
from webapp.core.errors import Conflict, FieldsInvalid, Invalid
from webapp.core.extensions import db
from webapp.visits import counts, coverage
from webapp.visits import operations as ops
from webapp.visits.access import register_scope
from webapp.visits.models import Enterprise, Household, HouseholdKind, Visit, VisitRound

VILLAGES = ["权台村", "房上村"]
TOWNS = ["潘安湖街道", "青山泉镇"]
DAYS = [date(2026, 6, 20) + timedelta(days=9 * i) for i in range(12)]  # June to September


def _live(model, visit_round, by):
    """The figures counted from the register and the visits (the reference)."""
    return {(fig.key, fig.total, fig.covered) for fig in coverage.figures(model, visit_round, by, sa.true())}


class CoverageMachine(RuleBasedStateMachine):
    """Random writes through the operations; after each, the counters equal a fresh count."""

    @initialize()
    def people(self):
        self.office = f.user("office")
        self.cadres = [f.user("cadre"), f.make_user(f"cadre-cov-{id(self)}", "青山泉镇工作组", Role.cadre)]
        self.households, self.enterprises, self.visits = [], [], []
        self.serial = 0
        db.session.commit()

    def _commit_or_rollback(self, fn):
        try:
            result = fn()
            db.session.commit()
            return result
        except (Conflict, FieldsInvalid, Invalid):
            db.session.rollback()
            return None

    @rule(village=st.sampled_from(VILLAGES), cadre=st.integers(0, 1))
    def create_household(self, village, cadre):
        self.serial += 1
        h = self._commit_or_rollback(lambda: vf.household(f"S-{self.serial}", village=village,
                                                          cadre=self.cadres[cadre].username))
        if h is not None:
            self.households.append(h.id)

    @rule(town=st.sampled_from(TOWNS), cadre=st.integers(0, 1))
    def create_enterprise(self, town, cadre):
        self.serial += 1
        e = self._commit_or_rollback(lambda: vf.enterprise(f"企业{self.serial}", town=town, serial=self.serial,
                                                           cadre=self.cadres[cadre].username))
        if e is not None:
            self.enterprises.append(e.id)

    @rule(data=st.data(), day=st.sampled_from(DAYS), household=st.booleans())
    def record_visit(self, data, day, household):
        ids = self.households if household else self.enterprises
        if not ids:
            return
        entry = db.session.get(Household if household else Enterprise, data.draw(st.sampled_from(ids)))
        v = self._commit_or_rollback(lambda: vf.visit(entry, day, **({} if household else {
            "village": f.unit(VILLAGES[TOWNS.index(entry.town.name)])})))
        if v is not None:
            self.visits.append(v.id)

    @rule(day=st.sampled_from(DAYS), village=st.sampled_from(VILLAGES))
    def record_an_unlinked_visit(self, day, village):
        v, _ = ops.record_visit(self.cadres[0], visited_on=day, village=f.unit(village),
                                household_kind=HouseholdKind.household, household_name="路人",
                                visitors="测试", situation="", demands="", client_token=None)
        db.session.commit()
        self.visits.append(v.id)

    @rule(data=st.data())
    def link_a_visit(self, data):
        if not self.visits or not self.households:
            return
        visit = db.session.get(Visit, data.draw(st.sampled_from(self.visits)))
        h = db.session.get(Household, data.draw(st.sampled_from(self.households)))
        self._commit_or_rollback(lambda: ops.link_visit(visit, self.office, household=h))

    @rule()
    def link_by_name(self):
        ops.link_visits_by_name()
        db.session.commit()

    @rule(data=st.data(), village=st.sampled_from(VILLAGES), cadre=st.integers(0, 1))
    def move_household(self, data, village, cadre):
        if not self.households:
            return
        h = db.session.get(Household, data.draw(st.sampled_from(self.households)))
        self._commit_or_rollback(lambda: ops.update_household(h, self.office, ops.HouseholdInput(
            village=f.unit(village), number=h.number, head_name="路人" if data.draw(st.booleans()) else h.head_name,
            cadre=self.cadres[cadre])))

    @rule(data=st.data(), household=st.booleans())
    def close(self, data, household):
        ids = self.households if household else self.enterprises
        if not ids:
            return
        entry = db.session.get(Household if household else Enterprise, data.draw(st.sampled_from(ids)))
        self._commit_or_rollback(lambda: ops.close_entry(entry, self.office, reason="迁出"))

    @rule(source=st.integers(0, 1))
    def reassign(self, source):
        self._commit_or_rollback(lambda: ops.reassign(self.office, from_cadre=self.cadres[source],
                                                      to_cadre=self.cadres[1 - source]))

    @rule(start=st.integers(0, 8), length=st.integers(0, 4), new=st.booleans())
    def set_round(self, start, length, new):
        rounds = db.session.scalars(select(VisitRound)).all()
        starts, ends = DAYS[start], DAYS[min(start + length, len(DAYS) - 1)]
        if new or not rounds:
            name = f"第{len(rounds) + 1}轮"
            self._commit_or_rollback(lambda: ops.save_round(self.office, name=name, starts_on=starts, ends_on=ends))
        else:
            r = rounds[start % len(rounds)]
            self._commit_or_rollback(lambda: ops.save_round(self.office, name=r.name, starts_on=starts,
                                                            ends_on=ends, visit_round=r))

    @invariant()
    def counters_equal_a_fresh_count(self):
        assert counts.verify() == {}
        office = self.office
        for visit_round in db.session.scalars(select(VisitRound)):
            for model in (Household, Enterprise):
                for by in ("district", "town", "group", "cadre") + (("village",) if model is Household else ()):
                    kept = {(fig.key, fig.total, fig.covered) for fig in coverage.figures(
                        model, visit_round, by, register_scope(office, model), user=office)}
                    assert kept == _live(model, visit_round, by), (model, by)


def test_random_writes_keep_the_counters_equal_to_a_fresh_count(app):
    examples = int(os.environ.get("HUIYIN_STATEFUL_EXAMPLES", 6))
    run_state_machine_as_test(CoverageMachine, settings=settings(
        max_examples=examples, stateful_step_count=20, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    # Each step checked the invariant; whatever the last example left agrees with a fresh count too.
    assert counts.verify() == {}


def _register(n_households: int):
    """A round and ``n_households`` households (a third visited) in two villages."""
    r = vf.visit_round(starts_on=date(2026, 7, 1), ends_on=date(2026, 8, 31))
    for i in range(n_households):
        h = vf.household(f"N-{i}", village=VILLAGES[i % 2])
        if i % 3 == 0:
            vf.visit(h, date(2026, 7, 2))
    vf.enterprise("规模企业", serial=1)
    db.session.commit()
    return r.id


def _statements(b, url):
    seen = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        resp = b.get(url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert resp.status_code == 200
    return seen, resp.get_data(as_text=True)


def test_the_coverage_page_reads_the_counters_never_the_visits_in_the_same_statements_at_any_size(app, login_as):
    rid = _register(3)
    b = login_as("office")
    small = {}
    for by in ("district", "town", "village", "group", "cadre"):
        small[by], page = _statements(b, f"/visits/coverage?round={rid}&by={by}")
        assert not any(" visits" in s or "FROM households" in s for s in small[by]), (by, small[by])
        assert any("coverage_counts" in s for s in small[by])
    assert "33.3%" in _statements(b, f"/visits/coverage?round={rid}&by=district")[1]
    uncovered = f"/visits/coverage/uncovered?round={rid}&by=district"
    small["uncovered"] = _statements(b, uncovered)[0]
    with app.app_context():
        other = f.make_user("cadre-big", "潘安湖街道工作组", Role.cadre)
        for i in range(3, 60):
            h = vf.household(f"N-{i}", village=[*VILLAGES, "权台西村"][i % 3],
                             cadre="cadre" if i % 2 else other.username)
            if i < 40:
                vf.visit(h, date(2026, 7, 3))
        db.session.commit()
    for by in small:
        big, page = _statements(b, uncovered if by == "uncovered" else f"/visits/coverage?round={rid}&by={by}")
        assert len(big) == len(small[by]), by
    assert "63.3%" in _statements(b, f"/visits/coverage?round={rid}&by=district")[1]


def test_a_towns_figures_and_uncovered_count_come_from_the_counters(app, login_as):
    rid = _register(6)
    b = login_as("town")
    seen, page = _statements(b, f"/visits/coverage?round={rid}&by=village")
    assert not any(" visits" in s or "FROM households" in s for s in seen)
    assert "权台村" in page and "房上村" not in page


def test_a_new_round_and_changed_dates_are_counted(app):
    rid = _register(6)
    late = ops.save_round(f.user("office"), name="第二轮", starts_on=date(2026, 7, 2), ends_on=date(2026, 9, 1))
    db.session.commit()
    office = f.user("office")
    [fig] = coverage.figures(Household, late, "district", sa.true(), user=office)
    assert (fig.total, fig.covered) == (6, 2)
    r = db.session.get(VisitRound, rid)
    ops.save_round(office, name=r.name, starts_on=date(2026, 7, 3), ends_on=date(2026, 8, 31), visit_round=r)
    db.session.commit()
    [fig] = coverage.figures(Household, r, "district", sa.true(), user=office)
    assert (fig.total, fig.covered) == (6, 0) and counts.verify() == {}


def test_a_rolled_back_visit_leaves_the_counters_as_they_were(app):
    _register(3)
    before = counts.fresh()
    h = db.session.scalar(select(Household).where(Household.number == "N-1"))
    vf.visit(h, date(2026, 7, 9))
    assert db.session.scalar(select(counts.CoverageCount.n).where(
        counts.CoverageCount.by == "district", counts.CoverageCount.kind == "h",
        counts.CoverageCount.round_id != counts.TOTAL)) == 2  # counted in the transaction
    db.session.rollback()
    assert counts.verify() == {} and counts.fresh() == before


def test_cli_verify_finds_a_wrong_counter_and_rebuild_mends_it(app, runner_factory):
    _register(3)
    runner = runner_factory()
    ok = runner.invoke(args=["coverage", "verify"])
    assert ok.exit_code == 0 and "agree" in ok.output
    # A household written past the operations (as bulk loads do) is not counted.
    village = f.unit("权台村")
    db.session.execute(sa.insert(Household), [{
        "village_id": village.id, "town_id": village.parent_id, "number": "BULK-1", "head_name": "批量",
        "cadre_id": f.user("cadre").id, "work_group_id": f.user("cadre").unit_id}])
    db.session.commit()
    bad = runner.invoke(args=["coverage", "verify"])
    assert bad.exit_code == 1 and "district:0: kept 3, fresh 4" in bad.output
    assert runner.invoke(args=["coverage", "rebuild"]).exit_code == 0
    assert runner.invoke(args=["coverage", "verify"]).exit_code == 0


def test_an_import_counts_its_new_and_moved_households(app, tmp_path):
    from tests.visits.test_imports import home, xlsx
    from webapp.visits import imports

    rid = _register(3)
    path = tmp_path / "台账.xlsx"
    path.write_bytes(xlsx([home("I-1", "甲"), home("I-2", "乙", village="权台西村"), home("N-0", "改名")]))
    out, valid = imports.validate(path, "households")
    assert not out.errors
    imports.write("households", valid, out)
    db.session.commit()
    assert (out.created, out.updated) == (2, 1) and counts.verify() == {}
    office = f.user("office")
    [fig] = coverage.figures(Household, db.session.get(VisitRound, rid), "district", sa.true(), user=office)
    assert (fig.total, fig.covered) == (5, 1)
    # The same file again changes nothing, the counters neither.
    out, valid = imports.validate(path, "households")
    imports.write("households", valid, out)
    db.session.commit()
    assert out.unchanged == 3 and counts.verify() == {}
