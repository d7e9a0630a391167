"""The Open311 API and its key pages.

The API's endpoints pass the role gate for everyone (``@public``): a key, not a login, decides
(tests/api check keys, scopes and revocation). Every rule here calls them with a valid key.
The key pages are the system administrator's alone (三员分立: not the security or audit admin).
"""

from . import EVERYONE, Rule
from .objects import LAZY

SYSADMIN = {"sysadmin"}
BASE = "/open311/v2"


def _key():
    from tests.api.factories import make_key

    return make_key(name="矩阵12345平台")


LAZY.update({"api_key": _key})


def _with_key(path: str):
    return lambda o: f"{BASE}{path}{'&' if '?' in path else '?'}api_key={o.api_key.key}"


def _order(o) -> dict:
    from tests.api.factories import order_data

    return {**order_data("GD-MATRIX-1"), "api_key": o.api_key.key}


def _request_path(fmt: str):
    def path(o):
        from tests.api.factories import post_order

        resp = post_order(o.api_client_app.test_client(), o.api_key.key, work_order_no="GD-MATRIX-2")
        sid = resp.get_json()[0]["service_request_id"]
        return f"{BASE}/requests/{sid}.{fmt}?api_key={o.api_key.key}"
    return path


def _token_path(o) -> str:
    _request_path("json")(o)  # makes the work order GD-MATRIX-2
    return f"{BASE}/tokens/GD-MATRIX-2.xml?api_key={o.api_key.key}"


def _app():
    from flask import current_app

    return current_app._get_current_object()


LAZY.update({"api_client_app": _app})


def _category_code() -> str:
    from tests.cases import factories as f

    return str(f.category("民生保障").id)


RULES = [
    Rule("api_keys.index", "/admin/api-keys/", SYSADMIN),
    Rule("api_keys.new", "/admin/api-keys/new", SYSADMIN),
    Rule("api_keys.new", "/admin/api-keys/new", SYSADMIN, method="POST", note="post",
         data={"name": "矩阵新系统", "scopes": "read"}),
    Rule("api_keys.revoke", lambda o: f"/admin/api-keys/{o.api_key.client.id}/revoke", SYSADMIN, method="POST",
         data=lambda o: {"version": str(o.api_key.client.version)}),
    Rule("open311.discovery", f"{BASE}/discovery.json", EVERYONE, public=True),
    Rule("open311.discovery", f"{BASE}/discovery", EVERYONE, public=True, note="bare"),
    Rule("open311.openapi", f"{BASE}/openapi.json", EVERYONE, public=True),
    Rule("open311.services", _with_key("/services.xml"), EVERYONE, public=True),
    Rule("open311.service_definition", lambda o: _with_key(f"/services/{_category_code()}.json")(o),
         EVERYONE, public=True),
    Rule("open311.list_requests", _with_key("/requests.json?status=open"), EVERYONE, public=True),
    Rule("open311.create_request", f"{BASE}/requests.json", EVERYONE, method="POST", data=_order, public=True),
    Rule("open311.get_request", _request_path("json"), EVERYONE, public=True),
    Rule("open311.get_token", _token_path, EVERYONE, public=True),
]
