"""Changes to the organisation tree: create, rename, move, deactivate and reactivate units, and
set a work group's lead and covered units.

Each operation validates, changes, flushes and writes its audit event; the caller commits once.
Units with history are deactivated, never deleted: there is deliberately no delete here.
The rule helpers (``*_error``) are shared with the Excel import, which checks every row before
creating anything.
"""

from collections.abc import Callable, Sequence

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from ..core import audit
from ..core.extensions import db
from .models import ALLOWED_PARENTS, UNIT_KIND_LABELS, Unit, UnitKind, work_group_units
from .queries import COVERED_KINDS, LEAD_KINDS, sibling_named

NAME_MAX = 64
CODE_MAX = 32


class UnitError(ValueError):
    """A change the rules refuse; ``messages`` are Chinese sentences, ``field`` the form field."""

    def __init__(self, messages: str | Sequence[str], field: str | None = None):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.field = field
        super().__init__("".join(self.messages))


# Higher areas register reasons why a unit may not be deactivated (accounts: its active users;
# later, open problems), so this area never imports theirs. A check returns a message or None.
DeactivationCheck = Callable[[Unit], str | None]
_DEACTIVATION_CHECKS: list[DeactivationCheck] = []


def register_deactivation_check(check: DeactivationCheck) -> None:
    if check not in _DEACTIVATION_CHECKS:
        _DEACTIVATION_CHECKS.append(check)


# --- rules (shared with the import) ----------------------------------------------------------

def kind_labels(kinds) -> str:
    order = list(UnitKind)
    return "、".join(str(UNIT_KIND_LABELS[k]) for k in sorted(kinds, key=order.index))


def name_error(name: str) -> str | None:
    if not name:
        return _("请填写单位名称。")
    if len(name) > NAME_MAX:
        return _("单位名称最多 %(n)s 个字。", n=NAME_MAX)
    return None


def code_error(code: str | None) -> str | None:
    if code and (not code.isdigit() or not code.isascii() or len(code) > CODE_MAX):
        return _("统计代码只能由数字组成，最多 %(n)s 位。", n=CODE_MAX)
    return None


def parent_kind_error(kind: UnitKind, parent_kind: UnitKind | None) -> str | None:
    """Whether a ``kind`` unit may sit under a ``parent_kind`` unit (``ALLOWED_PARENTS``)."""
    if kind == UnitKind.district:
        return _("区是唯一的根单位，不能新建或移动。")
    if parent_kind is None:
        return _("请选择上级单位。")
    if parent_kind not in ALLOWED_PARENTS[kind]:
        return _(
            "%(kind)s只能设在%(parents)s之下，不能设在%(parent)s之下。",
            kind=UNIT_KIND_LABELS[kind], parents=kind_labels(ALLOWED_PARENTS[kind]),
            parent=UNIT_KIND_LABELS[parent_kind],
        )
    return None


def lead_kind_error(kind: UnitKind) -> str | None:
    if kind not in LEAD_KINDS:
        return _("牵头单位必须是%(kinds)s。", kinds=kind_labels(LEAD_KINDS))
    return None


def covered_kind_error(unit_name: str, kind: UnitKind) -> str | None:
    if kind not in COVERED_KINDS:
        return _("覆盖单位必须是%(kinds)s：“%(name)s”不是。", kinds=kind_labels(COVERED_KINDS), name=unit_name)
    return None


def duplicate_name_error(parent_name: str, name: str) -> str:
    return _("“%(parent)s”下已有名为“%(name)s”的单位。", parent=parent_name, name=name)


