"""Visiting rounds, coverage and the cadre's 我的包户.

* ``rounds`` — the office sets the rounds (name, start, end).
* ``index`` — covered / total and rate per district, town, village, work group or cadre, households
  and enterprises apart, for the current or any past round; each figure links to its uncovered list.
* ``uncovered`` — the open entries not visited in the round, for one figure.
* ``mine`` / ``record`` — a cadre's households and enterprises (unvisited first) and the one-screen
  visit to one of them, from a phone.
* The home page's panel (``visits/_home_coverage.html``) asks ``home_coverage()``, which this module
  gives every template: accounts, below visits, never imports it.
"""

import re
import uuid

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..cases import uploads
from ..core import clock
from ..core.errors import FieldsInvalid, Invalid
from ..core.extensions import db
from ..core.render import render
from ..org.models import Unit, UnitKind
from . import access, coverage, queries
from . import operations as ops
from .models import Enterprise, Household, HouseholdKind, Visit, VisitMode, VisitRound
from .register_forms import QuickVisitForm, RoundForm

bp = Blueprint("coverage", __name__)
bp.before_request(access.refuse_departments)
readers = roles_required(*access.READERS)
office = roles_required(Role.office)
cadre_only = roles_required(Role.cadre)

BY_LABELS = {"district": _l("全区"), "town": _l("镇（街道）"), "village": _l("村（社区）"),
             "group": _l("工作组"), "cadre": _l("包户干部")}
HOME_LIST = 10
HOME_BEHIND = 5


@bp.record_once
def _menu(_state) -> None:
    nav.register("coverage.mine", _l("我的包户"), when=access.has_register_part)
    nav.register("coverage.index", _l("走访覆盖"), when=access.has_register_part)
    nav.register("coverage.rounds", _l("走访轮次"), when=access.has_register_part)


@bp.app_context_processor
def _home_panel():
    return {"home_coverage": home_coverage}


def _model(kind: str):
    return Enterprise if kind == "enterprises" else Household


def _round_from_args() -> VisitRound | None:
    rid = request.args.get("round", type=int)
    if rid:
        r = db.session.get(VisitRound, rid)
        if r is None:
            abort(404)
        return r
    return coverage.current_round()


def _default_by(user) -> str:
    if user.role in (Role.office, Role.leader):
        return "town"
    if access.is_town_user(user):
        return "village"
    return "cadre"


# ---------------------------------------------------------------- rounds


@bp.route("/visits/rounds", methods=["GET", "POST"])
@office
def rounds():
    """The visiting rounds; the office adds one (name, start, end)."""
    form = RoundForm()
    if request.method == "POST" and form.validate():
        try:
            ops.save_round(current_user, name=form.name.data, starts_on=form.starts_on.data, ends_on=form.ends_on.data)
            db.session.commit()
        except FieldsInvalid as exc:
            db.session.rollback()
            for name, message in exc.errors.items():
                getattr(form, name).errors = [*getattr(form, name).errors, str(message)]
        else:
            flash(_("已保存走访轮次。"), "success")
            return redirect(url_for("coverage.rounds"))
    return render("visits/rounds.html", form=form, rounds=coverage.rounds(), errors=bool(form.errors),
                  today=clock.today())


# ---------------------------------------------------------------- coverage


@bp.get("/visits/coverage")
@readers
def index():
    """Coverage of the round per district, town, village, work group or cadre; 户 and 企 apart."""
    visit_round = _round_from_args()
    by = request.args.get("by") or _default_by(current_user)
    if by not in coverage.GROUPS:
        by = _default_by(current_user)
    tables = {}
    if visit_round is not None:
        for slug, model in (("households", Household), ("enterprises", Enterprise)):
            scope = access.register_scope(current_user, model)
            rows = coverage.figures(model, visit_round, by, scope, user=current_user)
            if not rows and by == "village" and model is Enterprise:  # enterprises belong to towns
                rows = coverage.figures(model, visit_round, "town", scope, user=current_user)
            tables[slug] = {"district": coverage.total(rows) if by != "district"
                            else coverage.figures(model, visit_round, "district", scope, user=current_user),
                            "rows": rows}
    return render("visits/coverage.html", block="figures", visit_round=visit_round, rounds=coverage.rounds(),
                  by=by, by_labels=BY_LABELS, tables=tables,
                  days_left=coverage.days_left(visit_round) if visit_round else None)


