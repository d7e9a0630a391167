"""Units in Excel: the export, the blank template, and the checks of an import.

The file's headers and values are Chinese whatever the interface language, so that an exported
file can be edited and read back anywhere. An import is checked row by row in full
(``plan_import``) before anything is created (``operations.import_units``).
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field

from flask_babel import force_locale
from flask_babel import gettext as _

from ..documents.excel import Sheet
from .models import UNIT_KIND_LABELS, Unit, UnitKind
from .operations import (
    code_error,
    covered_kind_error,
    duplicate_name_error,
    lead_kind_error,
    name_error,
    parent_kind_error,
)
from .queries import sibling_named, units_by_name

HEADERS = ("类型", "上级单位", "名称", "统计代码", "牵头单位", "覆盖单位", "状态")
REQUIRED_HEADERS = ("类型", "上级单位", "名称")
ACTIVE, INACTIVE = "启用", "停用"
MAX_ROWS = 2000
LIST_SEPARATORS = re.compile(r"[、,，;；\s]+")
WIDTHS = (14, 22, 26, 14, 18, 36, 8)


def zh_kind_label(kind: UnitKind) -> str:
    with force_locale("zh_CN"):
        return str(UNIT_KIND_LABELS[kind])


def kind_lookup() -> dict[str, UnitKind]:
    """Accepted spellings of a unit kind: the Chinese label, the English label, the code."""
    lookup: dict[str, UnitKind] = {k.value: k for k in UnitKind}
    with force_locale("en"):
        lookup |= {str(UNIT_KIND_LABELS[k]).lower(): k for k in UnitKind}
    with force_locale("zh_CN"):
        lookup |= {str(UNIT_KIND_LABELS[k]): k for k in UnitKind}
    lookup |= {"村": UnitKind.village, "社区": UnitKind.village, "村(社区)": UnitKind.village,
               "部门": UnitKind.department, "专席": UnitKind.desk}
    return lookup


def export_sheet(units: list[Unit]) -> Sheet:
    rows = [
        (
            zh_kind_label(u.kind),
            u.parent.name if u.parent else "",
            u.name,
            u.code or "",
            u.lead_unit.name if u.lead_unit else "",
            "、".join(c.name for c in u.covered_units),
            ACTIVE if u.is_active else INACTIVE,
        )
        for u in units
    ]
    return Sheet("单位", HEADERS, rows, WIDTHS)


def template_sheets() -> list[Sheet]:
    kinds = "、".join(zh_kind_label(k) for k in UnitKind if k != UnitKind.district)
    notes = [
        ("类型", f"必填。可填：{kinds}。"),
        ("上级单位", "必填。填写已有单位或本文件中其他行的单位名称；村（社区）的上级是镇、街道或功能区，其他单位的上级是区。"),
        ("名称", "必填，最多 64 个字；同一上级单位下不能重名。"),
        ("统计代码", "选填，只能是数字。"),
        ("牵头单位", "仅工作组必填：一个区级部门或镇（街道、功能区）的名称。"),
        ("覆盖单位", "仅工作组必填：一个或多个镇、街道、功能区的名称，用顿号“、”分隔。"),
        ("状态", "选填：留空或“启用”。导入的单位均为启用状态。"),
        ("说明", "任何一行有错时整个文件都不会导入，页面会逐行列出错误。"),
    ]
    return [Sheet("单位", HEADERS, [], WIDTHS), Sheet("填写说明", ("列", "说明"), notes, (12, 90))]


@dataclass(eq=False)
class PlannedUnit:
    """One checked row: what to create. References are existing units or other planned rows."""

    row: int
    name: str
    kind: UnitKind | None
    code: str | None
    parent: "Unit | PlannedUnit | None" = None
    lead: "Unit | PlannedUnit | None" = None
    covered: list = field(default_factory=list)


@dataclass
class RowError:
    row: int
    messages: list[str]


def _code(value: str) -> str | None:
    value = (value or "").strip()
    # Excel may hand back a numeric cell as "320305001.0".
    if re.fullmatch(r"\d+\.0", value):
        value = value[:-2]
    return value or None


def plan_import(rows: list[tuple[int, dict]]) -> tuple[list[PlannedUnit], list[RowError]]:
    """Check every row; return the plan, or every row's errors (then nothing is created)."""
    if not rows:
        return [], [RowError(0, [_("文件中没有数据行。")])]
    if len(rows) > MAX_ROWS:
        return [], [RowError(0, [_("一次最多导入 %(n)s 行，请分批导入。", n=MAX_ROWS)])]
    kinds = kind_lookup()
    errors: dict[int, list[str]] = defaultdict(list)
    plan: list[PlannedUnit] = []
    for number, rec in rows:
        kind_text = rec.get("类型", "")
        kind = kinds.get(kind_text) or kinds.get(kind_text.lower())
        if not kind_text:
            errors[number].append(_("“类型”为空。"))
        elif kind is None:
            errors[number].append(_("无法识别的类型“%(kind)s”。", kind=kind_text))
        elif kind == UnitKind.district:
            errors[number].append(_("区是唯一的根单位，不能导入。"))
            kind = None
        name = rec.get("名称", "")
        code = _code(rec.get("统计代码", ""))
        for message in (name_error(name), code_error(code)):
            if message:
                errors[number].append(message)
        if rec.get("状态", "") not in ("", ACTIVE):
            errors[number].append(_("“状态”只能留空或填“启用”：导入的单位均为启用状态。"))
        plan.append(PlannedUnit(number, name, kind, code))

    new_by_name: dict[str, list[PlannedUnit]] = defaultdict(list)
    for p in plan:
        if p.name:
            new_by_name[p.name].append(p)
    referenced = set()
    for _number, rec in rows:
        referenced.add(rec.get("上级单位", ""))
        referenced.add(rec.get("牵头单位", ""))
        referenced.update(LIST_SEPARATORS.split(rec.get("覆盖单位", "")))
    existing = units_by_name(referenced)

    def resolve(name: str, role: str):
        candidates = existing.get(name, []) + new_by_name.get(name, [])
        if not candidates:
            return None, _("找不到%(role)s“%(name)s”。", role=role, name=name)
        if len(candidates) > 1:
            return None, _("%(role)s“%(name)s”有 %(n)s 个同名单位，无法确定是哪一个。",
                           role=role, name=name, n=len(candidates))
        ref = candidates[0]
        if isinstance(ref, Unit) and not ref.is_active:
            return None, _("%(role)s“%(name)s”已停用。", role=role, name=name)
        return ref, None

    seen: dict[tuple[int, str], int] = {}
    for p, (number, rec) in zip(plan, rows, strict=True):
        parent_name = rec.get("上级单位", "")
        if not parent_name:
            errors[number].append(_("“上级单位”为空。"))
        else:
            parent, message = resolve(parent_name, _("上级单位"))
            if parent is p:
                parent, message = None, _("上级单位不能是自己。")
            if message:
                errors[number].append(message)
            if parent is not None:
                p.parent = parent
                if p.kind is not None and parent.kind is not None:
                    message = parent_kind_error(p.kind, parent.kind)
                    if message:
                        errors[number].append(message)
                if p.name:
                    if isinstance(parent, Unit) and sibling_named(parent, p.name) is not None:
                        errors[number].append(duplicate_name_error(parent.name, p.name))
                    key = (id(parent), p.name)
                    if key in seen:
                        errors[number].append(_("与第 %(row)s 行重复：%(what)s", row=seen[key],
                                                what=duplicate_name_error(parent.name, p.name)))
                    else:
                        seen[key] = number
        lead_name = rec.get("牵头单位", "")
        covered_names = [n for n in LIST_SEPARATORS.split(rec.get("覆盖单位", "")) if n]
        if p.kind != UnitKind.work_group:
            if p.kind is not None and (lead_name or covered_names):
                errors[number].append(_("只有工作组可以填写“牵头单位”和“覆盖单位”。"))
            continue
        if not lead_name:
            errors[number].append(_("工作组必须填写“牵头单位”。"))
        else:
            lead, message = resolve(lead_name, _("牵头单位"))
            message = message or (lead_kind_error(lead.kind) if lead.kind else None)
            if message:
                errors[number].append(message)
            p.lead = lead
        if not covered_names:
            errors[number].append(_("工作组必须填写“覆盖单位”。"))
        for covered_name in dict.fromkeys(covered_names):
            unit, message = resolve(covered_name, _("覆盖单位"))
            message = message or (covered_kind_error(covered_name, unit.kind) if unit.kind else None)
            if message:
                errors[number].append(message)
            else:
                p.covered.append(unit)
    report = [RowError(number, messages) for number, messages in sorted(errors.items())]
    return ([] if report else plan), report
