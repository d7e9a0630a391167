"""The seed's own figures: the campaign so far, loaded by bulk inserts on top of the demo problems.

The seed article's district had registered 1,250 problems of which 790 were solved (63.2%).
:func:`load_campaign` adds problems until the database holds exactly ``total`` of which exactly
``solved`` are signed off or closed (``workflow.SOLVED``), counting the demo problems already
there, and spreads the rest over the other statuses, the towns, streets and zones and their
villages, the work groups, the district departments (lead and cooperating parts), the 12345 desk
and the categories, registered on working days since the campaign began (the half-month period
about four and a half months before today).

**Bulk, but as the operations would write it.** The rows go in through SQLAlchemy Core in
batches (seconds, not the minutes the per-row operations would take); each problem's life is
simulated step by step on the working-day calendar with the same rules as ``cases.operations``
and ``handling.operations``: numbers drawn from the number sequences (advanced afterwards), receipt
numbers, assignments and their units with sign-for times, deadlines from ``cases.deadlines``
(settings and the calendar), a timeline event for every transition with its from/to status and
its back-dated time (the half-month reports reconstruct past figures from them), approved task
books with their steps, extensions, closure requests with the unit leader's approval, the
verifier and evidence photos, replies with verdicts, the reply owed (``reply_due``) where none
was given yet. Row-by-row audit events are not written: one ``demo.campaign_loaded`` record
with the counts keeps the chain honest about what happened.

**What the office can find** (just data; the detectors live in ``integrity``): three sign-offs
without an evidence file (every other sign-off carries photos), one unit (大吴街道) bunching its
sign-offs into the last two working days of a past period, residents who said 不满意 about a
signed-off problem that was closed anyway, and households that raised the same category again
after their problem was closed.

Then the office issues the half-month report of every ended period of the campaign through
``stats.reports`` (back-dated to the working day after the period), one of them corrected once.
"""

from __future__ import annotations

import hashlib
import random
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy import func, select

from ..accounts.models import User
from ..accounts.passwords import hash_password
from ..accounts.roles import Role
from ..cases import counts as queue_counts
from ..cases import deadlines as case_deadlines
from ..cases import uploads
from ..cases.models import (
    Assignment,
    AssignmentUnit,
    Attachment,
    Category,
    CoordinatedList,
    Problem,
    ProblemEvent,
)
from ..cases.operations import new_receipt_no
from ..cases.workflow import SOLVED, Status
from ..core import audit, calendar, clock, pii, storage
from ..core.audit import AuditEvent
from ..core.extensions import db
from ..core.numbering import NUMBER_FORMATS, NumberSequence
from ..core.periods import Period
from ..core.settings import get_settings
from ..handling.models import Closure, Extension, Reply, TaskBook, TaskStep
from ..org.models import TERRITORIAL, Unit, UnitKind
from ..stats import reports
from ..stats import sums as stats_sums
from ..visits import operations as visit_ops
from ..visits.models import Visit
from . import cases as demo
from .lifecycle import evidence_png, responsible, work_for
from .org import DEMO_PASSWORD

EVENT = "demo.campaign_loaded"
CAMPAIGN_DAYS = 140  # the campaign began in the half-month period this many days before today
BATCH = 2000

# The departments the demo problems leave without accounts: the campaign gives them a handler
# and a responsible leader (same password as every demo account).
EXTRA_DEPARTMENTS = {"区发改委": "fagai", "区财政局": "caizheng", "区安监局": "anjian",
                     "区市场监管局": "shichang", "规划贾汪分局": "guihua"}
EXTRA_NAMES = {"fagai": ("许国栋", "邵明远"), "caizheng": ("顾晓玲", "钱振宇"), "anjian": ("段海涛", "汤立华"),
               "shichang": ("龚雪芳", "乔德胜"), "guihua": ("贺永新", "武佳慧")}
EXTRA_TEMPLATES = [
    demo.Tpl("X-fagai", "农业农村", "村级光伏电站收益分配不清楚",
             "{village}村级光伏电站建成两年，群众不清楚每年发电收益多少、怎么分配，希望公开收益和分配方案。",
             dept="区发改委"),
    demo.Tpl("X-caizheng", "民生保障", "一事一议奖补资金迟迟未拨付",
             "{village}去年实施的村内道路一事一议项目已验收，承诺的财政奖补资金至今未拨付，施工方多次上门催款。",
             dept="区财政局"),
    demo.Tpl("X-anjian", "企业发展", "村内小作坊存在安全生产隐患",
             "{village}有一家小型木材加工作坊，车间与住房相连，电线私拉乱接，木屑堆积，群众担心发生火灾。",
             dept="区安监局", enterprise=True),
    demo.Tpl("X-shichang", "其他", "村内小超市售卖过期食品",
             "{name}在{village}一家小超市买到过期牛奶，孩子喝后腹泻，向店主反映未获处理，希望市场监管部门检查。",
             dept="区市场监管局"),
    demo.Tpl("X-guihua", "土地规划", "安置小区规划调整，交房时间一再推迟",
             "{village}拆迁安置小区因规划调整多次推迟交房，群众在外租房已超过两年，希望公开规划和交房时间。",
             dept="规划贾汪分局", coop=("区住建局",)),
]

# The statuses that are not solved, by weight (a campaign some months in).
OPEN_WEIGHTS = {
    Status.registered: 16, Status.returned: 4, Status.listed: 12, Status.assigned: 24, Status.accepted: 30,
    Status.plan_review: 12, Status.in_progress: 105, Status.signoff_review: 14,
    Status.pending_verification: 24, Status.cannot_solve_review: 6, Status.cannot_solve: 24,
    Status.not_accepted: 32, Status.merged: 20,
}
SIGNED_OFF_SHARE = 0.08  # of the solved: verified, the reply still owed
# How long ago (working days before the last one) the last step of an open problem lies.
OPEN_AGE = {
    Status.registered: (0, 4), Status.returned: (0, 6), Status.listed: (0, 8), Status.assigned: (0, 4),
    Status.accepted: (0, 10), Status.plan_review: (0, 6), Status.in_progress: (0, 12),
    Status.signoff_review: (0, 6), Status.pending_verification: (0, 8), Status.cannot_solve_review: (0, 10),
    Status.cannot_solve: (0, 60), Status.not_accepted: (0, 80), Status.merged: (0, 80),
}
TERRITORY_WEIGHTS = {  # rough number of households
    "潘安湖街道": 8, "老矿街道": 9, "大泉街道": 10, "大吴街道": 10, "茱萸山街道": 8, "青山泉镇": 11, "紫庄镇": 10,
    "塔山镇": 9, "汴塘镇": 10, "江庄镇": 10, "徐州工业园区": 5, "潘安湖风景区": 4, "大洞山风景区": 4,
}
BUNCHING_UNIT = "大吴街道"
VERDICTS = {"satisfied": 80, "basically": 14, "unreachable": 4, "refused": 2}
METHODS = {"phone": 70, "visit": 22, "sms": 3, "wechat": 5}
NO_EVIDENCE = "现场已整改完毕，当时未拍照，照片未能留存。"
UNSATISFIED_WORDS = ("说是销号了，其实问题根本没有解决，跟原来一样。", "只来人看了一眼，什么也没干，我不认可已经办好了。")
REOPEN_WORDS = "问题解决后不到半个月又出现了，希望彻底解决。"
CANNOT_TEXT = {
    "funds": "该问题需纳入明年财政预算统筹解决，今年资金无法落实，暂难解决；已列入明年工作计划，并向群众说明。",
    "policy": "该诉求涉及的政策标准由上级统一规定，本级无权调整，暂难解决；已向上级部门反映，并向群众解释政策。",
    "litigation": "该纠纷已进入诉讼程序，依法应待法院裁判，暂难解决；已告知当事人诉讼进展及法律援助渠道。",
}
EXTENSION_REASON = "涉及施工队伍和材料调度，原定时限内无法全部完成。"
REWORK_REASON = "现场核实发现整改不到位，与销号材料描述不符，请重新办理。"
CORRECTION = "更正：部分单位补报了本期已核销问题的销号材料，按补报后的时间线重新出具本期统计表。"


