"""Demo casework: about 145 problems across the Jiawang tree, made through the real operations.

Every problem is registered, triaged, assigned, signed for or returned by the operations of
``cases.operations``, and handled and closed by those of ``handling.operations`` (task books, steps,
joint meetings, extensions, sign-off, verification, 暂难解决, the reply; see ``demo.lifecycle``),
acting as demo users, so numbers, the timeline, the audit chain and every invariant are the real
ones. Every status of the lifecycle has problems, and each demo account's queue holds work of
every kind it does (DOMAIN §3):

- ``cadre`` (潘安湖街道工作组) has registrations in every status, replies owed (one overdue) and
  replies given with every verdict;
- ``grouplead`` has problems to triage (new and returned), a draft coordinated list, sign-offs
  and on-the-spot solutions to verify (one sent back: 退回重办) and an extension to decide;
- ``town`` (潘安湖街道) has sheets to sign for, task books to write (one rejected), steps to tick
  (some overdue), problems due soon and overdue; ``townlead`` a task book and a sign-off to approve;
- ``dept`` (区民政局) has a cooperating part to sign for, a lead assignment to sign for and a
  cooperating part to report on (the article's story); ``deptlead`` approved its sign-off;
- ``desk`` has transferred problems and replies owed; ``office`` has submitted lists to assign,
  overdue problems, a 暂难解决 to decide and 区民政局's sign-off to verify.

The first problem is the story of the article, under an invented name: a restaurant owner of
权台村 with leukaemia, crushing medical costs, a daughter at university who wants to drop out —
a common problem on the 潘安湖街道工作组's coordinated list, assigned by the office to 区卫计委
(lead) with 区民政局 cooperating; a 协商会 of both decided the steps they are now working on.

**Dates.** The operations stamp ``clock.now()``. Production code must not move the clock, so
the loader lets each operation run now and then back-dates what it wrote: the problem's
``registered_at`` / ``assigned_at`` / ``accepted_at`` / ``updated_at``, the assignment's
``assigned_at``, the parts' ``signed_at``, the list's ``created_at`` / ``submitted_at``, the visit
and the timeline events (``problem_events.created_at``). Deadlines are recomputed with
``cases.deadlines`` from the back-dated start (working days on the Chinese calendar), so a sheet
assigned 20 working days ago with a 15-day limit is overdue today, as it would be in real life.
Handling is back-dated the same way (``demo.lifecycle``): a task book's dates, its approval, the
ticked steps, extensions, sign-off, verification (a reply is owed two working days after it) and
the reply each lie on their day. Every step lies on a working day before today (so, loaded in the
first weeks of a year, some problems numbered in the new year are dated in the old one); only the
upcoming 会办会 lies ahead. The audit chain is not back-dated: its events say truthfully when the
demo data was loaded (and an assignment's audit detail carries the deadline computed at load).

Every person and enterprise here is invented; phone numbers are of the form 1390516xxxx and
ID numbers are fake (valid check digit, invented birth dates). Loading is deterministic for a
given ``seed`` (the same problems in the same statuses; receipt numbers stay random).
"""

from __future__ import annotations

import random
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy import event, func, select

from ..accounts.models import User
from ..accounts.passwords import hash_password
from ..accounts.roles import Role
from ..cases import deadlines as case_deadlines
from ..cases import operations as ops
from ..cases import uploads
from ..cases.deadlines import reply_deadline
from ..cases.models import (
    Attachment,
    AttachmentKind,
    Category,
    Problem,
    ProblemEvent,
    UnitRole,
)
from ..cases.workflow import Kind, Level, Tier
from ..core import audit, clock
from ..core.extensions import db
from ..handling.models import Closure, Extension, Meeting, Reply, TaskBook, TaskStep
from ..handling.operations import resolve_on_spot
from ..org.models import TERRITORIAL, Unit, UnitKind
from ..visits import operations as visit_ops
from ..visits.models import HouseholdKind
from . import lifecycle
from .org import DEMO_PASSWORD

# ------------------------------------------------------------------ the extra demo accounts

# Work group territory → username slug. 潘安湖街道 is staffed by the 12 named demo accounts.
TERRITORY_SLUGS = {
    "老矿街道": "laokuang", "大泉街道": "daquan", "大吴街道": "dawu", "茱萸山街道": "zhuyushan",
    "青山泉镇": "qingshanquan", "紫庄镇": "zizhuang", "塔山镇": "tashan", "汴塘镇": "biantang",
    "江庄镇": "jiangzhuang", "徐州工业园区": "gongyeyuan", "潘安湖风景区": "fengjingqu",
    "大洞山风景区": "dadongshan",
}
HOME = "潘安湖街道"

# District departments that lead problems in the demo data → username slug (区民政局 is ``dept``).
DEPARTMENT_SLUGS = {
    "区卫计委": "weiji", "区人社局": "renshe", "区住建局": "zhujian", "区交通运输局": "jiaotong",
    "区水利局": "shuili", "区农委": "nongwei", "区教育局": "jiaoyu", "区城管局": "chengguan",
    "区环保局": "huanbao", "区经信委": "jingxin", "国土贾汪分局": "guotu", "公安贾汪分局": "gongan",
    "贾汪供电公司": "gongdian", "贾汪水务公司": "shuiwu",
}
# Every other unit that handles demo problems gets a responsible leader (责任领导), who approves
# its task books and sign-off requests (the first three keep the names they had before the rest).
DESK_UNIT = "区12345平台大走访专席"
EXTRA_LEADERS = {"老矿街道": "townlead-laokuang", "江庄镇": "townlead-jiangzhuang", "区卫计委": "deptlead-weiji"}
EXTRA_LEADERS |= {t: f"townlead-{slug}" for t, slug in TERRITORY_SLUGS.items() if t not in EXTRA_LEADERS}
EXTRA_LEADERS |= {d: f"deptlead-{slug}" for d, slug in DEPARTMENT_SLUGS.items() if d not in EXTRA_LEADERS}
EXTRA_LEADERS[DESK_UNIT] = "desklead"

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡丁魏"
    "薛叶余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟万段钱汤尹常武乔贺龚"
)
GIVEN = (
    "建国 建军 国华 志刚 志华 秀英 秀兰 桂英 玉兰 春梅 海燕 立新 德胜 长林 永强 卫东 红霞 丽娟 "
    "文军 晓燕 明亮 振华 凤英 金凤 家福 宝山 庆云 兆祥 学文 树林 秀云 淑珍 玉珍 德明 守义 广田 "
    "新民 春生 爱华 素梅 玉芳 凤兰 兰英 荣华 保国 庆华 利民 世杰 俊峰 雪梅 艳红 小军 立强 子涵"
).split()
RESERVED_NAMES = {"周文静", "陈建国", "王晓东", "李红梅", "张伟", "刘志强", "赵敏", "孙立军", "吴婷",
                  "郑浩", "冯雪", "何静"}


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


@dataclass
class Staff:
    """The people of one work group and its territory."""

    cadre: User
    lead: User
    handler: User
    co_visitor: str


def _staff_names() -> dict[str, tuple[str, str, str, str]]:
    """Invented names (cadre, co-visitor, group lead, town handler) per territory, fixed."""
    rng = random.Random("huiyin-demo-staff")  # noqa: S311 - demo names, not security
    used = set(RESERVED_NAMES)
    out = {}
    for territory in [HOME, *TERRITORY_SLUGS]:
        names = []
        while len(names) < 4:
            n = _name(rng)
            if n not in used:
                used.add(n)
                names.append(n)
        out[territory] = tuple(names)
    for key in [*DEPARTMENT_SLUGS, *EXTRA_LEADERS.values()]:
        while (n := _name(rng)) in used:
            pass
        used.add(n)
        out[key] = (n,)
    return out


