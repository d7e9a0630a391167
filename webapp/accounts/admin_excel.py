"""Accounts in Excel: the export, the blank template, and the checks of an import.

Headers and values are Chinese whatever the interface language. The role column is for
information only: roles are assigned by the security administrator, never by an import.
"""

from collections import defaultdict
from dataclasses import dataclass

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..core.extensions import db
from ..documents.excel import Sheet
from ..org.excel import RowError
from ..org.queries import units_by_name
from .admin_operations import (
    full_name_error,
    normalize_phone,
    phone_error,
    unit_error,
    username_error,
)
from .models import User

HEADERS = ("用户名", "姓名", "电话", "所在单位", "角色", "状态")
REQUIRED_HEADERS = ("用户名", "姓名", "所在单位")
ACTIVE, INACTIVE = "启用", "停用"
# Each account costs one password hash (about 0.1 s at production cost): keep a request short.
MAX_ROWS = 100
WIDTHS = (16, 12, 16, 24, 18, 8)


def _role_zh(user: User) -> str:
    with force_locale("zh_CN"):
        return str(user.role.label) if user.role else "未分配角色"


def export_sheet(users: list[User]) -> Sheet:
    rows = [
        (u.username, u.full_name, u.phone or "", u.unit.name, _role_zh(u),
         ACTIVE if u.is_active_account else INACTIVE)
        for u in users
    ]
    return Sheet("用户", HEADERS, rows, WIDTHS)


def template_sheets() -> list[Sheet]:
    notes = [
        ("用户名", "必填。2–64 位字母、数字或“._-”，以字母或数字开头；不能与已有账号重复（不区分大小写）。"),
        ("姓名", "必填，最多 64 个字。"),
        ("电话", "选填。11 位手机号，或带区号的固定电话（如 0516-87012345）。"),
        ("所在单位", "必填。已有且启用的单位名称；村（社区）没有用户账号。"),
        ("角色", "不导入，仅供参考：角色由安全管理员分配。"),
        ("状态", "选填：留空或“启用”。导入的账号均为启用状态。"),
        ("说明", f"每个账号会生成一个一次性重置码（24 小时内有效），仅在导入结果页显示一次，由本人用它在登录页自行设置密码。一次最多导入 {MAX_ROWS} 个账号；任何一行有错时整个文件都不会导入。"),
    ]
    return [Sheet("用户", HEADERS, [], WIDTHS), Sheet("填写说明", ("列", "说明"), notes, (12, 90))]


@dataclass
class PlannedUser:
    row: int
    username: str
    full_name: str
    phone: str | None
    unit: object


def plan_import(rows: list[tuple[int, dict]]) -> tuple[list[PlannedUser], list[RowError]]:
    """Check every row; return the plan, or every row's errors (then nothing is created)."""
    if not rows:
        return [], [RowError(0, [_("文件中没有数据行。")])]
    if len(rows) > MAX_ROWS:
        return [], [RowError(0, [_("一次最多导入 %(n)s 个账号，请分批导入。", n=MAX_ROWS)])]
    errors: dict[int, list[str]] = defaultdict(list)
    usernames = {rec.get("用户名", "").lower() for _n, rec in rows}
    taken = set(db.session.scalars(
        select(func.lower(User.username)).where(func.lower(User.username).in_(usernames))
    ))
    units = units_by_name(rec.get("所在单位", "") for _n, rec in rows)
    seen: dict[str, int] = {}
    plan = []
    for number, rec in rows:
        username = rec.get("用户名", "")
        full_name = rec.get("姓名", "")
        phone = normalize_phone(rec.get("电话", ""))
        for message in (username_error(username), full_name_error(full_name), phone_error(phone)):
            if message:
                errors[number].append(message)
        key = username.lower()
        if username and key in taken:
            errors[number].append(_("用户名“%(name)s”已被使用。", name=username))
        elif username and key in seen:
            errors[number].append(_("用户名“%(name)s”与第 %(row)s 行重复。", name=username, row=seen[key]))
        else:
            seen[key] = number
        unit_name = rec.get("所在单位", "")
        candidates = units.get(unit_name, [])
        unit = None
        if not unit_name:
            errors[number].append(_("“所在单位”为空。"))
        elif not candidates:
            errors[number].append(_("找不到单位“%(name)s”。", name=unit_name))
        elif len(candidates) > 1:
            errors[number].append(_("单位“%(name)s”有 %(n)s 个同名单位，无法确定是哪一个。",
                                    name=unit_name, n=len(candidates)))
        else:
            unit = candidates[0]
            message = unit_error(unit)
            if message:
                errors[number].append(message)
        if rec.get("状态", "") not in ("", ACTIVE):
            errors[number].append(_("“状态”只能留空或填“启用”：导入的账号均为启用状态。"))
        plan.append(PlannedUser(number, username, full_name, phone, unit))
    report = [RowError(number, messages) for number, messages in sorted(errors.items())]
    return ([] if report else plan), report
