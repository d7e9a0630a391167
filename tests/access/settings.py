"""Campaign settings (活动设置: time limits, problem categories, the working-day calendar): the
activity office only. The leader reads everything but changes nothing, and these pages exist only
to change things, so the leader is refused (403) like every other role; admins do no casework.
There are no unit-scoped objects here (the settings, categories and calendar are district-wide),
so there is no own-versus-other-unit case."""

from webapp.core.extensions import db

from . import Rule

OFFICE = {"office"}


def _category(name="其他"):
    from tests.cases import factories as f

    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    return f.category(name)


def _limits(_o) -> dict:
    from webapp.core import settings

    db.session.rollback()
    settings.clear_cache()
    s = settings.get_settings()
    values = {name: str(getattr(s, name)) for name in settings.DAY_FIELDS}
    return values | {"campaign_deadline": "", "version": str(s.version)}  # unchanged: nothing to save


def _stamp(_o) -> dict:
    from webapp.settings.categories import stamp

    return {"version": stamp(_category())}


def _edit(_o) -> dict:
    c = _category()
    return _stamp(_o) | {"name": c.name, "sort_order": str(c.sort_order)}  # unchanged: nothing to save


def _path(action: str):
    return lambda _o: f"/settings/categories/{_category().id}/{action}"


def _mark(name="访问矩阵标记"):
    from webapp.visits.models import AttentionMark

    db.session.rollback()
    mark = db.session.query(AttentionMark).filter_by(name=name).one_or_none()
    if mark is None:
        mark = AttentionMark(name=name, sort_order=900, is_active=True)
        db.session.add(mark)
        db.session.commit()
    return mark


def _mark_stamp(_o) -> dict:
    from webapp.settings.marks import stamp

    return {"version": stamp(_mark())}


UNUSED = "矩阵待删标记"


def _unused_stamp(_o) -> dict:
    from webapp.settings.marks import stamp

    return {"version": stamp(_mark(UNUSED))}


def _mark_edit(_o) -> dict:
    m = _mark()
    return _mark_stamp(_o) | {"name": m.name, "sort_order": str(m.sort_order)}  # unchanged: nothing to save


def _mark_path(action: str):
    return lambda _o: f"/settings/marks/{_mark().id}/{action}"


RULES = [
    Rule("settings.index", "/settings/", OFFICE),
    Rule("settings.limits", "/settings/limits", OFFICE),
    Rule("settings.limits", "/settings/limits", OFFICE, method="POST", data=_limits, note="unchanged"),
    Rule("settings.categories", "/settings/categories", OFFICE),
    Rule("settings.create_category", "/settings/categories/new", OFFICE, method="POST",
         data={"name": "访问矩阵类别", "sort_order": "500"}),
    Rule("settings.edit_category", _path("edit"), OFFICE, method="POST", data=_edit, note="unchanged"),
    Rule("settings.deactivate_category", _path("deactivate"), OFFICE, method="POST", data=_stamp),
    Rule("settings.reactivate_category", _path("reactivate"), OFFICE, method="POST", data=_stamp,
         note="already active: said so politely"),
    Rule("settings.calendar_view", "/settings/calendar?year=2026", OFFICE),
    Rule("settings.add_calendar_day", "/settings/calendar/add", OFFICE, method="POST",
         data={"day": "2026-04-01", "kind": "off", "note": "访问矩阵"}),
    Rule("settings.remove_calendar_day", "/settings/calendar/remove", OFFICE, method="POST",
         data={"day": "2026-04-02", "version": ""}, note="no override there: said so politely"),
    Rule("marks.index", "/settings/marks/", OFFICE),
    Rule("marks.create", "/settings/marks/new", OFFICE, method="POST", data={"name": "矩阵新标记", "sort_order": "800"}),
    Rule("marks.edit", _mark_path("edit"), OFFICE, method="POST", data=_mark_edit, note="unchanged"),
    Rule("marks.deactivate", _mark_path("deactivate"), OFFICE, method="POST", data=_mark_stamp),
    Rule("marks.reactivate", _mark_path("reactivate"), OFFICE, method="POST", data=_mark_stamp,
         note="already active: said so politely"),
    Rule("marks.remove", lambda _o: f"/settings/marks/{_mark(UNUSED).id}/delete", OFFICE, method="POST",
         data=_unused_stamp, note="an unused mark, made afresh before each run"),
]