def _work_group_errors(kind: UnitKind, lead: Unit | None, covered: Sequence[Unit]) -> list[tuple[str, str]]:
    """(field, message) pairs for a work group's lead and covered units."""
    errors: list[tuple[str, str]] = []
    if kind != UnitKind.work_group:
        if lead is not None or covered:
            errors.append(("lead_unit", _("只有工作组可以设置牵头单位和覆盖单位。")))
        return errors
    if lead is None:
        errors.append(("lead_unit", _("请选择工作组的牵头单位。")))
    else:
        message = lead_kind_error(lead.kind)
        if message is None and not lead.is_active:
            message = _("牵头单位“%(name)s”已停用。", name=lead.name)
        if message:
            errors.append(("lead_unit", message))
    if not covered:
        errors.append(("covered_units", _("请至少选择一个覆盖单位。")))
    for unit in covered:
        message = covered_kind_error(unit.name, unit.kind)
        if message is None and not unit.is_active:
            message = _("覆盖单位“%(name)s”已停用。", name=unit.name)
        if message:
            errors.append(("covered_units", message))
    return errors


def _raise_first(errors: list[tuple[str, str]]) -> None:
    if errors:
        raise UnitError([m for f, m in errors if f == errors[0][0]], field=errors[0][0])


def _ref(unit: Unit | None) -> dict | None:
    return None if unit is None else {"id": unit.id, "name": unit.name}


def _refs(units: Sequence[Unit]) -> list[dict]:
    return [{"id": u.id, "name": u.name} for u in units]


# --- operations ------------------------------------------------------------------------------

def create_unit(
    *,
    name: str,
    kind: UnitKind,
    parent: Unit | None,
    code: str | None = None,
    short_name: str | None = None,
    note: str | None = None,
    lead_unit: Unit | None = None,
    covered_units: Sequence[Unit] = (),
    via: str | None = None,
) -> Unit:
    """Add a unit under ``parent``; audited as ``unit.create``."""
    name = (name or "").strip()
    code = (code or "").strip() or None
    for field, message in (("name", name_error(name)), ("code", code_error(code)),
                           ("parent", parent_kind_error(kind, parent.kind if parent else None))):
        if message:
            raise UnitError(message, field=field)
    if not parent.is_active:
        raise UnitError(_("上级单位“%(name)s”已停用。", name=parent.name), field="parent")
    if sibling_named(parent, name) is not None:
        raise UnitError(duplicate_name_error(parent.name, name), field="name")
    _raise_first(_work_group_errors(kind, lead_unit, covered_units))
    unit = Unit(kind=kind, parent=parent, code=code, short_name=(short_name or "").strip() or None,
                note=(note or "").strip() or None, is_active=True)
    unit.set_name(name)
    if kind == UnitKind.work_group:
        unit.lead_unit = lead_unit
        unit.covered_units = list(covered_units)
    db.session.add(unit)
    db.session.flush()
    detail = {
        "name": unit.name, "kind": kind.value, "parent": _ref(parent), "code": unit.code,
    }
    if kind == UnitKind.work_group:
        detail |= {"lead_unit": _ref(lead_unit), "covered_units": _refs(covered_units)}
    if via:
        detail["via"] = via
    audit.record("unit.create", obj=unit, detail=detail)
    return unit


_UNSET = object()