class CampaignError(RuntimeError):
    """The campaign cannot be loaded into this database (message for the operator)."""


def has_campaign() -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event == EVENT)))


def campaign_start(today: date) -> date:
    return Period.of(today - timedelta(days=CAMPAIGN_DAYS)).start


# ------------------------------------------------------------------ working days as indices


class Days:
    """Working days as consecutive indices: ``add_workdays`` becomes an addition."""

    def __init__(self, first: date, last: date):
        self.days: list[date] = []
        d = first
        while d <= last:
            if calendar.is_workday(d):
                self.days.append(d)
            d += timedelta(days=1)
        self.index = {d: i for i, d in enumerate(self.days)}

    def __getitem__(self, i: int) -> date:
        return self.days[i]

    def before(self, day: date) -> int:
        """The index of the last working day before ``day``."""
        return max(i for i, d in enumerate(self.days) if d < day)

    def first_from(self, day: date) -> int:
        return min(i for i, d in enumerate(self.days) if d >= day)


def _utc(day: date, minutes: int) -> datetime:
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=clock.LOCAL_TZ).astimezone(UTC)


# ------------------------------------------------------------------ one problem's life


@dataclass
class Spec:
    n: int
    target: Status
    territory: str
    channel: str  # sheet | desk | office | on_spot | none
    reopen: bool = False
    rework: bool = False
    extension: str | None = None  # approved | rejected | pending
    returned_first: bool = False
    no_evidence: bool = False
    bunch: int | None = None  # sign off on this working-day index (or the next)
    unsatisfied: bool = False  # closed although the resident said 不满意
    repeat: bool = False  # the same household raises the same category again (of ``again_of``)
    again_of: Spec | None = None
    merge_into: Spec | None = None
    tpl: demo.Tpl | None = None
    lead: str | None = None
    coop: tuple[str, ...] = ()
    resident: tuple[str, str, str] | None = None  # name, phone, household
    village_id: int | None = None
    # results of the simulation
    pid: int = 0
    closed_idx: int | None = None
    marks: dict = field(default_factory=dict)


