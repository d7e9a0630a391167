"""Intake by the cadre, end to end over HTTP: the visit form, photos, idempotency, duplicates,
similar problems, co-complainants, masked numbers and their audited reveal, photo downloads."""

import hashlib
import io
import re
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.cases import factories as f
from webapp.accounts.models import User
from webapp.accounts.passwords import hash_password
from webapp.accounts.roles import Role
from webapp.cases import operations as ops
from webapp.cases import uploads
from webapp.cases.models import Attachment, Problem, ProblemEvent
from webapp.core import clock
from webapp.core.audit import AuditEvent, verify_chain
from webapp.core.extensions import db
from webapp.visits import operations as visit_ops
from webapp.visits.models import Visit

DEMO_PASSWORD = "Huiyin@2026"
VALID_ID = "320305198503120047"  # checksum computed by GB 11643
HX = {"HX-Request": "true"}


def png_bytes(size=(8, 8), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def post(b, url, **kw):
    """POST as ``b``, then look at the database afresh (the request committed in its own session)."""
    resp = b.post(url, **kw)
    db.session.rollback()
    return resp


def count(model, *where) -> int:
    db.session.rollback()  # see what the requests committed
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audit_count(event: str) -> int:
    return count(AuditEvent, AuditEvent.event == event)


def download(b, url):
    """GET a file (bytes, not text) and close the response (send_file keeps the file open)."""
    resp = b.client.get(url)
    resp.close()
    return resp


def upload_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    # The uploads themselves (a photo's thumbnail lives beside it).
    return [p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".thumb.jpg")] if root.exists() else []


def new_form(b) -> dict:
    """GET the form: its token (made when drawn) and the cadre's default visitors name."""
    page = b.get("/cases/visits/new").get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([0-9a-f]+)"', page).group(1)
    return {"token": token}


def visit_fields(village="权台村", **kw) -> dict:
    return {
        "visited_on": kw.pop("visited_on", clock.today().isoformat()),
        "village": str(f.unit(village).id),
        "household_kind": kw.pop("household_kind", "household"),
        "household_name": kw.pop("household_name", "权台村饭店 孙某"),
        "visitors": kw.pop("visitors", "王晓东、李红梅"),
        "situation": "家中一人患病，女儿在读大学。",
        "demands": "医疗费用负担重，希望得到救助。",
        **kw,
    }


def block(i: int, **kw) -> dict:
    values = {
        "resident_name": "孙某某", "resident_phone": "138 1234 5678", "resident_id_number": "",
        "village": "", "address": "权台村3组", "category": str(f.category("医疗卫生").id),
        "title": "大病医疗费用负担重", "description": "家人患白血病，治疗费用高，申请救助。",
    }
    values.update(kw)
    return {f"problems-{i}-{k}": v for k, v in values.items()}


def cadre2(unit_name="潘安湖街道工作组", username="cadre2") -> User:
    """Another cadre (same group by default), committed, able to log in with the demo password."""
    u = User(username=username, full_name="钱二", unit=f.unit(unit_name), role=Role.cadre,
             password_hash=hash_password(DEMO_PASSWORD), password_changed_at=clock.now(),
             must_change_password=False, is_demo=True)
    db.session.add(u)
    db.session.commit()
    return u


@pytest.fixture
def cadre(login_as):
    return login_as("cadre")


# ---------------------------------------------------------------- the happy path


