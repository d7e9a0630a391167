"""The demo registers: households in every village, enterprises, two rounds, coverage by town."""

from sqlalchemy import func, select, true

from tests.cases import factories as f
from webapp.accounts.roles import Role
from webapp.core import clock
from webapp.core.extensions import db
from webapp.demo.registers import has_registers, load_registers
from webapp.visits import coverage
from webapp.visits import operations as ops
from webapp.visits.models import Household, Visit, VisitRound


def test_demo_registers_make_coverage_differ_by_town(app):
    with app.app_context():
        # An earlier visit (as the demo problems have): the registers tie it to a household.
        v, _ = ops.record_visit(f.user("cadre"), visited_on=clock.today(), village=f.unit("权台村"),
                                household_kind="household", household_name="王某家", visitors="x", situation="",
                                demands="", client_token=None)
        assert not has_registers()
        f.make_user("cadre-qsq", "青山泉镇工作组", Role.cadre)  # the demo's other groups get theirs with the cases
        counts = load_registers(per_village=(40, 60))
        db.session.commit()
        assert has_registers() and counts["enterprises"] > 0
        assert counts["households"] == db.session.scalar(select(func.count()).select_from(Household)) >= 40 * 10
        assert db.session.scalar(select(func.count()).select_from(VisitRound)) == 2
        assert db.session.get(Visit, v.id).household_id is not None
        r = coverage.current_round()
        rates = {x.name: x.rate for x in coverage.figures(Household, r, "town", true())}
        assert rates["潘安湖街道"] > 0.85 and rates["青山泉镇"] < 0.4
        (first,) = coverage.figures(Household, coverage.rounds()[-1], "district", true())
        assert first.rate > 0.9
