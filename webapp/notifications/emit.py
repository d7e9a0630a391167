"""``notify(...)``: tell people, in the caller's transaction.

Operations of every area call it (it flushes, never commits)::

    from ..notifications.emit import notify, unit_people, ACT

    notify(unit_people([unit.id], ACT), "assigned", f"新交办：{problem.number}",
           problem.title, target=("problem", problem.id), dedupe=f"assigned:{assignment.id}")

It writes one inbox row per person (``dedupe``: once per person, however often the caller
runs) and, for each channel the person takes for this kind (their choice within what the office
allows, else the office's defaults), one delivery. A 企业微信/钉钉 robot posts once per unit, not
once per person. Deliveries of a channel with an adapter are sent by the task queue after the
commit; the others wait on the outbox page.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select

from ..accounts.models import User
from ..accounts.roles import Role
from ..core import clock, tasks
from ..core.extensions import db
from ..org.models import Unit, UnitKind
from .channels import adapter
from .kinds import EMAIL, KINDS, ROBOT_CHANNELS, SMS
from .models import Contact, Delivery, DeliveryStatus, KindRule, Notification, Preference, UnitRobot

# Who acts for a unit (its work arrives), and who leads it (told when a limit is missed).
ACT = "act"
LEAD = "lead"
_ACTORS = {
    UnitKind.work_group: (Role.group_lead,),
    UnitKind.office: (Role.office,),
    UnitKind.desk: (Role.desk,),
}
_LEADERS = {
    UnitKind.work_group: (Role.group_lead,),
    UnitKind.office: (Role.office,),
}


def roles_for(kind: UnitKind, who: str) -> tuple[Role, ...]:
    if who == LEAD:
        return _LEADERS.get(kind, (Role.unit_leader,))
    return _ACTORS.get(kind, (Role.handler,))


def unit_people(unit_ids: Iterable[int], who: str = ACT) -> list[int]:
    """The active accounts who act for (``ACT``) or lead (``LEAD``) the given units."""
    ids = {i for i in unit_ids if i}
    if not ids:
        return []
    kinds = dict(db.session.execute(select(Unit.id, Unit.kind).where(Unit.id.in_(ids))).all())
    wanted = [(uid, roles_for(kinds[uid], who)) for uid in ids if uid in kinds]
    found: list[int] = []
    rows = db.session.execute(select(User.id, User.unit_id, User.role).where(
        User.unit_id.in_(ids), User.is_active_account.is_(True))).all()
    by_unit = dict(wanted)
    for uid, unit_id, role in sorted(rows):
        if role in by_unit.get(unit_id, ()):
            found.append(uid)
    return found


class People:
    """Who acts for / leads each unit, loaded once for many units (the sweep)."""

    def __init__(self, unit_ids: Iterable[int]):
        ids = {i for i in unit_ids if i}
        self.kinds = dict(db.session.execute(select(Unit.id, Unit.kind).where(Unit.id.in_(ids))).all()) if ids else {}
        self.users: dict[int, list[tuple[int, Role]]] = {}
        if ids:
            for uid, unit_id, role in db.session.execute(select(User.id, User.unit_id, User.role).where(
                    User.unit_id.in_(ids), User.is_active_account.is_(True)).order_by(User.id)).all():
                self.users.setdefault(unit_id, []).append((uid, role))

    def of(self, unit_id: int | None, who: str = ACT) -> tuple[int, ...]:
        if unit_id not in self.kinds:
            return ()
        roles = roles_for(self.kinds[unit_id], who)
        return tuple(uid for uid, role in self.users.get(unit_id, ()) if role in roles)


def users_with_role(*roles: Role) -> list[int]:
    return list(db.session.scalars(select(User.id).where(
        User.role.in_(roles), User.is_active_account.is_(True)).order_by(User.id)))


def rule_for(kind: str) -> tuple[list[str], list[str], bool]:
    """(allowed channels, default channels, urgent) for ``kind``: the office's row, else the table's."""
    row = db.session.get(KindRule, kind)
    if row is not None:
        return list(row.allowed), [c for c in row.defaults if c in row.allowed], row.is_urgent
    k = KINDS[kind]
    return list(k.allowed), list(k.defaults), k.urgent


@dataclass(frozen=True)
class Item:
    """One event to tell: to whom, what, about which object, told once per ``dedupe`` key."""

    user_ids: tuple[int, ...]
    title: str
    body: str = ""
    target: tuple[str, int] | None = None
    dedupe: str | None = None


def notify(user_ids: Iterable[int], kind: str, title: str, body: str = "", *,
           target: tuple[str, int] | None = None, urgent: bool | None = None,
           dedupe: str | None = None) -> list[int]:
    """Tell ``user_ids`` (see the module docstring); returns the new notifications' ids."""
    return notify_many(kind, [Item(tuple(user_ids), title, body, target, dedupe)], urgent=urgent)


CHUNK = 500


