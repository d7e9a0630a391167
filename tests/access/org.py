"""Unit administration (单位管理): the system administrator only — no casework role, and
neither the security nor the audit admin (三员分立)."""

from webapp.core.extensions import db

from . import Rule

SYSADMIN = {"sysadmin"}


def _version(unit) -> str:
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(unit)
    return str(unit.version)


def _edit_data(o) -> dict:
    version = _version(o.own_town)
    town = o.own_town
    return {"version": version, "name": town.name, "code": town.code or "", "short_name": town.short_name or "",
            "note": town.note or ""}  # unchanged: nothing to save


RULES = [
    Rule("org.index", "/admin/units/", SYSADMIN),
    Rule("org.index", "/admin/units/?q=pahjd", SYSADMIN, headers={"HX-Request": "true"}, note="htmx search"),
    Rule("org.detail", lambda o: f"/admin/units/{o.own_town.id}", SYSADMIN),
    Rule("org.new", "/admin/units/new", SYSADMIN),
    Rule("org.new", "/admin/units/new", SYSADMIN, method="POST", note="post",
         data=lambda o: {"kind": "village", "parent": str(o.own_town.id), "name": "访问矩阵村"}),
    Rule("org.edit", lambda o: f"/admin/units/{o.own_town.id}/edit", SYSADMIN),
    Rule("org.edit", lambda o: f"/admin/units/{o.own_town.id}/edit", SYSADMIN, method="POST",
         data=_edit_data, note="post"),
    Rule("org.move", lambda o: f"/admin/units/{o.spare_village.id}/move", SYSADMIN),
    Rule("org.move", lambda o: f"/admin/units/{o.spare_village.id}/move", SYSADMIN, method="POST", note="post",
         data=lambda o: {"version": _version(o.spare_village), "parent": str(o.other_town.id)}),
    Rule("org.deactivate", lambda o: f"/admin/units/{o.spare_village.id}/deactivate", SYSADMIN, method="POST",
         data=lambda o: {"version": _version(o.spare_village)}),
    Rule("org.reactivate", lambda o: f"/admin/units/{o.spare_village.id}/reactivate", SYSADMIN, method="POST",
         data=lambda o: {"version": _version(o.spare_village)}, note="already active: refused politely"),
    Rule("org.export", "/admin/units/export.xlsx", SYSADMIN),
    Rule("org.import_template", "/admin/units/import/template.xlsx", SYSADMIN),
    Rule("org.import_units", "/admin/units/import", SYSADMIN),
    Rule("org.import_units", "/admin/units/import", SYSADMIN, method="POST", data={}, note="post without a file"),
]
