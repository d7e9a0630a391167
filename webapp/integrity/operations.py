"""Integrity flags: raising one (the scan's detectors, a contradicted spot check) and reviewing a
flag.

Each flag has a ``key`` naming what it is about; raising a flag whose key exists does nothing,
so the scan can run any number of times. Writes flush and write the audit entry; the caller
commits.

The scan (``integrity.scan``) runs every detector of ``integrity.detectors`` — their
definitions, keys and thresholds (``INTEGRITY_*`` config keys) are documented there — and they
raise their flags here.

Review: the office confirms a flag (核查属实) or dismisses it (核查排除, with a note saying why);
the form carries the flag's version and a stale one is refused (``Conflict``, HTTP 409). A
reviewed flag may be reviewed again (the office corrects itself; both are in the audit log),
except that a flag an accountability record rests on cannot be dismissed.
"""

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select

from ..core import audit, clock
from ..core.errors import Conflict
from ..core.extensions import db
from .models import Flag, FlagKind, FlagStatus

NOTE_MAX = 1000
KEY_CHUNK = 500
STALE_FLAG = _l("该核查线索已被他人核查或修改。请刷新页面查看最新情况后再操作。")
REVIEW_OUTCOMES = (FlagStatus.confirmed, FlagStatus.dismissed)


class ReviewInvalid(ValueError):
    """The review breaks a rule; ``errors`` maps form field names to Chinese messages."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(str(m) for m in errors.values()))
        self.errors = errors


def raise_flag(kind: FlagKind, key: str, *, unit_id: int, summary: str, evidence: dict,
               problem_id: int | None = None, period_start: date | None = None, user=None) -> Flag | None:
    """Add the flag unless one with ``key`` exists (then return None); audited; flushes."""
    if db.session.scalar(select(Flag.id).where(Flag.key == key)) is not None:
        return None
    flag = Flag(kind=FlagKind(kind), key=key, unit_id=unit_id, problem_id=problem_id,
                period_start=period_start, summary=summary, evidence=evidence,
                detected_by_id=user.id if user is not None else None)
    db.session.add(flag)
    db.session.flush()
    audit.record("integrity.flag_raised", obj=flag, user=user,
                 detail={"kind": flag.kind.value, "key": key, "unit_id": unit_id, "problem_id": problem_id})
    return flag


def existing_keys(keys) -> set[str]:
    """Which of ``keys`` are flags already (one statement per 500 keys)."""
    keys = list(dict.fromkeys(keys))
    found: set[str] = set()
    for i in range(0, len(keys), KEY_CHUNK):
        found.update(db.session.scalars(select(Flag.key).where(Flag.key.in_(keys[i:i + KEY_CHUNK]))))
    return found


def raise_many(kind: FlagKind, candidates, *, user=None) -> list[int]:
    """Add the candidates (``detectors.Candidate``) whose key is new, in one batched insert; one
    audit entry lists them. Flushes; returns the new flags' ids."""
    candidates = list({c.key: c for c in candidates}.values())
    if not candidates:
        return []
    known = existing_keys(c.key for c in candidates)
    now = clock.now()
    rows = [{"kind": FlagKind(kind), "key": c.key, "unit_id": c.unit_id, "problem_id": c.problem_id,
             "period_start": c.period_start, "summary": c.summary, "evidence": c.evidence, "detected_at": now,
             "detected_by_id": None, "status": FlagStatus.open, "version": 1}
            for c in candidates if c.key not in known]
    if not rows:
        return []
    ids = list(db.session.scalars(insert(Flag).returning(Flag.id), rows))
    audit.record("integrity.flags_raised", object_type=Flag.audit_type, user=user,
                 detail={"kind": FlagKind(kind).value, "flags": ids, "keys": [r["key"] for r in rows]})
    return ids


def review(flag: Flag, user, *, status, note: str | None, version) -> Flag:
    """核查: confirm or dismiss (a note is required to dismiss); ``version`` is the flag's version
    the form was drawn with (a stale one → ``Conflict``). Audited; flushes."""
    if version is None or str(version) != str(flag.version):
        raise Conflict(STALE_FLAG)
    errors = {}
    try:
        outcome = FlagStatus(status)
    except ValueError:
        outcome = None
    if outcome not in REVIEW_OUTCOMES:
        errors["status"] = _l("请选择核查结论。")
    note = (note or "").strip()
    if outcome == FlagStatus.dismissed and not note:
        errors["note"] = _l("排除线索时请说明核查情况。")
    if len(note) > NOTE_MAX:
        errors["note"] = _l("核查情况说明不能超过%(max)d字。", max=NOTE_MAX)
    if outcome == FlagStatus.dismissed and flag.accountability_id is not None:
        errors["status"] = _l("已据此线索问责，不能再排除。")
    if errors:
        raise ReviewInvalid(errors)
    before, user_id = flag.status, user.id  # read first: a lazy load would flush half the change
    flag.status, flag.reviewed_by_id, flag.reviewed_at, flag.review_note = outcome, user_id, clock.now(), note or None
    db.session.flush()
    audit.record("integrity.flag_reviewed", obj=flag, user=user,
                 detail={"kind": flag.kind.value, "key": flag.key, "from": before.value, "to": outcome.value,
                         "note": note or None})
    return flag
