"""User administration (用户管理): the system administrator only — no casework role, and
neither the security nor the audit admin (三员分立)."""

from webapp.core.extensions import db

from . import Rule

SYSADMIN = {"sysadmin"}


def _version(user) -> str:
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(user)
    return str(user.version)


def _edit_data(o) -> dict:
    version = _version(o.desk_user)
    u = o.desk_user
    return {"version": version, "full_name": u.full_name, "phone": u.phone or "", "unit": str(u.unit_id)}


RULES = [
    Rule("users.index", "/admin/users/", SYSADMIN),
    Rule("users.index", "/admin/users/?q=town", SYSADMIN, headers={"HX-Request": "true"}, note="htmx search"),
    Rule("users.new", "/admin/users/new", SYSADMIN),
    Rule("users.new", "/admin/users/new", SYSADMIN, method="POST", note="post",
         data=lambda o: {"username": "matrix", "full_name": "矩阵", "phone": "", "unit": str(o.own_town.id)}),
    Rule("users.edit", lambda o: f"/admin/users/{o.desk_user.id}/edit", SYSADMIN),
    Rule("users.edit", lambda o: f"/admin/users/{o.desk_user.id}/edit", SYSADMIN, method="POST",
         data=_edit_data, note="post"),
    Rule("users.deactivate", lambda o: f"/admin/users/{o.desk_user.id}/deactivate", SYSADMIN, method="POST",
         data=lambda o: {"version": _version(o.desk_user)}),
    Rule("users.reactivate", lambda o: f"/admin/users/{o.desk_user.id}/reactivate", SYSADMIN, method="POST",
         data=lambda o: {"version": _version(o.desk_user)}, note="already active: refused politely"),
    Rule("users.reset_password", lambda o: f"/admin/users/{o.dept_user.id}/reset-password", SYSADMIN,
         method="POST", data=lambda o: {"version": _version(o.dept_user)}),
    Rule("users.export", "/admin/users/export.xlsx", SYSADMIN, method="POST"),
    Rule("users.import_template", "/admin/users/import/template.xlsx", SYSADMIN),
    Rule("users.import_users", "/admin/users/import", SYSADMIN),
    Rule("users.import_users", "/admin/users/import", SYSADMIN, method="POST", data={}, note="post without a file"),
]
