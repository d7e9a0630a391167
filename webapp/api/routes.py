"""The Open311 GeoReport v2 endpoints under ``/open311/v2`` (``.json`` or ``.xml``; bare: JSON).

Every call but discovery and the OpenAPI document carries a key (header ``X-Api-Key``, or the
spec's ``api_key`` parameter): reading services needs any valid key, reading requests the
``read`` scope, creating one the ``create`` scope. Each call is counted against the key's rate
limit and audited; errors are the spec's list of ``{code, description}`` with the HTTP status.
The blueprint is exempt from CSRF (no cookie session: the key authenticates).
"""

import functools
import math
import re
from datetime import datetime, timedelta

from flask import Blueprint, current_app, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import InternalServerError

from ..core import audit, clock
from ..core.db import writing
from ..core.errors import Invalid
from ..core.extensions import csrf, db
from ..core.gates import public
from ..visits.intake_forms import normalise_phone
from . import formats, queries
from .keys import authenticate, url_error
from .models import ApiClient, Scope
from .openapi import document
from .operations import WorkOrderInput, find_work_order, receive_work_order
from .ratelimit import count_call, count_refusal

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
csrf.exempt(bp)

FMT = "<any(json,xml):fmt>"
WORK_ORDER_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# Characters XML 1.0 cannot carry (and no one types): dropped from what callers send.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_DESCRIPTION = 4000


class ApiError(Exception):
    """An answer in the spec's error format: HTTP ``status`` and one or more descriptions."""

    def __init__(self, status: int, *descriptions):
        super().__init__(*descriptions)
        self.status = status
        self.descriptions = [str(d) for d in descriptions]


def _key() -> str | None:
    return request.headers.get("X-Api-Key") or request.values.get("api_key") or None


def _audit_call(client: ApiClient | None, status: int, detail: dict | None = None) -> None:
    audit.record("api.call", obj=client, object_type="api_client", result="success" if status < 400 else "failure",
                 detail={"client": client.name if client else None, "method": request.method,
                         "path": request.path, "status": status, **(detail or {})})


def endpoint(scope: Scope | None, *, key: bool = True):
    """The API's view wrapper: key, scope, rate limit, the answer, and the audit entry."""
    def decorate(view):
        @functools.wraps(view)
        def run(fmt: str = formats.JSON, **kwargs):
            with writing():
                return _run(view, scope, key, fmt, kwargs)
        return public(run)
    return decorate


def _run(view, scope, key_required, fmt, kwargs):
    client = None
    verdict = None
    try:
        if key_required:
            client = authenticate(_key())
            if client is None:
                refused = count_refusal(request.remote_addr or "unknown")
                db.session.commit()
                if not refused.allowed:  # answered, but no longer audited one by one
                    response = formats.errors(fmt, 429, _("无效调用过多，请稍后再试。"))
                    response.headers["Retry-After"] = str(refused.retry_after)
                    return response
                raise ApiError(403, _("api_key 无效或已停用，无法继续。"))
            if scope is not None and scope not in client.scope_set:
                raise ApiError(403, _("该 api_key 没有“%(scope)s”权限。", scope=scope.value))
            verdict = count_call(client)
            db.session.execute(update(ApiClient).where(ApiClient.id == client.id)
                               .values(last_used_at=clock.now()).execution_options(synchronize_session=False))
            db.session.commit()  # the call counts even if what follows fails
            if not verdict.allowed:
                raise ApiError(429, _("调用过于频繁：每 %(s)s 秒最多 %(n)s 次，请 %(r)s 秒后再试。",
                                      s=current_app.config.get("API_RATE_WINDOW_SECONDS", 60),
                                      n=verdict.limit, r=verdict.retry_after))
        status, root, value, detail = view(client, fmt, **kwargs)
        _audit_call(client, status, detail)
        db.session.commit()
        response = formats.respond(fmt, root, value, status)
    except ApiError as exc:
        db.session.rollback()
        if client is not None:
            client = db.session.get(ApiClient, client.id)
        _audit_call(client, exc.status, {"error": exc.descriptions[0][:200]})
        db.session.commit()
        response = formats.errors(fmt, exc.status, *exc.descriptions)
        if exc.status == 429 and verdict is not None:
            response.headers["Retry-After"] = str(verdict.retry_after)
    if verdict is not None:
        response.headers["X-RateLimit-Limit"] = str(verdict.limit)
        response.headers["X-RateLimit-Remaining"] = str(verdict.remaining)
    return response


def route(rule: str, **options):
    """``rule.json``, ``rule.xml`` and bare ``rule`` (JSON) for one view."""
    def decorate(view):
        bp.add_url_rule(f"{rule}.{FMT}", view_func=view, **options)
        bp.add_url_rule(rule, view_func=view, **options)
        return view
    return decorate


# ---------------------------------------------------------------- discovery and the document


