"""The whole lifecycle under random use: a hypothesis state machine drives the real operations.

Random demo users (any role, any relation) take random actions with plausible — sometimes
wrong — arguments on a handful of problems, in one test database, committing after each
success and rolling back after each refusal. After every step the machine checks that:

(a) a closed problem has a reply and ``replied_at``;
(b) a signed-off or closed problem has a verified closure with its verifier and its evidence
    (a file, or the reason there is none; an on-the-spot solution needs neither);
(c) no action succeeded that the workflow table forbids for the actor's role and relation (before
    each action, one actor the table forbids tries it first and must fail, changing nothing), and
    no action the table allows was refused as "not allowed" (only for a data reason);
(d) the timeline replays to the current status: a connected chain of events from registration,
    each status change a transition of the table (or its alternative target), each timeline
    entry audited once; at the end of each run the audit hash chain verifies;
(e) a problem that owes a reply has ``reply_due`` until it is replied to; a problem in handling
    has a lead unit, an assignment and a deadline; and the rows agree with the status (a book
    under review in 任务书待审核, the book in force while handling, the open closure request).
(f) the work queues' kept counters equal a fresh count of the problems, for every role.
"""

import itertools
import os
from datetime import timedelta
from types import SimpleNamespace

import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.handling import factories as hf
from webapp.accounts.models import User
from webapp.cases import counts, queries
from webapp.cases import operations as ops
from webapp.cases.access import relations, unit_part
from webapp.cases.models import (
    Attachment,
    AttachmentKind,
    PartStatus,
    Problem,
    ProblemEvent,
    UnitRole,
)
from webapp.cases.workflow import (
    ACTIVITIES,
    ENDED,
    HANDLING,
    MEETING_CONVENERS,
    OWES_REPLY,
    TRANSITIONS,
    Action,
    Activity,
    Kind,
    Level,
    NotAllowed,
    Status,
    Tier,
    may,
    may_do,
)
from webapp.core import calendar, clock
from webapp.core.audit import AuditEvent, verify_chain
from webapp.core.errors import Conflict, Invalid
from webapp.core.extensions import db
from webapp.handling import operations as h
from webapp.handling.meetings import (
    DecisionInput,
    convene_meeting,
    may_manage_meeting,
    record_minutes,
)
from webapp.handling.models import (
    BookStatus,
    CannotSolveReason,
    Closure,
    ClosureKind,
    ClosureStatus,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Reply,
    ReplyMethod,
    TaskBook,
    TaskStep,
    Verdict,
)
from webapp.handling.operations import resolve_on_spot
from webapp.handling.queries import book_in_force, moot_actions
from webapp.stats import sums

USERS = ["office", "cadre", "grouplead", "town", "townlead", "dept", "deptlead", "desk", "leader"]
TOWN, DEPT, IDLE_DEPT = "潘安湖街道", "区民政局", "区卫计委"  # 区卫计委 has no accounts: its part stays open
TRIAGES = [ops.Triage(Kind.individual, Level.town, Tier.quick), ops.Triage(Kind.individual, Level.town, Tier.immediate),
           ops.Triage(Kind.common, Level.town, Tier.joint, workdays=20)]
UNAUDITED = {"merged_from", "list_submitted"}  # timeline entries written alongside another audited change
_serial = itertools.count(1)


def rarely(data, n=4) -> bool:
    """True once in ``n`` draws (False is the simplest case, where hypothesis starts and shrinks to)."""
    return data.draw(st.integers(0, n - 1)) == n - 1


def text(data, good: str) -> str:
    """Mostly a real text, sometimes blank (a missing reason or result)."""
    return data.draw(st.sampled_from([good, good, good, "  "]))


