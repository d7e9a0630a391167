"""What people are told about: each kind with its label, the channels the office allows by
default, those a person gets unless they choose otherwise, and whether it is urgent (urgent
SMS go out in quiet hours too). The office changes these per kind (``KindRule`` rows); this
table is what holds until it does."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

SMS, WECOM, DINGTALK, EMAIL = "sms", "wecom", "dingtalk", "email"
CHANNELS = (SMS, WECOM, DINGTALK, EMAIL)
CHANNEL_LABELS = {SMS: _l("短信"), WECOM: _l("企业微信群"), DINGTALK: _l("钉钉群"), EMAIL: _l("电子邮件")}
ROBOT_CHANNELS = (WECOM, DINGTALK)
ALL = list(CHANNELS)


@dataclass(frozen=True)
class Kind:
    code: str
    label: object
    defaults: tuple[str, ...] = ()
    allowed: tuple[str, ...] = CHANNELS
    urgent: bool = False


_KINDS = [
    Kind("assigned", _l("新交办"), (WECOM,)),
    Kind("cooperation", _l("配合请求"), (WECOM,)),
    Kind("sign_for_due", _l("签收即将到期"), (SMS,)),
    Kind("sign_for_overdue", _l("超时未签收"), (SMS,), urgent=True),
    Kind("returned", _l("退回或改派"), (WECOM,)),
    Kind("plan_review", _l("任务书待审核"), (WECOM,)),
    Kind("plan_decided", _l("任务书审核结果"), ()),
    Kind("extension_requested", _l("延期申请"), (WECOM,)),
    Kind("extension_decided", _l("延期审批结果"), (WECOM,)),
    Kind("signoff_review", _l("销号待审核"), (WECOM,)),
    Kind("verification", _l("待核验"), (WECOM,)),
    Kind("verified", _l("核验通过"), ()),
    Kind("redo", _l("退回重办"), (SMS,)),
    Kind("reply_due", _l("待回音"), (SMS,)),
    Kind("deadline_due", _l("期限将到"), (SMS,)),
    Kind("deadline_overdue", _l("已超期"), (SMS,), urgent=True),
    Kind("remind", _l("催办"), (SMS,)),
    Kind("supervision_notice", _l("督办单"), (SMS,), urgent=True),
    Kind("bulletin", _l("通报"), (SMS, EMAIL)),
    Kind("proposal", _l("工作组提请调度会"), ()),
    Kind("meeting", _l("会议通知"), (WECOM,)),
    Kind("minutes", _l("会议纪要"), ()),
    Kind("spot_check", _l("抽查结果"), ()),
    Kind("job_done", _l("后台任务完成"), ()),
]
KINDS: dict[str, Kind] = {k.code: k for k in _KINDS}


def label(code: str):
    kind = KINDS.get(code)
    return kind.label if kind else code


# Where a notification's link goes: target type → (endpoint, argument name).
TARGETS = {
    "problem": ("cases.detail", "problem_id"),
    "notice": ("notices.show", "notice_id"),
    "meeting": ("meetings.show", "meeting_id"),
    "agenda": ("agendas.show", "agenda_id"),
    "job": ("jobs.detail", "job_id"),
    "spot_check": ("spotchecks.show", "check_id"),
    "paper": ("papers.show", "paper_id"),
}
