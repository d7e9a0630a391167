"""The office's attention-mark list (关注标记) as the office uses it: add, rename, reorder,
deactivate, reactivate, delete an unused one; the registers' filter and household form read
the active list; a mark households carry is refused deletion; stale forms and double submits."""

import pytest
from sqlalchemy import func, select

from tests.settings.test_pages import audits, form_inputs, text
from tests.visits import factories as vf
from webapp.core.extensions import db
from webapp.visits.models import AttentionMark, Household


@pytest.fixture()
def office(login_as):
    return login_as("office")


def _mark(name: str) -> AttentionMark | None:
    db.session.rollback()
    return db.session.scalar(select(AttentionMark).where(AttentionMark.name == name))


def filter_options(b) -> list[str]:
    page = text(b.get("/visits/households"))
    block = page.split('<select id="mark" name="mark">')[1].split("</select>")[0]
    return [o.split(">", 1)[1].split("<", 1)[0] for o in block.split("<option")[1:]]


def test_add_rename_deactivate_reactivate_reach_the_register(app, office, login_as):
    page = text(office.get("/settings/marks/"))
    assert "低保" in page and "留守儿童" in page  # the defaults the migration seeds
    resp = office.post("/settings/marks/new", data=form_inputs(page, "/settings/marks/new")
                       | {"name": " 困境 儿童 ", "sort_order": "1"})
    assert resp.status_code == 302
    m = _mark("困境 儿童")
    assert m is not None and m.is_active and m.sort_order == 1
    cadre = login_as("cadre")
    assert filter_options(cadre)[1:4] == ["低保", "五保", "困境 儿童"]  # by order, then age
    [created] = audits("attention_mark.create")
    assert created.object_id == str(m.id)

    page = text(office.get("/settings/marks/"))
    edit = form_inputs(page, f"/settings/marks/{m.id}/edit")
    assert edit["name"] == "困境 儿童" and edit["version"]
    assert office.post(f"/settings/marks/{m.id}/edit",
                       data=edit | {"name": "困境儿童", "sort_order": "999"}).status_code == 302
    options = filter_options(cadre)
    assert options[-1] == "困境儿童" and "困境 儿童" not in options
    [updated] = audits("attention_mark.update")
    assert '"before": {"name": "困境 儿童", "sort_order": 1}' in updated.detail

    # A household carries it; deactivated, it leaves the filter and the form, stays on the household.
    h = vf.household("M-1", head="王五", marks=[db.session.get(AttentionMark, m.id)])
    db.session.commit()
    page = text(office.get("/settings/marks/"))
    assert f'/settings/marks/{m.id}/delete' not in page  # in use: no delete button
    resp = office.post(f"/settings/marks/{m.id}/deactivate", data=form_inputs(page, f"/settings/marks/{m.id}/deactivate"))
    assert resp.status_code == 302 and not _mark("困境儿童").is_active
    assert "困境儿童" not in filter_options(cadre)
    assert "已停用" in text(office.get("/settings/marks/"))  # (the flash read)
    assert "困境儿童" not in text(office.get("/visits/households/new"))
    # Editing the household keeps the deactivated mark it carries (offered, ticked, marked as such).
    form_page = text(office.get(f"/visits/households/{h.id}/edit"))
    assert "困境儿童（已停用）" in form_page
    hh = db.session.get(Household, h.id)
    data = {"version": hh.version, "village": hh.village_id, "number": "M-1", "head_name": "王五改",
            "members": "2", "cadre": hh.cadre_id, "marks": [str(m.id)]}
    assert office.post(f"/visits/households/{h.id}/edit", data=data).status_code == 302
    db.session.rollback()
    hh = db.session.get(Household, h.id)
    assert hh.head_name == "王五改" and [x.name for x in hh.marks] == ["困境儿童"]
    assert "困境儿童" in text(office.get(f"/visits/households/{h.id}"))

    page = text(office.get("/settings/marks/"))
    assert "已停用的标记" in page
    assert office.post(f"/settings/marks/{m.id}/reactivate",
                       data=form_inputs(page, f"/settings/marks/{m.id}/reactivate")).status_code == 302
    assert "困境儿童" in filter_options(cadre)
    assert len(audits("attention_mark.deactivate")) == 1 and len(audits("attention_mark.reactivate")) == 1


def test_only_an_unused_mark_can_be_deleted(app, office):
    page = text(office.get("/settings/marks/"))
    office.post("/settings/marks/new", data=form_inputs(page, "/settings/marks/new") | {"name": "临时"})
    used, unused = _mark("低保"), _mark("临时")
    vf.household("D-1", marks=[used])
    db.session.commit()
    page = text(office.get("/settings/marks/"))
    # A form drawn for the used mark (e.g. before a household got it) is refused, nothing deleted.
    stale = form_inputs(page, f"/settings/marks/{used.id}/deactivate")
    resp = office.post(f"/settings/marks/{used.id}/delete", data=stale)
    assert resp.status_code == 409 and "不能删除，只能停用" in text(resp)
    assert _mark("低保") is not None and audits("attention_mark.delete") == []

    uid = unused.id
    data = form_inputs(page, f"/settings/marks/{uid}/delete")
    assert office.post(f"/settings/marks/{uid}/delete", data=data).status_code == 302
    assert _mark("临时") is None
    [deleted] = audits("attention_mark.delete")
    assert '"name": "临时"' in deleted.detail
    assert office.post(f"/settings/marks/{uid}/delete", data=data).status_code == 302  # sent twice
    assert len(audits("attention_mark.delete")) == 1


def test_names_checked_with_input_kept_double_submit_and_stale(app, office, login_as):
    page = text(office.get("/settings/marks/"))
    new = form_inputs(page, "/settings/marks/new")
    resp = office.post("/settings/marks/new", data=new | {"name": "五保"})
    assert resp.status_code == 200 and "已有名为“五保”的标记。" in text(resp)
    resp = office.post("/settings/marks/new", data=new | {"name": "长" * 17})
    assert resp.status_code == 200 and "标记名称最多 16 个字。" in text(resp) and "长" * 17 in text(resp)
    resp = office.post("/settings/marks/new", data=new | {"name": " ", "sort_order": "x"})
    assert "请填写标记名称。" in text(resp) and "请输入整数。" in text(resp)

    assert office.post("/settings/marks/new", data=new | {"name": "失独"}).status_code == 302
    assert office.post("/settings/marks/new", data=new | {"name": "失独"}).status_code == 302  # sent twice
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AttentionMark)
                             .where(AttentionMark.name == "失独")) == 1
    assert len(audits("attention_mark.create")) == 1

    m = _mark("重病")
    mine = form_inputs(page, f"/settings/marks/{m.id}/edit")
    other = login_as("office")
    theirs = form_inputs(text(other.get("/settings/marks/")), f"/settings/marks/{m.id}/edit")
    assert other.post(f"/settings/marks/{m.id}/edit", data=theirs | {"name": "大病"}).status_code == 302
    resp = office.post(f"/settings/marks/{m.id}/edit", data=mine | {"name": "重病户"})
    assert resp.status_code == 409 and "现在的名称是“大病”" in text(resp) and 'value="重病户"' in text(resp)
    resp = office.post(f"/settings/marks/{m.id}/deactivate", data=form_inputs(page, f"/settings/marks/{m.id}/deactivate"))
    assert resp.status_code == 409 and _mark("大病").is_active
    assert len(audits("attention_mark.update")) == 1