def update_unit(
    unit: Unit,
    *,
    name: str,
    code: str | None,
    short_name: str | None,
    note: str | None,
    lead_unit=_UNSET,
    covered_units=_UNSET,
) -> list[str]:
    """Rename (``unit.rename``) and change the other settings (``unit.update``).

    Returns the audit events written; an empty list when nothing changed.
    """
    name = (name or "").strip()
    code = (code or "").strip() or None
    short_name = (short_name or "").strip() or None
    note = (note or "").strip() or None
    for field, message in (("name", name_error(name)), ("code", code_error(code))):
        if message:
            raise UnitError(message, field=field)
    if name != unit.name and unit.parent is not None and sibling_named(unit.parent, name, exclude=unit):
        raise UnitError(duplicate_name_error(unit.parent.name, name), field="name")
    new_lead = unit.lead_unit if lead_unit is _UNSET else lead_unit
    new_covered = list(unit.covered_units) if covered_units is _UNSET else list(covered_units)
    if unit.kind == UnitKind.work_group:
        _raise_first(_work_group_errors(unit.kind, new_lead, new_covered))
    elif (lead_unit is not _UNSET and lead_unit is not None) or (
        covered_units is not _UNSET and len(covered_units) > 0
    ):
        raise UnitError(_("只有工作组可以设置牵头单位和覆盖单位。"), field="lead_unit")

    events = []
    if name != unit.name:
        before = unit.name
        unit.set_name(name)
        db.session.flush()
        audit.record("unit.rename", obj=unit, detail={"before": {"name": before}, "after": {"name": name}})
        events.append("unit.rename")

    before: dict = {}
    after: dict = {}
    for attr, value in (("code", code), ("short_name", short_name), ("note", note)):
        if getattr(unit, attr) != value:
            before[attr], after[attr] = getattr(unit, attr), value
            setattr(unit, attr, value)
    if unit.kind == UnitKind.work_group:
        if new_lead is not unit.lead_unit:
            before["lead_unit"], after["lead_unit"] = _ref(unit.lead_unit), _ref(new_lead)
            unit.lead_unit = new_lead
        old_ids = [u.id for u in unit.covered_units]
        if sorted(old_ids) != sorted(u.id for u in new_covered):
            before["covered_units"], after["covered_units"] = _refs(unit.covered_units), _refs(new_covered)
            unit.covered_units = sorted(new_covered, key=lambda u: u.id)
            # A change to the association table alone does not update the units row, so the
            # version would not move; an UPDATE is forced to keep optimistic locking honest.
            flag_modified(unit, "name")
    if after:
        db.session.flush()
        audit.record("unit.update", obj=unit, detail={"before": before, "after": after})
        events.append("unit.update")
    return events


def is_descendant_or_self(candidate: Unit, unit: Unit) -> bool:
    """Whether ``candidate`` is ``unit`` or lies below it (walking up from ``candidate``)."""
    seen: set[int] = set()
    node: Unit | None = candidate
    while node is not None and node.id not in seen:
        if node.id == unit.id:
            return True
        seen.add(node.id)
        node = node.parent
    return False


def move_unit(unit: Unit, parent: Unit | None) -> None:
    """Give ``unit`` a new parent (``ALLOWED_PARENTS``, no cycles); audited as ``unit.move``."""
    if unit.kind == UnitKind.district:
        raise UnitError(_("区是唯一的根单位，不能新建或移动。"), field="parent")
    if parent is None:
        raise UnitError(_("请选择上级单位。"), field="parent")
    if parent.id == unit.parent_id:
        raise UnitError(_("上级单位没有变化。"), field="parent")
    if is_descendant_or_self(parent, unit):
        raise UnitError(_("不能把单位移到它自己或它的下级单位之下。"), field="parent")
    message = parent_kind_error(unit.kind, parent.kind)
    if message:
        raise UnitError(message, field="parent")
    if not parent.is_active:
        raise UnitError(_("上级单位“%(name)s”已停用。", name=parent.name), field="parent")
    if sibling_named(parent, unit.name, exclude=unit) is not None:
        raise UnitError(duplicate_name_error(parent.name, unit.name), field="parent")
    before = _ref(unit.parent)
    unit.parent = parent
    db.session.flush()
    audit.record("unit.move", obj=unit, detail={"before": {"parent": before}, "after": {"parent": _ref(parent)}})


def deactivation_blockers(unit: Unit) -> list[str]:
    """Every reason why ``unit`` cannot be deactivated now (empty when it can)."""
    reasons = []
    if unit.kind == UnitKind.district:
        reasons.append(_("区是根单位，不能停用。"))
    active_children = [c for c in unit.children if c.is_active]
    if active_children:
        names = "、".join(c.name for c in active_children[:5]) + ("等" if len(active_children) > 5 else "")
        reasons.append(_("该单位还有 %(n)s 个启用的下级单位（%(names)s），请先停用或移走它们。",
                         n=len(active_children), names=names))
    led = db.session.scalars(
        select(Unit).where(Unit.lead_unit_id == unit.id, Unit.is_active.is_(True)).order_by(Unit.id)
    ).all()
    if led:
        reasons.append(_("该单位是启用中的工作组%(names)s的牵头单位，请先更换牵头单位。",
                         names="、".join(f"“{g.name}”" for g in led)))
    covering = db.session.scalars(
        select(Unit)
        .join(work_group_units, work_group_units.c.work_group_id == Unit.id)
        .where(work_group_units.c.unit_id == unit.id, Unit.is_active.is_(True))
        .order_by(Unit.id)
    ).all()
    if covering:
        reasons.append(_("该单位由启用中的工作组%(names)s覆盖，请先调整这些工作组的覆盖单位。",
                         names="、".join(f"“{g.name}”" for g in covering)))
    for check in _DEACTIVATION_CHECKS:
        message = check(unit)
        if message:
            reasons.append(message)
    return reasons


