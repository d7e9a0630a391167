"""The OpenAPI 3 description of the Open311 endpoints (served at ``/open311/v2/openapi.json``).

Written by hand beside the routes it describes; ``tests/api`` checks that every route is in it.
"""

ERRORS = {"description": "错误（GeoReport v2 格式）", "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/Errors"}},
    "text/xml": {"schema": {"type": "string"}}}}


def _ok(schema: str, description: str) -> dict:
    return {"description": description, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}},
        "text/xml": {"schema": {"type": "string"}}}}


FORMAT = {"name": "format", "in": "path", "required": True, "description": "json 或 xml（省略扩展名时为 JSON）",
          "schema": {"type": "string", "enum": ["json", "xml"]}}


def _errors(*codes: int) -> dict:
    return {str(code): ERRORS for code in codes}


def _get(summary: str, schema: str, *, params=(), secured=True, codes=(403, 429)) -> dict:
    op = {"summary": summary, "parameters": [FORMAT, *params],
          "responses": {"200": _ok(schema, "成功"), **_errors(*codes)}}
    if not secured:
        op["security"] = []
    return {"get": op}


def _query(name: str, description: str, fmt: str | None = None) -> dict:
    schema = {"type": "string"} | ({"format": fmt} if fmt else {})
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


REQUEST_FIELDS = {
    "service_request_id": {"type": "string"},
    "status": {"type": "string", "enum": ["open", "closed"]},
    "status_notes": {"type": "string", "description": "状态说明（中文）"},
    "service_name": {"type": "string"},
    "service_code": {"type": "string"},
    "description": {"type": "string"},
    "agency_responsible": {"type": "string", "nullable": True},
    "service_notice": {"type": "string", "nullable": True},
    "requested_datetime": {"type": "string", "format": "date-time"},
    "updated_datetime": {"type": "string", "format": "date-time"},
    "expected_datetime": {"type": "string", "format": "date-time", "nullable": True},
    "address": {"type": "string"},
    "address_id": {"type": "string", "nullable": True},
    "zipcode": {"type": "string", "nullable": True},
    "lat": {"type": "number", "nullable": True},
    "long": {"type": "number", "nullable": True},
    "media_url": {"type": "string", "nullable": True},
    "work_order_no": {"type": "string", "description": "扩展字段：调用方的 12345 工单编号"},
    "detailed_status": {"type": "string", "description": "扩展字段：回音系统内部状态代码"},
    "reply": {"type": "string", "nullable": True, "description": "扩展字段：向群众的回音内容"},
    "reply_datetime": {"type": "string", "format": "date-time", "nullable": True},
}


