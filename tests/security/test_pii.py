"""Personal data encrypted at rest (core.pii): phone and ID numbers and TOTP secrets are stored
sealed with AES-GCM under keys outside the database, found only whole through a keyed blind
index, re-sealed by ``flask pii rotate-key`` and unreadable (a clear error) under a wrong key."""

import re
import stat

import pytest
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from tests.cases import factories as f
from tests.conftest import _test_config
from tests.security.test_backup import empty_database  # noqa: F401 - the fixture
from tests.visits import factories as vf
from tests.visits.test_imports import ENTERPRISE_COLUMNS, home, last_job, upload, xlsx
from webapp import create_app
from webapp.accounts.models import User
from webapp.cases.models import Problem
from webapp.config import load_config
from webapp.core import pii
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.demo.org import DEMO_TOTP_SECRET
from webapp.visits.models import Enterprise, Household

PHONE, ID_NUMBER = "13952001234", "32030519850101123X"
SEALED = re.compile(r"^[a-z0-9]{1,16}\$[A-Za-z0-9+/=]{40,}$")


def raw(sql: str, **params):
    return db.session.execute(text(sql), params).one()


def test_the_database_holds_no_plaintext_phone_id_number_or_totp_secret(app):
    problem = f.register(phone=PHONE, id_number=ID_NUMBER)
    household = vf.household("H-001", phone="0516-85551234")
    firm = vf.enterprise("回音科技有限公司", phone="13900005678")
    db.session.commit()
    phone, id_number, p_index, id_index = raw(
        "SELECT resident_phone, resident_id_number, resident_phone_index, resident_id_index FROM problems "
        "WHERE id = :i", i=problem.id)
    for value, plain in ((phone, PHONE), (id_number, ID_NUMBER)):
        assert SEALED.match(value) and plain not in value and plain[-4:] not in value
    assert len(p_index) == len(id_index) == 32 and PHONE not in p_index
    assert SEALED.match(raw("SELECT phone FROM households WHERE id = :i", i=household.id)[0])
    assert SEALED.match(raw("SELECT phone FROM enterprises WHERE id = :i", i=firm.id)[0])
    # The demo admins' TOTP secret (README) is sealed too.
    [secret] = raw("SELECT totp_secret FROM users WHERE username = 'sysadmin'")
    assert SEALED.match(secret) and DEMO_TOTP_SECRET not in secret
    # The app reads them as they were; the page still masks and the reveal is still audited.
    db.session.expire_all()
    p = db.session.get(Problem, problem.id)
    assert (p.resident_phone, p.resident_id_number) == (PHONE, ID_NUMBER)
    assert db.session.get(Household, household.id).phone == "0516-85551234"
    assert db.session.scalar(select(User).where(User.username == "sysadmin")).totp_secret == DEMO_TOTP_SECRET
    # The same number sealed twice gives two different values (a fresh nonce each time).
    other = f.register(phone=PHONE)
    assert raw("SELECT resident_phone FROM problems WHERE id = :i", i=other.id)[0] != phone


def test_a_wrong_or_missing_key_is_a_clear_error_not_garbage(app):
    problem_id = f.register(phone=PHONE).id
    db.session.expunge_all()
    app.config["PII_KEYS"] = "t1:" + "00" * 32  # same id, another key
    with pytest.raises(pii.PIIKeyError, match="does not open with key 't1'"):
        db.session.get(Problem, problem_id)
    db.session.rollback()
    db.session.expunge_all()
    app.config["PII_KEYS"] = "t9:" + "11" * 32
    with pytest.raises(pii.PIIKeyError, match="key 't1', which is not in PII_KEYS"):
        db.session.get(Problem, problem_id)
    db.session.rollback()
    # A value moved into another column does not open either (the column is bound to the seal).
    app.config["PII_KEYS"] = "t1:" + "5a" * 32
    sealed_phone = raw("SELECT resident_phone FROM problems WHERE id = :i", i=problem_id)[0]
    with pytest.raises(pii.PIIKeyError):
        pii.keyring().decrypt(sealed_phone, "resident_id_number")
    for bad in ("t1:abc", "T1:" + "00" * 32, ""):
        with pytest.raises(pii.PIIKeyError):
            pii.parse_keys(bad)


