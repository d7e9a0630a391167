"""The campaign settings the office edits: time limits (DOMAIN §5) and what counts as 即将到期.

"Every number is a default the office can change, stored in the database": one row
(``campaign_settings``, id 1) holds them. Until the office first saves, the row does not exist
and ``get_settings()`` returns the defaults below. Day counts are working days.

``get_settings()`` returns an immutable snapshot, cached per request (``flask.g``);
``update_settings(...)`` validates, writes, audits ``settings.changed`` (before/after) and flushes;
the caller commits.
"""

import dataclasses
import datetime as dt

from flask import g, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, select
from sqlalchemy.orm import Mapped, mapped_column

from . import audit, clock
from .extensions import db

_CACHE_KEY = "_huiyin_campaign_settings"
MAX_DAYS = 365


@dataclasses.dataclass(frozen=True)
class Settings:
    """A snapshot of the campaign settings (working days unless named otherwise)."""

    sign_for_days: int = 1                # 签收 an assignment
    return_within_days: int = 2           # 退回 a misrouted problem, with reason
    tier_immediate_days: int = 3          # 好事即办
    tier_quick_days: int = 15             # 实事快办
    tier_joint_max_days: int = 60         # 难事联办: set in the task book, at most this
    extension_min_days_before: int = 1    # request an extension at least this long before the deadline
    reply_after_signoff_days: int = 2     # 回音 to the resident after sign-off
    remind_after_days: int = 1            # 催办: this many workdays after the deadline
    notice_after_overdue_days: int = 5    # 通报: this many workdays overdue
    due_soon_days: int = 2                # 即将到期: deadline within this many workdays
    verify_within_days: int = 5           # 核验 a sign-off the unit leader agreed to
    campaign_deadline: dt.date | None = None  # None: 30 September of the current (local) year
    version: int = 0                      # 0 until the office first saves

    def __post_init__(self):
        if self.campaign_deadline is None:
            object.__setattr__(self, "campaign_deadline", default_campaign_deadline())

    def tier_days(self, tier: str) -> int:
        """Working days for a tier: ``immediate`` / ``quick`` / ``joint`` (the joint maximum)."""
        return {
            "immediate": self.tier_immediate_days,
            "quick": self.tier_quick_days,
            "joint": self.tier_joint_max_days,
        }[str(getattr(tier, "value", tier))]

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "version"}


def default_campaign_deadline() -> dt.date:
    return dt.date(clock.today().year, 9, 30)


DAY_FIELDS = tuple(f.name for f in dataclasses.fields(Settings) if f.type is int and f.name != "version")
FIELDS = (*DAY_FIELDS, "campaign_deadline")

LABELS = {
    "sign_for_days": _l("签收时限（工作日）"),
    "return_within_days": _l("退回时限（工作日）"),
    "tier_immediate_days": _l("好事即办时限（工作日）"),
    "tier_quick_days": _l("实事快办时限（工作日）"),
    "tier_joint_max_days": _l("难事联办最长时限（工作日）"),
    "extension_min_days_before": _l("延期申请至少提前（工作日）"),
    "reply_after_signoff_days": _l("销号后回音时限（工作日）"),
    "remind_after_days": _l("超期后催办（工作日）"),
    "notice_after_overdue_days": _l("超期后通报（工作日）"),
    "due_soon_days": _l("即将到期提醒（工作日）"),
    "verify_within_days": _l("核验时限（工作日）"),
    "campaign_deadline": _l("活动截止日期"),
}
# Smallest allowed value per day field (the largest is MAX_DAYS).
MINIMUM = {name: 1 for name in DAY_FIELDS} | {
    "extension_min_days_before": 0,
    "remind_after_days": 0,
    "due_soon_days": 0,
}


