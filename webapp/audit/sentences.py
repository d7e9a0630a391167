"""The audit log in words: each event as a sentence a clerk reads — who (name and unit), what
(the event type in words, never ``problem.sign_for``) and to what (a problem by its number and
title, a person by name, a unit by name, a document by its number) — in either locale.

``kinds`` groups the event types for the filter (login, accounts, casework, documents …).
"""

import json
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts.models import User
from ..cases.actions import event_label as case_event_label
from ..cases.models import Problem
from ..core.audit import AuditEvent
from ..core.extensions import db
from ..org.models import Unit

# Event types in words (besides problem.<action>, whose words are the problem timeline's).
EVENT_WORDS = {
    "login.success": _l("登录"),
    "login.failure": _l("登录失败"),
    "logout": _l("退出登录"),
    "session.idle": _l("会话空闲超时"),
    "session.absolute": _l("会话超过最长时间"),
    "account.locked": _l("锁定账号"),
    "account.unlocked": _l("解除账号锁定"),
    "user.create": _l("新建用户"),
    "user.update": _l("修改用户"),
    "user.deactivate": _l("停用用户"),
    "user.reactivate": _l("恢复用户"),
    "user.password_changed": _l("修改密码"),
    "user.password_reset": _l("重置密码"),
    "user.role_changed": _l("变更角色"),
    "users.import": _l("导入用户"),
    "users.export": _l("导出用户"),
    "policy.changed": _l("修改安全策略"),
    "unit.create": _l("新建单位"),
    "unit.update": _l("修改单位"),
    "unit.rename": _l("单位更名"),
    "unit.move": _l("调整单位隶属"),
    "unit.deactivate": _l("停用单位"),
    "unit.reactivate": _l("恢复单位"),
    "org.import": _l("导入组织架构"),
    "category.create": _l("新建问题类别"),
    "category.update": _l("修改问题类别"),
    "category.reactivate": _l("恢复问题类别"),
    "calendar.day_set": _l("设置节假日或调休"),
    "calendar.day_removed": _l("删除节假日或调休"),
    "settings.changed": _l("修改活动设置"),
    "visit.create": _l("登记走访"),
    "attachment.add": _l("上传附件"),
    "list.create": _l("新建统筹清单"),
    "list.submit": _l("报送统筹清单"),
    "cases.exported": _l("导出问题清单"),
    "meeting.convene": _l("召集协商会办"),
    "meeting.minutes": _l("记录会议纪要"),
    "meeting.cancel": _l("取消会议"),
    "notice.issue": _l("下发督办单"),
    "notice.answer": _l("反馈督办单"),
    "agenda.generate": _l("生成调度会议程"),
    "supervision.sweep": _l("逾期扫描（催办、通报）"),
    "stats.report_issue": _l("出具半月调度统计表"),
    "stats.report_reissue": _l("更正半月调度统计表"),
    "integrity.scan": _l("疑点扫描"),
    "integrity.flag_raised": _l("发现疑点"),
    "integrity.flags_raised": _l("发现疑点"),
    "integrity.flag_reviewed": _l("核查疑点"),
    "integrity.spot_check_drawn": _l("抽取回访样本"),
    "integrity.spot_check_recorded": _l("记录抽查回访"),
    "integrity.accountability_recorded": _l("记录问责"),
    "job.started": _l("开始后台任务"),
    "job.finished": _l("完成后台任务"),
    "job.failed": _l("后台任务失败"),
    "job.results_expired": _l("后台任务结果过期清理"),
    "audit.exported": _l("导出审计日志"),
    "audit.verified": _l("校验审计链"),
    "demo.loaded": _l("载入演示数据"),
    "demo.cases_loaded": _l("载入演示问题"),
}

# What kind of thing an object is.
OBJECT_WORDS = {
    "problem": _l("问题"), "user": _l("用户"), "unit": _l("单位"), "assignment": _l("交办单"),
    "task_book": _l("任务书"), "task_step": _l("路线图步骤"), "closure": _l("销号申请"),
    "extension": _l("延期申请"), "reply": _l("回音"), "meeting": _l("会议"), "coordinated_list": _l("统筹清单"),
    "supervision_notice": _l("督办单"), "agenda": _l("调度会议程"), "half_month_report": _l("半月调度统计表"),
    "integrity_flag": _l("疑点"), "spot_check": _l("抽查"), "spot_check_item": _l("抽查样本"),
    "accountability": _l("问责记录"), "category": _l("问题类别"), "calendar_day": _l("日历"),
    "settings": _l("活动设置"), "policy": _l("安全策略"), "visit": _l("走访记录"), "job": _l("后台任务"),
    "attachment": _l("附件"),
}