@route("/discovery")
@endpoint(None, key=False)
def discovery(_client, fmt):
    """Service discovery: where the endpoint is and which formats it speaks."""
    value = {
        "changeset": "2026-12-07T00:00:00+08:00",
        "contact": "贾汪区活动办（区12345平台大走访专席）",
        "key_service": "向区活动办系统管理员申请接口密钥",
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": url_for("open311.discovery", _external=True).removesuffix("/discovery"),
            "changeset": "2026-12-07T00:00:00+08:00",
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    }
    return 200, "discovery", value, None


@bp.get("/openapi.json")
@endpoint(None, key=False)
def openapi(_client, fmt):
    """The OpenAPI 3 description of these endpoints."""
    return 200, "openapi", document(url_for("open311.discovery", _external=True).removesuffix("/discovery")), None


# ---------------------------------------------------------------- services


@route("/services")
@endpoint(None)
def services(_client, fmt):
    """The problem categories, as GeoReport services."""
    return 200, "services", queries.services(), None


@route("/services/<code>")
@endpoint(None)
def service_definition(_client, fmt, code: str):
    """One service's attributes (the village, an optional title)."""
    category = queries.category(code)
    if category is None:
        raise ApiError(404, _("service_code %(code)s 不存在。", code=code[:20]))
    return 200, "service_definition", queries.definition(category), {"service_code": code[:20]}


# ---------------------------------------------------------------- requests


def _float(name: str, low: float, high: float) -> float | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, _("%(name)s 须为数字。", name=name)) from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ApiError(400, _("%(name)s 超出范围。", name=name))
    return value


def _field(form, name: str) -> str:
    return CONTROL_RE.sub("", form.get(name) or "").strip()


def _work_order_input(form) -> WorkOrderInput:
    problems = []
    code = _field(form, "service_code")
    if not code:
        raise ApiError(400, _("缺少 service_code。"))
    category = queries.category(code)
    if category is None:
        raise ApiError(404, _("service_code %(code)s 不存在。", code=code[:20]))
    work_order_no = _field(form, "work_order_no")
    if not work_order_no:
        problems.append(_("缺少 work_order_no（12345 工单编号）。"))
    elif not WORK_ORDER_RE.match(work_order_no):
        problems.append(_("work_order_no 须为 1–40 位字母、数字、“-”或“_”。"))
    village_key = _field(form, "attribute[village]")
    village = queries.village(village_key) if village_key else None
    if village is None:
        problems.append(_("attribute[village] 缺失或不是在用的村（社区）编号，见 services/%(code)s。", code=code))
    lat, long = _float("lat", -90, 90), _float("long", -180, 180)
    address = " ".join(_field(form, "address_string").split())
    address_id = _field(form, "address_id")
    if (lat is None) != (long is None):
        problems.append(_("lat 和 long 须同时提供。"))
    if not address and not address_id and lat is None:
        problems.append(_("请提供位置：lat 和 long、address_string 或 address_id 之一。"))
    if len(address) > 255:
        problems.append(_("address_string 不能超过 255 个字。"))
    description = _field(form, "description")
    if not description:
        problems.append(_("缺少 description（问题描述）。"))
    elif len(description) > MAX_DESCRIPTION:
        problems.append(_("description 不能超过 4000 个字。"))
    title = " ".join(_field(form, "attribute[title]").split()) or " ".join(description.split())[:30]
    if len(title) > 80:
        problems.append(_("attribute[title] 不能超过 80 个字。"))
    name = (_field(form, "last_name") + _field(form, "first_name"))
    if len(name) > 64:
        problems.append(_("姓名（last_name 与 first_name）不能超过 64 个字。"))
    raw_phone = _field(form, "phone")
    phone = normalise_phone(raw_phone) if raw_phone else ""
    if phone is None:
        problems.append(_("phone 须为手机号（11 位）或带区号的固定电话。"))
    media_url = _field(form, "media_url") or None
    if media_url and url_error(media_url):
        problems.append(_("media_url 须为 http:// 或 https:// 开头的网址（不超过 500 个字符）。"))
    if problems:
        raise ApiError(400, *problems)
    return WorkOrderInput(
        work_order_no=work_order_no, category=category, village=village, description=description,
        title=title, resident_name=name, phone=phone or "", address=address or f"{village.parent.name}{village.name}",
        lat=lat, long=long, media_url=media_url)


@route("/requests", methods=["POST"])
@endpoint(Scope.create)
def create_request(client, fmt):
    """Create a problem from a 12345 work order (a resend returns the one already made)."""
    data = _work_order_input(request.form)
    try:
        order, created = receive_work_order(client, data)
        db.session.flush()
    except Invalid as exc:
        raise ApiError(400, str(exc)) from None
    except IntegrityError:  # the same work order sent twice at once: the other call made it
        db.session.rollback()
        order, created = find_work_order(client, data.work_order_no), False
        if order is None:
            raise ApiError(400, _("工单暂时无法受理，请稍后重试。")) from None
    notice = (_("已转区12345平台大走访专席办理。") if created
              else _("该工单此前已受理，未重复登记。"))
    value = [{"service_request_id": str(order.problem_id), "service_notice": notice, "account_id": None,
              "work_order_no": order.work_order_no}]
    detail = {"work_order_no": order.work_order_no, "service_request_id": order.problem_id, "created": created}
    return (201 if created else 200), "service_requests", value, detail


