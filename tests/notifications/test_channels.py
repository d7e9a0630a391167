"""The outbound channels against real local servers: SMS gateway and group robots over HTTP,
e-mail over SMTP; retries without duplicates, failures and resend, quiet hours, rate limits."""

import datetime as dt
import email

import pytest
import time_machine
from sqlalchemy import select

from tests.notifications.servers import http_server, smtp_server
from webapp.accounts.models import User
from webapp.core import clock
from webapp.core.extensions import db
from webapp.notifications import delivery
from webapp.notifications.channels import SendError
from webapp.notifications.emit import notify
from webapp.notifications.models import Contact, Delivery, DeliveryStatus, Preference, UnitRobot


def _town():
    return db.session.scalar(select(User).where(User.username == "town"))


def _delivery(nid, channel):
    return db.session.scalar(select(Delivery).where(Delivery.notification_id == nid, Delivery.channel == channel))


def _daytime():
    return time_machine.travel(dt.datetime(2026, 11, 10, 10, 0, tzinfo=clock.LOCAL_TZ), tick=True)


@pytest.fixture
def gateway(app):
    with http_server() as rec:
        app.config.update(SMS_GATEWAY_URL=rec.url + "/sms", SMS_GATEWAY_KEY="k-123",
                          SMS_TEMPLATE_IDS="remind:T_REMIND,default:T_ANY")
        town = _town()
        town.phone = "13812345678"
        db.session.commit()
        yield rec


def test_sms_goes_through_the_gateway_on_the_queue(app, gateway):
    with _daytime():
        nid = notify([_town().id], "remind", "催办：甲", "请抓紧办理")[0]
        db.session.commit()  # the queue (immediate in tests) sends after the commit
    d = _delivery(nid, "sms")
    assert d.status == DeliveryStatus.sent and d.attempts == 1
    [req] = gateway.requests
    assert req["json"]["phone"] == "13812345678" and req["json"]["template_id"] == "T_REMIND"
    assert req["json"]["out_id"] == f"{nid}:sms" == req["headers"]["Idempotency-Key"]
    assert req["headers"]["Authorization"] == "Bearer k-123"


def test_a_retry_after_a_failure_sends_once_and_never_again(app, gateway):
    with _daytime():
        gateway.answers = [(500, {"message": "busy"})]
        nid = notify([_town().id], "remind", "催办：乙")[0]
        db.session.commit()  # the first attempt fails; the queue will try again later
        d = _delivery(nid, "sms")
        assert d.status == DeliveryStatus.queued and d.attempts == 1 and "500" in d.last_error
        assert delivery.send(d.id, last_attempt=False) == "sent"  # the queue's retry
        assert delivery.send(d.id, last_attempt=True) == "skipped"  # a late duplicate: nothing more
        db.session.refresh(d)
        assert d.status == DeliveryStatus.sent and d.attempts == 2
    assert [r["json"]["out_id"] for r in gateway.requests] == [f"{nid}:sms"] * 2


def test_a_failed_attempt_raises_for_the_queue_to_retry(app, gateway):
    with _daytime():
        gateway.default = (503, {"message": "down"})
        nid = notify([_town().id], "remind", "催办：辛")[0]
        db.session.commit()
        d = _delivery(nid, "sms")
        with pytest.raises(SendError):
            delivery.send(d.id, last_attempt=False)
        assert delivery.send(d.id, last_attempt=True) == "failed"
        db.session.refresh(d)
        assert d.status == DeliveryStatus.failed and d.attempts == 3


def test_last_failure_is_listed_for_the_office_who_resends(app, gateway, login_as):
    with _daytime():
        gateway.answers = [(200, {"code": "40001", "message": "bad template"})]
        nid = notify([_town().id], "remind", "催办：丙")[0]
        db.session.commit()
        d = _delivery(nid, "sms")
        assert d.status == DeliveryStatus.failed and "40001" in d.last_error
        office = login_as("office")
        page = office.get("/notifications/outbox?tab=failed").get_data(as_text=True)
        assert "催办：丙" in page and f"/notifications/deliveries/{d.id}/resend" in page
        assert office.post(f"/notifications/deliveries/{d.id}/resend").status_code == 302
        db.session.refresh(d)
        assert d.status == DeliveryStatus.sent
        # A second resend of a sent delivery is refused, nothing is sent again.
        n = len(gateway.requests)
        office.post(f"/notifications/deliveries/{d.id}/resend")
        assert len(gateway.requests) == n