@bp.get("/visits/coverage/uncovered")
@readers
def uncovered():
    """The entries not yet visited in the round, for one figure (by and key) or the whole scope."""
    visit_round = _round_from_args()
    if visit_round is None:
        abort(404)
    kind = "enterprises" if request.args.get("kind") == "enterprises" else "households"
    model = _model(kind)
    by = request.args.get("by", "district")
    if by not in coverage.GROUPS:
        abort(404)
    key = request.args.get("key", type=int)
    page = max(1, request.args.get("page", 1, type=int))
    total, items = coverage.uncovered(model, visit_round, access.register_scope(current_user, model), by=by, key=key,
                                      limit=queries.PAGE_SIZE, offset=(page - 1) * queries.PAGE_SIZE,
                                      user=current_user)
    pages = max(1, -(-total // queries.PAGE_SIZE))
    return render("visits/uncovered.html", block="results", visit_round=visit_round, kind=kind, by=by, key=key,
                  items=items, total=total, page=page, pages=pages, by_labels=BY_LABELS)


def home_coverage(user=None) -> dict | None:
    """The home page's "本轮还有 N 户、M 家企业未走访" for the user's part of the register: for a
    cadre, the first of their own still unvisited; for the office, a town or a group lead, the
    towns, villages or cadres furthest behind, each linked to its list of the unvisited."""
    user = user or current_user
    if not user.is_authenticated or user.role not in access.READERS:
        return None
    visit_round = coverage.current_round()
    if visit_round is None:
        return None
    out = {"round": visit_round, "days_left": coverage.days_left(visit_round), "behind": [], "by": None}
    if user.role == Role.cadre:
        for slug, model in (("households", Household), ("enterprises", Enterprise)):
            total, items = coverage.uncovered(model, visit_round, model.cadre_id == user.id, limit=HOME_LIST)
            out[slug] = {"total": total, "items": items}
        return out
    by = _default_by(user)
    for slug, model in (("households", Household), ("enterprises", Enterprise)):
        grouped = "town" if by == "village" and model is Enterprise else by  # enterprises belong to towns
        rows = coverage.figures(model, visit_round, grouped, access.register_scope(user, model), user=user)
        out[slug] = {"total": sum(r.uncovered for r in rows), "items": []}
        if model is Household:
            behind = sorted((r for r in rows if r.uncovered), key=lambda r: (r.rate or 0, -r.uncovered, r.name))
            out["behind"], out["by"] = behind[:HOME_BEHIND], by
    return out


# ---------------------------------------------------------------- 我的包户


@bp.get("/visits/mine")
@cadre_only
def mine():
    """我的包户: the cadre's households or enterprises, thirty at a time — those not yet visited in
    the round first (the default), or those visited, or all; searched by name, 户号 or initials."""
    visit_round = coverage.current_round()
    counted = {slug: queries.mine_counts(model, current_user, visit_round)
               for slug, model in (("households", Household), ("enterprises", Enterprise))}
    kind = request.args.get("kind")
    if kind not in counted:  # a cadre who holds only enterprises opens on them
        kind = "enterprises" if not counted["households"][0] and counted["enterprises"][0] else "households"
    state = request.args.get("state")
    if state not in queries.MINE_STATES or visit_round is None:
        state = "unvisited" if visit_round is not None else "all"
    q = (request.args.get("q") or "").strip()[:40]
    after = request.args.get("after", type=int)
    model = _model(kind)
    items, next_after = queries.mine_page(model, current_user, visit_round, state=state, q=q, after=after)
    visited = (set() if visit_round is None else {e.id for e in items} if state == "visited"
               else queries.visited_ids(model, [e.id for e in items], visit_round) if state == "all" else set())

    def mine_url(**changed):
        return url_for("coverage.mine", **{"kind": kind, "state": state, "q": q or None, **changed})

    block = "more" if after is not None else "results"
    return render("visits/mine.html", block=block, mine_url=mine_url, kind=kind, state=state, q=q, after=after,
                  items=items,
                  next_after=next_after, visited=visited, counted=counted, visit_round=visit_round,
                  days_left=coverage.days_left(visit_round) if visit_round else None)


def _own_entry_or_404(slug: str, entry_id: int):
    model = {"households": Household, "enterprises": Enterprise}.get(slug)
    if model is None:
        abort(404)
    entry = queries.get_entry_or_404(model, entry_id, current_user)
    if entry.is_closed:
        abort(404)
    return model, entry


@bp.route("/visits/<slug>/<int:entry_id>/visit", methods=["GET", "POST"])
@cadre_only
def record(slug: str, entry_id: int):
    """Record a visit to one household or enterprise of the group, on one phone screen."""
    model, entry = _own_entry_or_404(slug, entry_id)
    form = QuickVisitForm()
    if request.method == "GET":
        form.token.data = uuid.uuid4().hex
        form.visited_on.data = clock.today()
        form.mode.data = (VisitMode.home if model is Household else VisitMode.enterprise).value
        return _record_page(slug, entry, form)
    if not re.fullmatch(r"[0-9a-f]{32}", form.token.data or ""):
        form.token.data = uuid.uuid4().hex
    ok = form.validate()
    if ok and form.visited_on.data > clock.today():
        form.visited_on.errors.append(_("走访日期不能晚于今天。"))
        ok = False
    if not ok:
        return _record_page(slug, entry, form)
    checked = _checked_photos(form)
    if checked is None:
        return _record_page(slug, entry, form)
    village = entry.village if model is Household else _enterprise_village(entry)
    if village is None:
        form.form_errors.append(_("该企业所在镇（街道）还没有村（社区），请联系区活动办。"))
        return _record_page(slug, entry, form)
    written: list[str] = []
    try:
        visit, created = ops.record_visit(
            current_user, visited_on=form.visited_on.data, village=village,
            household_kind=HouseholdKind.household if model is Household else HouseholdKind.enterprise,
            household_name=entry.head_name if model is Household else entry.name,
            visitors=current_user.full_name, situation=form.situation.data or "", demands=form.demands.data or "",
            client_token=form.token.data, household=entry if model is Household else None,
            enterprise=entry if model is Enterprise else None, mode=VisitMode(form.mode.data),
            met=form.met.data or "", follow_up=form.follow_up.data or "")
        if created:  # a repeated submission keeps the photos of the first
            for c in checked:
                stored = uploads.store(c)
                written.append(stored.stored_name)
                ops.add_visit_photo(visit, current_user, filename=c.filename, stored_name=stored.stored_name,
                                    mime=c.mime, size=stored.size, sha256=stored.sha256)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        uploads.remove(written)
        visit = db.session.scalar(select(Visit).where(Visit.client_token == form.token.data))
        if visit is None:
            raise
        created = False
    except Invalid as exc:
        db.session.rollback()
        uploads.remove(written)
        form.form_errors.append(str(exc))
        return _record_page(slug, entry, form)
    except BaseException:
        db.session.rollback()
        uploads.remove(written)
        raise
    flash(_("走访记录已保存。") if created else _("这次走访已经保存过了（重复提交不会重复登记）。"),
          "success" if created else "info")
    if request.form.get("then") == "problems":
        return redirect(url_for("visits.visit", visit_id=visit.id))
    return redirect(url_for("coverage.mine", kind=slug))


def _checked_photos(form) -> list | None:
    """The chosen photos, checked and re-encoded (JPEG/PNG only); None with field messages."""
    files = form.chosen_files()
    if len(files) > uploads.MAX_FILES_PER_PROBLEM:
        form.photos.errors = [_("每次走访最多上传 %(n)d 张照片。", n=uploads.MAX_FILES_PER_PROBLEM)]
        return None
    checked, errors = [], []
    for storage in files:
        try:
            c = uploads.check(storage)
        except uploads.UploadRefused as exc:
            errors.append(str(exc.args[0]))
            continue
        if not c.mime.startswith("image/"):
            errors.append(_("文件“%(name)s”不是 JPG 或 PNG 照片。", name=c.filename))
            continue
        checked.append(c)
    if errors:
        form.photos.errors = errors
        return None
    return checked


def _enterprise_village(entry: Enterprise):
    """A visit is filed under a village: an enterprise's is the first active one of its town."""
    return db.session.scalar(select(Unit).where(Unit.parent_id == entry.town_id, Unit.kind == UnitKind.village,
                                                Unit.is_active.is_(True)).order_by(Unit.id).limit(1))


def _record_page(slug, entry, form):
    # A re-rendered page cannot keep the chosen files: say which ones to choose again.
    lost = [f.filename for f in form.chosen_files()] if request.method == "POST" else []
    return render("visits/record.html", slug=slug, entry=entry, form=form, lost=lost,
                  errors=bool(form.errors or form.form_errors), max_mb=uploads.max_bytes() / 1024 / 1024,
                  max_files=uploads.MAX_FILES_PER_PROBLEM)