def document(base_url: str) -> dict:
    """The document, with the server's own address."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "回音 Huiyin Open311 GeoReport v2 接口",
            "version": "2.0",
            "description": (
                "12345 平台与区12345平台大走访专席交换工单。按 GeoReport v2 "
                "（http://wiki.open311.org/GeoReport_v2）实现，另加 work_order_no（调用方工单编号，"
                "同一调用方唯一：重复提交返回已有问题）与回音字段。与公开规范不同，除 discovery 与本文档外，"
                "每次调用都须带 api_key：services 任一权限，读取 requests/tokens 须 read 权限，创建须 create 权限。"
                "状态变化以签名 webhook 推送：X-Huiyin-Timestamp 与 X-Huiyin-Signature"
                "（sha256=HMAC-SHA256(密钥, 时间戳 + \".\" + 原始请求体) 的十六进制）。"),
        },
        "servers": [{"url": base_url}],
        "security": [{"ApiKeyHeader": []}, {"ApiKeyParam": []}],
        "paths": {
            "/discovery.{format}": _get("服务发现", "Discovery", secured=False, codes=()),
            "/services.{format}": _get("问题类别列表", "Services"),
            "/services/{service_code}.{format}": _get("问题类别的属性", "ServiceDefinition", params=[
                {"name": "service_code", "in": "path", "required": True, "schema": {"type": "string"}}],
                codes=(403, 404, 429)),
            "/requests.{format}": {
                **_get("查询本调用方的工单", "ServiceRequests", codes=(400, 403, 429), params=[
                    _query("service_request_id", "以逗号分隔；给出时忽略其他条件"),
                    _query("service_code", "以逗号分隔"),
                    _query("start_date", "W3C 日期时间（须带时区）", "date-time"),
                    _query("end_date", "W3C 日期时间（须带时区）；跨度不超过 90 天", "date-time"),
                    _query("status", "open、closed，以逗号分隔")]),
                "post": {
                    "summary": "提交 12345 工单，转区12345平台大走访专席办理",
                    "parameters": [FORMAT],
                    "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
                        "schema": {"$ref": "#/components/schemas/NewRequest"}}}},
                    "responses": {"201": _ok("Created", "已登记"), "200": _ok("Created", "重复提交：返回已有问题"),
                                  **_errors(400, 403, 404, 429)},
                },
            },
            "/requests/{service_request_id}.{format}": _get("查询一件工单", "ServiceRequests", params=[
                {"name": "service_request_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                codes=(403, 404, 429)),
            "/tokens/{token}.{format}": _get("由 token（即 work_order_no）查询 service_request_id", "Tokens", params=[
                {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
                codes=(403, 404, 429)),
            "/openapi.json": {"get": {"summary": "本文档", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3 文档"}}}},
        },
        "components": {
            "securitySchemes": {
                "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "ApiKeyParam": {"type": "apiKey", "in": "query", "name": "api_key"},
            },
            "schemas": {
                "Errors": {"type": "array", "items": {"type": "object", "required": ["code", "description"],
                                                      "properties": {"code": {"type": "integer"},
                                                                     "description": {"type": "string"}}}},
                "Discovery": {"type": "object", "properties": {
                    "changeset": {"type": "string"}, "contact": {"type": "string"},
                    "key_service": {"type": "string"}, "endpoints": {"type": "array", "items": {"type": "object"}}}},
                "Services": {"type": "array", "items": {"type": "object", "properties": {
                    k: {"type": "string"} for k in ("service_code", "service_name", "description", "type",
                                                    "keywords", "group")} | {"metadata": {"type": "boolean"}}}},
                "ServiceDefinition": {"type": "object", "properties": {
                    "service_code": {"type": "string"}, "attributes": {"type": "array", "items": {"type": "object"}}}},
                "ServiceRequests": {"type": "array", "items": {"type": "object", "properties": REQUEST_FIELDS}},
                "Created": {"type": "array", "items": {"type": "object", "properties": {
                    "service_request_id": {"type": "string"}, "service_notice": {"type": "string"},
                    "account_id": {"type": "string", "nullable": True}, "work_order_no": {"type": "string"}}}},
                "Tokens": {"type": "array", "items": {"type": "object", "properties": {
                    "service_request_id": {"type": "string"}, "token": {"type": "string"}}}},
                "NewRequest": {"type": "object", "required": ["service_code", "work_order_no", "description",
                                                              "attribute[village]"],
                               "properties": {
                                   "api_key": {"type": "string"},
                                   "service_code": {"type": "string"},
                                   "work_order_no": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},
                                   "attribute[village]": {"type": "string", "description": "村（社区）编号"},
                                   "attribute[title]": {"type": "string", "maxLength": 80},
                                   "lat": {"type": "number"}, "long": {"type": "number"},
                                   "address_string": {"type": "string", "maxLength": 255},
                                   "address_id": {"type": "string"},
                                   "description": {"type": "string", "maxLength": 4000},
                                   "first_name": {"type": "string"}, "last_name": {"type": "string"},
                                   "phone": {"type": "string", "description": "只用于专席回访，任何查询都不返回"},
                                   "email": {"type": "string"}, "device_id": {"type": "string"},
                                   "account_id": {"type": "string"}, "media_url": {"type": "string"},
                                   "jurisdiction_id": {"type": "string"}}},
            },
        },
    }