# The filter's kinds of event: a label and the event-code prefixes it covers.
KINDS = {
    "session": (_l("登录与会话"), ("login.", "logout", "session.", "account.")),
    "accounts": (_l("用户与权限"), ("user.", "users.", "policy.")),
    "org": (_l("组织与设置"), ("unit.", "org.", "category.", "calendar.", "settings.")),
    "casework": (_l("问题办理"), ("problem.", "visit.", "attachment.", "list.", "meeting.")),
    "supervision": (_l("督办与统计"), ("notice.", "agenda.", "supervision.", "stats.", "integrity.")),
    "exports": (_l("导出与校验"), ("cases.exported", "users.export", "audit.", "job.", "demo.")),
}


def event_words(code: str) -> str:
    """The event type in words; an unknown code reads as itself."""
    if code in EVENT_WORDS:
        return str(EVENT_WORDS[code])
    if code.startswith("problem."):
        return str(case_event_label(code.split(".", 1)[1]))
    return code


def kind_of(code: str) -> str | None:
    for key, (_label, prefixes) in KINDS.items():
        if any(code == p or code.startswith(p) for p in prefixes if p.endswith(".")) or code in prefixes:
            return key
    return None


@dataclass
class Names:
    """Names of the objects on one page of the log, loaded in three queries."""

    problems: dict[str, tuple[str, str]]
    users: dict[str, str]
    units: dict[str, str]


def _ids(rows, kind: str) -> list[int]:
    out = set()
    for ev, _full_name in rows:
        if ev.object_type == kind and ev.object_id and str(ev.object_id).isdigit():
            out.add(int(ev.object_id))
    return sorted(out)


def names_for(rows) -> Names:
    problems = {str(i): (n, t) for i, n, t in db.session.execute(
        select(Problem.id, Problem.number, Problem.title).where(Problem.id.in_(_ids(rows, "problem"))))}
    users = {str(i): n for i, n in db.session.execute(
        select(User.id, User.full_name).where(User.id.in_(_ids(rows, "user"))))}
    units = {str(i): n for i, n in db.session.execute(
        select(Unit.id, Unit.name).where(Unit.id.in_(_ids(rows, "unit"))))}
    return Names(problems, users, units)


def _detail(ev: AuditEvent) -> dict:
    try:
        value = json.loads(ev.detail) if ev.detail else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def object_words(ev: AuditEvent, names: Names) -> str:
    """The object by what people call it: number and title, a person's or a unit's name."""
    kind = ev.object_type
    if not kind:
        return ""
    word = str(OBJECT_WORDS.get(kind, kind))
    detail = _detail(ev)
    oid = str(ev.object_id or "")
    if kind == "problem" and oid in names.problems:
        number, title = names.problems[oid]
        return _("%(kind)s %(number)s「%(title)s」", kind=word, number=number, title=title)
    if kind == "user" and oid in names.users:
        return f"{word} {names.users[oid]}"
    if kind == "unit" and oid in names.units:
        return f"{word} {names.units[oid]}"
    label = detail.get("number") or detail.get("name") or detail.get("title")
    if isinstance(label, str) and label:
        return f"{word} {label}"
    return f"{word} #{oid}" if oid else word


def sentence(ev: AuditEvent, full_name: str | None, names: Names) -> str:
    """One event as a sentence: 张伟（潘安湖街道）签收：问题 贾走访〔2026〕00003号「路灯损坏」."""
    who = full_name or ev.username or _("系统")
    if ev.unit_name:
        who = _("%(name)s（%(unit)s）", name=who, unit=ev.unit_name)
    obj = object_words(ev, names)
    what = event_words(ev.event)
    if obj:
        return _("%(who)s %(what)s：%(object)s", who=who, what=what, object=obj)
    return _("%(who)s %(what)s", who=who, what=what)
