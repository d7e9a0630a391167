"""Helpers that build problems through the real operations (no shortcuts into the tables)."""

import itertools

from sqlalchemy import select

from webapp.accounts.models import User
from webapp.cases import operations as ops
from webapp.cases.models import Category
from webapp.cases.workflow import Kind, Level, Tier
from webapp.core.extensions import db
from webapp.org.models import Unit

_counter = itertools.count(1)


def user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def unit(name: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.name == name))


def category(name: str = "民生保障") -> Category:
    return db.session.scalar(select(Category).where(Category.name == name))


def register(username="cadre", village="权台村", title=None, **kw):
    """A problem registered by ``username`` in ``village`` (committed)."""
    n = next(_counter)
    data = ops.ProblemInput(
        resident_name=kw.pop("resident_name", f"居民{n}"), resident_phone=kw.pop("phone", "13812341234"),
        resident_id_number=kw.pop("id_number", "320305199001011234"), village=unit(village),
        address=kw.pop("address", f"{village}{n}号"), category=category(kw.pop("category", "民生保障")),
        title=title or f"测试问题{n}", description=kw.pop("description", "路灯损坏，夜间出行不便。"),
    )
    problem, _ = ops.register_problem(user(username), data)
    db.session.commit()
    return problem


QUICK = ops.Triage(Kind.individual, Level.town, Tier.quick)


def assigned_to_town(town="潘安湖街道", cooperating=(), triage=QUICK, **kw):
    p = register(**kw)
    ops.assign_sheet(p, user("grouplead"), lead=unit(town), cooperating=[unit(c) for c in cooperating],
                     triage=triage, requirements="请尽快办理")
    db.session.commit()
    return p


def assigned_to_department(dept="区民政局", cooperating=(), **kw):
    p = register(**kw)
    ops.add_to_list(p, user("grouplead"), triage=ops.Triage(Kind.common, Level.district, Tier.quick))
    cl = p.coordinated_list
    ops.submit_list(cl, user("grouplead"))
    ops.assign_departments(p, user("office"), lead=unit(dept), cooperating=[unit(c) for c in cooperating])
    db.session.commit()
    return p


def transferred_to_desk(**kw):
    p = register(**kw)
    ops.transfer_to_desk(p, user("grouplead"), triage=QUICK)
    db.session.commit()
    return p


def make_user(username: str, unit_name: str, role) -> User:
    """Another account (created and given its role through the admins' operations)."""
    from webapp.accounts.admin_operations import create_user
    from webapp.accounts.security_ops import set_role

    u, _password = create_user(username=username, full_name=f"测试{username}", phone=None, unit=unit(unit_name))
    set_role(user("secadmin"), u, role, u.version)
    db.session.commit()
    return u
