"""Reads of the audit log for the audit admin: filters, pages, export rows, the last check.

Dates are the district's local dates (Asia/Shanghai); the log stores UTC. A listing works on a
snapshot (``upto``: the highest ``seq`` when the first page was shown), so that pages and the
export do not shift while new events keep arriving.
"""

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, cast, func, or_, select

from ..accounts.models import User
from ..cases.models import Problem
from ..core import clock
from ..core.audit import AuditEvent
from ..core.extensions import db
from ..org.models import Unit
from . import sentences
from .sentences import KINDS

PER_PAGE = 50
EXPORT_CAP = 100_000

# Labels of the events known here; events of other areas show their code.
EVENT_LABELS = {
    "login.success": _l("登录成功"),
    "login.failure": _l("登录失败"),
    "logout": _l("退出登录"),
    "session.idle": _l("会话空闲超时"),
    "session.absolute": _l("会话超过最长时间"),
    "account.locked": _l("账号被锁定"),
    "account.unlocked": _l("解除账号锁定"),
    "user.password_changed": _l("修改密码"),
    "user.role_changed": _l("变更角色"),
    "policy.changed": _l("修改安全策略"),
    "audit.exported": _l("导出审计日志"),
    "audit.verified": _l("校验审计链"),
    "demo.loaded": _l("载入演示数据"),
}
RESULT_LABELS = {"success": _l("成功"), "failure": _l("失败")}


def event_label(code: str) -> str:
    """The event type in words with its code (the filter's choices)."""
    from .sentences import event_words

    label = EVENT_LABELS.get(code) or event_words(code)
    return f"{label}（{code}）" if label and label != code else code


def result_label(code: str) -> str:
    return str(RESULT_LABELS.get(code, code))


@dataclass(frozen=True)
class AuditFilter:
    """What the auditor filters on; empty strings and None mean "any"."""

    date_from: date | None = None
    date_to: date | None = None
    user: str = ""
    unit: str = ""
    event: str = ""
    object_type: str = ""
    object_id: str = ""
    result: str = ""
    ip: str = ""
    kind: str = ""  # a group of event types (sentences.KINDS)
    obj: str = ""  # the object by number, title or person's name
    upto: int | None = None

    def as_args(self) -> dict:
        """The filter as query-string arguments (set ones only), for links and forms."""
        out = {}
        for key, value in asdict(self).items():
            if value is None or value == "":
                continue
            out[key] = value.isoformat() if isinstance(value, date) else value
        return out

    def described(self) -> dict:
        """The filter without the snapshot, for the audit entry of an export."""
        args = self.as_args()
        args.pop("upto", None)
        return args


def local_day_start(day: date) -> datetime:
    """The UTC instant at which ``day`` begins in the district."""
    return datetime.combine(day, time.min, tzinfo=clock.LOCAL_TZ).astimezone(UTC)


def _conditions(f: AuditFilter) -> list:
    conds = []
    if f.upto is not None:
        conds.append(AuditEvent.seq <= f.upto)
    if f.date_from:
        conds.append(AuditEvent.created_at >= local_day_start(f.date_from))
    if f.date_to:  # the whole local day is included
        conds.append(AuditEvent.created_at < local_day_start(f.date_to + timedelta(days=1)))
    if f.user:
        conds.append(
            or_(
                AuditEvent.username.icontains(f.user, autoescape=True),
                AuditEvent.user_id.in_(
                    select(User.id).where(User.full_name.icontains(f.user, autoescape=True))
                ),
            )
        )
    if f.unit:
        conds.append(AuditEvent.unit_name.icontains(f.unit, autoescape=True))
    if f.event:
        conds.append(AuditEvent.event == f.event)
    if f.object_type:
        conds.append(AuditEvent.object_type == f.object_type)
    if f.object_id:
        conds.append(AuditEvent.object_id == f.object_id)
    if f.result:
        conds.append(AuditEvent.result == f.result)
    if f.ip:
        conds.append(AuditEvent.ip.startswith(f.ip, autoescape=True))
    if f.kind in KINDS:
        _label, prefixes = KINDS[f.kind]
        conds.append(or_(*[AuditEvent.event.startswith(p, autoescape=True) if p.endswith(".")
                           else AuditEvent.event == p for p in prefixes]))
    if f.obj:
        conds.append(_object_condition(f.obj))
    return conds


