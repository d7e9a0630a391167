"""Demo handling and closure: task books, steps, meetings, extensions, sign-off, verification,
暂难解决 and replies, made through ``handling.operations`` on the demo problems' timeline.

A problem's handling is a list of :class:`Stage` s — an operation at a working day before today
(``wd``) and a local hour. The loader (``demo.cases``) runs every stage in the order of time
with the other steps, as the real operation acting as a demo user, and then back-dates what the
operation wrote (as it does for registration and assignment): the timeline entry, the row's own
times (``submitted_at``, ``done_at``, ``requested_at`` …) and the dates that follow from them
(``reply_due`` from the verification, the new handling deadline after a reopening).

**Dates the operations check.** The operations compare the dates they are given with the real
today (a task book's deadline and steps may not lie in the past; an extension must be asked
for before the deadline). A stage that happened ``v`` working days ago therefore hands the
operation every date moved ``v`` working days forward — the problem's deadline too, for the
duration of the call — and moves the dates written back afterwards. On the working-day calendar
the move keeps every comparison the operation makes exactly as it was on that day.

The 潘安湖街道 work group's problems follow fixed scripts (``HOME_SCRIPTS``) so that the named demo
accounts always find the same work; the other groups' problems that were signed for get a path
drawn per seed (:func:`draw_paths`). Evidence photos are small PNG files drawn here and stored
through ``cases.uploads`` like an upload, so the attachment routes serve them.
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from io import BytesIO

from werkzeug.datastructures import FileStorage

from ..cases import deadlines as case_deadlines
from ..cases import pages, uploads
from ..cases.deadlines import reply_deadline
from ..cases.models import AttachmentKind
from ..cases.workflow import Status
from ..core import calendar, clock
from ..handling import operations as h
from ..handling.meetings import DecisionInput, cancel_meeting, convene_meeting, record_minutes
from ..handling.models import CannotSolveReason, MeetingKind, ReplyMethod, Verdict
from ..handling.queries import book_in_force, open_parts
from ..org.models import UnitKind

# ------------------------------------------------------------------ what units write


def _open_step_reasons(p) -> dict[int, str]:
    """Why the steps left unticked may be signed off: done together with the rest, checked on site."""
    book = book_in_force(p)
    return {s.id: "该步骤已随整体整改一并完成，现场已核实，未在系统中单独标记。"
            for s in (book.steps if book else []) if s.done_at is None}


@dataclass(frozen=True)
class Work:
    """A kind of problem's handling texts: measures, the roadmap's steps, the result, the reply."""

    measures: str
    steps: tuple[str, ...]
    result: str
    reply: str


WORK = {
    "S-story": Work(
        "成立由分管领导牵头的救治保障专班：一是全面核实住院费用和医保报销情况；二是落实大病保险二次报销和"
        "医疗救助；三是会同区民政局开展临时救助、因病致贫家庭认定和子女助学帮扶；四是跟踪后续治疗，形成"
        "综合保障方案并反馈工作组。",
        ("核实三次住院费用和医保报销情况，建立个人救治台账", "落实大病保险二次报销和医疗救助",
         "跟踪后续治疗，形成综合保障方案并反馈潘安湖街道工作组"),
        "", ""),
    "T-house": Work(
        "会同区住建局对房屋进行安全鉴定，符合条件的纳入农村危房改造；改造完成前安排老人到亲属家或村"
        "养老服务站临时居住，并发放临时救助。",
        ("会同区住建局开展房屋安全鉴定", "申报农村危房改造并组织施工"),
        "", ""),
    "T-fitness": Work(
        "联系健身器材供货厂家到场检查，损坏器材更换、松动部位加固，器材旁张贴安全使用提示，纳入村文化"
        "广场日常巡查。",
        ("联系厂家到场检查全部健身器材", "更换损坏的漫步机，加固单杠连接处"),
        "", ""),
    "T-canal": Work(
        "农业服务中心牵头，组织村两委清除沟渠杂草，协调清淤机械疏浚北片灌溉沟渠，放水试通，确保小麦"
        "冬灌用水。",
        ("清除沟渠内杂草和垃圾", "机械清淤疏浚北片灌溉沟渠", "放水试通并请种植户确认"),
        "", ""),
    "T-pond": Work(
        "环境卫生管理所牵头，先打捞漂浮垃圾和水草，再抽水清淤、清运淤泥，修整护坡并补植水生植物，"
        "落实村保洁员日常管护。",
        ("组织人员打捞漂浮垃圾和水草", "抽水清淤、清运淤泥", "修整护坡、补植水生植物"),
        "", ""),
    "T-flood": Work(
        "农业服务中心牵头，排查南洼积水点，开挖疏通排水沟，协助受灾农户申报农业保险理赔。",
        ("排查南洼积水点和排水沟", "开挖疏通排水沟", "协助受灾农户申报农业保险理赔"),
        "", ""),
    "T-training": Work(
        "社会事业办会同区人社局摸排返乡人员培训需求，在街道举办电商直播培训班，对接创业担保贷款政策，"
        "帮助有意愿的人员开设网店。",
        ("摸排有意愿参加培训的返乡人员", "联系区人社局举办电商直播培训班", "对接创业担保贷款政策并组织申报"),
        "街道与区人社局于本月举办了电商直播培训班，共培训返乡人员32人，其中包括反映人；反映人已开设网店"
        "销售自家种植的草莓，创业担保贷款申请材料已报区人社局。",
        "您反映的电商技能培训问题，街道已会同区人社局举办培训班，您已参加培训并开设网店，创业担保贷款"
        "正在审批中。"),
    "T-bridge": Work(
        "城建办牵头，在生产桥两侧加装钢制护栏，桥头设置限速、警示标志和反光设施，纳入村道日常巡查。",
        ("现场测量，确定护栏规格和施工方案", "加装桥梁两侧钢制护栏", "设置警示标志和反光设施"),
        "生产桥两侧已加装钢制护栏共24米，桥头设置了警示标志和反光设施，已由村民代表现场验收。",
        "您反映的生产桥护栏问题，街道已在桥两侧加装护栏并设置警示标志，过桥安全隐患已消除。"),
    "T-toilet": Work(
        "环境卫生管理所牵头，联系改厕施工单位上门检查，对渗漏化粪池进行防渗处理，清理外溢污水并消毒。",
        ("联系施工单位上门检查渗漏原因", "化粪池防渗返修，清理污水并消毒"),
        "施工单位已对化粪池进行返修，外溢污水已清理消毒。",
        ""),
    "T-tree": Work(
        "城建办会同村两委对主路两侧枯死树木逐棵登记，办理采伐手续后统一清理，入冬前补植国槐。",
        ("逐棵登记枯死树木，办理采伐手续", "清理枯死杨树", "补植行道树"),
        "主路两侧13棵枯死杨树已全部清理，补植国槐15棵，倒伏隐患已消除。",
        "您反映的路边枯死树木问题，已全部清理并补植了行道树，请放心通行。"),
    "T-farm": Work(
        "会同区环保局对养殖场粪污处理设施进行检查，责令限期建设防渗储粪池和雨污分流设施，清理沟渠"
        "污水，跟踪复查。",
        ("会同区环保局现场检查，下达整改通知", "督促养殖场建设防渗储粪池和雨污分流设施", "清理沟渠污水并复查"),
        "养殖场已建成防渗储粪池和雨污分流设施，粪污经干湿分离后还田利用，沟渠污水已清理；区环保局复查"
        "合格。",
        "您反映的养殖场污水直排问题，养殖场已完成整改，沟渠已清理，经复查不再直排。"),
    "T-dogs": Work(
        "综治办会同派出所、村两委开展犬只集中登记，督促犬主拴养，组织狂犬病免疫，对无主犬只进行收容。",
        ("入户登记犬只，督促犬主拴养", "组织狂犬病集中免疫，收容无主犬只"),
        "已登记犬只86只，全部签订文明养犬承诺书并拴养，集中免疫78只，收容无主犬只5只。",
        "您反映的散养犬只问题，村里已完成犬只登记和集中免疫，犬主均已拴养，无主犬已收容。"),
    "T-subsidy": Work(
        "农业服务中心核对该户承包面积和补贴发放清册，查明少发原因，补发差额。",
        ("核对承包面积和补贴发放清册", "补发差额并告知本人"),
        "经核对，因确权面积录入错误少计2.5亩，差额补贴已通过惠农补贴“一卡通”补发到账。",
        "您反映的耕地地力保护补贴问题，经核对是面积录入错误，差额已补发到您的“一卡通”。"),
    "T-noise": Work(
        "城建办会同区城管局对工地夜间施工情况进行检查，责令停止违规夜间施工，确需连续作业的须办理夜间"
        "施工许可并公示。",
        ("夜间到工地检查，责令停止违规施工", "约谈施工单位，落实夜间巡查"),
        "已约谈施工单位，工地停止了22时后的施工，渣土车改为白天运输，城管中队连续两周夜间巡查未再发现"
        "违规施工。",
        "您反映的夜间施工噪音问题，工地已停止夜间施工，城管中队将继续夜间巡查。"),
    "T-shelter": Work(
        "城建办会同区交通运输局在村口公交站建设港湾式候车亭，配置座椅和照明。",
        ("会同区交通运输局确定候车亭选址", "建设候车亭，配置座椅和照明"),
        "村口公交站候车亭已建成，配置了座椅和太阳能照明，已投入使用。",
        "您反映的公交候车亭问题，候车亭已建成并投入使用。"),
    "T-leak": Work(
        "城建办督促物业公司对楼顶防水层进行检修，修补渗漏点，维修受损墙面。",
        ("物业公司上楼顶查找渗漏点", "修补楼顶防水层，维修室内墙面"),
        "物业公司已对楼顶渗漏点进行修补，室内受损墙面已重新粉刷。",
        "您反映的楼顶渗水问题，物业公司已修补楼顶渗漏点并粉刷了墙面。"),
    "T-widen": Work(
        "城建办会同区交通运输局实地测量，论证拓宽方案和投资，积极争取纳入农村公路提档升级计划。",
        ("会同区交通运输局实地测量，论证拓宽方案", "申报农村公路提档升级计划"),
        "", ""),
    "T-gas": Work(
        "党政办对接区城管局和燃气公司，了解管网规划，争取将该村纳入管网延伸计划。",
        ("对接燃气公司了解管网规划", "申请将该村纳入管网延伸计划"),
        "", ""),
    "C-daycare": Work(
        "区民政局牵头，摸清村内独居、留守老人底数和需求，利用村部闲置用房改建居家养老日间照料中心，"
        "配备护理人员，提供助餐、休息和文体活动服务。",
        ("调查60岁以上独居、留守老人底数和照料需求", "利用村部闲置用房改建日间照料中心",
         "配备护理人员和助餐服务并试运营"),
        "村居家养老日间照料中心已建成试运营，面积260平方米，设休息室、助餐室和活动室，配备护理员2名，"
        "每天为38名老人提供午餐。",
        "您反映的留守老人照料问题，村日间照料中心已建成试运营，每天提供午餐和日间照料。"),
    "D-pension": Work(
        "12345专席联系区人社局社保经办窗口，查询反映人历年参保记录，解释乡镇企业工龄认定和补缴政策。",
        ("调取参保记录，核实缴费年限", "解释补缴政策，告知办理地点和所需材料"),
        "经区人社局查询，反映人在乡镇企业工作期间已参保缴费4年，可与城乡居民养老保险合并计算；补缴"
        "政策和办理材料已电话告知本人。",
        "您咨询的养老保险缴费年限问题，经查询可以合并计算，补缴所需材料已告知您，可到区社保中心办理。"),
    "D-ebike": Work(
        "12345专席转区市场监管局调解，联系商家检测电池，依法维护消费者权益。",
        ("联系区市场监管局和商家核实情况", "组织电池检测，督促商家退换"),
        "经区市场监管局调解，电池检测为质量问题，商家已为反映人免费更换新电池。",
        "您反映的电动车电池问题，经市场监管部门调解，商家已为您免费更换电池。"),
}

GENERIC_STEPS = ("实地核实情况，听取群众意见", "制定整改方案并组织实施", "组织验收，向群众反馈办理结果")
GENERIC_TICKS = ("已到现场核实，情况属实，已建立工作台账。", "整改方案已落实，施工（办理）已完成。",
                 "已组织验收，群众代表现场确认。")


def work_for(key: str, title: str, unit: str) -> Work:
    """The texts of a kind of problem (generic ones, from the title, where none are written)."""
    known = WORK.get(key) or Work("", (), "", "")
    return Work(
        known.measures or (f"由{unit}牵头，先实地核实情况、听取群众意见，再制定整改方案，明确专人和完成时限，"
                           "按时间表逐项落实，办结后向群众反馈。"),
        known.steps or GENERIC_STEPS,
        known.result or f"已按任务书落实：“{title}”的问题经实地查看已整改到位，群众代表现场确认。",
        known.reply or f"您反映的“{title}”问题，{unit}已办理完毕，问题已经解决。感谢您对大走访活动的支持。",
    )


# Responsible departments (责任科室) by category for a town/street/zone, and per district unit.
TOWN_OFFICES = {
    "道路交通": "城建办", "住房保障": "城建办", "城市管理": "城建办", "环境卫生": "环境卫生管理所",
    "民生保障": "社会事业办", "就业创业": "社会事业办", "教育": "社会事业办", "医疗卫生": "社会事业办",
    "农业农村": "农业服务中心", "水利设施": "农业服务中心", "矛盾纠纷": "司法所", "社会治安": "综治办",
}
DEPT_OFFICES = {
    "区民政局": "社会救助科", "区卫计委": "医政医管科", "区交通运输局": "公路管理站", "区水利局": "农村水利科",
    "区农委": "农业科", "区教育局": "基础教育科", "区住建局": "村镇建设科", "区环保局": "环境监察大队",
    "区人社局": "社会保险科", "区经信委": "中小企业科", "国土贾汪分局": "地籍科", "区城管局": "市容管理科",
    "公安贾汪分局": "交警大队", "贾汪供电公司": "运维检修部", "贾汪水务公司": "供水管网所",
}


def responsible(unit, category: str, leader_name: str) -> tuple[str, str]:
    """(责任领导, 责任科室) of a unit for a problem of ``category``."""
    if unit.kind == UnitKind.desk:
        return f"{leader_name}（专席负责人）", "12345平台专席"
    if unit.kind == UnitKind.department:
        title = "副经理" if unit.name.endswith("公司") else "副主任" if unit.name.endswith("委") else "副局长"
        return f"{leader_name}（{title}）", DEPT_OFFICES.get(unit.name, "业务科")
    title = "副镇长" if unit.kind == UnitKind.town else "副主任"
    return f"{leader_name}（{title}）", TOWN_OFFICES.get(category, "党政办")


# ------------------------------------------------------------------ evidence photos


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def evidence_png(seed: int, width: int = 240, height: int = 160) -> bytes:
    """A small, valid PNG that looks like a site photo (sky, ground, a structure); differs per seed."""
    rng = random.Random(seed)  # noqa: S311 - picture variation, not security
    horizon = height * rng.randint(50, 65) // 100
    ground = rng.choice([(96, 128, 72), (120, 112, 96), (140, 140, 136), (104, 136, 88)])
    thing = rng.choice([(170, 60, 40), (200, 200, 196), (60, 90, 150), (90, 90, 90), (210, 170, 60)])
    x0 = rng.randint(20, width // 2)
    x1 = min(width - 10, x0 + rng.randint(40, width // 2))
    top = rng.randint(height // 4, horizon - 10)
    rows = []
    for y in range(height):
        if y < horizon:
            t = y / horizon
            sky = bytes((int(150 + 90 * t), int(190 + 50 * t), 240))
            row = sky * width
        else:
            shade = 1 - 0.3 * (y - horizon) / (height - horizon)
            row = bytes(int(c * shade) for c in ground) * width
        if top <= y < horizon + 8:
            row = row[:3 * x0] + bytes(thing) * (x1 - x0) + row[3 * x1:]
        rows.append(b"\x00" + row)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + _chunk(b"IEND", b""))


# ------------------------------------------------------------------ stages


@dataclass(frozen=True)
class Stage:
    """One handling operation: ``op`` at ``hour``:``minute`` local time, ``wd`` working days ago."""

    wd: int
    hour: int
    op: str
    kw: dict = field(default_factory=dict)
    minute: int = 0


def S(wd, hour, op, minute=0, **kw) -> Stage:  # noqa: N802 - reads like a script line
    return Stage(wd, hour, op, kw, minute)


STEP_DONE = "已完成。"
HOME_SCRIPTS: dict[str, list[Stage]] = {
    # The article's story: 区卫计委 leads, 区民政局 cooperates; a 协商会 whose decisions became steps.
    "S-story": [
        S(15, 10, "book", dues=(13, 5, -10)),
        S(14, 9, "approve", note="同意。请区民政局同步做好临时救助和助学帮扶，必要时召开协商会。"),
        S(13, 10, "tick", step=1, note="已到市区医院调取三次住院费用清单，自付部分合计12.6万元，已建立救治台账。"),
        S(13, 15, "convene", key="story", kind=MeetingKind.consultation,
          title="韩德明大病救助及子女就学帮扶协商会", starts=(11, 9, 30), place="区卫计委三楼会议室",
          host="区卫计委分管副主任", units=("区卫计委", "区民政局", "潘安湖街道", "区教育局")),
        S(12, 11, "feedback", unit="区民政局", done=False,
          text="已入户核实家庭收入和财产情况，正在按支出型贫困家庭认定程序办理临时救助。"),
        S(11, 16, "minutes", key="story",
          summary="会议听取了区卫计委关于韩德明救治费用和医保报销情况的汇报，区民政局介绍了入户核实情况。会议"
                  "明确：医疗费用由区卫计委牵头，通过大病保险二次报销、医疗救助和“先诊疗后付费”减轻负担；"
                  "生活和就学困难由区民政局负责，落实临时救助和子女助学帮扶；潘安湖街道做好日常走访和情况"
                  "反馈。区教育局因故未到会，会后由区民政局通报。",
          attendance={"区卫计委": "医政医管科负责人、经办人", "区民政局": "社会救助科 赵敏",
                      "潘安湖街道": "社会事业办 张伟", "区教育局": None},
          decisions=(("区卫计委", "协调市区医院对后续化疗落实“先诊疗后付费”，开通医保即时结算", 6),
                     ("区民政局", "认定支出型贫困家庭，发放临时救助金", 8),
                     ("区民政局", "协调生源地资助中心和就读高校，为其女儿办理助学贷款和困难补助", -5))),
        S(8, 15, "tick", step="认定支出型贫困家庭", note="已认定为支出型贫困家庭，临时救助金5000元已发放到户。"),
        S(6, 10, "tick", step="协调市区医院", note="市区医院已同意后续化疗“先诊疗后付费”，医保即时结算已开通。"),
        S(5, 11, "tick", step=2, note="大病保险二次报销3.2万元、医疗救助1.5万元已审批，款项已打入本人社保卡。"),
        S(4, 10, "progress", public=True,
          text="大病保险二次报销和医疗救助已落实，后续化疗实行“先诊疗后付费”；女儿助学事宜正由区民政局协调办理。"),
        S(3, 15, "feedback", unit="区民政局", done=False,
          text="已与其女儿就读高校联系，学校同意给予困难补助；生源地助学贷款材料正在准备，下周报送。"),
    ],
    # A rejected task book: back to the town; 区住建局 reported its part done.
    "T-house": [
        S(5, 10, "book", dues=(3, -6)),
        S(4, 15, "reject", reason="路线图只写了“鉴定、申报”，没有写明临时安置和施工的时间安排，请细化后重新提交。"),
        S(3, 10, "feedback", unit="区住建局", done=True,
          text="已组织房屋安全鉴定，鉴定为C级危房，符合农村危房改造条件，鉴定报告已交潘安湖街道。"),
    ],
    # A task book waiting for 潘安湖街道's leader.
    "T-fitness": [S(2, 10, "book", dues=(1, -1))],
    # Overdue steps, a rejected extension, a cancelled 会办会.
    "T-canal": [
        S(18, 10, "book", dues=(15, 9, 6)),
        S(17, 9, "approve"),
        S(15, 16, "tick", step=1, note="村两委组织12名村民清除了北片沟渠杂草和垃圾。"),
        S(8, 10, "extend", new=-5, reason="清淤机械由区水利局统一调度，本月排期已满，需顺延两周。",
          progress="杂草和垃圾已清除，清淤机械尚未到位。"),
        S(7, 15, "decide_extension", approve=False, note="北片沟渠清淤工作量不大，可协调社会机械作业，请按原时限完成。"),
        S(6, 10, "convene", key="canal", kind=MeetingKind.joint, title="北片灌溉沟渠清淤会办会",
          starts=(4, 9, 0), place="潘安湖街道办事处二楼会议室", host="潘安湖街道分管副主任",
          units=("潘安湖街道", "区水利局", "区农委")),
        S(5, 16, "cancel", key="canal", reason="区水利局已安排清淤机械下周进场，会办会不再召开。"),
    ],
    # 区民政局 reported its part done; an upcoming 会办会 convened by 潘安湖街道.
    "T-relief": [
        S(1, 10, "feedback", unit="区民政局", done=True, text="已核实家庭情况，临时救助金3000元已审批发放。"),
        S(1, 15, "convene", key="relief", kind=MeetingKind.joint, title="困难家庭救助及工伤认定会办会",
          starts=(-2, 15, 0), place="潘安湖街道办事处二楼会议室", host="潘安湖街道分管副主任",
          units=("潘安湖街道", "区民政局", "区人社局")),
    ],
    # A task book revised after an approved extension (two versions).
    "T-pond": [
        S(22, 10, "book", dues=(20, 12, 10)),
        S(21, 9, "approve"),
        S(19, 16, "tick", step=1, note="漂浮垃圾和水草已全部打捞清运。"),
        S(13, 10, "extend", new=-8, reason="近期连续降雨，塘内水位高，抽水清淤无法施工。",
          progress="漂浮垃圾和水草已清理完毕，清淤施工队已落实。"),
        S(12, 15, "decide_extension", approve=True, note="同意延期，请相应调整任务书的时间安排。"),
        S(11, 10, "book", reason="延期获批，调整清淤和护坡的时间安排，增加村民代表验收。",
          steps=(("抽水清淤、清运淤泥", 4), ("修整护坡、补植水生植物", -3), ("组织村民代表验收", -6))),
        S(10, 9, "approve", note="同意修订。"),
        S(4, 16, "tick", step="抽水清淤", note="塘内淤泥已抽排清运完毕，约1800立方米。"),
        S(3, 10, "progress", public=True, text="塘内淤泥已清运完毕，正在修整护坡，预计两周内完工。"),
    ],
    # An extension waiting for the group lead.
    "T-flood": [
        S(11, 10, "book", dues=(10, 4, -2)),
        S(10, 9, "approve"),
        S(9, 16, "tick", step=1, note="已排查积水点5处、淤塞排水沟1.2公里。"),
        S(1, 10, "extend", new=-12, reason="排水沟开挖需临时占用部分农户责任田，须待秋收后施工。",
          progress="积水点已排查，受灾农户保险理赔材料已上报。"),
    ],
    # A sign-off waiting for 潘安湖街道's leader.
    "T-training": [
        S(13, 10, "book", dues=(11, 6, 3)),
        S(12, 9, "approve"),
        S(11, 16, "tick", step=1, note="摸排有培训意愿的返乡人员32人。"),
        S(6, 16, "tick", step=2, note="电商直播培训班已举办，为期3天。"),
        S(3, 16, "tick", step=3, note="已为5人对接创业担保贷款，材料已报区人社局。"),
        S(2, 10, "signoff", completed=3, photos=2),
    ],
    # The leader sent a sign-off back; approved the second time; the group lead verifies.
    "T-bridge": [
        S(16, 10, "book", dues=(14, 8, 6)),
        S(15, 9, "approve"),
        S(14, 16, "tick", step=1, note="已现场测量，桥长12米，两侧各加装12米护栏。"),
        S(8, 16, "tick", step=2, note="钢制护栏已安装完毕。"),
        S(7, 16, "tick", step=3, note="桥头已设置限速和警示标志，护栏加装反光贴。"),
        S(6, 10, "signoff", completed=7, photos=1),
        S(5, 15, "reject_signoff", reason="佐证照片只有一张，看不出两侧护栏和警示标志的情况，请补充后再报。"),
        S(4, 10, "signoff", completed=7, photos=2),
        S(3, 9, "approve_signoff", note="同意销号。"),
    ],
    # 退回重办: the group lead found the repair did not hold.
    "T-toilet": [
        S(17, 10, "book", dues=(15, 10)),
        S(16, 9, "approve"),
        S(14, 16, "tick", step=1, note="经检查，化粪池三格隔板开裂导致渗漏。"),
        S(11, 16, "tick", step=2, note="施工单位已更换隔板，做了防渗处理，污水已清理消毒。"),
        S(9, 10, "signoff", completed=11, photos=1),
        S(8, 9, "approve_signoff"),
        S(7, 15, "reject_verification", reason="回访核实，化粪池周边仍有渗水和异味，群众不认可，请重新整改。"),
        S(5, 10, "progress", public=True, text="已要求施工单位重新开挖，整体更换化粪池，本周内完工。"),
    ],
    # Signed off: a reply is owed (due in two days).
    "T-tree": [
        S(12, 10, "book", dues=(10, 6, 4)),
        S(11, 9, "approve"),
        S(9, 16, "tick", step=1, note="登记枯死杨树13棵，采伐手续已办理。"),
        S(6, 16, "tick", step=2, note="枯死杨树已全部伐除清运。"),
        S(4, 16, "tick", step=3, note="补植国槐15棵。"),
        S(4, 17, "signoff", completed=4, photos=2),
        S(3, 9, "approve_signoff"),
        S(1, 10, "verify", note="经实地查看，枯死树木已清理，补植到位，同意核销。"),
    ],
    # Signed off: the reply is overdue.
    "T-farm": [
        S(17, 10, "book", dues=(15, 11, 9)),
        S(16, 9, "approve"),
        S(15, 16, "tick", step=1, note="已会同区环保局现场检查，下达限期整改通知书。"),
        S(11, 16, "tick", step=2, note="防渗储粪池和雨污分流设施已建成。"),
        S(9, 16, "tick", step=3, note="沟渠污水已清理，区环保局复查合格。"),
        S(8, 10, "signoff", completed=9, photos=1),
        S(7, 9, "approve_signoff"),
        S(6, 10, "verify", note="经复查，养殖场已整改到位，同意核销。"),
    ],
    # Closed: 满意.
    "T-dogs": [
        S(20, 10, "book", dues=(17, 14)),
        S(19, 9, "approve"),
        S(17, 16, "tick", step=1, note="已入户登记犬只86只，犬主均签订文明养犬承诺书。"),
        S(14, 16, "tick", step=2, note="集中免疫78只，收容无主犬只5只。"),
        S(12, 10, "signoff", completed=14, photos=1),
        S(11, 9, "approve_signoff"),
        S(10, 10, "verify", note="经走访核实，犬只已拴养，同意核销。"),
        S(9, 10, "reply", verdict=Verdict.satisfied, method=ReplyMethod.visit),
    ],
    # Closed: 基本满意; no photo possible.
    "T-subsidy": [
        S(23, 10, "book", dues=(20, 16)),
        S(22, 9, "approve"),
        S(20, 16, "tick", step=1, note="核对发现确权面积录入少计2.5亩。"),
        S(16, 16, "tick", step=2, note="差额补贴已补发，已电话告知本人。"),
        S(14, 10, "signoff", completed=16,
          no_evidence="补贴通过惠农补贴“一卡通”补发，发放明细见农业服务中心台账，无现场照片。"),
        S(13, 9, "approve_signoff"),
        S(12, 10, "verify", note="经核对发放明细，差额已补发，同意核销。"),
        S(11, 10, "reply", verdict=Verdict.basically, words="钱到了，希望以后核对仔细些。"),
    ],
    # Closed: 无法联系.
    "T-noise": [
        S(16, 10, "book", dues=(14, 11)),
        S(15, 9, "approve"),
        S(13, 21, "tick", step=1, note="夜间到工地检查，已责令停止22时后施工。"),
        S(11, 16, "tick", step=2, note="已约谈施工单位，城管中队每晚巡查。"),
        S(9, 10, "signoff", completed=11, photos=1),
        S(8, 9, "approve_signoff"),
        S(7, 10, "verify", note="连续两周夜间巡查未发现违规施工，同意核销。"),
        S(5, 16, "reply", verdict=Verdict.unreachable,
          content="三次拨打反映人电话均无人接听，已请村干部上门转告办理结果。"),
    ],
    # Closed: 拒评.
    "T-shelter": [
        S(21, 10, "book", dues=(18, 12)),
        S(20, 9, "approve"),
        S(18, 16, "tick", step=1, note="已会同区交通运输局确定在村口东侧建设港湾式候车亭。"),
        S(12, 16, "tick", step=2, note="候车亭已建成，配置座椅和太阳能照明。"),
        S(10, 10, "signoff", completed=12, photos=2),
        S(9, 9, "approve_signoff"),
        S(8, 10, "verify", note="经实地查看，候车亭已投入使用，同意核销。"),
        S(6, 10, "reply", verdict=Verdict.refused, words="候车亭是建了，评价就不评了。"),
    ],
    # Reopened: 不满意 for a substantive reason, back to 办理中 with a revised task book.
    "T-leak": [
        S(23, 10, "book", dues=(20, 15)),
        S(22, 9, "approve"),
        S(20, 16, "tick", step=1, note="物业公司已上楼顶查找，发现渗漏点3处。"),
        S(15, 16, "tick", step=2, note="渗漏点已修补，室内墙面已重新粉刷。"),
        S(12, 10, "signoff", completed=15, photos=1),
        S(11, 9, "approve_signoff"),
        S(10, 10, "verify", note="经查看，渗漏点已修补，同意核销。"),
        S(8, 10, "reply", verdict=Verdict.unsatisfied, substantive=True, method=ReplyMethod.visit,
          words="前两天下雨，卧室墙面又渗水了，问题没有解决。"),
        S(6, 10, "book", reason="群众反映维修后仍渗水，改为整体重做楼顶防水层。",
          steps=(("请专业防水公司检测全部渗漏点", 4), ("整体重做楼顶防水层，维修室内墙面", -5))),
        S(5, 9, "approve", note="同意，务必一次修好。"),
        S(3, 16, "tick", step="请专业防水公司", note="防水公司已检测，楼顶防水层整体老化，需全部重做。"),
        S(2, 10, "progress", public=True, text="楼顶防水层整体重做已开工，预计下周完工。"),
    ],
    # 暂难解决 waiting for the office.
    "T-widen": [
        S(11, 10, "book", dues=(8, -2)),
        S(10, 9, "approve"),
        S(8, 16, "tick", step=1, note="已会同区交通运输局实地测量，拓宽需征用农田约12亩，投资约300万元。"),
        S(2, 10, "cannot", kind=CannotSolveReason.funds,
          text="村道拓宽需征用农田约12亩、投资约300万元，未列入今年农村公路建设计划，资金无法落实。已将该路段"
               "申报明年农村公路提档升级计划；近期先在弯道处增设错车道和警示标志。"),
    ],
    # 暂难解决 approved by the office, and the reply given.
    "T-gas": [
        S(18, 10, "book", dues=(15, 10)),
        S(17, 9, "approve"),
        S(15, 16, "tick", step=1, note="燃气公司答复：该村不在今明两年的管网建设规划范围内。"),
        S(9, 10, "cannot", kind=CannotSolveReason.policy,
          text="天然气管网由燃气企业按城市燃气规划分期建设，该村不在今明两年的管网规划范围内，暂难解决。已申请"
               "在规划调整时优先考虑，并联系液化气站为村民提供送气上门服务。"),
        S(8, 15, "decide_cannot", approve=True, note="同意暂难解决，请做好解释，跟踪管网规划调整。"),
        S(6, 10, "reply", verdict=Verdict.basically,
          content="已向群众说明该村暂不在天然气管网规划范围内的原因，液化气站可送气上门，规划调整时优先考虑。",
          words="理解，希望尽早通上天然气。"),
    ],
    # 区民政局's sign-off waiting for the office's verification.
    "C-daycare": [
        S(15, 10, "book", dues=(13, 6, 3)),
        S(14, 9, "approve"),
        S(12, 16, "tick", step=1, note="全村60岁以上老人412人，独居、留守老人97人，有助餐需求的41人。"),
        S(6, 16, "tick", step=2, note="村部闲置用房改建完成，面积260平方米。"),
        S(4, 16, "tick", step=3, note="已聘用护理员2名，助餐服务试运营。"),
        S(3, 10, "signoff", completed=4, photos=2),
        S(2, 9, "approve_signoff", note="同意销号，请区活动办核销。"),
    ],
    # The 12345 desk: a reply owed and overdue.
    "D-pension": [
        S(16, 10, "book", dues=(14, 10)),
        S(15, 9, "approve"),
        S(14, 16, "tick", step=1, note="已调取参保记录，乡镇企业期间参保缴费4年。"),
        S(10, 16, "tick", step=2, note="已电话告知补缴政策、办理地点和所需材料。"),
        S(6, 10, "signoff", completed=10, no_evidence="政策咨询类问题，已电话答复本人，无实物佐证材料。"),
        S(5, 9, "approve_signoff"),
        S(4, 10, "verify", note="经电话回访核实，已答复清楚，同意核销。"),
    ],
    # The 12345 desk replied itself: closed.
    "D-ebike": [
        S(20, 10, "book", dues=(17, 12)),
        S(19, 9, "approve"),
        S(17, 16, "tick", step=1, note="已转区市场监管局，联系商家核实。"),
        S(12, 16, "tick", step=2, note="电池检测为质量问题，商家已免费更换。"),
        S(10, 10, "signoff", completed=12, photos=1),
        S(9, 9, "approve_signoff"),
        S(8, 10, "verify", note="经电话回访核实，电池已更换，同意核销。"),
        S(7, 10, "reply", verdict=Verdict.satisfied, by="desk"),
    ],
    # Not accepted, and the reply given.
    "N-job": [S(9, 10, "reply", verdict=Verdict.basically, method=ReplyMethod.visit,
                content="已向群众解释事业单位公开招聘政策，并推荐了区人才市场的招聘会信息。",
                words="政策明白了。")],
    # Solved on the spot: verified, the reply given (evidence photo at the solution).
    "O-sign": [
        S(8, 10, "verify", note="经实地查看，指示牌已扶正加固，同意核销。"),
        S(7, 10, "reply", verdict=Verdict.satisfied),
    ],
}

# The home problems solved on the spot carry a photo of the result.
ON_SPOT_PHOTOS = {"O-drain": 1, "O-sign": 1}


# ------------------------------------------------------------------ the other groups' paths

PATHS = {  # name → (stages in order, weight)
    "accepted": ((), 3),
    "plan_review": (("book",), 2),
    "in_progress": (("book", "approve", "tick"), 4),
    "signoff_review": (("book", "approve", "tick", "signoff"), 1),
    "verifying": (("book", "approve", "tick", "signoff", "approve_signoff"), 2),
    "signed_off": (("book", "approve", "tick", "signoff", "approve_signoff", "verify"), 2),
    "closed": (("book", "approve", "tick", "signoff", "approve_signoff", "verify", "reply"), 4),
    "cannot_solve_review": (("book", "approve", "cannot"), 1),
    "cannot_solve": (("book", "approve", "cannot", "decide_cannot", "reply"), 1),
}
VERDICTS = {Verdict.satisfied: 6, Verdict.basically: 3, Verdict.unreachable: 1, Verdict.refused: 1}
HOURS = (9, 11, 14, 16)


def _spread(ops: tuple[str, ...], first: int, last: int) -> list[tuple[int, int]]:
    """(wd, hour) for each op, evenly from ``first`` down to ``last`` working days ago."""
    out, used = [], {}
    n = len(ops)
    for i in range(n):
        wd = first if n == 1 else first - round(i * (first - last) / (n - 1))
        if out and wd > out[-1][0]:
            wd = out[-1][0]
        k = used.get(wd, 0)
        used[wd] = k + 1
        out.append((wd, HOURS[min(k, len(HOURS) - 1)] + max(0, k - len(HOURS) + 1)))
    return out


def draw_paths(specs, seed: int, *, signed: set[str], ended: set[str], resolved: str) -> None:
    """Give the generated problems a handling path (their own random stream: the fates drawn
    before stay the same). ``signed``/``ended``/``resolved``: the fates of ``demo.cases``."""
    rng = random.Random(f"huiyin-demo-handling-{seed}")  # noqa: S311 - demo data
    names, weights = zip(*((k, w) for k, (_ops, w) in PATHS.items()), strict=True)
    replied: set[str] = set()  # the first problem of each ended fate always has its reply
    for s in specs:
        if s.fate in signed and s.sign_wd and s.sign_wd >= 3 and rng.random() < 0.6:
            path = rng.choices(names, weights)[0]
            ops = PATHS[path][0]
            if len(ops) > 2 * (s.sign_wd - 1):  # not enough days since signing: stop earlier
                ops = ops[:2 * (s.sign_wd - 1)]
            kw = {"auto": True, "verdict": rng.choices(list(VERDICTS), list(VERDICTS.values()))[0],
                  "photos": rng.choice([0, 1, 1]),
                  "kind": rng.choice([CannotSolveReason.funds, CannotSolveReason.policy])}
            s.stages = [Stage(wd, hour, op, kw)
                        for op, (wd, hour) in zip(ops, _spread(ops, s.sign_wd - 1, 1), strict=True)]
        elif s.fate in ended and s.act_wd >= 2 and (rng.random() < 0.5 or s.fate not in replied):
            replied.add(s.fate)
            verdict = rng.choice([Verdict.satisfied, Verdict.basically, Verdict.refused])
            s.stages = [Stage(rng.randint(1, s.act_wd - 1), 10, "reply", {"auto": True, "verdict": verdict})]
        elif s.fate == resolved and s.act_wd >= 3 and rng.random() < 0.6:
            s.stages = [Stage(s.act_wd - 1, 10, "verify", {"auto": True}),
                        Stage(s.act_wd - 2, 10, "reply", {"auto": True, "verdict": Verdict.satisfied})]


# ------------------------------------------------------------------ running the stages


class HandlingSteps:
    """The stage operations of the demo loader (mixed into ``demo.cases._Loader``).

    Each runs the real operation as the demo user whose work it is, then back-dates what it wrote
    to ``when`` (the timeline entries are back-dated by the loader's ``stamped``).
    """

    # -- dates

    def day(self, wd: int):
        """The working day ``wd`` working days before today (negative: after today); remembered,
        as every step asks for one (the calendar walks day by day)."""
        if wd not in self.days:
            self.days[wd] = calendar.add_workdays(self.today, -wd)
        return self.days[wd]

    def moment(self, wd: int, hour: int, minute: int = 0) -> datetime:
        local = datetime.combine(self.day(wd), time(hour, minute), tzinfo=clock.LOCAL_TZ)
        return local.astimezone(UTC)

    def lag(self, when: datetime) -> int:
        """Working days from the day of ``when`` to the first working day from today on: moved by
        as much, the day of ``when`` becomes the first day the operation accepts (and the working
        day before it one it refuses), also when today is a day off."""
        first = self.today if calendar.is_workday(self.today) else calendar.add_workdays(self.today, 1)
        return calendar.workdays_between(clock.local(when).date(), first)

    # -- who does it

    def handler_for(self, p):
        return self.desk if p.lead_unit.kind == UnitKind.desk else self.handlers[p.lead_unit.name]

    def leader_for(self, p):
        return self.leaders[p.lead_unit.name]

    def verifier_for(self, s):
        return self.office if s.problem.assigner_unit.kind == UnitKind.office else self.staff[s.territory].lead

    def replier_for(self, s, by: str | None):
        if by == "desk":
            return self.desk
        if by == "office":
            return self.office
        return self.staff[s.territory].cadre

    def work(self, s) -> Work:
        return work_for(s.tpl.key, s.tpl.title, s.problem.lead_unit.name if s.problem.lead_unit else "")

    # -- files

    def attach_photos(self, s, user, closure, n: int, when: datetime) -> None:
        for i in range(n):
            self.photo_seq += 1
            data = evidence_png(self.photo_seq)
            storage = FileStorage(stream=BytesIO(data), filename=f"现场照片{i + 1}.png", content_type="image/png")
            checked = uploads.check(storage)
            for att in pages.store_files(s.problem, user, [checked], kind=AttachmentKind.evidence,
                                         written=self.written, closure=closure):
                att.created_at = when

    # -- the stages

    def stage(self, s, st: Stage, when: datetime) -> None:
        try:
            getattr(self, f"do_{st.op}")(s, when, **st.kw)
        except Exception as exc:
            exc.add_note(f"demo stage {st.op} of {s.tpl.key} ({s.territory}, {s.fate}) at wd {st.wd}")
            raise
        s.problem.updated_at = when

    def do_book(self, s, when, *, dues=(), steps=(), reason=None, auto=False, **_kw):
        p = s.problem
        v = self.lag(when)
        work = self.work(s)
        handler = self.handler_for(p)
        ceiling = p.deadline
        if auto:  # the steps evenly from the book's day up to the ceiling
            day, n = clock.local(when).date(), len(work.steps)
            span = calendar.workdays_between(day, ceiling)
            planned = [(t, calendar.add_workdays(day, round(span * i / n))) for i, t in enumerate(work.steps, 1)]
        else:
            planned = [(t, self.day(due)) for t, due in (list(steps) or zip(work.steps, dues, strict=True))]
        leader, office = responsible(p.lead_unit, p.category.name, self.leader_for(p).full_name)
        p.deadline = calendar.add_workdays(ceiling, v)
        book = h.submit_plan(
            p, handler, handler=handler, responsible_leader=leader, responsible_department=office,
            measures=work.measures, deadline=p.deadline, revision_reason=reason,
            steps=[h.StepInput(title, calendar.add_workdays(due, v)) for title, due in planned])
        p.deadline = ceiling
        book.deadline, book.submitted_at = ceiling, when
        for step in book.steps:
            if step.done_at is None:
                step.due_on = calendar.add_workdays(step.due_on, -v)

    def do_approve(self, s, when, *, note=None, **_kw):
        book = h.approve_plan(s.problem, self.leader_for(s.problem), note=note)
        book.decided_at = when

    def do_reject(self, s, when, *, reason, **_kw):
        book = h.reject_plan(s.problem, self.leader_for(s.problem), reason=reason)
        book.decided_at = when

    def do_tick(self, s, when, *, step=None, note=None, auto=False, **_kw):
        p = s.problem
        book = book_in_force(p)
        open_steps = [x for x in book.steps if x.done_at is None]
        if auto or step is None:
            target = open_steps[0]
            note = GENERIC_TICKS[min(target.seq, len(GENERIC_TICKS)) - 1]
        elif isinstance(step, int):
            target = next(x for x in book.steps if x.seq == step)
        else:
            target = next(x for x in open_steps if x.title.startswith(step))
        user = self.handler_for(p) if target.unit_id == p.lead_unit_id else self.handlers[target.unit.name]
        h.tick_step(p, user, target, note=note or STEP_DONE)
        target.done_at = when

    def do_progress(self, s, when, *, text, public=True, **_kw):
        h.record_progress(s.problem, self.handler_for(s.problem), text=text, public=public)

    def do_feedback(self, s, when, *, unit, text, done, **_kw):
        user = self.handlers[unit]
        h.part_feedback(s.problem, user, text=text, done=done)
        part = next(x for x in s.problem.current_assignment.units if x.unit_id == user.unit_id)
        part.feedback_at = when

    def do_extend(self, s, when, *, new, reason, progress, **_kw):
        p = s.problem
        v = self.lag(when)
        old = p.deadline
        p.deadline = calendar.add_workdays(old, v)
        ext = h.request_extension(p, self.handler_for(p), new_deadline=calendar.add_workdays(self.day(new), v),
                                  reason=reason, progress=progress)
        p.deadline = old
        ext.old_deadline, ext.new_deadline, ext.requested_at = old, self.day(new), when

    def do_decide_extension(self, s, when, *, approve, note=None, **_kw):
        ext = h.decide_extension(s.problem, self.verifier_for(s), approve=approve, note=note)
        ext.decided_at = when

    def do_signoff(self, s, when, *, completed=None, photos=0, no_evidence=None, auto=False, **_kw):
        p = s.problem
        handler = self.handler_for(p)
        if auto and not photos:
            no_evidence = "现场整改情况已由村干部和群众代表签字确认，确认单原件存档。"
        still_open = open_parts(p)
        closure = h.request_signoff(
            p, handler, result=self.work(s).result,
            completed_on=clock.local(when).date() if completed is None else self.day(completed),
            evidence_count=photos, no_evidence_reason=no_evidence,
            open_parts_reason="配合单位已电话确认配合事项办结，书面反馈随后补报。" if still_open else None,
            step_reasons=_open_step_reasons(p))
        closure.requested_at = when
        self.attach_photos(s, handler, closure, photos, when)

    def do_approve_signoff(self, s, when, *, note=None, **_kw):
        closure = h.approve_signoff(s.problem, self.leader_for(s.problem), note=note)
        closure.leader_at = when

    def do_reject_signoff(self, s, when, *, reason, **_kw):
        closure = h.reject_signoff(s.problem, self.leader_for(s.problem), reason=reason)
        closure.leader_at = when

    def do_verify(self, s, when, *, note=None, auto=False, **_kw):
        p = s.problem
        closure = h.verify(p, self.verifier_for(s), note=note or ("经实地查看核实，问题已解决，同意核销。" if auto else None))
        closure.verified_at = p.solved_at = when
        p.reply_due = reply_deadline(when)

    def do_reject_verification(self, s, when, *, reason, **_kw):
        closure = h.reject_verification(s.problem, self.verifier_for(s), reason=reason)
        closure.verified_at = when

    def do_cannot(self, s, when, *, kind=CannotSolveReason.funds, text=None, auto=False, **_kw):
        if auto:
            text = ("该问题需纳入明年财政预算统筹解决，今年资金无法落实，暂难解决；已列入明年工作计划，并向群众"
                    "说明。" if kind == CannotSolveReason.funds else
                    "该诉求涉及的政策标准由上级统一规定，本级无权调整，暂难解决；已向上级部门反映，并向群众解释"
                    "政策。")
        closure = h.request_cannot_solve(s.problem, self.handler_for(s.problem), reason_kind=kind, explanation=text)
        closure.requested_at = when

    def do_decide_cannot(self, s, when, *, approve=True, note=None, auto=False, **_kw):
        p = s.problem
        closure = h.decide_cannot_solve(p, self.office, approve=approve,
                                        note=note or ("同意暂难解决，请做好解释工作。" if auto else None))
        closure.verified_at = when
        if approve:
            p.reply_due = reply_deadline(when)

    def do_reply(self, s, when, *, verdict, content=None, words=None, substantive=False,
                 method=ReplyMethod.phone, by=None, auto=False, **_kw):
        p = s.problem
        if content is None:
            content = self.reply_text(s)
        if auto and verdict == Verdict.refused:
            words = "不想评价。"
        record = h.reply(p, self.replier_for(s, by), method=method, replied_at=when - timedelta(minutes=20),
                         content=content, verdict=verdict, resident_words=words, substantive=substantive)
        record.created_at = p.replied_at = when
        if p.closed_at is not None:
            p.closed_at = when
        if record.reopened:
            p.deadline = case_deadlines.handling_deadline(when, p.tier)

    def reply_text(self, s) -> str:
        p = s.problem
        if p.status == Status.not_accepted:
            return f"已向群众当面解释不予受理的原因：{p.end_reason}"
        if p.status == Status.merged:
            return f"已告知群众，所反映问题与{p.merged_into.number}为同一问题，已合并办理，办理结果一并答复。"
        if p.status == Status.cannot_solve:
            return f"已向群众说明暂难解决的原因：{p.end_reason}"
        if p.lead_unit is None:  # solved on the spot
            return f"已回访群众，确认问题已当场解决：{s.tpl.result}"
        return self.work(s).reply

    # -- joint meetings

    def do_convene(self, s, when, *, key, kind, title, starts, place, host, units, **_kw):
        m = convene_meeting(self.handler_for(s.problem), kind=kind, title=title, starts_at=self.moment(*starts),
                              place=place, host=host, units=[self.units[u] for u in units], problems=[s.problem])
        m.created_at = when
        self.meetings[key] = m

    def do_minutes(self, s, when, *, key, summary, attendance, decisions, **_kw):
        m = self.meetings[key]
        v = self.lag(when)
        record_minutes(
            m, m.convened_by, summary=summary,
            attendance={self.units[u].id: (names is not None, names or "") for u, names in attendance.items()},
            decisions=[DecisionInput(problem=s.problem, unit=self.units[u], text=text,
                                       due_on=calendar.add_workdays(self.day(due), v))
                       for u, text, due in decisions])
        m.minuted_at = when
        made = {d.id: d for d in m.decisions}
        for d in made.values():
            d.due_on = calendar.add_workdays(d.due_on, -v)
        for step in book_in_force(s.problem).steps:
            if step.decision_id in made:
                step.due_on = made[step.decision_id].due_on

    def do_cancel(self, s, when, *, key, reason, **_kw):
        cancel_meeting(self.meetings[key], self.meetings[key].convened_by, reason=reason)