def test_visit_with_two_problems_and_a_photo(app, cadre):
    photo = png_bytes()
    data = {**new_form(cadre), **visit_fields(), "action": "save",
            **block(0, resident_id_number=VALID_ID.lower()[:-1] + VALID_ID[-1]),
            **block(1, resident_name="赵某", resident_phone="0516-87012345", village=str(f.unit("马庄村").id),
                    category=str(f.category("道路交通").id), title="村东头路灯损坏", description="三盏路灯不亮。"),
            "problems-0-photos": [(io.BytesIO(photo), "病历.png")]}
    resp = post(cadre, "/cases/visits/new", data=data)
    assert resp.status_code == 302 and "/receipt" in resp.headers["Location"], resp.get_data(as_text=True)[:2000]

    visit = db.session.scalar(select(Visit))
    assert visit.village.name == "权台村" and visit.town.name == "潘安湖街道"
    assert visit.work_group.name == "潘安湖街道工作组" and visit.visitors == "王晓东、李红梅"
    p0, p1 = visit.problems
    assert (p0.resident_phone, p0.resident_id_number, p0.village.name) == ("13812345678", VALID_ID, "权台村")
    assert (p1.resident_phone, p1.resident_id_number, p1.village.name) == ("0516-87012345", None, "马庄村")
    assert p0.household_name == "权台村饭店 孙某" and p1.category.name == "道路交通"
    assert p0.number.startswith(f"贾走访〔{clock.today().year}〕") and p1.seq == p0.seq + 1

    att = db.session.scalar(select(Attachment))
    assert att.problem_id == p0.id and att.mime == "image/png" and att.size == len(photo)
    assert att.sha256 == hashlib.sha256(photo).hexdigest() and att.filename == "病历.png"
    stored = Path(app.config["UPLOAD_DIR"]) / att.stored_name
    assert stored.read_bytes() == photo and "static" not in stored.parts and "病历" not in att.stored_name
    expected = [(p.number, p.receipt_no) for p in (p0, p1)]
    assert [e for e in ("visit.create", "problem.register", "attachment.add") if audit_count(e) == 0] == []
    assert audit_count("problem.register") == 2 and verify_chain().ok  # (detaches every object)

    receipt = cadre.get(resp.headers["Location"]).get_data(as_text=True)
    for number, receipt_no in expected:
        assert number in receipt and receipt_no in receipt
    assert "13812345678" not in receipt  # no phone on the receipt
    # The lookup's address is printed, with a QR code per problem that opens it with its receipt number.
    from webapp.documents.qr import qr_svg

    assert "查询地址：" in receipt and "http://localhost/receipt</span>" in receipt
    for _number, receipt_no in expected:
        link = f"http://localhost/receipt?no={receipt_no}"
        assert str(qr_svg(link, title="回执查询")) in receipt
        # Scanned, the lookup opens with the receipt number filled in.
        assert f'value="{receipt_no}"' in cadre.get(link).get_data(as_text=True)


def test_receipt_is_the_cadres_own(app, cadre, login_as):
    data = {**new_form(cadre), **visit_fields(), "action": "save", **block(0)}
    location = post(cadre, "/cases/visits/new", data=data).headers["Location"]
    cadre2()
    assert login_as("cadre2").get(location).status_code == 404
    assert login_as("grouplead").get(location).status_code == 403


def test_visit_without_problems(app, cadre):
    form = new_form(cadre)
    # A filled problem block is not silently dropped by "只保存走访".
    resp = post(cadre, "/cases/visits/new", data={**form, **visit_fields(), "action": "visit_only",
                                                 **block(0, title="已填写的问题")})
    assert resp.status_code == 200 and "下面还有填写了内容的问题" in resp.get_data(as_text=True)
    assert count(Visit) == 0
    # An empty block is fine.
    resp = post(cadre, "/cases/visits/new", data={**form, **visit_fields(), "action": "visit_only",
                                                 **block(0, resident_name="", resident_phone="", address="",
                                                         title="", description="")})
    assert resp.status_code == 302
    assert count(Visit) == 1 and count(Problem) == 0
    # And with the block removed, the main button saves the visit alone (idempotent: same token).
    resp = post(cadre, "/cases/visits/new", data={**form, **visit_fields(), "action": "save"})
    assert resp.status_code == 302 and count(Visit) == 1


def test_blank_block_on_save_is_refused_with_a_hint(app, cadre):
    data = {**new_form(cadre), **visit_fields(), "action": "save", **block(0),
            **block(1, resident_name="", resident_phone="", address="", title="", description="")}
    resp = post(cadre, "/cases/visits/new", data=data)
    assert resp.status_code == 200 and "这个问题还没有填写" in resp.get_data(as_text=True)
    assert count(Visit) == 0 and count(Problem) == 0