def extra_accounts() -> list[tuple[str, str, str, Role]]:
    """username, full name, unit name, role — the demo accounts beyond the 12 named ones."""
    names = _staff_names()
    rows = []
    for territory, slug in TERRITORY_SLUGS.items():
        cadre, _visitor, lead, handler = names[territory]
        rows += [(f"cadre-{slug}", cadre, f"{territory}工作组", Role.cadre),
                 (f"grouplead-{slug}", lead, f"{territory}工作组", Role.group_lead),
                 (f"town-{slug}", handler, territory, Role.handler)]
    for dept, slug in DEPARTMENT_SLUGS.items():
        rows.append((f"dept-{slug}", names[dept][0], dept, Role.handler))
    for unit_name, username in EXTRA_LEADERS.items():
        rows.append((username, names[username][0], unit_name, Role.unit_leader))
    return rows


def load_extra_accounts() -> dict[str, User]:
    """Create the extra demo accounts that do not exist yet; return them all by username."""
    wanted = extra_accounts()
    existing = {u.username: u for u in db.session.scalars(
        select(User).where(User.username.in_([r[0] for r in wanted])))}
    units = {u.name: u for u in db.session.scalars(select(Unit).where(Unit.kind != UnitKind.village))}
    pw = None
    for username, full_name, unit_name, role in wanted:
        if username in existing:
            continue
        pw = pw or hash_password(DEMO_PASSWORD)
        user = User(username=username, full_name=full_name, unit=units[unit_name], role=role,
                    password_hash=pw, password_changed_at=clock.now(), must_change_password=False,
                    is_demo=True)
        db.session.add(user)
        existing[username] = user
    db.session.flush()
    return existing


# ------------------------------------------------------------------ what residents raise


@dataclass(frozen=True)
class Tpl:
    """A kind of problem: category, title, description ({village} {name} {household})."""

    key: str
    category: str
    title: str
    description: str
    dept: str | None = None  # the district department that leads it (coordinated list)
    coop: tuple[str, ...] = ()  # cooperating units
    enterprise: bool = False
    tier: Tier = Tier.quick
    workdays: int | None = None  # 难事联办: the ceiling set at triage
    belongs_to: str | None = None  # a misrouted sheet: the unit whose duty it really is
    result: str | None = None  # resolved on the spot: what was done
    reason: str | None = None  # not accepted: why


# Town level: assigned by sheet to the town/street/zone.
TOWN = [
    Tpl("T-light", "道路交通", "村内主干道路灯损坏，夜间出行不便",
        "{village}村部至小学的主干道共有路灯12盏，其中7盏已损坏两个多月。冬季天黑得早，学生放学和"
        "村民夜间出行看不清路，存在安全隐患，希望尽快维修。", tier=Tier.immediate),
    Tpl("T-road", "道路交通", "组内水泥路破损坑洼，雨天积水难行",
        "{village}后庄组约300米水泥路破损严重，多处坑洼，雨后积水没过脚踝，老人和孩子出行经常摔倒，"
        "希望修补路面、疏通路边排水沟。"),
    Tpl("T-garbage", "环境卫生", "垃圾收集点清运不及时，周边异味大",
        "{village}东头垃圾收集点每周只清运一次，垃圾经常堆满溢出，蚊蝇多、异味大，影响周边十余户"
        "居民生活，希望增加清运频次并更换密闭垃圾箱。", tier=Tier.immediate),
    Tpl("T-pond", "环境卫生", "村内沟塘漂浮垃圾，水体发黑发臭",
        "{village}中心沟塘常年无人清理，漂浮生活垃圾和水草，夏季水体发黑发臭。群众希望清淤整治，"
        "纳入村庄环境整治计划。"),
    Tpl("T-elderly", "民生保障", "高龄老人尊老金未按时发放",
        "{name}家中老人今年已满80周岁，已按要求向村里提交身份证、户口本复印件，至今未领到高龄"
        "尊老金，家属询问办理进度和发放时间。", coop=("区民政局",)),
    Tpl("T-house", "住房保障", "独居老人老屋漏雨，希望危房改造",
        "{name}年逾七旬，独自居住，子女在外地打工。所住老屋屋顶瓦片破损、墙体开裂，下雨时屋内漏水，"
        "希望纳入农村危房改造或给予临时救助。", coop=("区住建局",)),
    Tpl("T-canal", "农业农村", "灌溉沟渠淤塞，影响小麦浇水",
        "{village}北片约200亩农田的灌溉沟渠多年未清淤，杂草丛生、水流不畅，秋种后浇不上水，"
        "影响小麦出苗，希望组织清淤疏浚。", belongs_to="区水利局"),
    Tpl("T-flood", "农业农村", "连续降雨后农田积水，玉米受淹减产",
        "今年汛期连续强降雨后，{village}南洼约60亩农田排水不畅，玉米大面积受淹减产。村民希望疏通"
        "排水沟，并了解农业保险理赔办理流程。"),
    Tpl("T-dispute", "矛盾纠纷", "宅基地边界及排水纠纷，调解未果",
        "{name}与邻居因宅基地边界和房屋排水问题多次发生争执，村调解委员会调解两次未果，双方情绪"
        "激动，希望司法所出面调解，防止矛盾激化。"),
    Tpl("T-camera", "社会治安", "村内监控损坏，夜间电动车被盗",
        "近一个月{village}连续发生三起夜间电动车被盗，村口和主要路口的监控探头已损坏多时，群众希望"
        "修复监控、加强夜间巡逻。", tier=Tier.immediate, belongs_to="公安贾汪分局"),
    Tpl("T-fitness", "其他", "村文化广场健身器材损坏",
        "{village}文化广场的健身器材有多件损坏，漫步机和单杠连接处松动，存在安全隐患，老人和孩子"
        "常在此活动，希望维修更换。"),
    Tpl("T-training", "就业创业", "返乡人员希望参加电商技能培训",
        "{name}今年从外地返乡，想在家门口做农产品网上销售，希望组织电商、直播带货等技能培训，并了解"
        "创业担保贷款政策。"),
    Tpl("T-market", "城市管理", "集市占道经营，车辆通行困难",
        "每逢集日，{village}主街两侧摊位占道经营，车辆和行人拥堵，救护车曾经无法通过，希望规范集市"
        "管理、划定摊位区域。"),
    Tpl("T-school", "教育", "村小学门口上下学时段交通拥堵",
        "{village}小学门口道路狭窄，上下学时段接送车辆和电动车拥堵，过往大货车车速快，家长担心孩子"
        "安全，希望增设减速带和警示标志，安排护学岗。"),
    Tpl("T-relief", "民生保障", "困难家庭申请临时救助",
        "{name}家男主人今年因工受伤卧床，女主人无固定收入，两个孩子上学，家庭生活十分困难，希望申请"
        "临时救助，并了解低保申请条件。", tier=Tier.immediate, coop=("区民政局",)),
    Tpl("T-water", "供电供水", "自来水水压低，用水高峰断水",
        "{village}地势较高的西片住户自来水水压低，早晚用水高峰经常断水，夏天尤其严重，希望加装增压"
        "设施或改造管网。", belongs_to="贾汪水务公司"),
    Tpl("T-bridge", "道路交通", "生产桥两侧无护栏，过桥存在安全隐患",
        "{village}南干渠上的生产桥宽约4米，两侧没有护栏，农忙时农机和电动车来往频繁，去年冬天有村民骑车"
        "跌落渠中。群众希望加装护栏、设置警示标志。"),
    Tpl("T-toilet", "环境卫生", "改厕后化粪池渗漏，污水外溢有异味",
        "{name}家去年完成户厕改造，今年入夏后化粪池出现渗漏，污水顺着墙根外溢，气味很大，邻居也有意见，"
        "希望施工单位返修。"),
    Tpl("T-tree", "城市管理", "路边枯死杨树有倒伏风险",
        "{village}主路两侧有十余棵杨树已经枯死，树干中空，大风天容易折断，树下就是上学路和村民住房，群众"
        "希望尽快清理补植。"),
    Tpl("T-farm", "环境卫生", "养殖场污水直排沟渠，周边臭味大",
        "{village}西侧一家生猪养殖场粪污处理设施不完善，雨天污水直排村边沟渠，夏天臭味大、蚊蝇多，群众"
        "希望督促整改。"),
    Tpl("T-dogs", "社会治安", "村内散养犬只多，夜间有人被咬伤",
        "{village}散养犬只较多，近期有两名村民夜间被狗咬伤，孩子上学也害怕，群众希望督促犬主拴养并开展"
        "狂犬病免疫。"),
    Tpl("T-subsidy", "农业农村", "耕地地力保护补贴未足额到账",
        "{name}家承包耕地8亩，今年的耕地地力保护补贴只到账了一部分，与往年标准不符，希望核实补贴面积和"
        "发放情况。"),
    Tpl("T-noise", "城市管理", "工地夜间施工噪音扰民",
        "{village}附近一处工地经常夜间施工到凌晨，搅拌机和渣土车噪音很大，周边居民休息受到影响，希望依法"
        "管理。"),
    Tpl("T-shelter", "道路交通", "公交站点无候车亭，雨天候车困难",
        "{village}村口公交站只有一块站牌，没有候车亭和座椅，老人和学生雨天、烈日下候车很不方便，希望建设"
        "候车亭。"),
    Tpl("T-leak", "住房保障", "安置小区楼顶渗水，顶层住户屋内漏雨",
        "{name}住在{village}安置小区顶层，入住三年来楼顶防水层老化，每逢下雨卧室墙面渗水发霉，多次向物业"
        "反映未解决，希望维修。"),
    Tpl("T-widen", "道路交通", "村道狭窄会车困难，希望拓宽",
        "{village}通往镇区的村道宽仅3.5米，两侧是农田和沟渠，大车会车困难，多次发生剐蹭，群众希望拓宽至"
        "6米并加装护栏。"),
    Tpl("T-gas", "其他", "希望村里接通天然气管道",
        "{village}周边小区已通天然气，村里仍使用罐装液化气，换气不便且存在安全隐患，群众希望将村庄纳入"
        "天然气管网建设范围。"),
]