def _object_condition(text: str):
    """Events about a problem (number or title), a person (name) or a document whose number or
    name the event recorded."""
    problems = select(cast(Problem.id, String)).where(or_(
        Problem.number.icontains(text, autoescape=True), Problem.title.icontains(text, autoescape=True)))
    users = select(cast(User.id, String)).where(User.full_name.icontains(text, autoescape=True))
    units = select(cast(Unit.id, String)).where(Unit.name.icontains(text, autoescape=True))
    return or_(
        and_(AuditEvent.object_type == "problem", AuditEvent.object_id.in_(problems)),
        and_(AuditEvent.object_type == "user", AuditEvent.object_id.in_(users)),
        and_(AuditEvent.object_type == "unit", AuditEvent.object_id.in_(units)),
        AuditEvent.detail.icontains(text, autoescape=True),
    )


def _rows(f: AuditFilter):
    """Events matching ``f`` with the account's full name, newest first."""
    return (
        select(AuditEvent, User.full_name)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(*_conditions(f))
        .order_by(AuditEvent.seq.desc())
    )


def count(f: AuditFilter) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(*_conditions(f))) or 0


def latest_seq() -> int:
    return db.session.scalar(select(func.max(AuditEvent.seq))) or 0


@dataclass
class Page:
    rows: list  # (AuditEvent, full_name | None)
    total: int
    number: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page(f: AuditFilter, number: int, per_page: int = PER_PAGE) -> Page:
    """One page of the filtered log: two queries (the count and the rows)."""
    total = count(f)
    rows = db.session.execute(_rows(f).limit(per_page).offset((number - 1) * per_page)).all()
    return Page([tuple(r) for r in rows], total, number, per_page)


def event_codes() -> list[str]:
    """Every event type in the log (for the filter's select)."""
    return list(db.session.scalars(select(AuditEvent.event).distinct().order_by(AuditEvent.event)))


EXPORT_HEADERS = (
    _l("序号"), _l("时间（北京时间）"), _l("记录"), _l("事件"), _l("对象"), _l("结果"), _l("用户名"),
    _l("姓名"), _l("单位"), _l("IP 地址"), _l("事件代码"), _l("对象类型"), _l("对象编号"), _l("详情"),
)
EXPORT_BATCH = 2000  # rows read (and named) at a time


def export_row(ev: AuditEvent, full_name: str | None, names: sentences.Names) -> tuple:
    """One event as the export's row: first the sentence the log page shows and the event, the
    object and the result in words, then the raw fields (codes and detail) for the record."""
    return (
        ev.seq,
        clock.local(ev.created_at).strftime("%Y-%m-%d %H:%M:%S"),
        sentences.sentence(ev, full_name, names),
        sentences.event_words(ev.event),
        sentences.object_words(ev, names),
        result_label(ev.result),
        ev.username,
        full_name,
        ev.unit_name,
        ev.ip,
        ev.event,
        ev.object_type,
        ev.object_id,
        ev.detail,
    )


def export_rows(f: AuditFilter, cap: int) -> Iterator[tuple]:
    """The filtered rows as spreadsheet rows, newest first, at most ``cap``, streamed: read
    ``EXPORT_BATCH`` at a time, each batch's objects named in three queries."""
    stmt = _rows(f).limit(cap).execution_options(yield_per=EXPORT_BATCH)
    for batch in db.session.execute(stmt).partitions(EXPORT_BATCH):
        rows = [tuple(r) for r in batch]
        names = sentences.names_for(rows)
        for ev, full_name in rows:
            yield export_row(ev, full_name, names)


def last_verification() -> AuditEvent | None:
    return db.session.scalar(
        select(AuditEvent).where(AuditEvent.event == "audit.verified").order_by(AuditEvent.seq.desc()).limit(1)
    )