class CampaignSettings(db.Model):
    """The single settings row (id 1). Read it through ``get_settings()``."""

    __tablename__ = "campaign_settings"
    audit_type = "settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    sign_for_days: Mapped[int]
    return_within_days: Mapped[int]
    tier_immediate_days: Mapped[int]
    tier_quick_days: Mapped[int]
    tier_joint_max_days: Mapped[int]
    extension_min_days_before: Mapped[int]
    reply_after_signoff_days: Mapped[int]
    remind_after_days: Mapped[int]
    notice_after_overdue_days: Mapped[int]
    due_soon_days: Mapped[int]
    verify_within_days: Mapped[int] = mapped_column(server_default="5")
    campaign_deadline: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class SettingsError(ValueError):
    """Invalid values; ``errors`` maps each field to a message in Chinese."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class StaleSettings(Exception):  # noqa: N818 - named like the other conflicts (HTTP 409)
    """Someone saved the settings since the form was drawn."""

    message = _l("活动设置已被他人修改，请刷新页面查看最新设置后再保存。")


def _snapshot(row: CampaignSettings | None) -> Settings:
    if row is None:
        return Settings()
    return Settings(**{name: getattr(row, name) for name in FIELDS}, version=row.version)


def clear_cache() -> None:
    """Forget the cached snapshot (``update_settings`` does it; a test holding one app context
    across requests that change the settings calls it too)."""
    if has_app_context():
        g.pop(_CACHE_KEY, None)


def get_settings() -> Settings:
    """The current settings (the defaults for every value the office has not saved yet)."""
    cached = g.get(_CACHE_KEY) if has_app_context() else None
    if cached is not None:
        return cached
    row = db.session.get(CampaignSettings, 1)
    settings = _snapshot(row)
    if has_app_context():
        setattr(g, _CACHE_KEY, settings)
    return settings


def _validate(values: dict) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name in DAY_FIELDS:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = _("请填写整数天数。")
        elif not MINIMUM[name] <= value <= MAX_DAYS:
            errors[name] = _("应在 %(lo)d 到 %(hi)d 之间。", lo=MINIMUM[name], hi=MAX_DAYS)
    deadline = values["campaign_deadline"]  # None: back to 30 September of the current year
    if deadline is not None and (isinstance(deadline, dt.datetime) or not isinstance(deadline, dt.date)):
        errors["campaign_deadline"] = _("请填写日期。")
    if not errors:
        if not values["tier_immediate_days"] <= values["tier_quick_days"]:
            errors["tier_quick_days"] = _("实事快办时限不能短于好事即办时限。")
        elif not values["tier_quick_days"] <= values["tier_joint_max_days"]:
            errors["tier_joint_max_days"] = _("难事联办最长时限不能短于实事快办时限。")
        if values["notice_after_overdue_days"] < values["remind_after_days"]:
            errors["notice_after_overdue_days"] = _("通报不能早于催办。")
    return errors


def update_settings(*, expected_version: int | None = None, user=None, **changes) -> Settings:
    """Change some settings; audit ``settings.changed`` with the changed values before/after.

    ``expected_version`` (the version the form was drawn with) raises ``StaleSettings`` when
    someone saved in between. Raises ``SettingsError`` for unknown fields or invalid values.
    Flushes, never commits. Returns the new snapshot.
    """
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise SettingsError({name: _("没有这项设置。") for name in unknown})
    row = db.session.scalar(
        select(CampaignSettings).where(CampaignSettings.id == 1).with_for_update()
    )
    current = _snapshot(row)
    if expected_version is not None and int(expected_version) != current.version:
        raise StaleSettings(current.version)
    values = current.as_dict() | changes
    errors = _validate(values)
    if errors:
        raise SettingsError(errors)
    changed = {name for name in DAY_FIELDS if values[name] != getattr(current, name)}
    stored_deadline = None if row is None else row.campaign_deadline
    if values["campaign_deadline"] != (
        stored_deadline if values["campaign_deadline"] is None else current.campaign_deadline
    ):
        changed.add("campaign_deadline")
    if not changed:
        return current
    if row is None:
        # First save: store every number, so a later change of the defaults in code does not
        # silently change what the office saw and confirmed. The campaign deadline stays empty
        # (= 30 September of the current year) unless the office set it.
        row = CampaignSettings(id=1, **(values | {"campaign_deadline": changes.get("campaign_deadline")}))
        db.session.add(row)
    else:
        for name in changed:
            setattr(row, name, values[name])
    db.session.flush()
    before = {name: getattr(current, name) for name in sorted(changed)}
    after = {name: values[name] for name in sorted(changed)}
    audit.record("settings.changed", obj=row, user=user, detail={"before": before, "after": after})
    clear_cache()
    return get_settings()
