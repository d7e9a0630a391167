"""The public receipt lookup (回执查询): what a resident sees with the receipt number and the last
four digits of their phone — and what they never see; the same answer for every miss; the rate
limit kept in the database."""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.triage_pages import count, text
from tests.conftest import Browser
from tests.handling import factories as hf
from webapp.cases import operations as ops
from webapp.core import clock
from webapp.core.extensions import db
from webapp.handling import operations as h
from webapp.handling.models import Verdict
from webapp.receipt.models import LookupAttempt


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(MON, tick=False) as traveller:
        yield traveller


def resident(app) -> Browser:
    """An anonymous visitor with the page's CSRF token, from one address."""
    b = Browser(app.test_client())
    assert b.get("/receipt").status_code == 200
    return b


def lookup(b, receipt_no, last4, **kw):
    return b.post("/receipt", {"receipt_no": receipt_no, "phone_last4": last4}, **kw)


def main_of(resp) -> str:
    page = text(resp)
    return page[page.index("<main"):page.index("</main>")]


def test_found_shows_status_dates_and_replies_and_nothing_internal(app):
    p = hf.signed_off(resident_name="孙秀英", phone="13912345678")
    h.add_note(p, f.user("town"), text="内部备注：找王科长协调")
    db.session.commit()
    hf.reply(p, Verdict.satisfied)
    b = resident(app)
    # Case-insensitive, spaces ignored.
    spaced = " ".join([p.receipt_no[:5].lower(), p.receipt_no[5:]])
    resp = lookup(b, spaced, "5678")
    assert resp.status_code == 200
    page = main_of(resp)
    assert '<p class="receipt-status">已办结</p>' in page
    assert "已向群众说明办理结果。" in page  # the reply's content
    assert "登记日期" in page and clock.today().isoformat() in page
    assert "办结日期" in page
    for secret in ("孙秀英", "13912345678", "139****5678", "5678", "潘安湖街道", "工作组", "区活动办",
                   "内部备注", "王科长", "经核实，问题已解决。", "已维修完毕", "权台村", p.title, p.number,
                   f.user("cadre").full_name, f.user("town").full_name):
        assert secret not in page, secret
    assert count(LookupAttempt, LookupAttempt.found.is_(True)) == 1


def test_status_in_words_for_each_stage(app):
    handling = hf.in_progress(phone="13800001111")
    fresh = f.register(phone="13800002222")
    declined = f.register(phone="13800003333")
    ops.not_accept(declined, f.user("grouplead"), reason="属于民事纠纷，内部意见")
    db.session.commit()
    b = resident(app)
    assert '<p class="receipt-status">办理中</p>' in main_of(lookup(b, handling.receipt_no, "1111"))
    assert '<p class="receipt-status">已受理</p>' in main_of(lookup(b, fresh.receipt_no, "2222"))
    page = main_of(lookup(b, declined.receipt_no, "3333"))
    assert '<p class="receipt-status">不予受理</p>' in page
    assert "办结日期" in page  # the day it ended
    assert "内部意见" not in page  # the reason is the office's text; the resident hears it in the reply


def test_wrong_number_and_wrong_phone_get_the_same_answer(app):
    p = f.register(phone="13812349876")
    b = resident(app)
    wrong_number = lookup(b, "ZZZZZZZZZZ", "9876")
    wrong_phone = lookup(b, p.receipt_no, "1111")
    assert wrong_number.status_code == wrong_phone.status_code == 200
    assert wrong_number.get_data() == wrong_phone.get_data()
    assert "未查到相关信息，请核对回执号和手机号后四位。" in text(wrong_number)
    assert p.receipt_no not in text(wrong_phone)  # nothing typed is echoed back
    assert count(LookupAttempt, LookupAttempt.found.is_(False)) == 2


def test_malformed_input_is_a_field_error_and_not_counted(app):
    b = resident(app)
    resp = lookup(b, "ABC", "12a4")
    assert resp.status_code == 200
    page = text(resp)
    assert "回执号为 10 位字母和数字" in page and "请输入 4 位数字。" in page
    assert count(LookupAttempt) == 0


def test_the_eleventh_attempt_in_ten_minutes_is_refused(app, frozen):
    p = f.register(phone="13812340000")
    b = resident(app)
    for _ in range(10):
        assert lookup(b, "ZZZZZZZZZZ", "0000").status_code == 200
    refused = lookup(b, p.receipt_no, "0000")  # even the right answer
    assert refused.status_code == 429
    assert "查询次数过多" in text(refused) and "receipt-status" not in text(refused)
    assert count(LookupAttempt) == 10
    # Another address is not affected; this one may try again once the window has passed.
    other = lookup(b, p.receipt_no, "0000", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200 and "receipt-status" in text(other)
    frozen.shift(timedelta(minutes=10, seconds=1))
    assert lookup(b, p.receipt_no, "0000").status_code == 200
    # Old rows of this address are pruned as it goes.
    assert count(LookupAttempt, LookupAttempt.client == "127.0.0.1") == 1


def test_limit_and_window_come_from_the_app_config(app):
    app.config.update(RECEIPT_LOOKUP_LIMIT=2, RECEIPT_LOOKUP_WINDOW_SECONDS=60)
    b = resident(app)
    assert [lookup(b, "ZZZZZZZZZZ", "0000").status_code for _ in range(3)] == [200, 200, 429]


def test_anonymous_and_logged_in_alike_and_csrf_is_required(app, login_as):
    p = f.register(phone="13812345555")
    anon = Browser(app.test_client())
    page = text(anon.get("/receipt"))
    assert 'name="csrf_token"' in page and "<nav aria-label" not in page  # no app menu for a resident
    assert anon.client.post("/receipt", data={"receipt_no": p.receipt_no, "phone_last4": "5555"}).status_code == 400
    assert "receipt-status" in text(lookup(anon, p.receipt_no, "5555"))
    cadre = login_as("cadre")
    cadre.get("/receipt")
    assert "receipt-status" in text(lookup(cadre, p.receipt_no, "5555"))


def test_old_attempts_of_every_client_are_pruned_now_and_then(app, frozen):
    from webapp.receipt import routes as receipt

    for i in range(receipt.PRUNE_EVERY - 1):
        db.session.add(LookupAttempt(client=f"10.1.0.{i}", created_at=clock.now(), found=False))
    db.session.commit()
    frozen.shift(timedelta(hours=1))
    b = resident(app)
    lookup(b, "ZZZZZZZZZZ", "0000")  # the 50th row: everyone's old rows go
    db.session.rollback()
    assert db.session.scalars(select(LookupAttempt.client)).all() == ["127.0.0.1"]


def test_progress_for_the_resident_shows_and_internal_words_do_not(app):
    p = hf.in_progress(phone="13912345678")
    h.record_progress(p, f.user("town"), text="已联系施工队，本周五前修好路灯。", public=True)
    h.record_progress(p, f.user("town"), text="内部：经费由街道垫付。", public=False)
    h.add_note(p, f.user("town"), text="内部备注：找王科长协调")
    db.session.commit()
    page = main_of(lookup(resident(app), p.receipt_no, "5678"))
    assert "办理进展" in page and "已联系施工队，本周五前修好路灯。" in page
    for secret in ("经费由街道垫付", "王科长", "核实情况，协调资金"):
        assert secret not in page, secret
    # Signed off with the verifier's internal opinion: the resident never reads it.
    q = hf.signed_off(phone="13912345678")
    page = main_of(lookup(resident(app), q.receipt_no, "5678"))
    assert "经核实，问题已解决。" not in page and "办理进展" not in page