# ---------------------------------------------------------------- refusals keep the input


def test_exe_renamed_jpg_is_refused_and_nothing_is_saved(app, cadre):
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 300
    data = {**new_form(cadre), **visit_fields(), "action": "save", **block(0, title="危房改造申请"),
            **block(1, title="第二个问题"),
            "problems-0-photos": [(io.BytesIO(exe), "现场照片.jpg"), (io.BytesIO(png_bytes()), "ok.png")]}
    resp = post(cadre, "/cases/visits/new", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "文件“现场照片.jpg”不是 JPG、PNG 图片或 PDF 文件" in html
    assert "浏览器不能保留已选的文件（现场照片.jpg、ok.png）" in html  # said next to the field
    assert 'value="危房改造申请"' in html and 'value="第二个问题"' in html and 'value="权台村饭店 孙某"' in html
    assert count(Visit) == 0 and count(Problem) == 0 and count(Attachment) == 0
    assert upload_files(app) == []


def test_oversize_file_is_refused(app, cadre):
    big = png_bytes() + b"\x00" * (uploads.DEFAULT_MAX_BYTES + 1)
    values = {"csrf_token": cadre.token, **new_form(cadre), **visit_fields(), "action": "save", **block(0),
              "problems-0-photos": FileStorage(io.BytesIO(big), filename="big.png", content_type="image/png")}
    # Encoded here, in memory: the test client would spool a body this large to a temporary file
    # that it never closes (a ResourceWarning, and warnings are errors).
    boundary, body = encode_multipart(values)
    resp = cadre.client.post("/cases/visits/new", data=body,
                             content_type=f'multipart/form-data; boundary="{boundary}"')
    assert resp.status_code == 200 and "文件“big.png”超过 10 MB" in resp.get_data(as_text=True)
    assert count(Visit) == 0 and count(Attachment) == 0 and upload_files(app) == []


def test_size_cap_boundary(app, cadre):
    app.config["PHOTO_MAX_BYTES"] = 4000
    ok = png_bytes()
    ok += b"\x00" * (4000 - len(ok))
    form = new_form(cadre)
    resp = post(cadre, "/cases/visits/new", data={**form, **visit_fields(), "action": "save", **block(0),
                                                 "problems-0-photos": [(io.BytesIO(ok + b"\x00"), "a.png")]})
    assert resp.status_code == 200 and count(Visit) == 0
    resp = post(cadre, "/cases/visits/new", data={**form, **visit_fields(), "action": "save", **block(0),
                                                 "problems-0-photos": [(io.BytesIO(ok), "a.png")]})
    assert resp.status_code == 302 and count(Attachment) == 1


def test_pdf_and_jpeg_by_content(app, cadre):
    jpeg = io.BytesIO()
    Image.new("RGB", (4, 4)).save(jpeg, format="JPEG")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    data = {**new_form(cadre), **visit_fields(), "action": "save", **block(0),
            "problems-0-photos": [(io.BytesIO(jpeg.getvalue()), "photo.png"), (io.BytesIO(pdf), "证明")]}
    assert post(cadre, "/cases/visits/new", data=data).status_code == 302
    atts = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [(a.mime, a.stored_name.rsplit(".", 1)[1]) for a in atts] == [("image/jpeg", "jpg"), ("application/pdf", "pdf")]


def test_invalid_phone_and_id_number_rerender_with_input(app, cadre):
    data = {**new_form(cadre), **visit_fields(), "action": "save",
            **block(0, resident_phone="1381234567", resident_id_number="320305198503120048", title="路面塌陷")}
    resp = post(cadre, "/cases/visits/new", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "请填写正确的手机号（11位）或带区号的固定电话" in html
    assert "身份证号码不正确" in html
    assert 'value="1381234567"' in html and 'value="320305198503120048"' in html and 'value="路面塌陷"' in html
    assert 'aria-invalid="true"' in html
    assert count(Visit) == 0 and count(Problem) == 0


def test_village_outside_the_group_is_refused(app, cadre):
    data = {**new_form(cadre), **visit_fields(), "action": "save", **block(0, village=str(f.unit("杏窝村").id))}
    resp = post(cadre, "/cases/visits/new", data=data)
    assert resp.status_code == 200 and "只能选择本工作组负责的村（社区）" in resp.get_data(as_text=True)
    assert count(Problem) == 0


def test_future_date_is_refused(app, cadre):
    from datetime import timedelta

    data = {**new_form(cadre), **visit_fields(visited_on=(clock.today() + timedelta(days=1)).isoformat()),
            "action": "save", **block(0)}
    resp = post(cadre, "/cases/visits/new", data=data)
    assert resp.status_code == 200 and "走访日期不能晚于今天" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("raw", "normal"), [
    ("13812345678", "13812345678"), ("+86 138-1234-5678", "13812345678"), ("0516-87012345", "0516-87012345"),
    ("051687012345", "0516-87012345"), ("（0516）87012345", "0516-87012345"), ("010-62345678", "010-62345678"),
    ("12812345678", None), ("1381234567", None), ("87012345", None), ("0516-123", None), ("abc", None),
])
def test_phone_numbers(app, raw, normal):
    from webapp.visits.intake_forms import normalise_phone

    assert normalise_phone(raw) == normal


@pytest.mark.parametrize(("raw", "ok"), [
    (VALID_ID, True), ("11010519491231002x", True), ("11010519491231002X", True),
    ("110105194912310021", False), ("320305198513120047", False), ("32030519850312004", False),
    ("3203051985031200477", False), ("32030519850312004A", False),
])
def test_id_numbers(app, raw, ok):
    from webapp.visits.intake_forms import valid_id_number

    assert (valid_id_number(raw) is not None) is ok


# ---------------------------------------------------------------- idempotency and failure


def test_double_submit_makes_one_visit_and_the_same_problems(app, cadre):
    photo = png_bytes()
    data = {**new_form(cadre), **visit_fields(), "action": "save", **block(0), **block(1, title="第二个")}
    first = post(cadre, "/cases/visits/new", data={**data, "problems-0-photos": [(io.BytesIO(photo), "a.png")]})
    second = post(cadre, "/cases/visits/new", data={**data, "problems-0-photos": [(io.BytesIO(photo), "a.png")]})
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count(Visit) == 1 and count(Problem) == 2 and count(Attachment) == 1
    assert len(upload_files(app)) == 1
    assert "重复提交不会重复登记" in cadre.get(second.headers["Location"]).get_data(as_text=True)


def test_failed_file_write_leaves_nothing(app, cadre, monkeypatch):
    real_store = uploads.store
    calls = []

    def failing_store(checked):
        calls.append(checked.filename)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_store(checked)

    monkeypatch.setattr(uploads, "store", failing_store)
    data = {**new_form(cadre), **visit_fields(), "action": "save", **block(0), **block(1),
            "problems-0-photos": [(io.BytesIO(png_bytes()), "a.png")],
            "problems-1-photos": [(io.BytesIO(png_bytes(color=(1, 2, 3))), "b.png")]}
    resp = post(cadre, "/cases/visits/new", data=data)
    assert resp.status_code == 500 and "照片保存失败" in resp.get_data(as_text=True)
    assert calls == ["a.png", "b.png"]
    assert count(Visit) == 0 and count(Problem) == 0 and count(Attachment) == 0
    assert upload_files(app) == []  # the first file, written, was removed again


# ---------------------------------------------------------------- without JavaScript, with htmx


def test_add_and_remove_blocks_without_js_keep_the_input(app, cadre):
    form = new_form(cadre)
    resp = post(cadre, "/cases/visits/new", data={**form, **visit_fields(), "action": "add",
                                                 **block(0, title="第一个问题")})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'name="problems-1-title"' in html and 'value="第一个问题"' in html
    assert "problems-1-title" in html and "这个问题还没有填写" not in html  # no errors for adding
    assert count(Visit) == 0
    # Remove the first of two blocks: the second takes its place, with its input.
    resp = post(cadre, "/cases/visits/new", data={**form, **visit_fields(), "remove": "0",
                                                 **block(0, title="第一个问题"), **block(1, title="第二个问题")})
    html = resp.get_data(as_text=True)
    assert 'value="第二个问题"' in html and "第一个问题" not in html and "problems-1-title" not in html
    # Blocks drawn with a gap (one removed in the browser) map onto the right block.
    resp = post(cadre, "/cases/visits/new", data={**form, **visit_fields(), "remove": "2",
                                                 **block(0, title="甲"), **block(2, title="丙"), **block(3, title="丁")})
    html = resp.get_data(as_text=True)
    assert 'value="甲"' in html and 'value="丁"' in html and 'value="丙"' not in html


def test_htmx_block_fragment(app, cadre):
    resp = cadre.get("/cases/visits/new/block?i=3", headers=HX)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<html" not in html
    assert 'name="problems-3-title"' in html and "问题 4" in html
    assert 'hx-swap-oob="true"' in html and "/cases/visits/new/block?i=4" in html
    assert cadre.get("/cases/visits/new/block?i=3").status_code == 302  # not htmx: the page
    assert cadre.get("/cases/visits/new/block?i=99", headers=HX).status_code == 400


# ---------------------------------------------------------------- similar problems, co-complainants


def _similar(b, village, title, description=""):
    return b.get("/cases/visits/new/similar", query_string={
        "block": "0", "village": str(f.unit("权台村").id), "problems-0-village": str(f.unit(village).id),
        "problems-0-title": title, "problems-0-description": description}, headers=HX).get_data(as_text=True)


def test_similar_open_problems_same_town_without_resident_data(app, cadre):
    other = cadre2()
    near = f.register(username="cadre2", village="马庄村", title="村东头路灯损坏", resident_name="周某某",
                      phone="13900001111")
    far = f.register(username="cadre2", village="青山泉村", title="村东头路灯损坏")
    ended = f.register(username="cadre2", village="权台村", title="村东头路灯损坏了")
    ops.not_accept(ended, f.user("grouplead"), reason="重复")
    unrelated = f.register(username="cadre2", village="权台村", title="低保申请")
    db.session.commit()
    assert near.registered_by_id == other.id

    html = _similar(cadre, "权台村", "村东头的路灯坏了")
    assert near.number in html and "村东头路灯损坏" in html and "马庄村" in html and "待研判" in html
    assert ended.number not in html and unrelated.number not in html
    assert "周某某" not in html and "13900001111" not in html and "1111" not in html
    assert f"/cases/visits/new/attach/{near.id}" in html
    # Another town's alike problem is named too (a resident who told two groups), after this
    # town's, with its town — but it cannot be joined from here (another group's problem).
    assert far.number in html and "青山泉镇" in html and html.index(near.number) < html.index(far.number)
    assert f"/cases/visits/new/attach/{far.id}" not in html
    # Not similar: nothing but a hint.
    assert near.number not in _similar(cadre, "权台村", "孩子上学费用高")
    # A village outside the cadre's group: nothing at all.
    assert far.number not in _similar(cadre, "青山泉村", "村东头的路灯坏了")
    assert audit_count("problem.similar") == 0


def test_similar_scoring_and_bounds(app):
    from webapp.cases import similar

    assert similar.score("村东头的路灯坏了", "", "村东头路灯损坏", "") >= similar.THRESHOLD
    assert similar.score("水管漏水", "", "自来水管道漏水", "") >= similar.THRESHOLD
    assert similar.score("道路积水", "", "自来水管道漏水", "主管道漏水") < similar.THRESHOLD
    assert similar.score("路灯损坏", "", "医疗费用负担重", "白血病") < 35
    for i in range(7):
        f.register(village="权台村", title=f"路灯损坏{i}")
    found = similar.similar_open_problems(f.unit("权台村"), "路灯损坏")
    assert len(found) == similar.LIMIT == 5
    assert similar.similar_open_problems(f.unit("权台村"), "路") == []  # too short to compare



def test_similar_candidates_are_bounded_to_the_newest(app, monkeypatch):
    from webapp.cases import similar

    old = [f.register(village="权台村", title="路灯损坏") for _ in range(3)]
    new = [f.register(village="马庄村", title="路灯损坏") for _ in range(2)]
    monkeypatch.setattr(similar, "CANDIDATES", 2)
    found = similar.similar_open_problems(f.unit("权台村"), "路灯损坏")
    assert {s.id for s in found} == {p.id for p in new} and not {p.id for p in old} & {s.id for s in found}


def test_attach_resident_to_existing_problem(app, cadre):
    cadre2()
    existing = f.register(username="cadre2", village="马庄村", title="村东头路灯损坏")
    version = existing.version
    form = new_form(cadre)
    data = {**form, **visit_fields(), **block(0, resident_name="吴某", resident_phone="13955556666",
                                              title="村东头的路灯坏了"), **block(1, title="另一个问题"),
            "attach": "0"}
    resp = post(cadre, f"/cases/visits/new/attach/{existing.id}",
                data={**data, "problems-0-photos": [(io.BytesIO(png_bytes()), "x.png")]})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "已将群众 吴某 作为共同反映人并入" in html and existing.number in html
    assert 'value="另一个问题"' in html and 'value="村东头的路灯坏了"' not in html  # the block left the form
    assert 'value="权台村饭店 孙某"' in html  # the visit's input is kept
    events = db.session.scalars(select(ProblemEvent).where(
        ProblemEvent.problem_id == existing.id, ProblemEvent.action == "co_complainant")).all()
    assert [e.note for e in events] == ["吴某（139****6666）"]
    assert count(Problem) == 1 and count(Attachment) == 0 and upload_files(app) == []
    assert audit_count("problem.co_complainant") == 1
    db.session.refresh(existing)
    assert existing.version == version  # no spurious conflict for whoever handles it
    # Sent again: no second entry.
    post(cadre, f"/cases/visits/new/attach/{existing.id}", data=data)
    assert count(ProblemEvent, ProblemEvent.action == "co_complainant") == 1
    # Name and phone are needed first.
    resp = post(cadre, f"/cases/visits/new/attach/{existing.id}",
                      data={**data, **block(0, resident_name="", resident_phone="")})
    assert resp.status_code == 200 and "请先填写他的姓名和联系电话" in resp.get_data(as_text=True)


def test_attach_refuses_other_towns_and_ended_problems(app, cadre):
    cadre2("青山泉镇工作组", "qsq")
    elsewhere = f.register(username="qsq", village="青山泉村", title="路灯损坏")
    ended = f.register(village="权台村", title="路灯损坏")
    ops.not_accept(ended, f.user("grouplead"), reason="不属实")
    db.session.commit()
    data = {**new_form(cadre), **visit_fields(), **block(0), "attach": "0"}
    assert post(cadre, f"/cases/visits/new/attach/{elsewhere.id}", data=data).status_code == 404
    resp = post(cadre, f"/cases/visits/new/attach/{ended.id}", data=data)
    assert resp.status_code == 200 and "该问题已经结束" in resp.get_data(as_text=True)
    assert count(ProblemEvent, ProblemEvent.action == "co_complainant") == 0


# ---------------------------------------------------------------- masked numbers and the audited reveal


def test_numbers_masked_and_reveal_is_audited(app, cadre, login_as):
    data = {**new_form(cadre), **visit_fields(), "action": "save", **block(0, resident_id_number=VALID_ID)}
    post(cadre, "/cases/visits/new", data=data)
    visit = db.session.scalar(select(Visit))
    problem = visit.problems[0]
    page = cadre.get(f"/cases/visits/{visit.id}").get_data(as_text=True)
    assert "138****5678" in page and "320305********0047" in page
    assert "13812345678" not in page and VALID_ID not in page and "显示完整号码" in page

    resp = post(cadre, f"/cases/{problem.id}/reveal", headers=HX)
    frag = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "13812345678" in frag and VALID_ID in frag and "<html" not in frag
    assert audit_count("problem.contact_revealed") == 1
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "problem.contact_revealed"))
    assert ev.username == "cadre" and ev.object_id == str(problem.id)
    # Without JavaScript: a page, with a way back.
    resp = post(cadre, f"/cases/{problem.id}/reveal", data={"next": f"/cases/visits/{visit.id}"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "13812345678" in html and f'href="/cases/visits/{visit.id}"' in html
    assert audit_count("problem.contact_revealed") == 2

    lead = login_as("grouplead")
    lead_page = lead.get(f"/cases/visits/{visit.id}").get_data(as_text=True)
    assert "138****5678" in lead_page and "显示完整号码" not in lead_page
    assert post(lead, f"/cases/{problem.id}/reveal").status_code == 403
    assert post(login_as("leader"), f"/cases/{problem.id}/reveal").status_code == 403
    assert post(login_as("town"), f"/cases/{problem.id}/reveal").status_code == 404  # not assigned yet
    db.session.rollback()
    problem = db.session.get(Problem, problem.id)
    ops.assign_sheet(problem, f.user("grouplead"), lead=f.unit("潘安湖街道"), triage=f.QUICK)
    db.session.commit()
    assert post(login_as("town"), f"/cases/{problem.id}/reveal").status_code == 200
    assert post(login_as("office"), f"/cases/{problem.id}/reveal").status_code == 200
    assert post(login_as("dept"), f"/cases/{problem.id}/reveal").status_code == 404
    assert audit_count("problem.contact_revealed") == 4


# ---------------------------------------------------------------- photo downloads


def test_attachment_download_follows_the_problem_scope(app, cadre, login_as):
    photo = png_bytes()
    data = {**new_form(cadre), **visit_fields(), "action": "save", **block(0),
            "problems-0-photos": [(io.BytesIO(photo), "现场.jpg")]}
    post(cadre, "/cases/visits/new", data=data)
    att = db.session.scalar(select(Attachment))
    url = f"/attachments/{att.id}"

    resp = cadre.client.get(url)
    body = resp.get_data()
    resp.close()
    assert resp.status_code == 200 and body == photo and resp.mimetype == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("inline") and ".png" in disposition  # named after its real type
    assert download(login_as("grouplead"), url).status_code == 200
    assert download(login_as("office"), url).status_code == 200
    town = login_as("town")
    assert download(town, url).status_code == 404  # not assigned to the town yet
    db.session.rollback()  # a fresh snapshot before writing (SQLite: the logins wrote meanwhile)
    problem = db.session.get(Problem, att.problem_id)
    ops.assign_sheet(problem, f.user("grouplead"), lead=f.unit("潘安湖街道"), triage=f.QUICK)
    db.session.commit()
    assert download(town, url).status_code == 200
    assert download(login_as("dept"), url).status_code == 404
    cadre2()
    assert download(login_as("cadre2"), url).status_code == 404
    assert download(login_as("sysadmin"), url).status_code == 403
    assert download(cadre, "/attachments/999999").status_code == 404


# ---------------------------------------------------------------- the visit lists


def test_visits_list_is_scoped(app, cadre, login_as):
    post(cadre, "/cases/visits/new", data={**new_form(cadre), **visit_fields(household_name="甲户"),
                                          "action": "save", **block(0, title="甲户的问题")})
    cadre2()
    other = login_as("cadre2")
    post(other, "/cases/visits/new", data={**new_form(other), **visit_fields(household_name="乙户"),
                                          "action": "visit_only"})
    cadre2("青山泉镇工作组", "qsq")
    qsq = login_as("qsq")
    post(qsq, "/cases/visits/new", data={**new_form(qsq), **visit_fields("青山泉村", household_name="丙户"),
                                        "action": "visit_only"})
    assert count(Visit) == 3

    def listing(b):
        resp = b.get("/cases/visits")
        assert resp.status_code == 200
        html = resp.get_data(as_text=True)
        return {n for n in ("甲户", "乙户", "丙户") if n in html}

    mine = cadre.get("/cases/visits").get_data(as_text=True)
    assert "甲户的问题" in mine and "待研判" in mine
    assert listing(cadre) == {"甲户"}
    assert listing(login_as("grouplead")) == {"甲户", "乙户"}
    assert listing(login_as("office")) == {"甲户", "乙户", "丙户"}
    assert listing(login_as("leader")) == {"甲户", "乙户", "丙户"}
    assert login_as("town").get("/cases/visits").status_code == 403
    v_other = db.session.scalar(select(Visit).where(Visit.household_name == "乙户"))
    assert cadre.get(f"/cases/visits/{v_other.id}").status_code == 404
    assert login_as("grouplead").get(f"/cases/visits/{v_other.id}").status_code == 200


def test_visits_pagination_newest_first(app, cadre):
    from datetime import timedelta

    from webapp.visits.intake_routes import VISITS_PAGE_SIZE

    user = f.user("cadre")
    for i in range(VISITS_PAGE_SIZE + 2):
        visit_ops.record_visit(user, visited_on=clock.today() - timedelta(days=i), village=f.unit("权台村"),
                         household_kind="household", household_name=f"第{i:02d}户", visitors="王晓东",
                         situation="", demands="", client_token=None)
    db.session.commit()
    first = cadre.get("/cases/visits").get_data(as_text=True)
    assert first.index("第00户") < first.index("第01户") and "第21户" not in first and "第 1 / 2 页" in first
    second = cadre.get("/cases/visits?page=2").get_data(as_text=True)
    assert "第21户" in second and "第00户" not in second


def test_visit_from_my_households_is_tied_to_the_household(cadre):
    from tests.visits import factories as vf

    h = vf.household("T-1", head="包联户主")
    db.session.commit()
    page = cadre.get(f"/cases/visits/new?household={h.id}").get_data(as_text=True)
    assert 'value="包联户主"' in page and f'name="household" type="hidden" value="{h.id}"' in page
    token = re.search(r'name="token" type="hidden" value="([0-9a-f]+)"', page).group(1)
    # Another village than the household's is refused with a message, nothing saved.
    resp = post(cadre, "/cases/visits/new", data={"token": token, **visit_fields(village="马庄村"),
                                                   "household": h.id, "action": "visit_only"})
    assert resp.status_code == 200 and "所选的户不在这个村" in resp.get_data(as_text=True)
    assert count(Visit) == 0
    resp = post(cadre, "/cases/visits/new", data={"token": token, **visit_fields(household_name="包联户主"),
                                                   "household": h.id, "action": "visit_only"})
    assert resp.status_code == 302
    (v,) = db.session.scalars(select(Visit)).all()
    assert v.household_id == h.id and v.unregistered_reason == ""


def test_village_visit_with_a_reason_stays_off_the_unlinked_list(cadre, login_as):
    form = new_form(cadre)
    resp = post(cadre, "/cases/visits/new", data={**form, **visit_fields(household_name="村民座谈会"),
                                                   "unregistered_reason": "集中座谈", "action": "visit_only"})
    assert resp.status_code == 302
    (v,) = db.session.scalars(select(Visit)).all()
    assert v.household_id is None and v.unregistered_reason == "集中座谈"
    assert "村民座谈会" not in login_as("office").get("/visits/unlinked").get_data(as_text=True)


def test_my_visits_lists_only_the_cadres_own(app, cadre, login_as):
    mine = post(cadre, "/cases/visits/new", data={**new_form(cadre), **visit_fields(household_name="甲户 本人登记"),
                                                   "action": "visit_only"})
    assert mine.status_code == 302
    cadre2()
    other = login_as("cadre2")
    resp = post(other, "/cases/visits/new", data={**new_form(other), **visit_fields(household_name="乙户 他人登记"),
                                                  "action": "visit_only"})
    assert resp.status_code == 302
    page = cadre.get("/cases/visits").get_data(as_text=True)
    assert "我的走访" in page and "甲户 本人登记" in page and "乙户 他人登记" not in page
    page = other.get("/cases/visits").get_data(as_text=True)
    assert "乙户 他人登记" in page and "甲户 本人登记" not in page
    # The group lead reads the group's visits under its own heading.
    page = login_as("grouplead").get("/cases/visits").get_data(as_text=True)
    assert "本组走访" in page and "甲户 本人登记" in page and "乙户 他人登记" in page
