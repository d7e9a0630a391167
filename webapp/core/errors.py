"""Friendly error pages in Chinese (and fragments for htmx), and the exceptions by which an
operation refuses a request (``Conflict`` → 409, ``Invalid`` and ``FieldsInvalid`` → the form again)."""

from flask import render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError

from .extensions import db
from .render import is_htmx

MESSAGES = {
    400: _l("请求有误"),
    403: _l("没有权限访问此页面"),
    404: _l("页面不存在"),
    405: _l("不支持的请求方式"),
    409: _l("数据已被他人修改"),
    413: _l("上传的文件太大"),
    429: _l("请求过于频繁"),
    500: _l("系统出错了"),
}


def _page(code: int, detail: str | None = None):
    template = "errors/fragment.html" if is_htmx() else "errors/error.html"
    return render_template(template, code=code, title=MESSAGES.get(code, _l("出错了")), detail=detail), code


def init_errors(app) -> None:
    for code in (400, 403, 404, 405, 409, 413, 429):
        app.register_error_handler(code, lambda e, code=code: _page(code, getattr(e, "description", None) if code in (409, 429) else None))

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return _page(400, _l("表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。"))

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def out_of_range(e):
        # A value the database cannot hold (a number too large for its column, a date beyond its
        # calendar): the request is wrong, not the server. Forms bound their fields; this is the net.
        db.session.rollback()
        return _page(400, _l("输入的数值或日期超出允许范围。"))

    @app.errorhandler(500)
    def server_error(e):
        db.session.rollback()
        return _page(500)


# ---------------------------------------------------------------- how an operation refuses


class Conflict(Exception):
    """Someone else changed the row since the form was drawn (HTTP 409)."""


class Invalid(ValueError):
    """The request is well-formed but breaks a business rule (message in Chinese)."""


class FieldsInvalid(Invalid):
    """Business-rule errors that belong to form fields: ``errors`` maps field name → message."""

    def __init__(self, errors: dict):
        super().__init__(str(next(iter(errors.values()))))
        self.errors = errors