def test_exact_phone_and_id_search_through_the_blind_index(app, login_as):
    problem = f.register(phone=PHONE, id_number=ID_NUMBER, title="排水沟堵塞")
    f.register(phone="13952009999", title="另一件事")
    household = vf.household("H-002", head="王大海", phone="13900001111")
    db.session.commit()
    office = login_as("office")
    for q in (PHONE, "139-5200-1234", ID_NUMBER.lower()):
        page = office.get(f"/cases?q={q}").get_data(as_text=True)
        assert problem.number in page and "另一件事" not in page, q
    # Part of a number finds nothing: it is not stored in a searchable form.
    page = office.get("/cases?q=1395200").get_data(as_text=True)
    assert problem.number not in page
    assert "须输入完整号码" in page
    page = office.get("/visits/households?q=13900001111").get_data(as_text=True)
    assert household.head_name in page
    page = office.get("/visits/households?q=1390000").get_data(as_text=True)
    assert household.head_name not in page
    # A changed number is indexed anew; the old one no longer finds the entry.
    household.phone = "13900003333"
    db.session.commit()
    assert household.head_name in office.get("/visits/households?q=13900003333").get_data(as_text=True)
    assert household.head_name not in office.get("/visits/households?q=13900001111").get_data(as_text=True)


def test_rotate_key_reseals_everything_and_the_old_key_can_be_dropped(app, runner_factory, tmp_path):
    key_file = tmp_path / "pii_keys"
    key_file.write_text(app.config["PII_KEYS"] + "\n")
    app.config["PII_KEY_FILE"] = str(key_file)
    problem = f.register(phone=PHONE, id_number=ID_NUMBER)
    household = vf.household("H-003", phone="13900002222")
    db.session.commit()
    problem_id, household_id = problem.id, household.id

    result = runner_factory().invoke(args=["pii", "status"])
    assert result.exit_code == 0, result.output
    assert re.search(r"problems\.resident_phone: t1=\d+", result.output)
    result = runner_factory().invoke(args=["pii", "drop-key", "t1"])
    assert result.exit_code != 0 and "seals" in result.output

    result = runner_factory().invoke(args=["pii", "rotate-key", "--batch", "7"])
    assert result.exit_code == 0, result.output
    assert "new key k1 added" in result.output
    status = pii.status(db.metadata)
    assert all(set(counts) <= {"k1"} or counts.get("t1") == 0 for counts in status.values()), status
    assert status["problems.resident_phone"]["k1"] >= 1 and status["users.totp_secret"]["k1"] >= 1
    assert raw("SELECT resident_phone FROM problems WHERE id = :i", i=problem_id)[0].startswith("k1$")
    events = db.session.scalars(select(AuditEvent.event).where(AuditEvent.event.like("pii.%")).order_by(AuditEvent.id)).all()
    assert events == ["pii.rotation_started", "pii.rotated"]

    result = runner_factory().invoke(args=["pii", "drop-key", "t1"])
    assert result.exit_code == 0, result.output
    assert not key_file.read_text().startswith("t1:") and "t1:" not in key_file.read_text()
    assert pii.keyring().kids == ["k1"]
    db.session.expunge_all()
    p = db.session.get(Problem, problem_id)
    assert (p.resident_phone, p.resident_id_number) == (PHONE, ID_NUMBER)
    assert db.session.get(Household, household_id).phone == "13900002222"
    # The blind index does not depend on the data key: the search still finds them.
    assert db.session.scalar(select(Problem.id).where(
        Problem.resident_phone_index == pii.blind_index(PHONE, "phone"), Problem.id == problem_id)) == problem_id
    # A second run has nothing left to do (an interrupted run resumes the same way).
    result = runner_factory().invoke(args=["pii", "rotate-key", "--no-new-key"])
    assert result.exit_code == 0 and "(0 re-sealed)" in result.output