def test_quiet_hours_hold_sms_until_seven_unless_urgent(app, gateway):
    night = dt.datetime(2026, 11, 10, 23, 30, tzinfo=clock.LOCAL_TZ)
    with time_machine.travel(night, tick=False):
        calm = notify([_town().id], "remind", "催办：夜间")[0]
        urgent = notify([_town().id], "remind", "紧急：夜间", urgent=True)[0]
        db.session.commit()
        held, sent = _delivery(calm, "sms"), _delivery(urgent, "sms")
        assert sent.status == DeliveryStatus.sent
        assert held.status == DeliveryStatus.held
        assert clock.local(held.not_before) == dt.datetime(2026, 11, 11, 7, 0, tzinfo=clock.LOCAL_TZ)
        assert delivery.release_held() == []  # not yet
    with time_machine.travel(dt.datetime(2026, 11, 11, 7, 1, tzinfo=clock.LOCAL_TZ), tick=False):
        from webapp.notifications.tasks import release_held

        assert release_held() == 1
        db.session.refresh(held)
        assert held.status == DeliveryStatus.sent
    assert [r["json"]["params"]["title"] for r in gateway.requests] == ["紧急：夜间", "催办：夜间"]


def test_rate_limit_per_channel_holds_the_excess(app, gateway):
    app.config["NOTIFY_RATE_LIMITS"] = "sms=2"
    with _daytime():
        ids = [notify([_town().id], "remind", f"催办：{i}")[0] for i in range(3)]
        db.session.commit()
        statuses = [_delivery(i, "sms").status for i in ids]
    assert statuses == [DeliveryStatus.sent, DeliveryStatus.sent, DeliveryStatus.held]
    assert len(gateway.requests) == 2


@pytest.mark.parametrize("channel", ["wecom", "dingtalk"])
def test_group_robot_posts_once_per_unit(app, channel):
    town = _town()
    with http_server() as robot, _daytime():
        db.session.add(UnitRobot(unit_id=town.unit_id, channel=channel, webhook_url=robot.url + "/hook"))
        db.session.add(Preference(user_id=town.id, kind="assigned", channels=[channel]))
        db.session.commit()
        nid = notify([town.id], "assigned", "新交办：戊", "请签收")[0]
        db.session.commit()
        assert _delivery(nid, channel).status == DeliveryStatus.sent
        [req] = robot.requests
        assert req["json"]["msgtype"] == "markdown"
        text = req["json"]["markdown"]["content" if channel == "wecom" else "text"]
        assert "新交办：戊" in text
        # The robot refuses (errcode ≠ 0): the attempt fails.
        robot.answers = [(200, {"errcode": 93000, "errmsg": "invalid webhook"})]
        nid = notify([town.id], "assigned", "新交办：己")[0]
        db.session.commit()
        d = _delivery(nid, channel)
        assert d.status == DeliveryStatus.failed and "93000" in d.last_error


def test_email_through_a_real_smtp_server(app):
    town = _town()
    with smtp_server() as inbox, _daytime():
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=inbox.port, SMTP_FROM="huiyin@jiawang.example")
        db.session.add(Contact(user_id=town.id, email="town@jiawang.example"))
        db.session.add(Preference(user_id=town.id, kind="bulletin", channels=["email"]))
        db.session.commit()
        nid = notify([town.id], "bulletin", "通报：庚问题", "超期 5 个工作日")[0]
        db.session.commit()
        assert _delivery(nid, "email").status == DeliveryStatus.sent
        [env] = inbox.messages
        assert env.rcpt_tos == ["town@jiawang.example"]
        msg = email.message_from_bytes(env.content, policy=email.policy.default)
        assert msg["Subject"] == "通报：庚问题"
        assert msg["Message-ID"] == f"<{nid}.email@jiawang.example>"
        assert "超期 5 个工作日" in msg.get_content()