def notify_many(kind: str, items: list[Item], *, urgent: bool | None = None) -> list[int]:
    """Tell many events of one kind with a few statements per 500 (the sweep, a 通报 to many units)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    allowed, defaults, kind_urgent = rule_for(kind)
    urgent = kind_urgent if urgent is None else urgent
    created_ids: list[int] = []
    for start in range(0, len(items), CHUNK):
        created_ids += _notify_chunk(kind, items[start:start + CHUNK], urgent, allowed, defaults)
    return created_ids


def _notify_chunk(kind, items, urgent, allowed, defaults) -> list[int]:
    pairs = {(u, it.dedupe): it for it in items for u in set(it.user_ids) if u}
    keys = {d for _u, d in pairs if d is not None}
    if keys:
        told = set(db.session.execute(select(Notification.user_id, Notification.dedupe_key).where(
            Notification.dedupe_key.in_(keys))).all())
        pairs = {k: it for k, it in pairs.items() if k not in told}
    if not pairs:
        return []
    user_ids = {u for u, _d in pairs}
    people = {row.id: row for row in db.session.execute(
        select(User.id, User.unit_id, User.phone).where(User.id.in_(user_ids))).all()}
    now = clock.now()
    rows = []
    for (u, _d), it in sorted(pairs.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        if u not in people:
            continue
        target_type, target_id = it.target if it.target else (None, None)
        rows.append({"user_id": u, "unit_id": people[u].unit_id, "kind": kind, "title": it.title[:200],
                     "body": it.body, "target_type": target_type, "target_id": target_id,
                     "is_urgent": urgent, "dedupe_key": it.dedupe, "created_at": now})
    if not rows:
        return []
    # One multi-row INSERT per chunk (Core: no per-row ORM work); the rows come back in any
    # order, each with its person.
    table = Notification.__table__
    created = db.session.execute(insert(table).returning(table.c.id, table.c.user_id), rows).all()
    if allowed:
        _deliveries(kind, created, people, allowed, defaults, now)
    return [n.id for n in created]


def _deliveries(kind, created, people, allowed, defaults, now) -> None:
    user_ids = [n.user_id for n in created]
    chosen = dict(db.session.execute(select(Preference.user_id, Preference.channels).where(
        Preference.user_id.in_(user_ids), Preference.kind == kind)).all())
    wanted = {n.id: [c for c in chosen.get(n.user_id, defaults) if c in allowed] for n in created}
    emails, robots = {}, {}
    if any(EMAIL in w for w in wanted.values()):
        emails = dict(db.session.execute(select(Contact.user_id, Contact.email).where(
            Contact.user_id.in_(user_ids))).all())
    if any(c in ROBOT_CHANNELS for w in wanted.values() for c in w):
        units = {people[u].unit_id for u in user_ids}
        robots = {(r.unit_id, r.channel): r.webhook_url for r in db.session.scalars(
            select(UnitRobot).where(UnitRobot.unit_id.in_(units)))}
    configured = {c: adapter(c) is not None for c in {c for w in wanted.values() for c in w}}
    posted: set[tuple[int, str]] = set()  # a robot posts once per unit
    out = []
    for n in created:
        person = people[n.user_id]
        for channel in wanted[n.id]:
            if channel == SMS:
                address = person.phone or ""
            elif channel == EMAIL:
                address = emails.get(n.user_id) or ""
            else:
                if (person.unit_id, channel) in posted:
                    continue
                posted.add((person.unit_id, channel))
                address = robots.get((person.unit_id, channel), "")
            if not address and channel != SMS and channel not in ROBOT_CHANNELS:
                continue  # no e-mail address: the inbox is enough
            if not address and channel == SMS:
                continue
            live = configured[channel] and bool(address)
            out.append({"notification_id": n.id, "channel": channel, "address": address,
                        "idempotency_key": f"{n.id}:{channel}",
                        "status": DeliveryStatus.queued if live else DeliveryStatus.outbox,
                        "attempts": 0, "created_at": now})
    if not out:
        return
    table = Delivery.__table__
    if not any(d["status"] == DeliveryStatus.queued for d in out):
        db.session.execute(insert(table), out)  # nothing to send now: no ids needed
        return
    result = db.session.execute(insert(table).returning(table.c.id, table.c.status), out).all()
    queued = [d.id for d in result if d.status == DeliveryStatus.queued]
    if queued:
        from .tasks import send_deliveries

        tasks.enqueue_after_commit(send_deliveries, queued)


def notify_problem(problem, kind: str, unit_ids: Iterable[int], who: str = ACT, note: str = "", *,
                   dedupe: str | None = None, urgent: bool | None = None,
                   also: Iterable[int] = ()) -> list[int]:
    """Tell the people who act for (or lead) ``unit_ids`` about ``problem``: the kind's label,
    the problem's number and title; ``note`` says what happened."""
    title = f"{KINDS[kind].label}：{problem.number} {problem.title}"
    users = [*unit_people(unit_ids, who), *also]
    return notify(users, kind, title, note, target=("problem", problem.id), dedupe=dedupe, urgent=urgent)
