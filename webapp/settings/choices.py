"""The office's small lists of named choices (问题类别, 关注标记): create, rename / reorder,
deactivate, reactivate.

An entry is a row with ``id``, ``name``, ``sort_order`` and ``is_active``; the selects that offer
the entries list the active ones by their order, and a deactivated entry stays on whatever
already carries it. Every write locks the row, checks the fingerprint the form was drawn with
(the tables have no version column, so ``stamp()`` stands in for one), audits and flushes; the
caller commits. Each list words its name checks in its own terms (``NameMessages``) and raises
its own error classes (subclasses of ``ChoiceError`` and ``StaleChoice``).
"""

import hashlib
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..core import audit
from ..core.extensions import db

SORT_MIN, SORT_MAX = 0, 9999


class ChoiceError(ValueError):
    """Invalid input; ``errors`` maps each form field to a message in Chinese."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class StaleChoice(Exception):  # noqa: N818 - named like the other conflicts (HTTP 409)
    """The entry changed since the form was drawn."""


@dataclass(frozen=True)
class NameMessages:
    """A list's wording of the name checks: ``too_long`` takes ``%(n)d`` (the longest name
    allowed), ``taken`` and ``taken_inactive`` take ``%(name)s`` (the entry already so named)."""

    missing: str
    too_long: str
    taken: str
    taken_inactive: str


@dataclass(frozen=True, kw_only=True)
class ChoiceList:
    """One list: its table (``model``), the prefix of its audit events (``<audit_name>.create``,
    ``.update``, ``.deactivate``, ``.reactivate``), its longest name, its messages and the
    errors it raises."""

    model: type
    audit_name: str
    name_max: int
    messages: NameMessages
    error: type[ChoiceError] = ChoiceError
    stale: type[StaleChoice] = StaleChoice

    def event(self, action: str) -> str:
        """The audit event of an action: ``category.create``, ``attention_mark.deactivate``, …"""
        return f"{self.audit_name}.{action}"

    @staticmethod
    def stamp(entry) -> str:
        """A fingerprint of what the form showed (name, order, active): the entry's "version"."""
        raw = f"{entry.id}|{entry.name}|{entry.sort_order}|{int(bool(entry.is_active))}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def all(self) -> list:
        m = self.model
        return list(db.session.scalars(select(m).order_by(m.sort_order, m.id)))

    def active(self) -> list:
        """The entries the selects offer."""
        m = self.model
        return list(db.session.scalars(select(m).where(m.is_active.is_(True)).order_by(m.sort_order, m.id)))

    def next_sort_order(self) -> int:
        highest = db.session.scalar(select(func.max(self.model.sort_order)))
        return min((highest or 0) + 10, SORT_MAX)

    @staticmethod
    def clean_name(name) -> str:
        return " ".join(str(name or "").split())

    def check(self, name: str, sort_order, *, exclude_id: int | None = None) -> None:
        """Raises the list's ``ChoiceError`` with a message per field that is wrong."""
        errors = {}
        msgs = self.messages
        if not name:
            errors["name"] = str(msgs.missing)
        elif len(name) > self.name_max:
            errors["name"] = str(msgs.too_long) % {"n": self.name_max}
        else:
            clash = db.session.scalar(select(self.model).where(func.lower(self.model.name) == name.lower()))
            if clash is not None and clash.id != exclude_id:
                errors["name"] = str(msgs.taken if clash.is_active else msgs.taken_inactive) % {"name": clash.name}
        if isinstance(sort_order, bool) or not isinstance(sort_order, int):
            errors["sort_order"] = str(_l("请输入整数。"))
        elif not SORT_MIN <= sort_order <= SORT_MAX:
            errors["sort_order"] = str(_l("请输入 %(low)s 到 %(high)s 之间的整数。", low=SORT_MIN, high=SORT_MAX))
        if errors:
            raise self.error(errors)

    def locked(self, entry_id: int):
        return db.session.scalar(select(self.model).where(self.model.id == entry_id).with_for_update())

    def create(self, name: str, sort_order: int | None = None, *, user=None, token: str | None = None):
        """A new, active entry (audited ``<audit_name>.create``; ``token``, the form's client
        token, goes into the audit detail so that a double submit is recognised)."""
        name = self.clean_name(name)
        if sort_order is None:
            sort_order = self.next_sort_order()
        self.check(name, sort_order)
        entry = self.model(name=name, sort_order=sort_order, is_active=True)
        db.session.add(entry)
        db.session.flush()
        audit.record(self.event("create"), obj=entry, user=user,
                     detail={"name": name, "sort_order": sort_order, **({"token": token} if token else {})})
        return entry

    def update(self, entry_id: int, *, name: str, sort_order: int, expected: str | None, user=None) -> tuple:
        """Rename and/or reorder (audited ``<audit_name>.update`` with before/after).

        Returns ``(entry, changed)``. Raises the list's ``StaleChoice`` when the entry changed
        since the form was drawn — unless it already reads what was asked (a double submit):
        then nothing happens. ``LookupError`` when there is no such entry.
        """
        entry = self.locked(entry_id)
        if entry is None:
            raise LookupError(entry_id)
        name = self.clean_name(name)
        if entry.name == name and entry.sort_order == sort_order:
            return entry, False
        if expected is not None and expected != self.stamp(entry):
            raise self.stale()
        self.check(name, sort_order, exclude_id=entry.id)
        before = {"name": entry.name, "sort_order": entry.sort_order}
        entry.name, entry.sort_order = name, sort_order
        db.session.flush()
        after = {"name": entry.name, "sort_order": entry.sort_order}
        audit.record(self.event("update"), obj=entry, user=user, detail={
            "before": {k: v for k, v in before.items() if after[k] != v},
            "after": {k: v for k, v in after.items() if before[k] != v},
        })
        return entry, True

    def set_active(self, entry_id: int, active: bool, *, expected: str | None, user=None) -> tuple:
        """Deactivate (``active=False``) or reactivate; audited ``<audit_name>.deactivate`` /
        ``.reactivate``. Returns ``(entry, changed)``; already in that state (a double submit) →
        nothing happens."""
        entry = self.locked(entry_id)
        if entry is None:
            raise LookupError(entry_id)
        if bool(entry.is_active) == active:
            return entry, False
        if expected is not None and expected != self.stamp(entry):
            raise self.stale()
        entry.is_active = active
        db.session.flush()
        audit.record(self.event("reactivate" if active else "deactivate"), obj=entry, user=user,
                     detail={"name": entry.name})
        return entry, True
