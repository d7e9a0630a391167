"""Objects the access rules point at. Areas add what their object routes need."""

from types import SimpleNamespace

from sqlalchemy import select

from webapp.core.extensions import db
from webapp.org.models import Unit


def unit(name: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.name == name))


def _user(username: str):
    from webapp.accounts.models import User

    return db.session.scalar(select(User).where(User.username == username))


# Objects built only when a rule first asks for them (problems cost a few commits each).
LAZY = {}


class Objects(SimpleNamespace):
    def __getattr__(self, name):
        if name.startswith("__") or name not in LAZY:
            raise AttributeError(name)
        value = LAZY[name]()
        setattr(self, name, value)
        return value


def _cases_objects() -> None:
    """Work queues & problem page: problems of own and other units, groups and cadres."""
    from tests.cases import factories as f
    from webapp.accounts.roles import Role

    LAZY.update({
        # Registered by ``cadre`` (潘安湖街道工作组); assigned to 潘安湖街道 (town, townlead).
        "town_problem": lambda: f.assigned_to_town(),
        # The same group's problem, assigned to another town: no demo unit account sees it.
        "other_town_problem": lambda: f.assigned_to_town(town="青山泉镇", village="房上村"),
        # Through the coordinated list to 区民政局 (dept, deptlead).
        "dept_problem": lambda: f.assigned_to_department(),
        # Transferred to the 12345 desk (desk).
        "desk_problem": lambda: f.transferred_to_desk(),
        # Registered by a cadre of another work group: only office and leader see it.
        "other_group_problem": lambda: f.register(
            username=f.make_user("cadre-qsq", "青山泉镇工作组", Role.cadre).username, village="房上村"),
    })


_cases_objects()


def _intake_objects() -> None:
    """Intake: visits of own and another group; photos (real files on disk) on problems of each unit."""
    import io

    from PIL import Image
    from werkzeug.datastructures import FileStorage

    from tests.cases import factories as f
    from webapp.accounts.roles import Role
    from webapp.cases import operations as ops
    from webapp.cases import uploads
    from webapp.cases.models import AttachmentKind
    from webapp.core import clock
    from webapp.visits import operations as visit_ops

    def other_cadre():  # a cadre of 青山泉镇工作组 of our own (the cases objects make "cadre-qsq")
        return f.user("cadre-qsq2") or f.make_user("cadre-qsq2", "青山泉镇工作组", Role.cadre)

    def visit(username, village):
        v, _ = visit_ops.record_visit(f.user(username), visited_on=clock.today(), village=unit(village),
                                household_kind="household", household_name="访问矩阵户", visitors="矩阵",
                                situation="", demands="", client_token=None)
        db.session.commit()
        return v

    def photo(problem):
        buf = io.BytesIO()
        Image.new("RGB", (4, 4), (10, 20, 30)).save(buf, format="PNG")
        checked = uploads.check(FileStorage(io.BytesIO(buf.getvalue()), filename="现场.png"))
        stored = uploads.store(checked)
        att = ops.add_attachment(problem, f.user(problem.registered_by.username), kind=AttachmentKind.photo,
                                 filename=checked.filename, stored_name=stored.stored_name, mime=checked.mime,
                                 size=stored.size, sha256=stored.sha256)
        db.session.commit()
        return att

    def visit_photo(v):
        buf = io.BytesIO()
        Image.new("RGB", (4, 4), (30, 20, 10)).save(buf, format="JPEG")
        checked = uploads.check(FileStorage(io.BytesIO(buf.getvalue()), filename="走访.jpg"))
        stored = uploads.store(checked)
        p = visit_ops.add_visit_photo(v, v.created_by, filename=checked.filename, stored_name=stored.stored_name,
                                      mime=checked.mime, size=stored.size, sha256=stored.sha256)
        db.session.commit()
        return p

    LAZY.update({
        # A photo of a visit by ``cadre`` (权台村), and of another group's visit.
        "own_visit_photo": lambda: visit_photo(visit("cadre", "权台村")),
        "other_group_visit_photo": lambda: visit_photo(visit(other_cadre().username, "房上村")),
        "intake_visit": lambda: visit("cadre", "权台村"),
        "other_group_visit": lambda: visit(other_cadre().username, "房上村"),
        # Registered by ``cadre``, assigned to 潘安湖街道 / through the list to 区民政局.
        "town_photo": lambda: photo(f.assigned_to_town()),
        "dept_photo": lambda: photo(f.assigned_to_department()),
        # Registered by another group's cadre, not assigned: only office and leader see it.
        "other_group_photo": lambda: photo(f.register(username=other_cadre().username, village="房上村")),
        # An open problem of another town (for "attach a resident": the cadre may not).
        "other_town_open_problem": lambda: f.register(username=other_cadre().username, village="房上村"),
    })