def _w3(name: str) -> datetime | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ApiError(400, _("%(name)s 须为带时区的 W3C 日期时间，如 2026-12-01T00:00:00+08:00。", name=name)) from None
    if value.tzinfo is None:
        raise ApiError(400, _("%(name)s 须带时区（Z 或 +08:00）。", name=name))
    return value


def _list(name: str) -> list[str]:
    return [part.strip() for part in (request.args.get(name) or "").split(",") if part.strip()]


@route("/requests", methods=["GET"])
@endpoint(Scope.read)
def list_requests(client, fmt):
    """The caller's requests, by the spec's filters (``service_request_id`` overrides the rest)."""
    ids = _list("service_request_id")
    if ids:
        if not all(i.isdigit() and len(i) <= 12 for i in ids) or len(ids) > queries.MAX_RESULTS:
            raise ApiError(400, _("service_request_id 须为以逗号分隔的编号。"))
        orders = queries.by_ids(client, [int(i) for i in ids])
    else:
        codes = _list("service_code")
        if not all(c.isdigit() and len(c) <= 9 for c in codes):
            raise ApiError(400, _("service_code 须为以逗号分隔的编号。"))
        statuses = set(_list("status"))
        if not statuses <= {"open", "closed"}:
            raise ApiError(400, _("status 只能是 open 或 closed（可用逗号分隔）。"))
        start, end = _w3("start_date"), _w3("end_date")
        if start and end and start > end:
            raise ApiError(400, _("start_date 不能晚于 end_date。"))
        if start and end and end - start > timedelta(days=queries.DEFAULT_DAYS):
            raise ApiError(400, _("查询的时间跨度不能超过 90 天。"))
        orders = queries.search(client, codes=[int(c) for c in codes], start=start, end=end, statuses=statuses)
    return 200, "service_requests", queries.requests_of(orders), {"results": len(orders)}


@route("/requests/<int:request_id>")
@endpoint(Scope.read)
def get_request(client, fmt, request_id: int):
    """One request the caller sent (404 for any other problem: it is not the caller's to see)."""
    orders = queries.by_ids(client, [request_id])
    if not orders:
        raise ApiError(404, _("service_request_id %(id)s 不存在。", id=request_id))
    return 200, "service_requests", queries.requests_of(orders), {"service_request_id": request_id}


@route("/tokens/<token>")
@endpoint(Scope.read)
def get_token(client, fmt, token: str):
    """The request made from a token — here the caller's own work-order number."""
    order = queries.by_token(client, token) if WORK_ORDER_RE.match(token) else None
    if order is None:
        raise ApiError(404, _("token %(token)s 不存在。", token=token[:40]))
    return 200, "service_requests", [{"service_request_id": str(order.problem_id), "token": token}], None


# ---------------------------------------------------------------- anything else under /open311/v2


SPEC_ERRORS = {
    400: _l("请求格式有误。"),
    413: _l("请求内容太大。"),
}


def _fmt_of_path() -> str:
    return formats.XML if request.path.endswith(".xml") else formats.JSON


def _spec_error(error):
    """Unknown resources (404), methods (405) and unreadable requests under /open311/v2, in the
    spec's format."""
    fmt = _fmt_of_path()
    if error.code == 405:
        response = formats.errors(fmt, 405, _("该地址不支持 %(m)s 请求。", m=request.method))
        response.headers["Allow"] = ", ".join(sorted(set(error.valid_methods or ()) - {"HEAD", "OPTIONS"}))
        return response
    if error.code in SPEC_ERRORS:
        return formats.errors(fmt, error.code, SPEC_ERRORS[error.code])
    return formats.errors(fmt, 404, _("没有这个接口：%(path)s", path=request.path[:100]))


@bp.errorhandler(InternalServerError)
def _server_error(_error):
    """Even a fault of ours answers in the spec's format (the spec's "general service error")."""
    db.session.rollback()
    return formats.errors(_fmt_of_path(), 500, _("系统出错了，请稍后重试；如一再出现，请联系区活动办。"))


@bp.record_once
def _answer_errors_in_spec_format(state) -> None:
    """The app's error pages stay for everything else; under the prefix, the spec's format.

    A URL no route matches belongs to no blueprint, so a blueprint handler would never see it:
    the app's own 404 and 405 handlers are wrapped instead.
    """
    prefix = f"{bp.url_prefix}/"
    for code in (400, 404, 405, 413):
        handlers = state.app.error_handler_spec[None][code]
        for exc_class, previous in list(handlers.items()):
            def handler(error, previous=previous):
                return _spec_error(error) if request.path.startswith(prefix) else previous(error)
            handlers[exc_class] = handler
