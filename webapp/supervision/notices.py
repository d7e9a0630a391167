"""督办单 (supervision notices): issue one, answer it, and read them — the one place for their rules.

Whoever assigned a problem (谁交办谁跟踪: the group lead of the work group that assigned it) or the
office presses the problem's lead unit with a 督办单: what is late (存在问题), what is required
(督办要求) and the date to reply by (反馈时限). The unit's staff answer on the notice once.

Who may issue is the workflow's (``Activity.supervise`` with the user's relations to the
problem); who may see or answer a notice is :func:`may_see` / :func:`may_answer` here, and
:func:`scope` is the same rule as a WHERE clause for every list. Writes flush, never commit,
append to the problem's timeline and write the audit entry in the caller's transaction.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, false, func, or_, select, true
from sqlalchemy.orm import joinedload

from ..accounts.roles import Role
from ..cases.access import SEE_ALL, UNIT_ROLES, relations
from ..cases.models import Problem, ProblemEvent
from ..cases.operations import STALE
from ..cases.workflow import Activity, NotAllowed, Status, check_activity, may_do
from ..core import audit, clock
from ..core.calendar import add_workdays
from ..core.deadlines import time_left
from ..core.errors import Conflict, FieldsInvalid, Invalid
from ..core.extensions import db
from ..core.numbering import next_number
from ..handling.queries import book_in_force, book_under_review
from ..notifications.emit import ACT, LEAD, notify, unit_people
from .models import NoticeStatus, SupervisionNotice

ISSUE = "supervise"  # the timeline's action when a notice is issued (EVENT_LABELS: 下发督办单)
ANSWER = "notice_answer"  # … and when the unit answers it (督办单反馈)

TEXT_MAX = 2000  # 存在问题, 督办要求, the answer
REPLY_DAYS = 2  # default 反馈时限: this many working days after today
REPLY_MAX_DAYS = 60  # the latest 反馈时限 allowed: calendar days after today
PAGE_SIZE = 20
STEPS_LISTED = 10  # open task-book steps named in the pre-filled 存在问题

# Who uses the notices pages at all (the route gates); the scope narrows further.
VIEW_ROLES = frozenset(SEE_ALL | UNIT_ROLES | {Role.group_lead})
ISSUER_ROLES = frozenset({Role.group_lead, Role.office})

STATUS_LABELS = {NoticeStatus.open: _l("待反馈"), NoticeStatus.answered: _l("已反馈")}
NOTICE_STALE = _l("督办单已被他人修改（例如刚刚已经反馈）。请刷新页面查看最新状态后再操作。")
ANSWERED = _l("此督办单已经反馈，不能重复反馈。")


# ---------------------------------------------------------------- who may see / answer


def scope(user):
    """A WHERE clause limiting ``SupervisionNotice`` rows to what ``user`` may see: the office
    and the leader all; a group lead what its work group issued and every notice on the group's
    own problems (the office's too: 谁交办谁跟踪); a unit's staff what was addressed to the unit;
    nobody else anything."""
    role = user.role
    if role in SEE_ALL:
        return true()
    if role == Role.group_lead:
        return or_(SupervisionNotice.issuer_unit_id == user.unit_id,
                   SupervisionNotice.problem_id.in_(select(Problem.id).where(Problem.work_group_id == user.unit_id)))
    if role in UNIT_ROLES:
        return SupervisionNotice.unit_id == user.unit_id
    return false()


def may_see(user, notice: SupervisionNotice) -> bool:
    """The rule of :func:`scope` for one notice already loaded."""
    role = user.role
    if role in SEE_ALL:
        return True
    if role == Role.group_lead:
        return user.unit_id in (notice.issuer_unit_id, notice.problem.work_group_id)
    if role in UNIT_ROLES:
        return notice.unit_id == user.unit_id
    return False


def may_answer(user, notice: SupervisionNotice) -> bool:
    """The addressed unit's handlers, leaders and desk operators answer an open notice."""
    return user.role in UNIT_ROLES and notice.unit_id == user.unit_id and notice.status == NoticeStatus.open


def may_issue(user, problem: Problem) -> bool:
    """Whoever assigned the problem, or the office, while the unit is handling it (workflow)."""
    return may_do(Activity.supervise, problem.status, user.role, relations(user, problem))


def is_overdue(notice: SupervisionNotice, today: date | None = None) -> bool:
    """Not answered and the reply-by date has passed."""
    return notice.status == NoticeStatus.open and notice.reply_by < (today or clock.today())


# ---------------------------------------------------------------- pre-filled text


def default_reply_by(today: date | None = None) -> date:
    return add_workdays(today or clock.today(), REPLY_DAYS)


def latest_reply_by(today: date | None = None) -> date:
    return (today or clock.today()) + timedelta(days=REPLY_MAX_DAYS)


def reply_by_error(reply_by: date | None, today: date | None = None):
    """Why ``reply_by`` cannot be the 反馈时限 (None when it can): from today to REPLY_MAX_DAYS on."""
    today = today or clock.today()
    if reply_by is None:
        return _l("请填写反馈时限。")
    if reply_by < today:
        return _l("反馈时限不能早于今天。")
    if reply_by > latest_reply_by(today):
        return _l("反馈时限不能晚于 %(day)s。", day=latest_reply_by(today).isoformat())
    return None


def default_requirement() -> str:
    return _("请接此督办单后抓紧办理，于反馈时限前将办理进展、存在困难和下一步措施书面反馈；"
             "确实无法按期办结的，说明原因并明确办结时间。")


def default_lateness(problem: Problem, today: date | None = None) -> str:
    """存在问题 drawn from the problem's state: its deadline and how far past it, the sign-for
    still missing, the task book still missing or under review, and the open steps."""
    today = today or clock.today()
    lines = []
    if problem.deadline is not None:
        left = time_left(problem.deadline, clock.now())
        if left.is_overdue:
            lines.append(_("该问题办理时限为 %(day)s，已超期 %(n)d 个工作日，尚未办结。",
                           day=problem.deadline.isoformat(), n=left.overdue_workdays))
        else:
            lines.append(_("该问题办理时限为 %(day)s（%(left)s），办理进度滞后。",
                           day=problem.deadline.isoformat(), left=left.label))
    status = problem.status
    if status == Status.assigned:
        if problem.sign_for_deadline is not None and problem.sign_for_deadline < today:
            lines.append(_("交办后至今未签收（签收时限 %(day)s）。", day=problem.sign_for_deadline.isoformat()))
        else:
            lines.append(_("交办后至今未签收。"))
    elif status == Status.accepted:
        lines.append(_("已签收，尚未制定任务书。"))
    elif status == Status.plan_review:
        lines.append(_("任务书尚在单位领导审核中。"))
    book = book_in_force(problem) or book_under_review(problem)
    steps = [s for s in (book.steps if book is not None else []) if s.done_at is None]
    late = [s for s in steps if s.due_on < today]
    if late:
        lines.append(_("任务书中逾期未完成的步骤："))
        for i, s in enumerate(late[:STEPS_LISTED], 1):
            lines.append(_("%(i)d. %(title)s（应于 %(day)s 前完成）", i=i, title=s.title, day=s.due_on.isoformat()))
        if len(late) > STEPS_LISTED:
            lines.append(_("……等 %(n)d 个步骤。", n=len(late)))
    elif steps:
        lines.append(_("任务书中尚有 %(n)d 个步骤未完成。", n=len(steps)))
    return "\n".join(lines)[:TEXT_MAX]


# ---------------------------------------------------------------- writes


def _text_errors(**fields) -> dict:
    """Required, bounded text fields → {name: message}."""
    messages = {"lateness": _l("请写明存在的问题（什么事项逾期或滞后）。"),
                "requirement": _l("请写明督办要求。"),
                "answer": _l("请填写办理情况反馈。")}
    errors = {}
    for name, value in fields.items():
        value = (value or "").strip()
        if not value:
            errors[name] = messages[name]
        elif len(value) > TEXT_MAX:
            errors[name] = _l("不能超过 %(max)d 个字。", max=TEXT_MAX)
    return errors


def replayed(problem: Problem, token: str | None) -> SupervisionNotice | None:
    """The notice a form with this client token already issued (a double submit), if any."""
    if not token:
        return None
    event = db.session.scalar(select(ProblemEvent).where(ProblemEvent.client_token == token))
    if event is None or event.problem_id != problem.id or event.action != ISSUE:
        return None
    return db.session.scalar(
        select(SupervisionNotice).where(SupervisionNotice.problem_id == problem.id,
                                        SupervisionNotice.issued_by_id == event.user_id)
        .order_by(SupervisionNotice.id.desc()).limit(1))


def _summary(text: str, n: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= n else line[: n - 1] + "…"


def issue(problem: Problem, user, *, lateness: str, requirement: str, reply_by: date | None,
          version: int | None, token: str | None = None) -> SupervisionNotice:
    """下发督办单 to the problem's lead unit. ``version`` is the problem's version the form was
    drawn with (the pre-filled 存在问题 describes that state); ``token`` makes a double submit
    return the notice already issued."""
    if (done := replayed(problem, token)) is not None:
        return done
    check_activity(Activity.supervise, problem.status, user.role, relations(user, problem))
    if version is not None and int(version) != problem.version:
        raise Conflict(STALE)
    if problem.lead_unit_id is None:
        raise Invalid(_l("该问题没有牵头单位，不能下发督办单。"))
    errors = _text_errors(lateness=lateness, requirement=requirement)
    if (message := reply_by_error(reply_by)) is not None:
        errors["reply_by"] = message
    if errors:
        raise FieldsInvalid(errors)
    now = clock.now()
    _y, _s, number = next_number("notice")
    notice = SupervisionNotice(
        number=number, problem=problem, unit_id=problem.lead_unit_id, issuer_unit_id=user.unit_id,
        issued_by_id=user.id, issued_at=now, lateness=lateness.strip(), requirement=requirement.strip(),
        reply_by=reply_by, status=NoticeStatus.open)
    db.session.add(notice)
    db.session.flush()
    lead = problem.lead_unit.name if problem.lead_unit else ""
    issuer = user.unit.name if user.unit else ""
    db.session.add(ProblemEvent(
        problem=problem, created_at=now, user_id=user.id, unit_id=problem.lead_unit_id, action=ISSUE,
        from_status=problem.status, to_status=problem.status, is_public=False, client_token=token or None,
        note=_("%(number)s（%(issuer)s 督办 %(unit)s，%(day)s 前反馈）：%(what)s", number=number, issuer=issuer,
               unit=lead, day=reply_by.isoformat(), what=_summary(notice.lateness))))
    db.session.flush()
    detail = {"number": number, "problem": problem.number, "unit": lead, "reply_by": reply_by.isoformat()}
    audit.record("notice.issue", obj=notice, user=user, detail=detail)
    notify([*unit_people([notice.unit_id], ACT), *unit_people([notice.unit_id], LEAD)], "supervision_notice",
           f"督办单 {number}：{problem.number} {problem.title}", f"请于 {reply_by.isoformat()} 前反馈。{_summary(notice.lateness)}",
           target=("notice", notice.id), dedupe=f"notice:{notice.id}")
    audit.record(f"problem.{ISSUE}", obj=problem, user=user, detail={**detail, "number": problem.number,
                                                                       "notice": number})
    return notice


def answer(notice: SupervisionNotice, user, *, answer: str, version: int | None) -> SupervisionNotice:
    """The addressed unit answers the notice (办理情况反馈), once."""
    if user.role not in UNIT_ROLES or notice.unit_id != user.unit_id:
        raise NotAllowed(_l("只有被督办单位可以反馈此督办单。"))
    if notice.status != NoticeStatus.open:
        raise Conflict(ANSWERED)
    if version is not None and int(version) != notice.version:
        raise Conflict(NOTICE_STALE)
    errors = _text_errors(answer=answer)
    if errors:
        raise FieldsInvalid(errors)
    now = clock.now()
    notice.status = NoticeStatus.answered
    notice.answer = answer.strip()
    notice.answered_by_id, notice.answered_at = user.id, now
    problem = notice.problem
    db.session.add(ProblemEvent(
        problem_id=notice.problem_id, created_at=now, user_id=user.id, unit_id=user.unit_id, action=ANSWER,
        from_status=problem.status, to_status=problem.status, is_public=False,
        note=_("%(number)s：%(text)s", number=notice.number, text=notice.answer)))
    db.session.flush()
    late = notice.reply_by < clock.today()
    detail = {"number": notice.number, "problem": problem.number, "late": late}
    audit.record("notice.answer", obj=notice, user=user, detail=detail)
    audit.record(f"problem.{ANSWER}", obj=problem, user=user,
                 detail={"number": problem.number, "notice": notice.number, "late": late})
    return notice


# ---------------------------------------------------------------- reads


def _options():
    return (joinedload(SupervisionNotice.problem), joinedload(SupervisionNotice.unit),
            joinedload(SupervisionNotice.issuer_unit), joinedload(SupervisionNotice.issued_by),
            joinedload(SupervisionNotice.answered_by))


def get_notice(notice_id: int, user, *, for_update: bool = False) -> SupervisionNotice | None:
    """The notice if the user may see it, else None (the view answers 404)."""
    q = select(SupervisionNotice).where(SupervisionNotice.id == notice_id, scope(user))
    if for_update:
        q = q.with_for_update(of=SupervisionNotice)
    else:
        q = q.options(*_options())
    return db.session.scalar(q)


def notices_of_problem(user, problem: Problem) -> list[SupervisionNotice]:
    """The problem's notices the user may see, newest first (one query)."""
    return list(db.session.scalars(
        select(SupervisionNotice).where(SupervisionNotice.problem_id == problem.id, scope(user))
        .options(joinedload(SupervisionNotice.unit), joinedload(SupervisionNotice.issuer_unit))
        .order_by(SupervisionNotice.id.desc())))


@dataclass(frozen=True)
class Tab:
    key: str
    label: object
    total: int = 0
    overdue: int = 0


TAB_LABELS = {
    "pending": _l("待反馈"),
    "answered": _l("已反馈"),
    "issued": _l("我下发的"),
    "all": _l("全部"),
}
STATES = ("open", "overdue", "answered")  # the filter of the issuer's tabs


def tab_keys(user) -> list[str]:
    role = user.role
    if role in UNIT_ROLES:
        return ["pending", "answered"]
    if role == Role.group_lead:
        return ["issued"]
    if role == Role.office:
        return ["issued", "all"]
    if role == Role.leader:
        return ["all"]
    return []


def _tab_condition(user, key: str):
    if key == "pending":
        return SupervisionNotice.status == NoticeStatus.open
    if key == "answered":
        return SupervisionNotice.status == NoticeStatus.answered
    if key == "issued":
        return SupervisionNotice.issuer_unit_id == user.unit_id
    return true()


def _overdue_condition(today: date):
    return and_(SupervisionNotice.status == NoticeStatus.open, SupervisionNotice.reply_by < today)


def _state_condition(state: str | None, today: date):
    if state == "open":
        return SupervisionNotice.status == NoticeStatus.open
    if state == "overdue":
        return _overdue_condition(today)
    if state == "answered":
        return SupervisionNotice.status == NoticeStatus.answered
    return true()


def tabs(user, today: date | None = None) -> list[Tab]:
    """The user's tabs with their totals and overdue counts (one query for all of them)."""
    today = today or clock.today()
    keys = tab_keys(user)
    if not keys:
        return []
    overdue = _overdue_condition(today)
    cols = []
    for key in keys:
        cond = _tab_condition(user, key)
        cols.append(func.coalesce(func.sum(case((cond, 1), else_=0)), 0))
        cols.append(func.coalesce(func.sum(case((and_(cond, overdue), 1), else_=0)), 0))
    row = db.session.execute(select(*cols).select_from(SupervisionNotice).where(scope(user))).one()
    return [Tab(k, TAB_LABELS[k], int(row[2 * i]), int(row[2 * i + 1])) for i, k in enumerate(keys)]


@dataclass
class NoticePage:
    items: list
    total: int
    page: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def notice_page(user, tab: str, *, state: str | None = None, page: int = 1,
                today: date | None = None) -> NoticePage:
    """One page of a tab: a count and the page, problem and units eager-loaded. Open notices
    first by reply-by date (the most urgent on top), answered ones newest answer first."""
    today = today or clock.today()
    conds = [scope(user), _tab_condition(user, tab)]
    if tab in ("issued", "all"):
        conds.append(_state_condition(state, today))
    total = db.session.scalar(select(func.count()).select_from(SupervisionNotice).where(*conds))
    page = min(max(1, page), max(1, -(-total // PAGE_SIZE)))
    if tab == "answered":
        order = (SupervisionNotice.answered_at.desc(), SupervisionNotice.id.desc())
    else:
        order = (case((SupervisionNotice.status == NoticeStatus.open, 0), else_=1), SupervisionNotice.reply_by,
                 SupervisionNotice.id.desc())
    items = db.session.scalars(
        select(SupervisionNotice).where(*conds)
        .options(joinedload(SupervisionNotice.problem), joinedload(SupervisionNotice.unit),
                 joinedload(SupervisionNotice.issuer_unit))
        .order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return NoticePage(items=list(items), total=total, page=page)