class HandlingMachine(RuleBasedStateMachine):
    traveller = None  # the frozen clock of the running test

    def __init__(self):
        super().__init__()
        self.traveller.move_to(MON)
        self.problems: list[int] = []
        self.chosen: int | None = None
        self.data = None  # the step's hypothesis draws
        self.touched: set[int] = set()  # the problems the step may have changed (checked after it)
        # Who is who, read once: enough for ``relations`` and the table (no query per look).
        self.people = {u.username: SimpleNamespace(id=u.id, username=u.username, role=u.role, unit_id=u.unit_id)
                       for u in db.session.scalars(select(User).where(User.username.in_(USERS)))}
        self.meetings: list[int] = []
        self.runs: dict[str, int] = {}

    # ------------------------------------------------------------ helpers

    @staticmethod
    def problem(pid) -> Problem:
        return db.session.get(Problem, pid)

    def account(self, username) -> User:
        return db.session.get(User, self.people[username].id)

    def pick(self, data, action=None, activity=None) -> tuple[int, str]:
        """The problem of this step and a user (mostly one the table allows, sometimes anyone)."""
        pid = self.chosen
        p = self.problem(pid)
        eligible = [u for u in USERS if self._allowed(p, self.people[u], action, activity)]
        who = data.draw(st.sampled_from(eligible if eligible and not rarely(data) else USERS))
        return pid, who

    @staticmethod
    def _allowed(p, user, action, activity) -> bool:
        rels = relations(user, p)
        if action is not None:
            return may(p.status, action, user.role, rels)
        return may_do(activity, p.status, user.role, rels)

    @staticmethod
    def events(pid) -> list[ProblemEvent]:
        return db.session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == pid)
                                  .order_by(ProblemEvent.id)).all()

    def attempt(self, pid, who, work, *, action=None, activity=None, allowed=None, event=None, stale=False,
                probe=True):
        """Run ``work(problem, user, version)`` as ``who`` and hold the outcome against the table.

        ``allowed``: whether the actor may act at all (default: the table / activity rules);
        ``event``: the timeline entry a success writes (default: the action's name). First, one
        actor the table forbids tries the same (``probe``): it must fail and change nothing.
        """
        self.touched.add(pid)
        name = event or (action.value if action is not None else activity.value)
        if probe and allowed is None:
            p = self.problem(pid)
            forbidden = [u for u in USERS if not self._allowed(p, self.people[u], action, activity)]
            if forbidden:
                self._run(pid, self.data.draw(st.sampled_from(forbidden)), work, False, name, False)
        p = self.problem(pid)
        if allowed is None:
            allowed = self._allowed(p, self.people[who], action, activity)
        return self._run(pid, who, work, allowed, name, stale)

    def _run(self, pid, who, work, allowed, name, stale) -> bool:
        p, user = self.problem(pid), self.account(who)
        before_status, before_version, before_events = p.status, p.version, len(self.events(pid))
        try:
            work(p, user, before_version - 1 if stale else before_version)
            db.session.commit()
            outcome = None
        except (NotAllowed, Conflict, Invalid) as exc:
            db.session.rollback()
            outcome = exc
        label = f"{name} by {who} on {before_status}"
        p = self.problem(pid)
        if outcome is None:
            self.runs[name] = self.runs.get(name, 0) + 1
            assert allowed, f"{label}: succeeded although the table forbids it"
            assert not stale, f"{label}: succeeded with a stale version"
            ev = self.events(pid)[before_events:]
            assert ev and ev[0].action == name and ev[0].from_status == before_status, (label, ev)
        else:
            if allowed and not stale:
                assert not isinstance(outcome, NotAllowed), f"{label}: refused as not allowed: {outcome}"
            assert p.status == before_status and p.version == before_version, f"{label}: failure left changes"
            assert len(self.events(pid)) == before_events
        return outcome is None

    def stale(self, data) -> bool:
        return rarely(data, 10)

    # ------------------------------------------------------------ setup and time

    @initialize()
    def register_problems(self):
        for _ in range(3):
            self.problems.append(f.register().id)
        self.touched.update(self.problems)

    def do_days_pass(self, data):
        self.traveller.shift(timedelta(days=data.draw(st.integers(1, 6))))

    @rule(data=st.data())
    def act(self, data):
        """One step: mostly an action the status of some problem takes, sometimes any action."""
        self.data = data
        live = [pid for pid in self.problems if self.problem(pid).status not in ENDED]
        if not live and len(self.problems) < 6:
            live = [f.register().id]
            self.problems += live
            self.touched.update(live)
        self.chosen = data.draw(st.sampled_from(live if live and not rarely(data) else self.problems))
        p = self.problem(self.chosen)
        moot = moot_actions(p)
        fitting = {name for name, takes in STEPS.items() for x in takes if fits(p.status, x) and x not in moot}
        happy = HAPPY.get(p.status) if HAPPY.get(p.status) in fitting else None
        others = sorted(fitting - {happy}) + ["days_pass", "minutes"]
        if rarely(data, 6):  # anything at all, fitting the status or not
            others = list(STEPS) + ["days_pass", "minutes"]
        elif happy and data.draw(st.integers(0, 1)) == 0:  # half the time, the step that moves it on
            others = [happy]
        # A wide integer spreads the choice evenly (hypothesis favours small ones).
        getattr(self, f"do_{others[data.draw(st.integers(0, 10**6)) % len(others)]}")(data)

    # ------------------------------------------------------------ triage

    def do_assign_sheet(self, data):
        pid, who = self.pick(data, Action.assign_sheet)
        coop = data.draw(st.sampled_from([(), (DEPT,), (IDLE_DEPT,)]))
        triage = data.draw(st.sampled_from(TRIAGES))
        self.attempt(pid, who, lambda p, u, v: ops.assign_sheet(
            p, u, lead=f.unit(TOWN), cooperating=[f.unit(c) for c in coop], triage=triage, version=v),
            action=Action.assign_sheet, stale=self.stale(data))

    def do_transfer_desk(self, data):
        pid, who = self.pick(data, Action.transfer_desk)
        self.attempt(pid, who, lambda p, u, v: ops.transfer_to_desk(p, u, triage=TRIAGES[0], version=v),
                     action=Action.transfer_desk, stale=self.stale(data))

    def do_assign_departments(self, data):
        pid, who = self.pick(data, Action.assign_departments)
        coop = data.draw(st.sampled_from([(), (IDLE_DEPT,)]))
        self.attempt(pid, who, lambda p, u, v: ops.assign_departments(
            p, u, lead=f.unit(DEPT), cooperating=[f.unit(c) for c in coop], version=v),
            action=Action.assign_departments, stale=self.stale(data))

    def do_not_accept(self, data):
        pid, who = self.pick(data, Action.not_accept)
        reason = text(data, "不属于走访受理范围")
        self.attempt(pid, who, lambda p, u, v: ops.not_accept(p, u, reason=reason, version=v),
                     action=Action.not_accept, stale=self.stale(data))

    def do_merge(self, data):
        pid, who = self.pick(data, Action.merge)
        into = data.draw(st.sampled_from([q for q in self.problems if q != pid] + [pid]))
        reason = text(data, "与已登记问题重复")
        self.touched.add(into)  # it gets a timeline entry too
        self.attempt(pid, who, lambda p, u, v: ops.merge(p, u, into=self.problem(into), reason=reason, version=v),
                     action=Action.merge, stale=self.stale(data))

    def do_resolve_on_spot(self, data):
        pid, who = self.pick(data, Action.resolve_on_spot)
        result = text(data, "当场协调解决")
        self.attempt(pid, who, lambda p, u, v: resolve_on_spot(p, u, triage=TRIAGES[1], result=result, version=v),
                     action=Action.resolve_on_spot, stale=self.stale(data))

    # ------------------------------------------------------------ the unit

    def do_sign_for(self, data):
        pid, who = self.pick(data, Action.sign_for)
        p, user = self.problem(pid), self.people[who]
        part = unit_part(user, p)
        if part is not None and part.role == UnitRole.cooperating:
            # A cooperating unit signs for its own part; the status does not move.
            allowed, event = part.is_current and part.status == PartStatus.pending, "sign_for_part"
        else:
            allowed, event = None, None
        self.attempt(pid, who, lambda p, u, v: ops.sign_for(p, u, version=v), action=Action.sign_for,
                     allowed=allowed, event=event, stale=self.stale(data), probe=False)

    def do_return_problem(self, data):
        pid, who = self.pick(data, Action.return_)
        reason = text(data, "不属于本单位辖区")
        self.attempt(pid, who, lambda p, u, v: ops.return_problem(p, u, reason=reason, version=v),
                     action=Action.return_, stale=self.stale(data))

    # ------------------------------------------------------------ task book

    def do_submit_plan(self, data):
        action = Action.revise_plan if self.problem(self.chosen).status == Status.in_progress else Action.submit_plan
        pid, who = self.pick(data, action)
        p = self.problem(pid)
        today = clock.today()
        ceiling = p.deadline or calendar.add_workdays(today, 10)
        deadline = data.draw(st.sampled_from([ceiling, ceiling, max(today, ceiling - timedelta(days=3)),
                                              ceiling + timedelta(days=1)]))
        own = [u for u in ("town", "townlead", "dept", "deptlead", "desk") if self.people[u].unit_id == p.lead_unit_id]
        handler = self.account(data.draw(st.sampled_from(own if own and not rarely(data) else USERS)))
        in_force = book_in_force(p)
        steps = [h.StepInput(s.title, s.due_on, s.unit_id, from_step_id=s.id)
                 for s in (in_force.steps if in_force else []) if data.draw(st.booleans())]
        for i in range(data.draw(st.integers(0 if steps else 1, 2))):
            steps.append(h.StepInput(f"步骤{i + 1}", min(calendar.add_workdays(today, i + 1), deadline)))
        reason = data.draw(st.sampled_from(["调整路线图", None]))
        self.attempt(pid, who, lambda p, u, v: h.submit_plan(
            p, u, handler=handler, responsible_leader="王主任", responsible_department="社会事业局",
            measures="入户核实，限期解决", deadline=deadline, steps=steps, revision_reason=reason, version=v),
            action=action, stale=self.stale(data))

    def do_decide_plan(self, data):
        approve = not rarely(data, 3)
        action = Action.approve_plan if approve else Action.reject_plan
        pid, who = self.pick(data, action)
        reason = text(data, "措施不具体")
        work = (lambda p, u, v: h.approve_plan(p, u, version=v)) if approve else \
            (lambda p, u, v: h.reject_plan(p, u, reason=reason, version=v))
        self.attempt(pid, who, work, action=action, stale=self.stale(data))

    def do_tick_step(self, data):
        pid, who = self.pick(data, activity=Activity.tick_step)
        p, user = self.problem(pid), self.people[who]
        steps = db.session.scalars(select(TaskStep).where(TaskStep.problem_id == pid).order_by(TaskStep.id)).all()
        if not steps:
            return
        step = data.draw(st.sampled_from(steps))
        in_force = book_in_force(p)
        unit_ok = step.unit_id == user.unit_id or user.unit_id == p.lead_unit_id
        allowed = self._allowed(p, user, None, Activity.tick_step) and (
            unit_ok or in_force is None or step.task_book_id != in_force.id)
        note = text(data, "已完成")
        self.attempt(pid, who, lambda p, u, v: h.tick_step(p, u, db.session.get(TaskStep, step.id), note=note),
                     activity=Activity.tick_step, allowed=allowed)

    # ------------------------------------------------------------ activities

    def do_progress(self, data):
        pid, who = self.pick(data, activity=Activity.progress)
        body, public = text(data, "已入户核实情况"), data.draw(st.booleans())
        self.attempt(pid, who, lambda p, u, v: h.record_progress(p, u, text=body, public=public),
                     activity=Activity.progress)

    def do_note(self, data):
        pid, who = self.pick(data, activity=Activity.note)
        body = text(data, "内部备注")
        self.attempt(pid, who, lambda p, u, v: h.add_note(p, u, text=body), activity=Activity.note)

    def do_part_feedback(self, data):
        pid, who = self.pick(data, activity=Activity.part_feedback)
        body, done = text(data, "配合事项已落实"), data.draw(st.booleans())
        self.attempt(pid, who, lambda p, u, v: h.part_feedback(p, u, text=body, done=done),
                     activity=Activity.part_feedback)

    def do_convene(self, data):
        pid, who = self.pick(data, activity=Activity.convene)
        user = self.people[who]
        allowed = user.role in MEETING_CONVENERS and self._allowed(self.problem(pid), user, None, Activity.convene)
        units = data.draw(st.sampled_from([[TOWN, DEPT], [TOWN], []]))

        def work(p, u, v):
            m = convene_meeting(u, kind=MeetingKind.joint, title="会办会", starts_at=clock.now() + timedelta(days=1),
                                  place="区活动办会议室", host="周主任", units=[f.unit(n) for n in units], problems=[p])
            self.meetings.append(m.id)

        self.attempt(pid, who, work, activity=Activity.convene, allowed=allowed, event="meeting_convened")

    def do_minutes(self, data):
        planned = [m for m in self.meetings if db.session.get(Meeting, m).status == MeetingStatus.planned]
        if not planned:
            return
        meeting = db.session.get(Meeting, data.draw(st.sampled_from(planned)))
        who = data.draw(st.sampled_from(USERS))
        user = self.account(who)
        p = meeting.agenda[0].problem
        self.touched.add(p.id)
        unit = f.unit(data.draw(st.sampled_from([TOWN, DEPT, IDLE_DEPT])))
        decisions = [DecisionInput(p, unit, "民政局负责核定救助", calendar.add_workdays(clock.today(), 2))] \
            if data.draw(st.booleans()) else []
        steps_before = db.session.scalar(select(func.count()).select_from(TaskStep).where(TaskStep.problem_id == p.id))
        try:
            record_minutes(meeting, user, summary="会议议定事项如下", attendance={unit.id: (True, "张三")},
                             decisions=decisions)
            db.session.commit()
            ok = True
        except (NotAllowed, Conflict, Invalid) as exc:
            db.session.rollback()
            assert not isinstance(exc, NotAllowed) or not may_manage_meeting(user, meeting), exc
            ok = False
        meeting = db.session.get(Meeting, meeting.id)
        steps_after = db.session.scalar(select(func.count()).select_from(TaskStep).where(TaskStep.problem_id == p.id))
        if ok:
            assert may_manage_meeting(user, meeting) and meeting.status == MeetingStatus.minuted
            assert steps_after == steps_before + len(decisions)
            self.runs["minutes"] = self.runs.get("minutes", 0) + 1
        else:
            assert meeting.status == MeetingStatus.planned and steps_after == steps_before

    # ------------------------------------------------------------ extensions

    def do_request_extension(self, data):
        pid, who = self.pick(data, Action.request_extension)
        p = self.problem(pid)
        new = (p.deadline or clock.today()) + timedelta(days=data.draw(st.sampled_from([10, 3, 0, -1])))
        reason = text(data, "需协调资金")
        self.attempt(pid, who, lambda p, u, v: h.request_extension(p, u, new_deadline=new, reason=reason,
                                                                   progress="已完成核实", version=v),
                     action=Action.request_extension, stale=self.stale(data))

    def do_decide_extension(self, data):
        pid, who = self.pick(data, Action.decide_extension)
        approve, note = not rarely(data, 3), data.draw(st.sampled_from([None, "同意"]))
        self.attempt(pid, who, lambda p, u, v: h.decide_extension(p, u, approve=approve, note=note, version=v),
                     action=Action.decide_extension, event="approve_extension" if approve else "reject_extension",
                     stale=self.stale(data))

    # ------------------------------------------------------------ sign-off, verification

    def do_request_signoff(self, data):
        pid, who = self.pick(data, Action.request_signoff)
        files = data.draw(st.integers(0, 2))
        no_evidence = data.draw(st.sampled_from(["现场整改，无法拍照", None]))
        open_reason = data.draw(st.sampled_from(["配合单位已口头确认", None]))
        completed = clock.today() + timedelta(days=data.draw(st.sampled_from([0, 0, -1, 1])))

        def work(p, u, v):
            closure = h.request_signoff(p, u, result="已办结", completed_on=completed, evidence_count=files,
                                        no_evidence_reason=no_evidence, open_parts_reason=open_reason,
                                        step_reasons=hf.open_step_reasons(p), version=v)
            for _ in range(files):  # what the page does with the uploaded files
                ops.add_attachment(p, u, kind=AttachmentKind.evidence, filename="现场照片.jpg",
                                   stored_name=f"sm-{next(_serial)}.jpg", mime="image/jpeg", size=10,
                                   sha256="0" * 64, closure=closure)

        self.attempt(pid, who, work, action=Action.request_signoff, stale=self.stale(data))

    def do_decide_signoff(self, data):
        approve = not rarely(data, 3)
        action = Action.approve_signoff if approve else Action.reject_signoff
        pid, who = self.pick(data, action)
        reason = text(data, "佐证材料不足")
        work = (lambda p, u, v: h.approve_signoff(p, u, version=v)) if approve else \
            (lambda p, u, v: h.reject_signoff(p, u, reason=reason, version=v))
        self.attempt(pid, who, work, action=action, stale=self.stale(data))

    def do_verification(self, data):
        approve = not rarely(data, 3)
        action = Action.verify if approve else Action.reject_verification
        pid, who = self.pick(data, action)
        reason = text(data, "现场查看仍未解决")
        work = (lambda p, u, v: h.verify(p, u, version=v)) if approve else \
            (lambda p, u, v: h.reject_verification(p, u, reason=reason, version=v))
        self.attempt(pid, who, work, action=action, stale=self.stale(data))

    def do_request_cannot_solve(self, data):
        pid, who = self.pick(data, Action.request_cannot_solve)
        kind = data.draw(st.sampled_from([CannotSolveReason.funds, CannotSolveReason.policy, None]))
        explanation = text(data, "需纳入明年预算")
        self.attempt(pid, who, lambda p, u, v: h.request_cannot_solve(p, u, reason_kind=kind, explanation=explanation,
                                                                      version=v),
                     action=Action.request_cannot_solve, stale=self.stale(data))

    def do_decide_cannot_solve(self, data):
        approve = not rarely(data, 3)
        action = Action.approve_cannot_solve if approve else Action.reject_cannot_solve
        pid, who = self.pick(data, action)
        note = text(data, "理由不充分")
        self.attempt(pid, who, lambda p, u, v: h.decide_cannot_solve(p, u, approve=approve, note=note, version=v),
                     action=action, stale=self.stale(data))

    # ------------------------------------------------------------ the reply

    def do_reply(self, data):
        verdict = data.draw(st.sampled_from(list(Verdict)))
        substantive = data.draw(st.booleans())
        pid, who = self.pick(data, Action.reply)
        p = self.problem(pid)
        reopen = verdict == Verdict.unsatisfied and substantive and p.status == Status.signed_off
        action = Action.reply_reopen if reopen else Action.reply
        words = data.draw(st.sampled_from(["问题没有解决", None]))
        self.attempt(pid, who, lambda p, u, v: h.reply(
            p, u, method=ReplyMethod.phone, replied_at=clock.now() - timedelta(minutes=1), content="已告知办理结果",
            verdict=verdict, resident_words=words, substantive=substantive, version=v),
            action=action, stale=self.stale(data))

    # ------------------------------------------------------------ invariants

    @invariant()
    def problems_are_consistent(self):
        for pid in sorted(self.touched):
            p = self.problem(pid)
            self._check_rows(p)
            self._check_timeline(p)
        if self.touched:
            self._check_counters()
        self.touched.clear()

    def _check_counters(self):
        # (f) the queues' kept counters equal a fresh count, for every role, whatever the step did
        assert counts.verify() == {}
        today = clock.today()
        # (g) and so do the dashboards' kept sums, for the district and each work group
        assert sums.verify(today) == {}
        for person in self.people.values():
            assert queries.counters(person, today=today) == queries.fresh_counters(person, today=today), \
                person.username

    def _check_rows(self, p):
        s = p.status
        replies = db.session.scalars(select(Reply).where(Reply.problem_id == p.id)).all()
        closures = db.session.scalars(select(Closure).where(Closure.problem_id == p.id).order_by(Closure.id)).all()
        books = db.session.scalars(select(TaskBook).where(TaskBook.problem_id == p.id)).all()
        # (a) closed → replied
        if s == Status.closed:
            assert replies and p.replied_at is not None and p.reply_due is None and p.closed_at is not None
        # (b) signed off or closed → a verified closure with its verifier and evidence
        if s in (Status.signed_off, Status.closed):
            verified = [c for c in closures if c.status == ClosureStatus.verified]
            assert verified, f"{s} without a verified closure"
            c = verified[-1]
            assert c.verifier_id is not None and c.verified_at is not None and p.solved_at is not None
            if c.kind != ClosureKind.on_spot:
                files = db.session.scalar(select(func.count()).select_from(Attachment).where(
                    Attachment.closure_id == c.id))
                assert files or c.no_evidence_reason, "signed off without evidence or a reason"
                assert c.leader_id is not None
        # (e) the reply owed; handling held by a unit against a deadline
        if s in OWES_REPLY:
            assert (p.reply_due is None) == (p.replied_at is not None), (s, p.reply_due, p.replied_at)
            if p.reply_due is None:
                assert any(r.status_at_reply == s.value for r in replies)
        else:
            assert p.reply_due is None, f"{s} with a reply due"
        if s in HANDLING:
            assert p.lead_unit_id and p.current_assignment_id and p.deadline, f"{s} without unit/deadline"
        # The rows agree with the status.
        by_status = {st_: [b for b in books if b.status == st_] for st_ in BookStatus}
        assert len(by_status[BookStatus.approved]) <= 1 and len(by_status[BookStatus.submitted]) <= 1
        assert bool(by_status[BookStatus.submitted]) == (s == Status.plan_review), s
        if s in (Status.in_progress, Status.signoff_review, Status.cannot_solve_review):
            assert by_status[BookStatus.approved], f"{s} without a book in force"
        open_kinds = {ClosureStatus.leader_review: Status.signoff_review, ClosureStatus.verifying:
                      Status.pending_verification, ClosureStatus.office_review: Status.cannot_solve_review}
        for cs, status in open_kinds.items():
            n = sum(c.status == cs for c in closures)
            assert n == (1 if s == status else 0), (s, cs, n)

    def _check_timeline(self, p):
        evs = self.events(p.id)
        assert evs[0].action == "register" and evs[0].from_status is None and evs[0].to_status == Status.registered
        current = Status.registered
        for e in evs[1:]:
            assert e.from_status == current, f"broken chain at {e.action}: {e.from_status} after {current}"
            if e.to_status != e.from_status:
                t = TRANSITIONS.get((e.from_status, Action(e.action)))
                assert t is not None and e.to_status in (t.target, t.alt_target), \
                    f"{e.action}: {e.from_status} → {e.to_status} is not in the table"
            current = e.to_status
        assert current == p.status
        # Every timeline entry is audited, once.
        names = {e.action for e in evs} - UNAUDITED
        audited = dict(db.session.execute(
            select(AuditEvent.event, func.count()).where(AuditEvent.object_type == "problem",
                                                         AuditEvent.object_id == str(p.id))
            .group_by(AuditEvent.event)).all())
        for name in names:
            assert audited.get(f"problem.{name}", 0) == sum(e.action == name for e in evs), name

    def teardown(self):
        self.touched.update(self.problems)
        self.problems_are_consistent()
        report = verify_chain()
        assert report.ok, report
        db.session.rollback()
        for name, n in self.runs.items():
            RUNS[name] = RUNS.get(name, 0) + n