# Individual problems for the district 12345 platform's campaign desk.
DESK = [
    Tpl("D-insurance", "医疗卫生", "城乡居民医保住院报销款迟迟未到账",
        "{name}今年6月在市区医院住院治疗，出院后已向医保经办窗口提交报销材料，三个多月了报销款仍未"
        "到账，多次电话询问没有答复。"),
    Tpl("D-wages", "就业创业", "建筑工地拖欠务工人员工资",
        "{name}在区内一处建筑工地务工，工程结束后包工头拖欠工资1.2万元，多次讨要无果，同班组还有"
        "6名工友被欠薪，希望协调追讨。"),
    Tpl("D-disability", "民生保障", "残疾人两项补贴停发，询问原因",
        "{name}的儿子为二级肢体残疾，此前每月领取困难残疾人生活补贴和重度残疾人护理补贴，近三个月"
        "突然停发，家属不清楚原因。"),
    Tpl("D-meter", "供电供水", "家中电表计量异常，电费突然翻倍",
        "{name}家近两个月电费由每月七八十元涨到两百多元，家中用电习惯没有变化，怀疑电表计量异常，"
        "希望供电部门上门检测。"),
    Tpl("D-ebike", "其他", "新买电动车电池故障，商家拒绝退换",
        "{name}在区内门店购买的电动自行车使用一个月电池就无法充电，商家以人为损坏为由拒绝退换，"
        "希望帮助维权。"),
    Tpl("D-pension", "民生保障", "养老保险缴费年限查询与补缴",
        "{name}今年58岁，早年在乡镇企业工作过几年，不清楚这几年的养老保险缴费年限能否合并计算，"
        "想了解补缴政策和办理地点。"),
]