class Life:
    """Simulates one problem from its registration (working-day index ``reg_idx``): rows out."""

    def __init__(self, ctx: _Context, s: Spec, reg_idx: int, rng: random.Random):
        self.c, self.s, self.rng = ctx, s, rng
        self.day, self.minute = reg_idx, rng.randint(8 * 60 + 30, 11 * 60 + 30)
        self.events: list[dict] = []
        self.rows: dict[str, list] = {k: [] for k in ("assignments", "parts", "books", "steps", "extensions",
                                                      "closures", "replies", "attachments")}
        self.status: Status | None = None
        self.p: dict = {}

    # -- time

    def now(self) -> datetime:
        return _utc(self.c.days[self.day], self.minute)

    def step(self, gap: int = 0, *, early: bool = False) -> datetime:
        if gap <= 0:
            self.minute += self.rng.randint(10, 80)
            if self.minute > 18 * 60:
                self.day += 1
                self.minute = self.rng.randint(8 * 60 + 30, 10 * 60)
        else:
            self.day += gap
            self.minute = self.rng.randint(8 * 60 + 30, 11 * 60 if early else 17 * 60 + 20)
        return self.now()

    def to_day(self, idx: int) -> datetime:
        if idx > self.day:
            self.day, self.minute = idx, self.rng.randint(8 * 60 + 30, 16 * 60 + 30)
            return self.now()
        return self.step(0)

    def date(self, idx: int | None = None) -> date:
        return self.c.days[self.day if idx is None else idx]

    # -- rows

    def event(self, action: str, user: User, to: Status | None = None, note: str | None = None,
              public: bool = False) -> None:
        before = self.status
        if to is not None:
            self.status = to
        self.events.append({"problem_id": self.s.pid, "created_at": self.now(), "user_id": user.id,
                            "unit_id": user.unit_id, "action": action,
                            "from_status": before.value if before else None,
                            "to_status": self.status.value, "note": note, "is_public": public})

    # -- the lifecycle (the rules of cases.operations and handling.operations)

    def run(self) -> None:
        s, c, rng = self.s, self.c, self.rng
        staff = c.staff[s.territory]
        self.cadre, self.group_lead = staff.cadre, staff.lead
        self.p.update(registered_at=self.now(), kind=None, level=None, tier=None, deadline=None,
                      sign_for_deadline=None, lead_unit_id=None, assigner_unit_id=None,
                      current_assignment_id=None, coordinated_list_id=None, merged_into_id=None, end_reason=None,
                      assigned_at=None, accepted_at=None, solved_at=None, closed_at=None, reopen_count=0,
                      handler_id=None, reply_due=None, replied_at=None)
        self.event("register", self.cadre, Status.registered, public=True)
        if s.target == Status.registered:
            return
        tier = s.tpl.tier
        if s.channel == "on_spot":
            return self.on_spot()
        if s.target in (Status.not_accepted, Status.merged):
            return self.end_at_triage()
        if s.channel == "office":
            self.step(rng.choice((0, 0, 1)))
            self.p.update(kind="common", level="district", tier=("quick" if tier == "immediate" else tier))
            self.event("add_to_list", self.group_lead, Status.listed)
            self.list_wd = self.day
            submit = c.list_day(self.day)
            self.to_day(submit)
            self.p["coordinated_list_id"] = c.list_for(s.territory, submit, self)
            self.event("list_submitted", self.group_lead, note="@list")
            if s.target == Status.listed:
                return
            self.step(rng.randint(1, 3))
        else:
            self.step(rng.choice((0, 1, 1, 1, 2, 3)))
            self.p.update(kind="individual", level="town", tier=tier)
        if s.returned_first:
            wrong = (rng.choice([d for d in c.departments if d != s.lead]) if s.channel == "office"
                     else rng.choice([t for t in c.territories if t != s.territory]) if s.channel == "sheet"
                     else None)
            if wrong is not None:
                self.assign(wrong, ())
                self.step(rng.randint(0, 1))
                self.give_back()
                if s.target == Status.returned:
                    return
                self.step(rng.randint(1, 2))
        if s.target == Status.returned:  # returned by the unit it was assigned to
            self.assign(s.lead, ())
            self.step(rng.randint(0, 1))
            self.give_back()
            return
        self.assign(s.lead, s.coop)
        if s.target == Status.assigned:
            return
        late = rng.random() < 0.1
        self.step(rng.randint(2, 4) if late else rng.choice((0, 0, 1)))
        self.sign()
        if s.target == Status.accepted:
            return
        self.step(rng.randint(1, 3) if tier != "immediate" else 0)
        self.book()
        if s.target == Status.plan_review:
            return
        self.step(rng.choice((0, 1, 1)))
        self.approve()
        self.s.marks["pre_signoff"] = self.day
        stop = s.target in (Status.cannot_solve_review, Status.cannot_solve) or (
            s.target == Status.in_progress and not s.rework and not s.reopen)
        self.work_until_signoff(stop=stop)
        if s.target == Status.in_progress and stop:
            return
        if s.target in (Status.cannot_solve_review, Status.cannot_solve):
            return self.cannot_solve()
        self.signoff()
        if s.target == Status.signoff_review:
            return
        self.step(rng.choice((0, 0, 1)))
        self.approve_signoff()
        if s.target == Status.pending_verification and not s.rework:
            return
        if s.rework:
            self.step(rng.randint(0, 2))
            self.reject_verification()
            if s.target == Status.in_progress and not s.reopen:
                return
            self.step(rng.randint(2, 6))
            self.signoff()
            self.step(rng.choice((0, 1)))
            self.approve_signoff()
            if s.target == Status.pending_verification:
                return
        self.step(rng.choice((0, 1, 1, 2)) if s.bunch is None else 0)
        self.verify()
        if s.target == Status.signed_off and not s.reopen:
            return
        self.step(rng.choice((0, 1, 1, 2, 3)))
        if s.reopen:
            self.reply("unsatisfied", reopen=True)
            if s.target == Status.in_progress:
                return
            self.step(rng.randint(3, 8))
            self.signoff()
            self.step(rng.choice((0, 1)))
            self.approve_signoff()
            self.step(rng.choice((0, 1)))
            self.verify()
            if s.target == Status.signed_off:
                return
            self.step(rng.choice((0, 1, 2)))
        self.reply("unsatisfied" if s.unsatisfied else self.c.choice(VERDICTS, rng))

    def on_spot(self):
        s, rng = self.s, self.rng
        self.step(0)
        self.p.update(kind="individual", level="town", tier="immediate", assigner_unit_id=self.group_lead.unit_id)
        closure = self.closure("on_spot", self.group_lead, result=s.tpl.result or "走访队员现场协调解决，群众当场认可。")
        closure.update(status="verifying", unit_id=self.group_lead.unit_id, leader_id=self.group_lead.id,
                       leader_at=self.now())
        self.event("resolve_on_spot", self.group_lead, Status.pending_verification, note=closure["result"],
                   public=True)
        if s.target == Status.pending_verification:
            return
        self.step(rng.randint(1, 2))
        self.verify(verifier=self.group_lead)
        if s.target == Status.signed_off:
            return
        self.step(rng.choice((0, 1, 1, 2)))
        self.reply(self.c.choice(VERDICTS, rng))

    def end_at_triage(self):
        s, rng = self.s, self.rng
        self.step(rng.choice((0, 1, 1, 2)))
        if s.target == Status.not_accepted:
            reason = s.tpl.reason
            self.p.update(end_reason=reason, kind="individual", level="town", tier="quick")
            self.event("not_accept", self.group_lead, Status.not_accepted, note=reason, public=True)
        else:  # the target and its number are known once every problem is placed (see _link_merges)
            self.p["end_reason"] = "@merge"
            self.event("merge", self.group_lead, Status.merged, note="@merge", public=True)
        self.owe_reply()
        if rng.random() < 0.7:
            self.step(rng.randint(1, 2))
            self.reply(self.c.choice({"satisfied": 3, "basically": 4, "refused": 1}, rng))

    def assign(self, lead: str, coop) -> None:
        c, s = self.c, self.s
        assigner = c.office if s.channel == "office" else self.group_lead
        action = {"sheet": "assign_sheet", "desk": "transfer_desk", "office": "assign_departments"}[s.channel]
        when = self.now()
        if self.p.get("current_assignment_id"):
            self.end_assignment()
        workdays = s.tpl.workdays if self.p["tier"] == "joint" else None
        tier_days = case_deadlines.tier_workdays(self.p["tier"], workdays)
        deadline_idx = self.day + tier_days
        aid = c.next_id("assignments")
        number = c.number(s.channel, self.date())
        self.rows["assignments"].append({
            "id": aid, "problem_id": s.pid, "channel": s.channel, "number": number,
            "assigner_unit_id": assigner.unit_id, "assigned_by_id": assigner.id, "assigned_at": when,
            "deadline": c.days[deadline_idx], "sign_for_deadline": c.days[self.day + c.settings.sign_for_days],
            "requirements": self.rng.choice(demo.REQUIREMENTS), "is_current": True, "ended_at": None,
            "client_token": None})
        self.parts = []
        for role, name in [("lead", lead), *[("cooperating", u) for u in coop]]:
            part = {"id": c.next_id("assignment_units"), "assignment_id": aid, "problem_id": s.pid,
                    "unit_id": c.units[name].id, "role": role, "status": "pending", "is_current": True,
                    "signed_by_id": None, "signed_at": None, "returned_reason": None, "feedback": None,
                    "feedback_at": None, "feedback_by_id": None, "version": 1}
            self.parts.append(part)
            self.rows["parts"].append(part)
        self.lead_name = lead
        self.p.update(current_assignment_id=aid, lead_unit_id=c.units[lead].id, assigner_unit_id=assigner.unit_id,
                      deadline=c.days[deadline_idx], sign_for_deadline=c.days[self.day + c.settings.sign_for_days],
                      assigned_at=when, accepted_at=None)
        self.deadline_idx = deadline_idx
        self.event(action, assigner, Status.assigned, note=self.rows["assignments"][-1]["requirements"])

    def end_assignment(self) -> None:
        self.rows["assignments"][-1].update(is_current=False, ended_at=self.now())
        for part in self.parts:
            part["is_current"] = False
            if part["status"] == "pending":
                part["status"] = "withdrawn"

    def give_back(self) -> None:
        c, s = self.c, self.s
        handler = c.handler(self.lead_name)
        reason = (demo.RETURN_DEPT if s.channel == "office" else demo.RETURN_TOWN).format(
            unit=s.lead if s.lead != self.lead_name else (s.tpl.belongs_to or "其他单位"))
        lead = self.parts[0]
        lead.update(status="returned", returned_reason=reason, signed_by_id=handler.id, signed_at=self.now())
        self.end_assignment()
        self.p.update(lead_unit_id=None, current_assignment_id=None, deadline=None, sign_for_deadline=None)
        self.event("return", handler, Status.returned, note=reason)

    def sign(self) -> None:
        c = self.c
        handler = c.handler(self.lead_name)
        self.parts[0].update(status="accepted", signed_by_id=handler.id, signed_at=self.now())
        self.p["accepted_at"] = self.now()
        self.event("sign_for", handler, Status.accepted, public=True)
        for part in self.parts[1:]:
            if self.s.target == Status.assigned or self.rng.random() < 0.15:
                continue
            self.step(0)
            coop = c.handler_of(part["unit_id"])
            part.update(status="accepted", signed_by_id=coop.id, signed_at=self.now())
            self.event("sign_for_part", coop)

    def book(self) -> None:
        c, s = self.c, self.s
        handler = c.handler(self.lead_name)
        lead_unit = c.units[self.lead_name]
        self.work = work_for(s.tpl.key, s.tpl.title, self.lead_name)
        leader, office = responsible(lead_unit, s.tpl.category, c.leader(self.lead_name).full_name)
        book_id = c.next_id("task_books")
        self.book_row = {
            "id": book_id, "number": c.number("taskbook", self.date()), "problem_id": s.pid, "assignment_id": self.p["current_assignment_id"],
            "unit_id": lead_unit.id, "revision": 1, "status": "submitted", "handler_id": handler.id,
            "responsible_leader": leader, "responsible_department": office, "measures": self.work.measures,
            "deadline": self.p["deadline"], "revision_reason": None, "submitted_by_id": handler.id,
            "submitted_at": self.now(), "decided_by_id": None, "decided_at": None, "decision_note": None,
            "closed_at": None}
        self.rows["books"].append(self.book_row)
        span = max(1, self.deadline_idx - self.day)
        self.steps = []
        n = len(self.work.steps)
        for i, title in enumerate(self.work.steps, 1):
            row = {"id": c.next_id("task_steps"), "task_book_id": book_id, "problem_id": s.pid, "seq": i,
                   "title": title, "due_on": c.days[self.day + max(0, round(span * i / n))],
                   "unit_id": lead_unit.id, "source": "plan", "decision_id": None, "done_at": None,
                   "done_by_id": None, "done_note": None}
            self.steps.append(row)
            self.rows["steps"].append(row)
        self.event("submit_plan", handler, Status.plan_review)

    def approve(self) -> None:
        leader = self.c.leader(self.lead_name)
        self.book_row.update(status="approved", decided_by_id=leader.id, decided_at=self.now())
        self.p.update(deadline=self.book_row["deadline"], handler_id=self.book_row["handler_id"])
        self.event("approve_plan", leader, Status.in_progress)

    def tick(self, row) -> None:
        handler = self.c.handler(self.lead_name)
        note = demo.lifecycle.GENERIC_TICKS[min(row["seq"], 3) - 1]
        row.update(done_at=self.now(), done_by_id=handler.id, done_note=note)
        self.event("tick_step", handler, note=f"{row['title']}：{note}")

    def work_until_signoff(self, *, stop: bool) -> None:
        """Ticks, cooperating feedback and extensions between the approval and the sign-off
        request; the sign-off day lies mostly before the deadline (on time), else after it."""
        s, rng, c = self.s, self.rng, self.c
        if s.bunch is not None:
            done_idx = s.bunch
        else:
            room = max(0, self.deadline_idx - self.day)
            late = rng.random() < 0.12
            done_idx = self.day + (rng.randint(room + 1, room + 8) if late else rng.randint(
                min(room, max(0, room // 3)), room))
        if s.extension:
            ask = self.day + max(0, min(done_idx, self.deadline_idx) - self.day) // 2
            if ask >= self.deadline_idx - c.settings.extension_min_days_before:
                ask = max(self.day, self.deadline_idx - c.settings.extension_min_days_before - 1)
            if ask >= self.day and self.deadline_idx - ask >= 2:
                self.to_day(ask)
                self.extend(s.extension)
                if s.extension == "approved":
                    done_idx = max(done_idx, self.day + 1)
        if stop:  # an open problem: work done so far (the last step stays open)
            for row in self.steps[:-1]:
                if rng.random() < 0.6:
                    self.step(rng.randint(1, 3))
                    self.tick(row)
            for part in self.parts[1:]:
                if part["status"] == "accepted" and rng.random() < 0.5:
                    self.feedback(part, done=False)
            return
        n = len(self.steps)
        start = self.day
        for i, row in enumerate(self.steps, 1):
            self.to_day(start + max(0, round((done_idx - start) * i / (n + 1))))
            self.tick(row)
        for part in self.parts[1:]:
            if part["status"] == "accepted":
                self.feedback(part, done=True)
        self.to_day(done_idx)

    def feedback(self, part, *, done: bool) -> None:
        self.step(0)
        coop = self.c.handler_of(part["unit_id"])
        text = "本单位配合事项已办理完毕。" if done else "本单位已安排专人对接，配合事项正在办理。"
        part.update(feedback=text, feedback_at=self.now(), feedback_by_id=coop.id,
                    status="done" if done else part["status"])
        self.event("part_feedback", coop, note=text)

    def extend(self, outcome: str) -> None:
        c, rng = self.c, self.rng
        handler = c.handler(self.lead_name)
        old_idx = self.deadline_idx
        new_idx = old_idx + rng.randint(5, 10)
        ext = {"problem_id": self.s.pid, "assignment_id": self.p["current_assignment_id"],
               "unit_id": c.units[self.lead_name].id, "requested_by_id": handler.id, "requested_at": self.now(),
               "old_deadline": c.days[old_idx], "new_deadline": c.days[new_idx], "reason": EXTENSION_REASON,
               "progress": "主要工作已经启动，部分事项正在推进。", "status": "pending", "decided_by_id": None,
               "decided_at": None, "decision_note": None}
        self.rows["extensions"].append(ext)
        self.event("request_extension", handler, note=EXTENSION_REASON)
        if outcome == "pending":
            return
        self.step(rng.choice((0, 1)))
        decider = c.office if self.s.channel == "office" else self.group_lead
        approve = outcome == "approved"
        note = "同意延期，请按新的时限办结。" if approve else "该事项工作量不大，请按原时限完成。"
        ext.update(status=outcome, decided_by_id=decider.id, decided_at=self.now(), decision_note=note)
        if approve:
            self.deadline_idx = new_idx
            self.p["deadline"] = c.days[new_idx]
        self.event("approve_extension" if approve else "reject_extension", decider, note=note)

    def close_book(self) -> None:
        """The task book in force ends with its problem (已办结)."""
        if getattr(self, "book_row", None) is not None and self.book_row["status"] == "approved":
            self.book_row["closed_at"] = self.now()

    def closure(self, kind: str, user: User, *, result: str) -> dict:
        row = {"id": self.c.next_id("closures"), "number": self.c.number("closure", self.date()),
               "problem_id": self.s.pid, "kind": kind, "status": "leader_review",
               "unit_id": self.p["lead_unit_id"], "result": result, "reason_kind": None, "no_evidence_reason": None,
               "open_parts_reason": None, "completed_on": self.date(), "requested_by_id": user.id,
               "requested_at": self.now(), "leader_id": None, "leader_at": None, "leader_note": None,
               "verifier_id": None, "verifier_unit_id": None, "verified_at": None, "verifier_note": None,
               "open_steps": None}
        self.rows["closures"].append(row)
        self.closure_row = row
        if kind != "cannot_solve":
            if self.s.no_evidence and kind == "signoff":
                row["no_evidence_reason"] = NO_EVIDENCE
            else:
                for i in range(self.rng.choice((1, 1, 2))):
                    self.rows["attachments"].append(self.c.photo(self.s.pid, row["id"], user.id, self.now(), i + 1))
        return row

    def signoff(self) -> None:
        handler = self.c.handler(self.lead_name)
        if self.s.bunch is not None:  # the morning of one of the period's last two working days
            day = self.s.bunch + self.rng.choice((0, 1))
            if day > self.day:
                self.day, self.minute = day, self.rng.randint(8 * 60 + 40, 10 * 60 + 30)
            else:
                self.step(0)
        result = self.work.result
        row = self.closure("signoff", handler, result=result)
        open_parts = [p for p in self.parts[1:] if p["status"] in ("pending", "accepted")]
        if open_parts:
            row["open_parts_reason"] = "配合单位已电话确认配合事项办结，书面反馈随后补报。"
        open_steps = [st for st in getattr(self, "steps", []) if st["done_at"] is None]
        if open_steps:
            row["open_steps"] = [{"step": st["id"], "seq": st["seq"], "title": st["title"],
                                  "reason": "该步骤已随整体整改一并完成，现场已核实，未在系统中单独标记。"}
                                 for st in open_steps]
        self.event("request_signoff", handler, Status.signoff_review, note=result)

    def approve_signoff(self) -> None:
        leader = self.c.leader(self.lead_name)
        self.closure_row.update(status="verifying", leader_id=leader.id, leader_at=self.now())
        self.event("approve_signoff", leader, Status.pending_verification)

    def verifier(self) -> User:
        return self.c.office if self.s.channel == "office" else self.group_lead

    def reject_verification(self) -> None:
        v = self.verifier()
        self.closure_row.update(status="verification_rejected", verifier_id=v.id, verifier_unit_id=v.unit_id,
                                verified_at=self.now(), verifier_note=REWORK_REASON)
        self.event("reject_verification", v, Status.in_progress, note=REWORK_REASON)

    def verify(self, verifier: User | None = None) -> None:
        v = verifier or self.verifier()
        note = "经实地查看核实，问题已解决，同意核销。"
        self.closure_row.update(status="verified", verifier_id=v.id, verifier_unit_id=v.unit_id,
                                verified_at=self.now(), verifier_note=note)
        self.p["solved_at"] = self.now()
        self.close_book()
        self.event("verify", v, Status.signed_off, note=note)
        self.owe_reply()

    def owe_reply(self) -> None:
        self.p.update(reply_due=self.c.days[self.day + self.c.settings.reply_after_signoff_days], replied_at=None)

    def cannot_solve(self) -> None:
        handler = self.c.handler(self.lead_name)
        kind = self.rng.choice(("funds", "funds", "policy", "litigation"))
        row = self.closure("cannot_solve", handler, result=CANNOT_TEXT[kind])
        row.update(status="office_review", reason_kind=kind, completed_on=None)
        self.event("request_cannot_solve", handler, Status.cannot_solve_review, note=row["result"])
        if self.s.target == Status.cannot_solve_review:
            return
        self.step(self.rng.randint(1, 4))
        office = self.c.office
        row.update(status="approved", verifier_id=office.id, verifier_unit_id=office.unit_id, verified_at=self.now(),
                   verifier_note="同意暂难解决，请做好解释工作。")
        self.p["end_reason"] = row["result"]
        self.close_book()
        self.event("approve_cannot_solve", office, Status.cannot_solve, note=row["verifier_note"])
        self.owe_reply()
        if self.rng.random() < 0.75:
            self.step(self.rng.randint(1, 2))
            self.reply(self.c.choice({"basically": 5, "satisfied": 2, "unsatisfied": 1, "refused": 1}, self.rng))

    def replier(self) -> User:
        return self.c.desk if self.s.channel == "desk" else self.cadre

    def reply(self, verdict: str, *, reopen: bool = False) -> None:
        c, s = self.c, self.s
        user = self.replier()
        before = self.status
        if before == Status.not_accepted:
            content = f"已向群众当面解释不予受理的原因：{self.p['end_reason']}"
        elif before == Status.merged:
            content = "@merge-reply"
        elif before == Status.cannot_solve:
            content = f"已向群众说明暂难解决的原因：{self.p['end_reason']}"
        elif s.channel == "on_spot":
            content = f"已回访群众，确认问题已当场解决：{s.tpl.result}"
        else:
            content = self.work.reply
        words = None
        if verdict == "unsatisfied":
            words = REOPEN_WORDS if reopen else (self.rng.choice(UNSATISFIED_WORDS) if before == Status.signed_off
                                                  else "对答复不满意，希望再想想办法。")
        elif verdict == "refused":
            words = "不想评价。"
        now = self.now()
        self.rows["replies"].append({
            "problem_id": s.pid, "replied_by_id": user.id, "unit_id": user.unit_id,
            "method": c.choice(METHODS, self.rng), "replied_at": now - timedelta(minutes=20), "content": content,
            "verdict": verdict, "resident_words": words, "reopened": reopen, "status_at_reply": before.value,
            "created_at": now, "client_token": None})
        self.p.update(replied_at=now, reply_due=None)
        if reopen:
            self.p.update(reopen_count=self.p["reopen_count"] + 1, solved_at=None)
            if getattr(self, "book_row", None) is not None:
                self.book_row["closed_at"] = None  # the book in force runs again
            self.deadline_idx = self.day + case_deadlines.tier_workdays(self.p["tier"], s.tpl.workdays)
            self.p["deadline"] = c.days[self.deadline_idx]
            self.event("reply_reopen", user, Status.in_progress, note=content, public=True)
            if s.target == Status.in_progress:  # working on it again
                if self.rng.random() < 0.7:
                    self.step(self.rng.randint(1, 3))
                    handler = c.handler(self.lead_name)
                    self.event("progress", handler, note="已重新安排人员到现场，正在彻底整改。", public=True)
            return
        if before == Status.signed_off:
            self.p["closed_at"] = now
            self.event("reply", user, Status.closed, note=content, public=True)
            s.closed_idx = self.day
        else:
            self.event("reply", user, note=content, public=True)


# ------------------------------------------------------------------ the loader


class _Context:
    def __init__(self, seed: int):
        self.rng = random.Random(f"huiyin-campaign-{seed}")  # noqa: S311 - demo data
        self.today = clock.today()
        self.start = campaign_start(self.today)
        self.days = Days(self.start - timedelta(days=10), self.today + timedelta(days=200))
        self.first = self.days.first_from(self.start)
        self.last = self.days.before(self.today)  # every step lies on a working day before today
        self.settings = get_settings()
        self.units = {u.name: u for u in db.session.scalars(
            select(Unit).where(Unit.kind != UnitKind.village, Unit.is_active.is_(True)))}
        self.villages: dict[str, list[Unit]] = {}
        for v in db.session.scalars(select(Unit).where(Unit.kind == UnitKind.village,
                                                       Unit.is_active.is_(True)).order_by(Unit.id)):
            if v.parent is not None and v.parent.kind in TERRITORIAL:
                self.villages.setdefault(v.parent.name, []).append(v)
        self.territories = [t for t in TERRITORY_WEIGHTS if t in self.units and self.villages.get(t)]
        self.departments = sorted(u.name for u in self.units.values() if u.kind == UnitKind.department)
        self.categories = {c.name: c.id for c in db.session.scalars(select(Category))}
        accounts = _department_accounts()
        users = {u.username: u for u in db.session.scalars(select(User).where(User.is_demo.is_(True)))}
        missing = {"office", "desk", "cadre", "grouplead"} - set(users)
        if missing:
            raise CampaignError(f"demo accounts missing: {sorted(missing)}; load the demo first")
        users |= accounts
        self.office, self.desk = users["office"], users["desk"]
        names = demo._staff_names()
        self.staff = {demo.HOME: demo.Staff(users["cadre"], users["grouplead"], users["town"], names[demo.HOME][1])}
        for territory, slug in demo.TERRITORY_SLUGS.items():
            self.staff[territory] = demo.Staff(users[f"cadre-{slug}"], users[f"grouplead-{slug}"],
                                               users[f"town-{slug}"], names[territory][1])
        self.handlers = {}
        self.leaders = {}
        for u in sorted(users.values(), key=lambda u: u.id):
            if u.role in (Role.handler, Role.desk):
                self.handlers.setdefault(u.unit.name, u)
            elif u.role == Role.unit_leader:
                self.leaders.setdefault(u.unit.name, u)
        self.by_unit_id = {self.units[n].id: u for n, u in self.handlers.items()}
        self.ids: dict[str, int] = {}
        self.seqs: dict[tuple[str, int], int] = {}
        self.lists: dict[tuple[str, int], dict] = {}
        taken = set(db.session.scalars(select(Problem.resident_phone)))
        self.free_phones = [p for p in (f"1390516{i:04d}" for i in range(10000)) if p not in taken]
        self.dry = False  # measuring a life: no ids, numbers, lists or files
        self.written: list[str] = []
        self.photos = [evidence_png(9000 + i, 160, 108) for i in range(12)]

    # -- helpers

    @staticmethod
    def choice(weights: dict, rng: random.Random):
        return rng.choices(list(weights), list(weights.values()))[0]

    def handler(self, unit_name: str) -> User:
        return self.handlers[unit_name]

    def handler_of(self, unit_id: int) -> User:
        return self.by_unit_id[unit_id]

    def leader(self, unit_name: str) -> User:
        return self.leaders[unit_name]

    def next_id(self, table: str) -> int:
        if self.dry:
            return 0
        if table not in self.ids:
            t = db.metadata.tables[table]
            self.ids[table] = db.session.scalar(select(func.max(t.c.id))) or 0
        self.ids[table] += 1
        return self.ids[table]

    def number(self, kind: str, day: date) -> str:
        if self.dry:
            return ""
        key = (kind, day.year)
        if key not in self.seqs:
            self.seqs[key] = db.session.scalar(select(NumberSequence.last).where(
                NumberSequence.kind == kind, NumberSequence.year == day.year)) or 0
        self.seqs[key] += 1
        return NUMBER_FORMATS[kind].format(year=day.year, seq=self.seqs[key])

    def list_day(self, idx: int) -> int:
        """Groups submit their list on the last working day of each half month."""
        period = Period.of(self.days[idx])
        return self.days.before(period.end + timedelta(days=1)) if self.days[idx] <= period.end else idx

    def list_for(self, territory: str, idx: int, life: Life) -> int:
        if self.dry:
            return 0
        key = (territory, idx)
        if key not in self.lists:
            group = self.staff[territory].lead
            when = life.now()
            self.lists[key] = {
                "id": self.next_id("coordinated_lists"), "number": self.number("list", self.days[idx]),
                "work_group_id": group.unit_id, "title": f"{territory}工作组统筹交办问题清单",
                "status": "assigned", "created_by_id": group.id,
                "created_at": _utc(self.days[max(self.first, idx - 8)], 9 * 60), "submitted_at": when,
                "version": 1}
        return self.lists[key]["id"]

    def photo(self, pid: int, closure_id: int, user_id: int, when: datetime, i: int) -> dict:
        if self.dry:
            return {}
        # A pooled picture with a unique comment chunk: a valid PNG, its own file and hash.
        base = self.photos[self.rng.randrange(len(self.photos))]
        comment = f"Comment\x00huiyin campaign {pid}-{closure_id}-{i}".encode()
        chunk = len(comment).to_bytes(4, "big") + b"tEXt" + comment + \
            (zlib.crc32(b"tEXt" + comment) & 0xFFFFFFFF).to_bytes(4, "big")
        data = base[:33] + chunk + base[33:]
        stored = uploads.new_stored_name("png")
        storage.current().put(stored, data, content_type="image/png")
        self.written.append(stored)
        return {"problem_id": pid, "event_id": None, "closure_id": closure_id, "kind": "evidence",
                "filename": f"现场照片{i}.png", "stored_name": stored, "mime": "image/png", "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(), "uploaded_by_id": user_id, "created_at": when}


def _department_accounts() -> dict[str, User]:
    """A handler and a responsible leader for each department the demo left without accounts."""
    units = {u.name: u for u in db.session.scalars(select(Unit).where(Unit.kind == UnitKind.department))}
    wanted = []
    for name, slug in EXTRA_DEPARTMENTS.items():
        if name in units:
            handler, leader = EXTRA_NAMES[slug]
            wanted += [(f"dept-{slug}", handler, units[name], Role.handler),
                       (f"deptlead-{slug}", leader, units[name], Role.unit_leader)]
    existing = {u.username: u for u in db.session.scalars(select(User).where(
        User.username.in_([w[0] for w in wanted])))}
    pw = None
    for username, full_name, unit, role in wanted:
        if username not in existing:
            pw = pw or hash_password(DEMO_PASSWORD)
            existing[username] = User(username=username, full_name=full_name, unit=unit, role=role,
                                      password_hash=pw, password_changed_at=clock.now(),
                                      must_change_password=False, is_demo=True)
            db.session.add(existing[username])
    db.session.flush()
    return existing


def _allocate(n: int, weights: dict) -> Counter:
    """``n`` split by ``weights`` (largest remainder): the counts add up to ``n`` exactly."""
    total = sum(weights.values())
    raw = {k: n * w / total for k, w in weights.items()}
    out = Counter({k: int(v) for k, v in raw.items()})
    for k in sorted(raw, key=lambda k: raw[k] - int(raw[k]), reverse=True)[:n - sum(out.values())]:
        out[k] += 1
    return out


def _plan(ctx: _Context, n_new: int, n_solved: int) -> list[Spec]:
    rng = ctx.rng
    targets: list[Status] = []
    signed_off = round(n_solved * SIGNED_OFF_SHARE)
    targets += [Status.signed_off] * signed_off + [Status.closed] * (n_solved - signed_off)
    for st, k in _allocate(n_new - n_solved, OPEN_WEIGHTS).items():
        targets += [st] * k
    rng.shuffle(targets)
    specs = []
    tw = {t: TERRITORY_WEIGHTS[t] for t in ctx.territories}
    dept_use: Counter = Counter()
    district = demo.DISTRICT + EXTRA_TEMPLATES
    for i, target in enumerate(targets):
        territory = ctx.choice(tw, rng)
        s = Spec(n=i, target=target, territory=territory, channel="none")
        if target in (Status.not_accepted, Status.merged, Status.registered):
            s.tpl = rng.choice(demo.NOT_ACCEPTED) if target == Status.not_accepted else \
                rng.choice(demo.TOWN + demo.DESK + district)
        elif target in SOLVED | {Status.pending_verification} and rng.random() < 0.07:
            s.channel, s.tpl = "on_spot", rng.choice(demo.ON_SPOT)
        else:
            s.channel = ctx.choice({"sheet": 62, "desk": 12, "office": 26}, rng)
            if target == Status.listed:
                s.channel = "office"
            if s.channel == "office":
                dept = min(ctx.departments, key=lambda d: (dept_use[d], rng.random()))
                pool = [t for t in district if t.dept == dept]
                if not pool:  # a department no kind of problem names: one of its neighbours' texts
                    pool = [rng.choice(district)]
                dept_use[dept] += 1
                s.tpl, s.lead = rng.choice(pool), dept
                s.coop = tuple(c for c in s.tpl.coop if c != dept and c in ctx.handlers)
            elif s.channel == "desk":
                s.tpl, s.lead = rng.choice(demo.DESK), demo.DESK_UNIT
            else:
                s.tpl, s.lead = rng.choice(demo.TOWN), territory
                s.coop = tuple(c for c in s.tpl.coop if c in ctx.handlers)
                if not s.coop and rng.random() < 0.12:
                    s.coop = (rng.choice([d for d in ctx.departments if d in ctx.handlers]),)
            if target in SOLVED | {Status.in_progress, Status.signoff_review, Status.pending_verification}:
                r = rng.random()
                s.extension = "approved" if r < 0.07 else "rejected" if r < 0.09 else None
                if target in SOLVED and rng.random() < 0.03:
                    s.rework = True
            if target == Status.in_progress and s.extension is None and rng.random() < 0.04:
                s.extension = "pending"
            if rng.random() < 0.03 and s.channel in ("sheet", "office"):
                s.returned_first = True
            if target == Status.returned and s.channel == "desk":
                s.channel, s.tpl, s.lead = "sheet", rng.choice([t for t in demo.TOWN if t.belongs_to]), territory
        specs.append(s)
    handled = [s for s in specs if s.channel in ("sheet", "desk", "office")]
    closed = [s for s in handled if s.target == Status.closed and not s.rework and not s.extension]
    rng.shuffle(closed)
    for s in closed[:4]:
        s.reopen = True
    for s in [s for s in handled if s.target == Status.in_progress and not s.rework][:3]:
        s.reopen = True
    for s in [s for s in handled if s.target == Status.signed_off][:1]:
        s.reopen = True
    for s in [s for s in handled if s.target in SOLVED and not s.rework][:3]:
        s.rework = True
    rest = [s for s in closed[4:] if s.channel == "sheet"]
    for s in rest[:3]:
        s.no_evidence = True
    for s in rest[3:5]:
        s.unsatisfied = True
    # 大吴街道 bunches its sign-offs into the last two working days of a past period.
    bunch_period = Period.of(ctx.today).previous().previous()
    bunch_idx = ctx.days.before(bunch_period.end + timedelta(days=1)) - 1
    n = 0
    for s in closed[4:]:
        if n >= 9:
            break
        if s.channel == "sheet" and s.territory == BUNCHING_UNIT and not (s.no_evidence or s.unsatisfied):
            s.bunch, n = bunch_idx, n + 1
    while n < 9:  # make them where the draw gave too few
        s = next(s for s in closed[10:] if s.channel == "sheet" and s.bunch is None
                 and not (s.no_evidence or s.unsatisfied))
        s.territory, s.lead, s.coop, s.bunch, n = BUNCHING_UNIT, BUNCHING_UNIT, (), bunch_idx, n + 1
    # Households raising the same category again after their problem was closed.
    again = [s for s in specs if s.target in (Status.registered, Status.assigned) and s.channel in ("none", "sheet")]
    for s in again[:2]:
        s.repeat = True
    return specs


def _simulate(ctx: _Context, s: Spec, seed: int) -> Life:
    """Run the problem's life twice: once to measure it, once where it fits the campaign."""
    for attempt in range(8):
        key = f"huiyin-campaign-{seed}-{s.n}-{attempt}"
        probe = Life(ctx, s, 0, random.Random(key))  # noqa: S311 - demo data
        ctx.dry = True
        try:
            probe.run()
        finally:
            ctx.dry = False
        length = probe.day
        hi = ctx.last - length
        lo = ctx.first
        if s.bunch is not None:
            lo = hi = s.bunch - s.marks["pre_signoff"] - random.Random(key).randint(2, 6)  # noqa: S311
        elif s.again_of is not None:
            lo = max(lo, (s.again_of.closed_idx or ctx.last) + 3)
        if hi < lo:
            if attempt == 7 and s.again_of is not None:
                lo = hi
            else:
                continue
        r = random.Random(key + "-when")  # noqa: S311
        if s.target in SOLVED or s.again_of is not None or s.bunch is not None:
            reg = round(r.triangular(lo, hi, lo + (hi - lo) * 0.35))
        else:
            a, b = OPEN_AGE[s.target]
            age = round(r.triangular(a, b * 3, a)) if r.random() < 0.8 else r.randint(a, max(a, hi - lo))
            reg = max(lo, hi - age)
        for _shift in range(4):  # a list's submission day is not shift-invariant: move back if needed
            trial = Life(ctx, s, reg, random.Random(key))  # noqa: S311
            ctx.dry = True
            try:
                trial.run()
            finally:
                ctx.dry = False
            if trial.day <= ctx.last:
                life = Life(ctx, s, reg, random.Random(key))  # noqa: S311
                life.run()
                return life
            reg -= trial.day - ctx.last
            if reg < ctx.first:
                break
    raise CampaignError(f"problem {s.n} ({s.target}) does not fit the campaign")


def _resident(ctx: _Context, s: Spec, rng: random.Random) -> tuple[str, str, str]:
    if s.again_of is not None:
        return s.again_of.resident
    name = demo._name(rng)
    phone = rng.choice(ctx.free_phones)
    ctx.free_phones.remove(phone)
    if s.tpl.enterprise:
        household = f"{rng.choice(demo.ENTERPRISE_NAMES)}{rng.choice(demo.ENTERPRISE_KINDS)}"
    else:
        household = f"{name}家"
    return name, phone, household


def load_campaign(total: int = 1250, solved: int = 790, seed: int = 2017) -> dict:
    """Add problems until the database holds ``total`` of which ``solved`` are solved; issue the
    half-month reports of the campaign's ended periods. The caller commits. Returns the counts."""
    if has_campaign():
        raise CampaignError("the campaign is already loaded")
    have = db.session.scalar(select(func.count()).select_from(Problem))
    have_solved = db.session.scalar(select(func.count()).select_from(Problem).where(Problem.status.in_(SOLVED)))
    n_new, n_solved = total - have, solved - have_solved
    if n_new < 0 or n_solved < 0 or n_solved > n_new or n_new - n_solved < 60:
        raise CampaignError(f"the database holds {have} problems ({have_solved} solved): "
                            f"cannot reach {total} with {solved} solved")
    ctx = _Context(seed)
    try:
        counts = _load(ctx, n_new, n_solved, seed)
        counts["reports"] = _issue_reports(ctx)
    except BaseException:
        uploads.remove(ctx.written)
        raise
    counts["total"] = db.session.scalar(select(func.count()).select_from(Problem))
    counts["solved"] = db.session.scalar(select(func.count()).select_from(Problem).where(Problem.status.in_(SOLVED)))
    audit.record(EVENT, detail={"seed": seed, **counts})
    return counts


def _issue_reports(ctx: _Context) -> int:
    """The office issued each ended period's report on the working day after it; one was corrected."""
    periods = []
    p = Period.of(ctx.start)
    while p.ended(ctx.today):
        periods.append(p)
        p = p.next()
    corrected = periods[-3] if len(periods) >= 3 else None
    n = 0
    for period in periods:
        day = ctx.days.first_from(period.end + timedelta(days=1))
        report = reports.issue(ctx.office, period, today=ctx.today)
        _backdate(report, _utc(ctx.days[day], 9 * 60 + 30))
        n += 1
        if period == corrected:
            new = reports.reissue(ctx.office, report, reason=CORRECTION, version=report.version)
            _backdate(new, _utc(ctx.days[day + 2], 15 * 60))
            n += 1
    return n


def _backdate(report, when: datetime) -> None:
    report.issued_at = when
    report.figures = {**report.figures, "computed_at": when.isoformat()}
    db.session.flush()


def _load(ctx: _Context, n_new: int, n_solved: int, seed: int) -> dict:
    specs = _plan(ctx, n_new, n_solved)
    rng = ctx.rng
    lives: dict[int, Life] = {}
    for s in specs:
        if not s.repeat:
            s.resident = _resident(ctx, s, rng)
            lives[s.n] = _simulate(ctx, s, seed)
    # Households raising the same category again: after a problem of theirs closed in good time.
    firsts = [s for s in specs if s.n in lives and s.target == Status.closed and s.channel == "sheet"
              and s.bunch is None and not s.no_evidence and not s.reopen and not s.unsatisfied
              and s.closed_idx is not None and s.closed_idx <= ctx.last - 20]
    for s in (s for s in specs if s.repeat):
        first = firsts.pop(0)
        s.again_of, s.territory, s.tpl = first, first.territory, first.tpl
        if s.channel == "sheet":
            s.lead, s.coop = first.territory, ()
        s.resident = _resident(ctx, s, rng)
        lives[s.n] = _simulate(ctx, s, seed)
    # Ids and numbers in the order of registration.
    by_time = sorted(specs, key=lambda s: (lives[s.n].p["registered_at"], s.n))
    first_pid = (db.session.scalar(select(func.max(Problem.id))) or 0) + 1
    for k, s in enumerate(by_time):
        s.pid = first_pid + k
        s.marks["number"] = ctx.number("problem", clock.local(lives[s.n].p["registered_at"]).date())
    _link_merges(specs, lives, by_time, rng)
    return _write(ctx, specs, lives, by_time)


def _link_merges(specs: list[Spec], lives: dict, by_time: list[Spec], rng: random.Random) -> None:
    """A merged problem joins a problem registered before it (its group's, where there is one)."""
    order = {s.n: k for k, s in enumerate(by_time)}
    for s in specs:
        if s.target != Status.merged:
            continue
        earlier = [o for o in by_time[:order[s.n]] if o.target != Status.merged]
        pool = [o for o in earlier if o.territory == s.territory] or earlier
        s.merge_into = rng.choice(pool)
        s.tpl = s.merge_into.tpl
        life = lives[s.n]
        reason = demo.MERGE_REASON.format(number=s.merge_into.marks["number"])
        life.p.update(end_reason=reason, merged_into_id=s.merge_into.pid)
        for e in life.events:
            if e["note"] == "@merge":
                e["note"] = reason
        for r in life.rows["replies"]:
            if r["content"] == "@merge-reply":
                r["content"] = (f"已告知群众，所反映问题与{s.merge_into.marks['number']}为同一问题，已合并办理，"
                                "办理结果一并答复。")


def _write(ctx: _Context, specs: list[Spec], lives: dict, by_time: list[Spec]) -> dict:
    c = ctx
    rng = c.rng
    # Fix ids in every row now that problem ids are known.
    problems, visits, events = [], [], []
    rows: dict[str, list] = {k: [] for k in ("assignments", "parts", "books", "steps", "extensions", "closures",
                                             "replies", "attachments")}
    first_visit = (db.session.scalar(select(func.max(Visit.id))) or 0) + 1
    list_numbers = {v["id"]: v["number"] for v in c.lists.values()}
    for s in by_time:
        life = lives[s.n]
        pid = s.pid
        for table, lst in life.rows.items():
            for r in lst:
                r["problem_id"] = pid
                rows[table].append(r)
        for e in life.events:
            e["problem_id"] = pid
            if e["note"] == "@list":
                e["note"] = list_numbers[life.p["coordinated_list_id"]]
            events.append(e)
    for s in specs:
        if s.merge_into is not None:
            life = lives[s.n]
            when = next(e["created_at"] for e in life.events if e["action"] == "merge")
            st = _status_at(lives[s.merge_into.n], when)
            events.append({"problem_id": s.merge_into.pid, "created_at": when, "user_id": life.group_lead.id,
                           "unit_id": life.group_lead.unit_id, "action": "merged_from", "from_status": st,
                           "to_status": st, "note": s.marks["number"], "is_public": False})
    for k, s in enumerate(by_time):
        life = lives[s.n]
        p = life.p
        village = _village(c, s, rng)
        name, phone, household = s.resident
        reg = p["registered_at"]
        enterprise = s.tpl.enterprise
        visits.append({
            "id": first_visit + k, "visited_on": clock.local(reg).date(), "village_id": village.id,
            "town_id": village.parent_id, "work_group_id": life.cadre.unit_id,
            "household_kind": "enterprise" if enterprise else "household", "household_name": household,
            "visitors": f"{life.cadre.full_name}、{c.staff[s.territory].co_visitor}",
            "situation": "企业负责人介绍了生产经营情况和当前困难。" if enterprise
            else rng.choice(demo.SITUATIONS).format(n=rng.randint(3, 6)),
            "demands": s.tpl.title, "created_by_id": life.cadre.id, "created_at": reg, "client_token": None})
        number = s.marks["number"]
        year = int(number.split("〔")[1][:4])
        seq = int(number.split("〕")[1][:-1])
        last_time = max(e["created_at"] for e in life.events)
        problems.append({
            "id": s.pid, "year": year, "seq": seq, "number": number, "receipt_no": new_receipt_no(),
            "visit_id": first_visit + k, "work_group_id": life.cadre.unit_id, "registered_by_id": life.cadre.id,
            "village_id": village.id, "town_id": village.parent_id, "resident_name": name,
            "resident_phone": phone, "resident_id_number": demo.fake_id_number(rng) if rng.random() < 0.3 else None,
            "household_name": household, "address": f"{village.name}{rng.randint(1, 8)}组{rng.randint(1, 60)}号",
            "category_id": c.categories[s.tpl.category], "title": s.tpl.title,
            "description": s.tpl.description.format(village=village.name, name=name, household=household),
            "source": "visit", "status": life.status.value, **{k2: v for k2, v in p.items() if k2 != "registered_at"},
            "current_assignment_id": None, "registered_at": reg, "updated_at": last_time, "client_token": None,
            "version": 1 + len(life.events)})
    assignment_of = {s.pid: lives[s.n].p["current_assignment_id"] for s in specs
                     if lives[s.n].p["current_assignment_id"]}
    # ids of the rows without one yet, then the inserts (parents first; foreign keys hold).
    events.sort(key=lambda e: (e["created_at"], e["problem_id"]))
    first_event = (db.session.scalar(select(func.max(ProblemEvent.id))) or 0) + 1
    for i, e in enumerate(events):
        e["id"] = first_event + i
    for table, model in (("extensions", Extension), ("replies", Reply), ("attachments", Attachment)):
        base = (db.session.scalar(select(func.max(model.id))) or 0) + 1
        for i, r in enumerate(rows[table]):
            r["id"] = base + i
    lists = sorted(c.lists.values(), key=lambda r: r["id"])
    waiting = {lives[s.n].p["coordinated_list_id"] for s in specs if lives[s.n].status == Status.listed}
    for row in lists:
        if row["id"] in waiting:
            row["status"] = "submitted"
    conn = db.session.connection()
    plan = [(Visit, visits), (CoordinatedList, lists), (Problem, problems), (Assignment, rows["assignments"]),
            (AssignmentUnit, rows["parts"]), (ProblemEvent, events), (TaskBook, rows["books"]),
            (TaskStep, rows["steps"]), (Extension, rows["extensions"]), (Closure, rows["closures"]),
            (Attachment, rows["attachments"]), (Reply, rows["replies"])]
    for model, data in plan:
        pii.with_blind_indexes(model.__table__, data)
        for i in range(0, len(data), BATCH):
            conn.execute(sa.insert(model.__table__), data[i:i + BATCH])
    t = Problem.__table__
    if assignment_of:
        conn.execute(sa.update(t).where(t.c.id == sa.bindparam("pid")).values(
            current_assignment_id=sa.bindparam("aid")),
            [{"pid": pid, "aid": aid} for pid, aid in assignment_of.items()])
    _advance_numbers(c)
    visit_ops.number_visits()  # their 走访记录表 numbers, from the campaign-wide counter
    queue_counts.rebuild()  # the rows went in past the ORM, and so past the queues' counters
    stats_sums.rebuild()  # and past the dashboards' kept sums
    if conn.dialect.name == "postgresql":
        for model, _data in plan:
            table = model.__tablename__
            conn.execute(sa.text(  # fixed table names, not input
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))  # noqa: S608
    db.session.expire_all()
    statuses = Counter(str(lives[s.n].status) for s in specs)
    counts = {"problems": len(problems), "events": len(events), "assignments": len(rows["assignments"]),
              "task_books": len(rows["books"]), "closures": len(rows["closures"]),
              "evidence_files": len(rows["attachments"]), "replies": len(rows["replies"]),
              "extensions": len(rows["extensions"]), "lists": len(lists), "statuses": dict(sorted(statuses.items()))}
    return counts


def _status_at(life: Life, when: datetime) -> str:
    st = None
    for e in life.events:
        if e["created_at"] <= when:
            st = e["to_status"]
    return st or Status.registered.value


def _village(ctx: _Context, s: Spec, rng: random.Random) -> Unit:
    if s.village_id is None:
        source = s.again_of or s.merge_into
        if source is not None and source.village_id is not None and source.territory == s.territory:
            s.village_id = source.village_id
        else:
            s.village_id = rng.choice(ctx.villages[s.territory]).id
    return next(v for v in ctx.villages[s.territory] if v.id == s.village_id)


def _advance_numbers(ctx: _Context) -> None:
    for (kind, year), last in ctx.seqs.items():
        row = db.session.get(NumberSequence, (kind, year))
        if row is None:
            db.session.add(NumberSequence(kind=kind, year=year, last=last))
        else:
            row.last = max(row.last, last)
    db.session.flush()