def deactivate_unit(unit: Unit) -> None:
    """Mark the unit inactive (it and its history stay); audited as ``unit.deactivate``."""
    if not unit.is_active:
        raise UnitError(_("该单位已经停用。"))
    reasons = deactivation_blockers(unit)
    if reasons:
        raise UnitError(reasons)
    unit.is_active = False
    db.session.flush()
    audit.record("unit.deactivate", obj=unit, detail={"name": unit.name, "before": {"is_active": True},
                                                      "after": {"is_active": False}})


def reactivate_unit(unit: Unit) -> None:
    """Make an inactive unit usable again; audited as ``unit.reactivate``."""
    if unit.is_active:
        raise UnitError(_("该单位已经是启用状态。"))
    if unit.parent is not None and not unit.parent.is_active:
        raise UnitError(_("上级单位“%(name)s”已停用，请先启用上级单位。", name=unit.parent.name))
    if unit.kind == UnitKind.work_group:
        stale = [u for u in [unit.lead_unit, *unit.covered_units] if u is not None and not u.is_active]
        if stale:
            raise UnitError(_("该工作组的牵头单位或覆盖单位%(names)s已停用，请先修改工作组设置。",
                              names="、".join(f"“{u.name}”" for u in stale)))
    unit.is_active = True
    db.session.flush()
    audit.record("unit.reactivate", obj=unit, detail={"name": unit.name, "before": {"is_active": False},
                                                      "after": {"is_active": True}})


def import_units(plan: Sequence, filename: str) -> list[Unit]:
    """Create the checked rows of an import (``org.excel.plan_import``), parents first and
    work groups last (their lead and covered units may be new rows too).

    One ``unit.create`` event per unit plus an ``org.import`` summary. Raises ``UnitError``
    with the row number when a row is refused after all; the caller then rolls back.
    """
    created: dict[int, Unit] = {}

    def actual(ref):
        return ref if isinstance(ref, Unit) else created.get(id(ref))

    pending = [p for p in plan if p.kind != UnitKind.work_group]
    pending_groups = [p for p in plan if p.kind == UnitKind.work_group]
    while pending:
        ready = [p for p in pending if actual(p.parent) is not None]
        if not ready:
            raise UnitError(_("第 %(row)s 行：上级单位无法创建。", row=pending[0].row))
        for p in ready:
            created[id(p)] = _create_row(p, actual(p.parent))
        pending = [p for p in pending if id(p) not in created]
    for p in pending_groups:
        created[id(p)] = _create_row(
            p, actual(p.parent), lead_unit=actual(p.lead), covered_units=[actual(c) for c in p.covered]
        )
    units = [created[id(p)] for p in plan]
    counts: dict[str, int] = {}
    for unit in units:
        counts[unit.kind.value] = counts.get(unit.kind.value, 0) + 1
    audit.record("org.import", object_type="unit", detail={
        "filename": filename, "created": len(units), "by_kind": counts,
    })
    return units


def _create_row(p, parent: Unit, **extra) -> Unit:
    try:
        return create_unit(name=p.name, kind=p.kind, parent=parent, code=p.code, via="import", **extra)
    except UnitError as exc:
        raise UnitError([_("第 %(row)s 行：", row=p.row) + "".join(exc.messages)]) from exc
