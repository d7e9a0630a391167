"""Audit admin routes (审计管理员): only the auditor; the system and security admins are refused."""

from . import Rule

AUDITOR = {"auditor"}

RULES = [
    Rule("audit.index", "/audit/", AUDITOR),
    Rule("audit.index", "/audit/?event=login.success&page=2", AUDITOR, note="filtered",
         headers={"HX-Request": "true"}),
    Rule("audit.export", "/audit/export", AUDITOR, method="POST", data={"event": "login.success"}),
    Rule("audit.verify", "/audit/verify", AUDITOR),
    Rule("audit.verify", "/audit/verify", AUDITOR, method="POST", note="post"),
]
