"""Keys and work orders for the API tests, made through the real operations."""

import json
import xml.etree.ElementTree as ET  # noqa: S405 - parsing the app's own answers in tests

from tests.cases import factories as f
from webapp.api.keys import create_client
from webapp.core.extensions import db

BASE = "/open311/v2"


def mid_window():
    """The clock stopped 30 s into a minute: a test's calls all fall into one rate window."""
    from datetime import datetime

    import time_machine

    from webapp.core import clock

    return time_machine.travel(datetime(2026, 3, 2, 10, 0, 30, tzinfo=clock.LOCAL_TZ), tick=False)


def make_key(name="12345平台", scopes=("create", "read"), webhook_url=None):
    made = create_client(name=name, scopes=scopes, webhook_url=webhook_url, actor=None)
    db.session.commit()
    return made


def order_data(work_order_no="GD20261207001", **overrides):
    data = {
        "service_code": str(f.category("民生保障").id),
        "work_order_no": work_order_no,
        "attribute[village]": str(f.unit("权台村").id),
        "address_string": "权台村三组12号",
        "description": "村口路灯坏了一个多月，晚上出行不便。",
        "last_name": "王",
        "first_name": "秀兰",
        "phone": "13912345678",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def post_order(client, key, fmt="json", **overrides):
    return client.post(f"{BASE}/requests.{fmt}", data=order_data(**overrides), headers={"X-Api-Key": key})


def get(client, path, key=None, **kw):
    headers = {"X-Api-Key": key} if key else {}
    return client.get(f"{BASE}{path}", headers=headers, **kw)


def body(resp):
    return json.loads(resp.get_data(as_text=True))


def xml(resp):
    return ET.fromstring(resp.get_data())  # noqa: S314 - the app's own answer
