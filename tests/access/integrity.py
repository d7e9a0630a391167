"""诚信核查 (integrity flags): the list and a flag's page for the office and the leader; reviewing
a flag and running the scan for the office alone. Units, groups and cadres never see flags (403);
a flag that does not exist is 404."""

from webapp.core.extensions import db

from . import Rule
from .objects import LAZY

READERS = {"office", "leader"}
OFFICE = {"office"}


def _flag():
    from tests.cases import factories as f
    from webapp.integrity import operations as flags
    from webapp.integrity.models import FlagKind

    p = f.register(phone="13900000001")
    flag = flags.raise_flag(FlagKind.no_evidence, f"access:{p.id}", unit_id=f.unit("潘安湖街道").id,
                            problem_id=p.id, summary="访问矩阵测试线索。", evidence={"problem_id": p.id})
    db.session.commit()
    return flag


def _fresh(flag):
    db.session.rollback()  # see what earlier requests committed
    db.session.refresh(flag)
    return flag


LAZY.update({"integrity_flag": _flag})

RULES = [
    Rule("integrity.index", "/integrity", READERS),
    Rule("integrity.show", lambda o: f"/integrity/flags/{o.integrity_flag.id}", READERS),
    Rule("integrity.show", "/integrity/flags/99999999", set(), not_found=READERS, note="no such flag"),
    Rule("integrity.review", lambda o: f"/integrity/flags/{o.integrity_flag.id}/review", OFFICE, method="POST",
         data=lambda o: {"status": "confirmed", "note": "", "version": str(_fresh(o.integrity_flag).version)}),
    Rule("integrity.review", "/integrity/flags/99999999/review", set(), method="POST",
         data={"status": "confirmed", "note": "", "version": "1"}, not_found=OFFICE, note="no such flag"),
    Rule("integrity.scan", "/integrity/scan", OFFICE, method="POST", data={}),
]