# Common problems for the coordinated list; the office assigns them to district departments.
DISTRICT = [
    Tpl("C-clinic", "医疗卫生", "村卫生室常用药品不全，慢性病患者取药难",
        "{village}卫生室常用的降压药、降糖药经常断货，村里慢性病老人多，只能到镇上医院取药，来回"
        "不便，希望保障基本药物供应。", dept="区卫计委"),
    Tpl("C-power", "供电供水", "企业生产用电电压不稳，频繁跳闸",
        "{household}位于{village}，近两个月生产高峰时段电压不稳，每周跳闸两三次，造成设备损坏和订单"
        "延误。周边多家企业反映同样问题，希望对线路和变压器增容改造。",
        dept="贾汪供电公司", coop=("区经信委",), enterprise=True),
    Tpl("C-drinking", "供电供水", "自备井水质发黄，希望接入区域供水管网",
        "{village}部分村民组仍饮用自备井水，井水发黄、水垢多，群众担心饮水安全，希望尽快纳入区域"
        "供水管网改造计划。", dept="贾汪水务公司", tier=Tier.joint, workdays=40),
    Tpl("C-daycare", "民生保障", "留守老人缺少照料，希望建设日间照料中心",
        "{village}60岁以上老人占三分之一，多数子女在外务工，独居老人吃饭、看病缺少照应，群众希望"
        "建设村级居家养老日间照料中心。", dept="区民政局"),
    Tpl("C-bus", "道路交通", "镇村公交班次少，群众出行不便",
        "{village}通往城区的镇村公交每天只有4个班次，末班车下午4点，学生和务工人员出行不便，希望"
        "增加班次、延长运营时间。", dept="区交通运输局"),
    Tpl("C-trucks", "道路交通", "运煤重车碾压，县道路面严重破损",
        "{village}附近县道长期有运煤、运石料重车通行，路面坑槽连片，雨天积水，已发生多起电动车摔倒"
        "事故，希望修复路面并加强超限治理。", dept="区交通运输局", coop=("公安贾汪分局",)),
    Tpl("C-pumps", "水利设施", "排涝站设备老化，汛期农田受淹",
        "{village}排涝站水泵建于上世纪八十年代，今年汛期两台泵先后故障，近千亩农田受淹，群众希望"
        "更新改造排涝设备、疏浚排涝河道。", dept="区水利局", coop=("区农委",),
        tier=Tier.joint, workdays=45),
    Tpl("C-straw", "农业农村", "秸秆禁烧后缺乏离田利用渠道",
        "秸秆禁烧后，{village}种植户的小麦、玉米秸秆缺少收储和离田利用渠道，堆在田头容易引发火灾，"
        "希望建设秸秆收储点、推广综合利用。", dept="区农委"),
    Tpl("C-kindergarten", "教育", "幼儿园学位不足，孩子入园需到镇上",
        "{village}及周边村适龄儿童较多，附近没有公办幼儿园，孩子只能到镇上民办园就读，费用高、接送"
        "远，希望就近增设公办幼儿园或教学点。", dept="区教育局", tier=Tier.joint, workdays=60),
    Tpl("C-subsidence", "住房保障", "采煤塌陷区房屋裂缝，群众要求搬迁安置",
        "{village}部分房屋位于采煤塌陷影响区，近年墙体裂缝不断加宽，有的门窗已变形，群众担心居住"
        "安全，希望尽快鉴定并纳入搬迁安置计划。", dept="区住建局", coop=("国土贾汪分局",),
        tier=Tier.joint, workdays=60),
    Tpl("C-odour", "环境卫生", "周边企业夜间排放刺鼻气味",
        "{village}附近的塑料加工企业夜间排放刺鼻气味，周边居民晚上不敢开窗，部分老人和孩子出现"
        "咳嗽，希望环保部门夜间检查。", dept="区环保局"),
    Tpl("C-landless", "就业创业", "被征地农民社保补贴政策落实不到位",
        "{village}部分被征地农民反映，征地时说明的养老保险缴费补贴至今没有落实，不清楚政策标准和"
        "办理流程，希望统一解释和办理。", dept="区人社局", coop=("国土贾汪分局",)),
    Tpl("C-loans", "企业发展", "小微企业融资难，希望搭建银企对接",
        "{household}是{village}一家小型加工企业，订单增加但流动资金紧张，缺少抵押物，贷款难，希望"
        "搭建银企对接平台、落实担保贷款政策。", dept="区经信委", enterprise=True),
    Tpl("C-landcert", "土地规划", "土地确权面积与实际承包面积不符",
        "{village}多户村民反映，土地承包经营权确权证上的面积与实际耕种面积不一致，有的少了一两亩，"
        "希望重新核实测量。", dept="国土贾汪分局"),
    Tpl("C-sheds", "城市管理", "主干道两侧违章搭建、乱堆乱放",
        "{village}沿街主干道两侧有多处违章搭建的棚子和乱堆的建材，占用人行道，影响通行和村容，希望"
        "依法整治。", dept="区城管局"),
    Tpl("C-crossing", "社会治安", "路口缺少红绿灯，交通事故多发",
        "{village}村口十字路口车流量大，没有信号灯和监控，今年已发生三起交通事故，群众希望增设"
        "信号灯和减速设施。", dept="公安贾汪分局", coop=("区交通运输局",)),
    Tpl("C-dibao", "民生保障", "农村低保认定标准不清楚，群众有疑问",
        "{village}多户村民反映不清楚农村低保的收入核算和认定标准，对部分家庭的认定结果有疑问，希望"
        "公开政策、规范评议程序。", dept="区民政局"),
    Tpl("C-illness", "医疗卫生", "大病患者医疗费用负担重，因病致贫风险大",
        "{village}有多户家庭因癌症、尿毒症等大病长期治疗，大病保险报销后自付部分仍然很高，家庭"
        "收入难以承受，希望落实医疗救助、减轻负担。", dept="区卫计委", coop=("区民政局",),
        tier=Tier.joint, workdays=30),
]

# Solved on the spot by the work group (好事即办), waiting for verification.
ON_SPOT = [
    Tpl("O-drain", "环境卫生", "门前下水道堵塞，污水外溢",
        "{name}家门前的下水道堵塞，生活污水外溢到路面，气味难闻，出行不便。", tier=Tier.immediate,
        result="工作组当场联系村委会，村保洁员当天疏通了下水道并清理路面，已拍照留存。"),
    Tpl("O-pension-check", "民生保障", "老人不会用手机做养老金资格认证",
        "{name}年过八旬，养老金需要每年做领取资格认证，不会使用智能手机，担心养老金被停发。",
        tier=Tier.immediate, result="走访队员现场帮助老人完成了养老金领取资格认证，并教会其家人操作。"),
    Tpl("O-sign", "道路交通", "村口道路指示牌倒伏",
        "{village}村口的道路指示牌被大风刮倒，外来车辆找不到路，夜间还容易撞上。", tier=Tier.immediate,
        result="工作组联系村委会，当天将指示牌扶正加固，并加装了反光条。"),
    Tpl("O-insurance-pay", "医疗卫生", "不清楚明年城乡居民医保缴费渠道",
        "{name}家中四口人，不清楚明年城乡居民医保在哪里缴费、截止到什么时候。", tier=Tier.immediate,
        result="走访队员现场讲解缴费渠道和截止时间，并协助其用手机完成了全家缴费。"),
]

# Not accepted (the resident is still owed a reply).
NOT_ACCEPTED = [
    Tpl("N-estate", "矛盾纠纷", "要求重新分割已判决的遗产",
        "{name}对兄弟之间遗产分割的法院判决不服，要求工作组出面重新分割房产。", tier=Tier.quick,
        reason="该纠纷已经人民法院判决生效，不属于大走访受理范围。已向当事人解释，可依法申请再审或"
               "强制执行，并告知法律援助渠道。"),
    Tpl("N-build", "土地规划", "要求将承包地调整为宅基地建房",
        "{name}要求将自家承包的耕地调整为宅基地，用于给儿子建新房。", tier=Tier.quick,
        reason="该诉求不符合土地利用总体规划和农村宅基地审批规定。已向村民解释政策，告知宅基地申请"
               "程序。"),
    Tpl("N-job", "就业创业", "要求为子女安排事业单位工作",
        "{name}要求为刚毕业的子女直接安排事业单位工作。", tier=Tier.quick,
        reason="诉求不属于政策支持范围。已向本人解释事业单位公开招聘规定，并介绍了就业服务和招聘信息"
               "渠道。"),
]

STORY = Tpl(
    "S-story", "医疗卫生", "权台村饭店经营户身患白血病，医疗费用负担沉重，女儿上大学面临辍学",
    "韩德明，52岁，在权台村经营一家小饭店，是全家的主要收入来源。今年确诊急性白血病，已在市区"
    "医院住院化疗三次，扣除医保报销后自付医疗费用累计十余万元，饭店已经停业，家中积蓄用尽，并向"
    "亲友借款。女儿在南京读大学二年级，担心家里负担太重，提出退学打工。本人及家属希望：一是了解"
    "大病保险和医疗救助能否再报销一部分；二是帮助女儿申请助学金，让孩子把书读完。",
    dept="区卫计委", coop=("区民政局",), tier=Tier.joint, workdays=30,
)
STORY_RESIDENT = ("韩德明", "韩德明家", "权台村")
STORY_REQUIREMENTS = ("请区卫计委牵头，落实大病保险、医疗救助政策，核实可再报销部分；区民政局配合做好临时"
                      "救助和因病致贫家庭认定，协调助学帮扶，确保孩子不因家庭困难辍学。办理结果及时反馈"
                      "潘安湖街道工作组。")