def test_the_key_file_is_created_0600_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("PII_KEYS", raising=False)
    monkeypatch.delenv("PII_INDEX_KEY", raising=False)
    config = load_config(str(tmp_path))
    assert config["PII_KEY_FILE"] == str(tmp_path / "pii_keys")
    for name in ("pii_keys", "pii_index_key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    [(kid, key)] = pii.parse_keys(config["PII_KEYS"])
    assert kid == "k1" and len(key) == 32
    assert load_config(str(tmp_path))["PII_KEYS"] == config["PII_KEYS"]  # kept, not regenerated


def test_imports_write_sealed_phones_and_their_index(app, login_as):
    b = login_as("office")
    upload(b, xlsx([home("I-001", "甲", phone="13811112222")]))
    assert last_job(app).result["created"] == 1
    upload(b, xlsx([home("I-001", "甲", phone="13811114444")]))  # the update path
    assert last_job(app).result["updated"] == 1
    firm = ["回音贸易有限公司", vf.credit_code(4242), "否", "潘安湖街道", "地址", "李四", "13811113333", "小型", "批发",
            "cadre"]
    upload(b, xlsx([firm], ENTERPRISE_COLUMNS), kind="enterprises")
    assert last_job(app).result["created"] == 1
    db.session.expire_all()
    h = db.session.scalar(select(Household).where(Household.number == "I-001"))
    e = db.session.scalar(select(Enterprise).where(Enterprise.name == "回音贸易有限公司"))
    for table, row_id in (("households", h.id), ("enterprises", e.id)):
        assert SEALED.match(raw(f"SELECT phone FROM {table} WHERE id = :i", i=row_id)[0])  # noqa: S608
    assert (h.phone, e.phone) == ("13811114444", "13811113333")
    assert db.session.scalar(select(Household.id).where(
        Household.phone_index == pii.blind_index("13811114444", "phone"))) == h.id
    assert db.session.scalar(select(Enterprise.id).where(
        Enterprise.phone_index == pii.blind_index("138 1111 3333", "phone"))) == e.id


def test_the_migration_seals_existing_rows_and_its_downgrade_opens_them(app):
    problem_id = f.register(phone=PHONE, id_number=ID_NUMBER).id
    db.session.commit()
    db.session.remove()
    downgrade(revision="0016")
    assert raw("SELECT resident_phone, resident_id_number FROM problems WHERE id = :i", i=problem_id) == \
        (PHONE, ID_NUMBER)
    assert raw("SELECT totp_secret FROM users WHERE username = 'sysadmin'")[0] == DEMO_TOTP_SECRET
    db.session.remove()
    upgrade()
    sealed_phone, index = raw("SELECT resident_phone, resident_phone_index FROM problems WHERE id = :i",
                              i=problem_id)
    assert SEALED.match(sealed_phone) and index == pii.blind_index(PHONE, "phone")
    db.session.remove()
    p = db.session.get(Problem, problem_id)
    assert (p.resident_phone, p.resident_id_number) == (PHONE, ID_NUMBER)
    assert current_app.config["PII_KEYS"].startswith("t1:")


def test_a_backup_restores_the_sealed_values_that_open_with_the_same_keys(
        app, runner_factory, tmp_path, empty_database):  # noqa: F811 - the fixture
    problem_id = f.register(phone=PHONE, id_number=ID_NUMBER).id
    db.session.commit()
    sealed = raw("SELECT resident_phone FROM problems WHERE id = :i", i=problem_id)[0]
    result = runner_factory().invoke(args=["backup", "create", "--dir", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    [archive] = (tmp_path / "backups").glob("huiyin-backup-*.tar.gz")
    fresh = create_app(_test_config(tmp_path / "fresh", empty_database))
    with fresh.app_context():
        result = fresh.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
        assert result.exit_code == 0, result.output
        assert raw("SELECT resident_phone FROM problems WHERE id = :i", i=problem_id)[0] == sealed
        p = db.session.get(Problem, problem_id)
        assert (p.resident_phone, p.resident_id_number) == (PHONE, ID_NUMBER)
        db.session.remove()
        db.engine.dispose()