_intake_objects()


def _triage_objects() -> None:
    """Triage & lists: problems waiting for triage, draft and submitted lists of own and another group."""
    from tests.cases import factories as f
    from webapp.accounts.roles import Role
    from webapp.cases import operations as ops
    from webapp.cases.workflow import Kind, Level, Tier

    def other_lead():  # the group lead of 青山泉镇工作组 (and a cadre to register there)
        return f.user("grouplead-qsq") or f.make_user("grouplead-qsq", "青山泉镇工作组", Role.group_lead)

    def other_cadre():
        return f.user("cadre-qsq3") or f.make_user("cadre-qsq3", "青山泉镇工作组", Role.cadre)

    def listed(lead_username="grouplead", cadre="cadre", village="权台村", submit=False):
        p = f.register(username=cadre, village=village)
        lead = f.user(lead_username)
        ops.add_to_list(p, lead, triage=ops.Triage(Kind.common, Level.district, Tier.quick))
        if submit:
            ops.submit_list(p.coordinated_list, lead)
        db.session.commit()
        return p

    LAZY.update({
        # Registered by ``cadre`` (潘安湖街道工作组), waiting for triage: grouplead and office triage it.
        "triage_problem": lambda: f.register(),
        # On the group's draft list / on its submitted list (the office assigns departments).
        "draft_listed_problem": lambda: listed(),
        "submitted_listed_problem": lambda: listed(submit=True),
        # Another group's lists: drafted and submitted by its own group lead.
        "other_draft_listed_problem": lambda: listed(other_lead().username, other_cadre().username, "房上村"),
        "other_submitted_listed_problem": lambda: listed(other_lead().username, other_cadre().username, "房上村",
                                                         submit=True),
    })


_triage_objects()


def _visits_objects() -> None:
    """Registers: a household and an enterprise of 潘安湖街道工作组's cadre, the same of another
    group (青山泉镇), and a visiting round under way."""
    from datetime import timedelta

    def make(kind):
        from tests.cases import factories as f
        from tests.visits import factories as vf
        from webapp.accounts.roles import Role
        from webapp.core import clock

        other = f.user("cadre-qsq") or f.make_user("cadre-qsq", "青山泉镇工作组", Role.cadre)
        if kind == "own_household":
            entry = vf.household("M-001", head="矩阵户主", phone="13800001111")
        elif kind == "other_household":
            entry = vf.household("M-002", head="他组户主", village="房上村", cadre=other.username, phone="13800002222")
        elif kind == "own_enterprise":
            entry = vf.enterprise("矩阵企业", serial=901)
        elif kind == "other_enterprise":
            entry = vf.enterprise("他组企业", town="青山泉镇", cadre=other.username, serial=902)
        else:
            today = clock.today()
            entry = vf.visit_round(name="矩阵轮次", starts_on=today - timedelta(days=10), ends_on=today + timedelta(days=10))
        db.session.commit()
        return entry

    for kind in ("own_household", "other_household", "own_enterprise", "other_enterprise", "visit_round"):
        LAZY[kind] = lambda kind=kind: make(kind)


_visits_objects()


def _notification_objects() -> None:
    """Notifications: one in the town handler's inbox, one failed delivery for the office to resend."""

    def town_notification():
        from webapp.notifications.emit import notify

        ids = notify([_user("town").id], "assigned", "新交办：测试")
        db.session.commit()
        return ids[0]

    def failed_delivery():
        from webapp.notifications.emit import notify
        from webapp.notifications.models import Delivery, DeliveryStatus

        nid = notify([_user("town").id], "remind", "催办：测试")[0]
        d = Delivery(notification_id=nid, channel="sms", address="13800001234",
                     idempotency_key=f"{nid}:sms-test", status=DeliveryStatus.failed, attempts=5)
        db.session.add(d)
        db.session.commit()
        return d.id

    def town_paper():
        from tests.supervision.test_papers import paper_for

        return paper_for(unit("潘安湖街道")).id

    LAZY.update({"town_notification": town_notification, "failed_delivery": failed_delivery,
                 "town_paper": town_paper})


_notification_objects()


def build() -> SimpleNamespace:
    ns = Objects()
    ns.own_town = unit("潘安湖街道")
    ns.other_town = unit("青山泉镇")
    # org & users admin: a unit with no users or children, and accounts to act on.
    ns.spare_village = unit("权台西村")
    ns.desk_user = _user("desk")
    ns.dept_user = _user("dept")
    return ns