RETURN_TOWN = "经核实，该问题属于{unit}的职责范围，本单位无权处置，请重新交办。"
RETURN_DEPT = "经核实，该问题主要涉及{unit}的职责，本单位可以配合，请重新明确牵头单位。"
MERGE_REASON = "与{number}反映的是同一问题（同村同一处），合并办理，办理结果一并答复。"
SITUATIONS = [
    "家中{n}口人，夫妻二人务农，两个孩子在读书。", "老两口在家，儿女在外地打工，逢年过节回来。",
    "家中{n}口人，男主人在附近工厂上班，女主人在家照顾老人。", "一家{n}口，经营一个小卖部，收入一般。",
    "家中{n}口人，种植大棚蔬菜十余亩。", "独居老人，低保户，身体尚可。",
]
ENTERPRISE_NAMES = ["宏达", "鑫源", "恒泰", "华盛", "润丰", "金利", "永兴", "顺达"]
ENTERPRISE_KINDS = ["机械加工厂", "纺织有限公司", "食品有限公司", "新型建材厂"]
REQUIREMENTS = ["请于时限内办结并反馈工作组。", "请核实情况，尽快办理，结果及时告知群众。",
                "请实地查看，制定整改措施，按时反馈办理情况。"]
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def fake_id_number(rng: random.Random) -> str:
    """A fake 贾汪区 ID number with a valid check digit (invented birth date and sequence)."""
    body = f"320305{rng.randint(1950, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]
    return body + check


# ------------------------------------------------------------------ the plan

REGISTERED = "registered"
NOT_ACCEPT = "not_accepted"
MERGED = "merged"
RESOLVED = "on_spot"
SHEET = "sheet"  # assigned to the town by sheet, not yet signed for
SHEET_SIGNED = "sheet_signed"
SHEET_RETURNED = "sheet_returned"
TO_DESK = "desk"
DESK_SIGNED = "desk_signed"
LIST_DRAFT = "list_draft"
LIST_SUBMITTED = "list_submitted"  # on a submitted list, not yet assigned by the office
DEPT = "dept"  # assigned to departments by the office, not yet signed for
DEPT_SIGNED = "dept_signed"
DEPT_RETURNED = "dept_returned"
SUBMITTED_COHORT = {LIST_SUBMITTED, DEPT, DEPT_SIGNED, DEPT_RETURNED}

# How often each fate occurs in the generated part (the other twelve work groups).
FATE_WEIGHTS = {
    REGISTERED: 14, SHEET: 12, SHEET_SIGNED: 18, SHEET_RETURNED: 3, TO_DESK: 5, DESK_SIGNED: 5,
    LIST_DRAFT: 6, LIST_SUBMITTED: 6, DEPT: 8, DEPT_SIGNED: 9, DEPT_RETURNED: 2, RESOLVED: 5,
    NOT_ACCEPT: 4, MERGED: 3,
}


@dataclass
class Spec:
    """One problem to make: where, what, and how far it gets (its fate), with its timing."""

    territory: str
    fate: str
    tpl: Tpl | None = None
    village: str | None = None
    reg_wd: int = 1  # registered this many working days ago
    act_wd: int | None = None  # triaged / assigned
    sign_wd: int | None = None  # signed for / returned
    tier: Tier | None = None
    workdays: int | None = None
    lead: str | None = None  # unit name
    coop: tuple[str, ...] = ()
    sign_coop: bool | None = None  # cooperating units sign for their parts too (None: drawn)
    list_wd: int | None = None  # its coordinated list was submitted this many working days ago
    resident: tuple[str, str] | None = None  # (name, household)
    requirements: str | None = None
    merge_into: Spec | None = None
    stages: list[lifecycle.Stage] = field(default_factory=list)  # handling after signing (or ending)
    problem: Problem | None = field(default=None, repr=False)


def _home_plan() -> list[Spec]:
    """潘安湖街道工作组: scripted, so the named demo accounts always show the same work."""
    h = HOME
    story = Spec(h, DEPT_SIGNED, STORY, "权台村", reg_wd=30, act_wd=17, sign_wd=16, list_wd=19,
                 lead="区卫计委", coop=("区民政局",), sign_coop=True, resident=STORY_RESIDENT[:2],
                 requirements=STORY_REQUIREMENTS)
    d = {t.key: t for t in TOWN + DESK + DISTRICT + ON_SPOT + NOT_ACCEPTED}
    light = Spec(h, REGISTERED, d["T-light"], "权台村", reg_wd=3)
    specs = [
        story,
        # The first list: submitted 19 working days ago; the office assigned most of it.
        Spec(h, DEPT_SIGNED, d["C-bus"], "西段庄村", reg_wd=24, act_wd=17, sign_wd=16, list_wd=19),
        Spec(h, DEPT_SIGNED, d["C-drinking"], "瓦店村", reg_wd=21, act_wd=17, sign_wd=15, list_wd=19),
        Spec(h, DEPT_SIGNED, d["C-daycare"], "权台西村", reg_wd=23, act_wd=17, sign_wd=16, list_wd=19),
        Spec(h, LIST_SUBMITTED, d["C-trucks"], "马庄村", reg_wd=20, list_wd=19),
        # The second list, submitted 4 working days ago: a lead assignment for 区民政局 to sign.
        Spec(h, DEPT, d["C-dibao"], "权台西村", reg_wd=6, act_wd=2, list_wd=4),
        Spec(h, LIST_SUBMITTED, d["C-kindergarten"], "小黄山村", reg_wd=7, list_wd=4),
        # The group lead's draft list.
        Spec(h, LIST_DRAFT, d["C-clinic"], "瓦店村", reg_wd=3),
        Spec(h, LIST_DRAFT, d["C-power"], "权台村", reg_wd=2),
        Spec(h, LIST_DRAFT, d["C-odour"], "西段庄村", reg_wd=1),
        # New, waiting for triage.
        light,
        Spec(h, REGISTERED, d["T-garbage"], "西段庄村", reg_wd=1),
        Spec(h, REGISTERED, d["D-insurance"], "瓦店村", reg_wd=2),
        Spec(h, REGISTERED, d["C-straw"], "马庄村", reg_wd=4),
        Spec(h, REGISTERED, d["T-market"], "小黄山村", reg_wd=1),
        Spec(h, SHEET_RETURNED, d["T-water"], "权台西村", reg_wd=6, act_wd=5, sign_wd=4),
        # Sheets to 潘安湖街道, to sign for (one of them long overdue).
        Spec(h, SHEET, d["T-road"], "权台村", reg_wd=2, act_wd=1),
        Spec(h, SHEET, d["T-elderly"], "马庄村", reg_wd=3, act_wd=1),
        Spec(h, SHEET, d["T-school"], "小黄山村", reg_wd=4, act_wd=2),
        Spec(h, SHEET, d["T-dispute"], "瓦店村", reg_wd=20, act_wd=18),
        # Signed for: overdue, due soon, on time.
        Spec(h, SHEET_SIGNED, d["T-house"], "权台西村", reg_wd=8, act_wd=6, sign_wd=6, sign_coop=True),
        Spec(h, SHEET_SIGNED, d["T-canal"], "西段庄村", reg_wd=22, act_wd=20, sign_wd=19),
        Spec(h, SHEET_SIGNED, d["T-camera"], "马庄村", reg_wd=6, act_wd=5, sign_wd=5),
        Spec(h, SHEET_SIGNED, d["T-relief"], "权台村", reg_wd=3, act_wd=2, sign_wd=2, sign_coop=True),
        Spec(h, SHEET_SIGNED, d["T-fitness"], "小黄山村", reg_wd=15, act_wd=14, sign_wd=13),
        # Transferred to the 12345 desk.
        Spec(h, TO_DESK, d["D-disability"], "权台村", reg_wd=2, act_wd=1),
        Spec(h, TO_DESK, d["D-meter"], "西段庄村", reg_wd=3, act_wd=2),
        Spec(h, DESK_SIGNED, d["D-wages"], "瓦店村", reg_wd=5, act_wd=4, sign_wd=3),
        # Ended or waiting for verification.
        Spec(h, MERGED, None, reg_wd=2, act_wd=2, merge_into=light),
        Spec(h, NOT_ACCEPT, d["N-estate"], "马庄村", reg_wd=7, act_wd=6),
        Spec(h, RESOLVED, d["O-drain"], "权台西村", reg_wd=3, act_wd=3),
        Spec(h, RESOLVED, d["O-pension-check"], "小黄山村", reg_wd=5, act_wd=5),
        # Handling and closure (scripts: lifecycle.HOME_SCRIPTS): in progress, with an extension …
        Spec(h, SHEET_SIGNED, d["T-pond"], "马庄村", reg_wd=25, act_wd=24, sign_wd=23),
        Spec(h, SHEET_SIGNED, d["T-flood"], "西段庄村", reg_wd=13, act_wd=12, sign_wd=12),
        Spec(h, SHEET_SIGNED, d["T-toilet"], "瓦店村", reg_wd=20, act_wd=19, sign_wd=18),
        Spec(h, SHEET_SIGNED, d["T-leak"], "权台村", reg_wd=25, act_wd=24, sign_wd=24),
        # … waiting for the leader, the verifier, the office …
        Spec(h, SHEET_SIGNED, d["T-training"], "权台西村", reg_wd=15, act_wd=14, sign_wd=14),
        Spec(h, SHEET_SIGNED, d["T-bridge"], "小黄山村", reg_wd=18, act_wd=17, sign_wd=17),
        Spec(h, SHEET_SIGNED, d["T-widen"], "马庄村", reg_wd=13, act_wd=12, sign_wd=12),
        # … signed off (a reply owed), closed after the reply, 暂难解决.
        Spec(h, SHEET_SIGNED, d["T-tree"], "权台村", reg_wd=14, act_wd=13, sign_wd=13),
        Spec(h, SHEET_SIGNED, d["T-farm"], "西段庄村", reg_wd=19, act_wd=18, sign_wd=18),
        Spec(h, SHEET_SIGNED, d["T-dogs"], "马庄村", reg_wd=22, act_wd=21, sign_wd=21),
        Spec(h, SHEET_SIGNED, d["T-subsidy"], "权台西村", reg_wd=26, act_wd=25, sign_wd=24),
        Spec(h, SHEET_SIGNED, d["T-noise"], "小黄山村", reg_wd=17, act_wd=17, sign_wd=17),
        Spec(h, SHEET_SIGNED, d["T-shelter"], "瓦店村", reg_wd=23, act_wd=22, sign_wd=22),
        Spec(h, SHEET_SIGNED, d["T-gas"], "西段庄村", reg_wd=20, act_wd=19, sign_wd=19),
        Spec(h, DESK_SIGNED, d["D-pension"], "权台西村", reg_wd=18, act_wd=17, sign_wd=17),
        Spec(h, DESK_SIGNED, d["D-ebike"], "瓦店村", reg_wd=22, act_wd=21, sign_wd=21),
        Spec(h, NOT_ACCEPT, d["N-job"], "小黄山村", reg_wd=10, act_wd=10),
        Spec(h, RESOLVED, d["O-sign"], "权台村", reg_wd=9, act_wd=9),
    ]
    for s in specs:
        s.act_wd = s.reg_wd if s.act_wd is None else s.act_wd
        s.sign_coop = bool(s.sign_coop)
        if s.tpl is not None:
            s.stages = list(lifecycle.HOME_SCRIPTS.get(s.tpl.key, ()))
    return specs