RUNS: dict[str, int] = {}
# Each step of the machine (a ``do_<name>`` method) and what it takes: the table's actions or activities.
STEPS = {
    "assign_sheet": (Action.assign_sheet,), "transfer_desk": (Action.transfer_desk,),
    "assign_departments": (Action.assign_departments,), "not_accept": (Action.not_accept,),
    "merge": (Action.merge,), "resolve_on_spot": (Action.resolve_on_spot,), "sign_for": (Action.sign_for,),
    "return_problem": (Action.return_,), "submit_plan": (Action.submit_plan, Action.revise_plan),
    "decide_plan": (Action.approve_plan,), "tick_step": (Activity.tick_step,), "progress": (Activity.progress,),
    "note": (Activity.note,), "part_feedback": (Activity.part_feedback,), "convene": (Activity.convene,),
    "request_extension": (Action.request_extension,), "decide_extension": (Action.decide_extension,),
    "request_signoff": (Action.request_signoff,), "decide_signoff": (Action.approve_signoff,),
    "verification": (Action.verify,), "request_cannot_solve": (Action.request_cannot_solve,),
    "decide_cannot_solve": (Action.approve_cannot_solve,), "reply": (Action.reply,),
}

# The step that moves a problem on in each status (the happy path through the lifecycle).
HAPPY = {Status.registered: "assign_sheet", Status.returned: "assign_departments", Status.assigned: "sign_for",
         Status.accepted: "submit_plan", Status.plan_review: "decide_plan", Status.in_progress: "request_signoff",
         Status.signoff_review: "decide_signoff", Status.pending_verification: "verification",
         Status.cannot_solve_review: "decide_cannot_solve", Status.signed_off: "reply"}


def fits(status, x) -> bool:
    return (status, x) in TRANSITIONS if isinstance(x, Action) else status in ACTIVITIES[x].statuses


def test_random_use_keeps_the_workflow_sound(app):
    RUNS.clear()
    # HUIYIN_STATEFUL_EXAMPLES=500 for a longer hunt on a developer's machine.
    examples = int(os.environ.get("HUIYIN_STATEFUL_EXAMPLES", 25))
    with time_machine.travel(MON, tick=False) as traveller:
        HandlingMachine.traveller = traveller
        run_state_machine_as_test(HandlingMachine, settings=settings(
            max_examples=examples, stateful_step_count=30, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))
    # The machine got deep into the lifecycle (not only refusals).
    for name in ("assign_sheet", "sign_for", "submit_plan", "approve_plan", "request_signoff", "approve_signoff",
                 "verify", "reply"):
        assert RUNS.get(name), f"no successful {name} in the whole run: {RUNS}"