def _generated_plan(rng: random.Random) -> list[Spec]:
    """The other twelve work groups: fates drawn with ``FATE_WEIGHTS`` (deterministic per seed)."""
    fates, weights = zip(*FATE_WEIGHTS.items(), strict=True)
    specs = []
    for territory in TERRITORY_SLUGS:
        drawn = rng.choices(fates, weights, k=rng.randint(6, 10))
        if REGISTERED not in drawn:  # every group lead has something to triage
            drawn[0] = REGISTERED
        if not {SHEET, SHEET_SIGNED} & set(drawn):  # and every town handler something to handle
            drawn[next((i for i, f in enumerate(drawn) if f != REGISTERED), 1)] = SHEET_SIGNED
        group = [Spec(territory, fate) for fate in drawn]
        submit_wd = rng.randint(3, 18)
        office_wd = max(1, submit_wd - rng.randint(1, 2))
        for s in group:
            _time(s, rng, submit_wd, office_wd)
            if s.fate == LIST_DRAFT:  # compiled after the group's list was submitted
                s.reg_wd = s.act_wd = min(s.reg_wd, submit_wd - 1)
        registered_before = [s for s in group if s.fate not in (MERGED, NOT_ACCEPT, RESOLVED)
                             and s.reg_wd >= 2]
        for s in group:
            if s.fate == MERGED:
                if not registered_before:
                    s.fate = REGISTERED
                    continue
                s.merge_into = rng.choice(registered_before)
                s.reg_wd = rng.randint(1, s.merge_into.reg_wd - 1)
                s.act_wd = s.reg_wd
        specs += group
    return specs


def _time(s: Spec, rng: random.Random, submit_wd: int, office_wd: int) -> None:
    """Working-day offsets for a generated problem's steps (registration ≥ triage ≥ signing)."""
    overdue = rng.random() < 0.15
    if s.fate in (REGISTERED, LIST_DRAFT):
        s.reg_wd = rng.randint(1, 6)
        s.act_wd = s.reg_wd
    elif s.fate in SUBMITTED_COHORT:
        s.reg_wd = submit_wd + rng.randint(1, 5)
        s.list_wd = submit_wd
        s.act_wd = office_wd
        s.sign_wd = max(1, office_wd - rng.randint(0, 2))
    elif s.fate in (SHEET, TO_DESK):
        s.act_wd = rng.choice([1, 1, 2, 3]) if not overdue else rng.randint(17, 22)
        s.reg_wd = s.act_wd + rng.randint(0, 3)
    elif s.fate in (SHEET_SIGNED, DESK_SIGNED):
        s.act_wd = rng.randint(2, 14) if not overdue else rng.randint(17, 26)
        s.reg_wd = s.act_wd + rng.randint(0, 3)
        s.sign_wd = max(1, s.act_wd - rng.randint(0, 1))
    elif s.fate == SHEET_RETURNED:
        s.act_wd = rng.randint(2, 8)
        s.reg_wd = s.act_wd + rng.randint(0, 2)
        s.sign_wd = s.act_wd - 1
    else:  # resolved on the spot, not accepted, merged
        s.reg_wd = rng.randint(2, 15)
        s.act_wd = s.reg_wd - rng.randint(0, 1)


def plan(seed: int = 2017) -> list[Spec]:
    """Every problem to make, in order (the story first). Pure: no database."""
    generated = _generated_plan(random.Random(seed))  # noqa: S311 - demo data
    lifecycle.draw_paths(generated, seed, signed={SHEET_SIGNED, DESK_SIGNED, DEPT_SIGNED},
                         ended={NOT_ACCEPT, MERGED}, resolved=RESOLVED)
    return _home_plan() + generated


# ------------------------------------------------------------------ the loader


def _dept_key(t: Tpl) -> str:
    return f"dept:{t.dept}"


class _Loader(lifecycle.HandlingSteps):
    def __init__(self, seed: int):
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not security
        self.today = clock.today()
        self.days: dict[int, date] = {}  # working days ago → date (see day())
        self.units = {u.name: u for u in db.session.scalars(
            select(Unit).where(Unit.kind != UnitKind.village, Unit.is_active.is_(True)))}
        self.villages: dict[str, list[Unit]] = {}
        for v in db.session.scalars(select(Unit).where(Unit.kind == UnitKind.village,
                                                       Unit.is_active.is_(True)).order_by(Unit.id)):
            if v.parent is not None and v.parent.kind in TERRITORIAL:
                self.villages.setdefault(v.parent.name, []).append(v)
        self.categories = {c.name: c for c in db.session.scalars(select(Category))}
        accounts = load_extra_accounts()
        wanted = {"cadre", "grouplead", "town", "townlead", "dept", "deptlead", "desk", "office"}
        named = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(wanted)))}
        missing = wanted - set(named)
        if missing:
            raise RuntimeError(f"demo accounts missing: {sorted(missing)}; load the demo organisation first")
        self.users = {**accounts, **named}
        names = _staff_names()
        self.staff = {HOME: Staff(named["cadre"], named["grouplead"], named["town"], names[HOME][1])}
        for territory, slug in TERRITORY_SLUGS.items():
            self.staff[territory] = Staff(accounts[f"cadre-{slug}"], accounts[f"grouplead-{slug}"],
                                          accounts[f"town-{slug}"], names[territory][1])
        self.handlers = {u.unit.name: u for u in self.users.values() if u.role == Role.handler}
        self.leaders = {u.unit.name: u for u in self.users.values() if u.role == Role.unit_leader}
        self.meetings = {}  # script key → Meeting
        self.written: list[str] = []  # stored evidence files (removed again if the load fails)
        self.photo_seq = 0
        self.used: Counter[str] = Counter()
        self.per_day: Counter[date] = Counter()  # registrations per day
        self.office = named["office"]
        self.desk = named["desk"]

    # -- time

    def at(self, wd: int, hour: int, minute: int | None = None) -> datetime:
        """A UTC instant ``wd`` working days before today at ``hour`` local time."""
        day = self.day(max(1, wd))
        minute = self.rng.randint(0, 59) if minute is None else minute
        return datetime.combine(day, time(hour, minute), tzinfo=clock.LOCAL_TZ).astimezone(UTC)

    @contextmanager
    def stamped(self, when: datetime):
        """Run operations now; the timeline events they write are dated ``when`` as they are
        inserted (by :meth:`_date_event`, listening while :meth:`run` runs)."""
        self.when = when
        yield
        db.session.flush()

    def _date_event(self, _mapper, _connection, target: ProblemEvent) -> None:
        target.created_at = self.when

    # -- choosing content

    def pick(self, pool: list[Tpl], key=lambda t: t.key) -> Tpl:
        """The least used kind of problem in ``pool`` (by ``key``), so that the demo varies."""
        least = min(self.used[key(t)] for t in pool)
        tpl = self.rng.choice([t for t in pool if self.used[key(t)] == least])
        self.used[key(tpl)] += 1
        return tpl

    def fill(self, s: Spec) -> None:
        """Choose the content and the units of a generated spec."""
        if s.fate == MERGED:
            s.tpl, s.village = s.merge_into.tpl, s.merge_into.village
        elif s.tpl is None:
            pool = {
                REGISTERED: TOWN + DESK + DISTRICT, SHEET: TOWN, SHEET_SIGNED: TOWN,
                SHEET_RETURNED: [t for t in TOWN if t.belongs_to], TO_DESK: DESK, DESK_SIGNED: DESK,
                RESOLVED: ON_SPOT, NOT_ACCEPT: NOT_ACCEPTED,
            }.get(s.fate, DISTRICT)
            if s.fate in (DEPT, DEPT_SIGNED, DEPT_RETURNED):  # spread over the departments
                dept = self.pick(DISTRICT, key=_dept_key).dept
                pool = [t for t in DISTRICT if t.dept == dept]
            s.tpl = self.pick(pool)
        else:
            self.used[s.tpl.key] += 1
            if s.fate in (DEPT, DEPT_SIGNED, DEPT_RETURNED):
                self.used[_dept_key(s.tpl)] += 1
        if s.village is None:
            s.village = self.rng.choice(self.villages[s.territory]).name
        if s.tier is None:
            s.tier, s.workdays = s.tpl.tier, s.tpl.workdays
            if s.fate in SUBMITTED_COHORT and s.tier == Tier.immediate:
                s.tier = Tier.quick
        if s.fate in (SHEET, SHEET_SIGNED, SHEET_RETURNED):
            s.lead = s.territory
            s.coop = s.tpl.coop
        elif s.fate in SUBMITTED_COHORT and s.lead is None:
            s.lead, s.coop = s.tpl.dept, s.tpl.coop
        if s.sign_coop is None:
            s.sign_coop = self.rng.random() < 0.5

    def village(self, s: Spec) -> Unit:
        return next(v for v in self.villages[s.territory] if v.name == s.village)

    # -- the schedule: every step at its (back-dated) time, executed in the order of time

    def schedule(self, specs: list[Spec]) -> list[tuple[datetime, int, object]]:
        steps: list[tuple[datetime, int, object]] = []

        def at(when, fn, *args):
            steps.append((when, len(steps), lambda: fn(*args, when)))

        for s in specs:
            day = self.day(max(1, s.reg_wd))
            k = self.per_day[day]  # registrations of one day follow each other from 08:00
            self.per_day[day] += 1
            at(self.at(s.reg_wd, 8 + min(k // 5, 4), minute=(k % 5) * 12), self.register, s)
            if s.fate in (SHEET, SHEET_SIGNED, SHEET_RETURNED, TO_DESK, DESK_SIGNED):
                at(self.at(s.act_wd, 14), self.assign, s)
            elif s.fate in (NOT_ACCEPT, MERGED, RESOLVED):
                at(self.at(s.act_wd, 15), self.end, s)
            elif s.fate in SUBMITTED_COHORT | {LIST_DRAFT}:
                at(self.at(s.reg_wd, 15), self.add_to_list, s)
                if s.fate in (DEPT, DEPT_SIGNED, DEPT_RETURNED):
                    at(self.at(s.act_wd, 14), self.assign, s)
            if s.fate in (SHEET_RETURNED, DEPT_RETURNED):
                at(self.at(s.sign_wd, 16), self.give_back, s)
            elif s.fate in (SHEET_SIGNED, DESK_SIGNED, DEPT_SIGNED):
                at(self.at(s.sign_wd, 16), self.sign, s, self.desk if s.fate == DESK_SIGNED
                   else self.handlers[s.lead])
                if s.sign_coop:
                    for coop in s.coop:
                        if coop in self.handlers:
                            at(self.at(s.sign_wd, 17), self.sign, s, self.handlers[coop])
            for st in s.stages:
                at(self.at(st.wd, st.hour, st.minute), self.stage, s, st)
        submitted = {(s.territory, s.list_wd) for s in specs if s.fate in SUBMITTED_COHORT}
        for territory, list_wd in sorted(submitted):
            first = next(s for s in specs if s.territory == territory and s.list_wd == list_wd)
            at(self.at(list_wd, 11), self.submit, first)
        return sorted(steps, key=lambda step: (step[0], step[1]))

    def run(self, specs: list[Spec]) -> None:
        for s in sorted(specs, key=lambda s: s.fate == MERGED):  # merged ones copy their target
            self.fill(s)
        listener = self._date_event
        event.listen(ProblemEvent, "before_insert", listener)
        try:
            for when, _i, step in self.schedule(specs):
                with self.stamped(when):
                    step()
        finally:
            event.remove(ProblemEvent, "before_insert", listener)

    # -- the steps (each runs the real operation, then back-dates what it wrote)

    def register(self, s: Spec, when: datetime) -> None:
        staff, rng = self.staff[s.territory], self.rng
        village = self.village(s)
        if s.resident:
            name, household = s.resident
        else:
            name = _name(rng)
            household = (f"{village.name.removesuffix('村').removesuffix('社区')}"
                         f"{rng.choice(ENTERPRISE_NAMES)}{rng.choice(ENTERPRISE_KINDS)}"
                         if s.tpl.enterprise else f"{name}家")
        kind = HouseholdKind.enterprise if s.tpl.enterprise else HouseholdKind.household
        situation = ("企业负责人介绍了生产经营情况和当前困难。" if s.tpl.enterprise
                     else rng.choice(SITUATIONS).format(n=rng.randint(3, 6)))
        visit, _ = visit_ops.record_visit(
            staff.cadre, visited_on=clock.local(when).date(), village=village, household_kind=kind,
            household_name=household, visitors=f"{staff.cadre.full_name}、{staff.co_visitor}",
            situation=situation, demands=s.tpl.title, client_token=None)
        visit.created_at = when
        data = ops.ProblemInput(
            resident_name=name, resident_phone=f"1390516{rng.randint(0, 9999):04d}",
            resident_id_number=fake_id_number(rng) if rng.random() < 0.3 else None,
            village=village, address=f"{village.name}{rng.randint(1, 8)}组{rng.randint(1, 60)}号",
            category=self.categories[s.tpl.category], title=s.tpl.title,
            description=s.tpl.description.format(village=village.name, name=name, household=household),
            household_name=household)
        s.problem, _ = ops.register_problem(staff.cadre, data, visit=visit)
        s.problem.registered_at = s.problem.updated_at = when

    def triage(self, s: Spec) -> ops.Triage:
        common = s.fate in SUBMITTED_COHORT | {LIST_DRAFT}
        return ops.Triage(Kind.common if common else Kind.individual,
                          Level.district if common else Level.town, s.tier, workdays=s.workdays)

    def assign(self, s: Spec, when: datetime) -> None:
        p, group_lead = s.problem, self.staff[s.territory].lead
        requirements = s.requirements or self.rng.choice(REQUIREMENTS)
        if s.fate in (TO_DESK, DESK_SIGNED):
            a = ops.transfer_to_desk(p, group_lead, triage=self.triage(s), requirements=requirements)
        elif s.fate in SUBMITTED_COHORT:
            a = ops.assign_departments(p, self.office, lead=self.units[s.lead],
                                       cooperating=[self.units[c] for c in s.coop],
                                       triage=self.triage(s), requirements=requirements)
        else:
            a = ops.assign_sheet(p, group_lead, lead=self.units[s.lead],
                                 cooperating=[self.units[c] for c in s.coop],
                                 triage=self.triage(s), requirements=requirements)
        # The deadlines run from the back-dated assignment, on the working-day calendar.
        deadline = case_deadlines.handling_deadline(when, s.tier, s.workdays)
        sign_by = case_deadlines.sign_for_deadline(when)
        a.assigned_at = p.assigned_at = p.updated_at = when
        a.deadline = p.deadline = deadline
        a.sign_for_deadline = p.sign_for_deadline = sign_by

    def sign(self, s: Spec, user: User, when: datetime) -> None:
        part = ops.sign_for(s.problem, user)
        part.signed_at = s.problem.updated_at = when
        if part.role == UnitRole.lead:
            s.problem.accepted_at = when

    def give_back(self, s: Spec, when: datetime) -> None:
        """The lead unit returns a misrouted problem to whoever assigned it."""
        p = s.problem
        assignment = p.current_assignment
        part = next(u for u in assignment.units if u.role == UnitRole.lead)
        if s.fate == SHEET_RETURNED:
            reason = RETURN_TOWN.format(unit=s.tpl.belongs_to)
        else:
            reason = RETURN_DEPT.format(unit=self.rng.choice([d for d in DEPARTMENT_SLUGS if d != s.lead]))
        ops.return_problem(p, self.handlers[s.lead], reason=reason, on=clock.local(when).date())
        part.signed_at = assignment.ended_at = p.updated_at = when

    def end(self, s: Spec, when: datetime) -> None:
        p, group_lead = s.problem, self.staff[s.territory].lead
        if s.fate == NOT_ACCEPT:
            ops.not_accept(p, group_lead, reason=s.tpl.reason)
        elif s.fate == MERGED:
            ops.merge(p, group_lead, into=s.merge_into.problem,
                      reason=MERGE_REASON.format(number=s.merge_into.problem.number))
        else:
            closure = resolve_on_spot(p, group_lead, triage=ops.Triage(Kind.individual, Level.town,
                                                                          Tier.immediate), result=s.tpl.result)
            closure.requested_at = closure.leader_at = when
            closure.completed_on = clock.local(when).date()
            if s.territory == HOME:
                self.attach_photos(s, group_lead, closure, lifecycle.ON_SPOT_PHOTOS.get(s.tpl.key, 0), when)
        if p.reply_due is not None:  # not accepted or merged: the reply is owed from then on
            p.reply_due = reply_deadline(when)
        p.updated_at = when

    def add_to_list(self, s: Spec, when: datetime) -> None:
        cl = ops.add_to_list(s.problem, self.staff[s.territory].lead, triage=self.triage(s))
        s.problem.updated_at = when
        if cl.created_at > when:  # the list dates from its first problem
            cl.created_at = when

    def submit(self, s: Spec, when: datetime) -> None:
        cl = s.problem.coordinated_list
        ops.submit_list(cl, self.staff[s.territory].lead)
        cl.submitted_at = when


def has_demo_cases() -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(Problem)))


def documents_summary() -> dict[str, int]:
    """How many of each handling document the database holds (for the loader's summary)."""
    def count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))

    return {
        "task_books": count(TaskBook), "steps": count(TaskStep), "meetings": count(Meeting),
        "extensions": count(Extension), "closures": count(Closure), "replies": count(Reply),
        "evidence_files": count(Attachment, Attachment.kind == AttachmentKind.evidence),
    }


def load_demo_cases(seed: int = 2017) -> dict[str, int]:
    """Make the demo problems (the caller commits); returns the number per status.

    Evidence files written before a failure are removed again (the caller rolls back the rows).
    """
    specs = plan(seed)
    loader = _Loader(seed)
    try:
        loader.run(specs)
        db.session.flush()
    except BaseException:
        uploads.remove(loader.written)
        raise
    counts = {str(status): n for status, n in db.session.execute(
        select(Problem.status, func.count()).group_by(Problem.status))}
    audit.record("demo.cases_loaded", detail={"seed": seed, "problems": len(specs), "statuses": counts,
                                              "documents": documents_summary()})
    return counts

