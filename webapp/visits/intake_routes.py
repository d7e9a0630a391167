"""Intake by the cadre (走访登记): a visit and the problems raised in it, on one phone screen.

* ``new_visit`` — one form: the visit and zero or more problem blocks. Without JavaScript every
  button is a plain submit that re-renders the form with all input kept ("再加一个问题",
  "删除这个问题", "查找相似问题"); with htmx a new block is fetched as a fragment (``block``) and
  similar open problems appear while typing (``similar``). Saving is one transaction: the visit,
  each problem, each photo — idempotent through the hidden ``token`` (visit: token; problem i:
  ``token:i``). Files are written only after every check passed and removed if the transaction
  does not commit.
* ``attach`` — "this resident raised an existing problem": no new problem, a timeline entry on
  the existing one (``operations.add_co_complainant``).
* ``receipt`` (printable), ``index`` (我的走访), ``visit`` (走访记录表).

The pages keep their addresses under ``/cases/visits``: cadres have them bookmarked on their phones.
"""

import re
import uuid

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from wtforms import SelectChoice

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..cases import access, uploads
from ..cases import operations as case_ops
from ..cases.models import AttachmentKind, Category, Problem
from ..cases.similar import similar_open_problems
from ..core import clock
from ..core.errors import Conflict, Invalid
from ..core.extensions import db
from ..core.render import is_htmx, render
from ..documents.qr import qr_svg
from ..org.models import TERRITORIAL, Unit, UnitKind
from . import operations as ops
from .access import household_scope, visit_scope
from .intake_forms import MAX_BLOCKS, VisitForm, block_form
from .models import Household, HouseholdKind, Visit

bp = Blueprint("visits", __name__)

cadre_only = roles_required(Role.cadre)
visit_readers = roles_required(Role.cadre, Role.group_lead, Role.office, Role.leader)



@bp.record_once
def _menu(_state) -> None:
    # Added when the blueprint is registered (after the queues' 工作台), not on import.
    nav.register("visits.new_visit", _l("登记走访"))
    nav.register("visits.index", _l("我的走访"))


VISITS_PAGE_SIZE = 20
SAVE_FAILED = _l("照片保存失败，走访记录和问题都没有保存。请稍后重试；如仍失败，请联系管理员。")


# ---------------------------------------------------------------- reads


def covered_villages(user) -> list[Unit]:
    """The active villages of the territories the user's work group covers, by territory."""
    group = user.unit
    if group is None or group.kind != UnitKind.work_group:
        return []
    territories = [u for u in group.covered_units if u.kind in TERRITORIAL and u.is_active]
    if not territories:
        return []
    return list(db.session.scalars(
        select(Unit).options(joinedload(Unit.parent))
        .where(Unit.parent_id.in_([t.id for t in territories]), Unit.kind == UnitKind.village,
               Unit.is_active.is_(True))
        .order_by(Unit.parent_id, Unit.id)
    ))


def village_choices(villages: list[Unit]) -> list[SelectChoice]:
    return [SelectChoice(v.id, v.name, optgroup=v.parent.name) for v in villages]


def active_categories() -> list[Category]:
    return list(db.session.scalars(
        select(Category).where(Category.is_active.is_(True)).order_by(Category.sort_order, Category.id)))


def get_visit_or_404(visit_id: int, user) -> Visit:
    visit = db.session.scalar(select(Visit).options(
        joinedload(Visit.village), joinedload(Visit.town), joinedload(Visit.created_by),
    ).where(Visit.id == visit_id, visit_scope(user)))
    if visit is None:
        abort(404)
    return visit


def visible_problems_of(visit: Visit, user) -> list[Problem]:
    return list(db.session.scalars(
        select(Problem).options(joinedload(Problem.category), joinedload(Problem.village),
                                selectinload(Problem.attachments))
        .where(Problem.visit_id == visit.id, access.scope(user)).order_by(Problem.id)
    ).unique())


# ---------------------------------------------------------------- the intake form


class _Intake:
    """Everything the intake page needs for one request: the form, its choices, block notes."""

    def __init__(self):
        self.villages = covered_villages(current_user)
        self.village_ids = {v.id for v in self.villages}
        self.categories = active_categories()
        self.category_ids = {c.id for c in self.categories}
        self.form = VisitForm()
        self.form.load_choices(village_choices(self.villages),
                               [SelectChoice(c.id, c.name) for c in self.categories])
        # The block indices as posted (before WTForms renumbers them 0..n-1), to map a button's
        # value (an index as drawn) onto the block it belongs to.
        self.posted_indices = sorted({
            int(k.split("-")[1]) for k in [*request.form.keys(), *request.files.keys()]
            if k.startswith("problems-") and k.split("-")[1].isdigit()
        })
        self.notes: dict[int, list[str]] = {}
        self.blank_blocks: set[int] = set()
        self.lost_files: dict[int, str] = {}
        self.suggestions: dict[int, list] = {}
        if request.method == "POST":
            self._note_lost_files()

    @property
    def blocks(self):
        return [entry.form for entry in self.form.problems]

    def position(self, drawn_index) -> int | None:
        """The block a button drawn with ``drawn_index`` belongs to (None when unknown)."""
        try:
            pos = self.posted_indices.index(int(drawn_index))
        except (TypeError, ValueError):
            return None
        return pos if pos < len(self.form.problems.entries) else None

    def remove_block(self, pos: int) -> None:
        self.form.problems.entries.pop(pos)
        self.form.problems._compact_indices()  # names problems-0…n-1 again (WTForms ≥ 3.2)

        def shift(d):
            return {(p if p < pos else p - 1): n for p, n in d.items() if p != pos}

        self.notes, self.lost_files = shift(self.notes), shift(self.lost_files)

    def note(self, pos: int, message) -> None:
        self.notes.setdefault(pos, []).append(str(message))

    def _note_lost_files(self) -> None:
        # Shown next to the file field: a re-rendered page cannot keep the chosen files.
        for pos, pf in enumerate(self.blocks):
            names = [f.filename for f in pf.chosen_files()]
            if names:
                self.lost_files[pos] = _("页面重新显示后，浏览器不能保留已选的文件（%(names)s），保存前请重新选择。",
                                         names="、".join(names))

    def _village(self, vid) -> Unit | None:
        return next((v for v in self.villages if v.id == vid), None)

    def visit_village(self) -> Unit | None:
        return self._village(self.form.village.data)

    def village_of(self, pf) -> Unit | None:
        """A block's village: its own choice, else the visit's."""
        return self._village(pf.village.data or self.form.village.data)

    def suggest(self) -> None:
        for pos, pf in enumerate(self.blocks):
            village = self.village_of(pf)
            if village is not None and (pf.title.data or pf.description.data):
                self.suggestions[pos] = similar_open_problems(village, pf.title.data or "",
                                                              pf.description.data or "")

    def page(self, status: int = 200, *, errors: bool = False):
        self.suggest()
        form = self.form
        return render(
            "visits/new.html", form=form, notes=self.notes, suggestions=self.suggestions,
            lost_files=self.lost_files, errors=errors,
            has_villages=bool(self.villages), max_mb=uploads.max_bytes() / 1024 / 1024,
            total_mb=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) / 1024 / 1024,
            max_files=uploads.MAX_FILES_PER_PROBLEM, max_blocks=MAX_BLOCKS,
            next_index=len(form.problems.entries), status=status,
            my_households=own_households(current_user),
        )

    # -- validation of a save

    def check_visit(self) -> bool:
        f = self.form
        if f.village.data is not None and f.village.data not in self.village_ids:
            f.village.errors.append(_("只能选择本工作组负责的村（社区）。"))
        entry = self.household()
        if f.household.data and (entry is None or entry.village_id != f.village.data):
            f.village.errors.append(_("所选的户不在这个村（社区）；请从“我的包户”重新进入，或改选村（社区）。"))
        return not f.village.errors

    def household(self) -> Household | None:
        """The register's household this visit is to (in the cadre's scope and still open)."""
        hid = self.form.household.data
        if not hid:
            return None
        return db.session.scalar(select(Household).where(
            Household.id == hid, Household.is_closed.is_(False), household_scope(current_user)))

    def check_blocks(self) -> list[tuple]:
        """Per block: (problem input, checked files); adds field messages where they fail."""
        out = []
        for pos, pf in enumerate(self.blocks):
            if pf.is_blank():
                self.blank_blocks.add(pos)
                self.note(pos, _("这个问题还没有填写。如果不需要登记，请点“删除这个问题”。"))
            if pf.village.data is not None and pf.village.data not in self.village_ids:
                pf.village.errors.append(_("只能选择本工作组负责的村（社区）。"))
            if pf.category.data is not None and pf.category.data not in self.category_ids:
                pf.category.errors.append(_("所选类别已停用，请重新选择。"))
            files = pf.chosen_files()
            checked = []
            if len(files) > uploads.MAX_FILES_PER_PROBLEM:
                pf.photos.errors = [*pf.photos.errors, _("每个问题最多上传 %(n)d 个文件。",
                                                           n=uploads.MAX_FILES_PER_PROBLEM)]
            for storage in files:
                try:
                    checked.append(uploads.check(storage))
                except uploads.UploadRefused as exc:
                    pf.photos.errors = [*pf.photos.errors, str(exc.args[0])]
            out.append((pf, checked))
        return out

    def has_errors(self) -> bool:
        f = self.form
        if any(getattr(f, n).errors for n in VisitForm.VISIT_FIELDS) or f.form_errors:
            return True
        if any(pf.errors for pf in self.blocks):
            return True
        return bool(self.blank_blocks)

    def problem_input(self, pf) -> case_ops.ProblemInput:
        category = next(c for c in self.categories if c.id == pf.category.data)
        return case_ops.ProblemInput(
            resident_name=pf.resident_name.data, resident_phone=pf.resident_phone.data,
            resident_id_number=pf.resident_id_number.data or None, village=self.village_of(pf),
            address=pf.address.data or "", category=category, title=pf.title.data,
            description=pf.description.data, household_name=self.form.household_name.data,
        )


def _already_saved(token: str) -> Visit | None:
    if not token:
        return None
    return db.session.scalar(select(Visit).where(Visit.client_token == token))


def _to_receipt(visit: Visit, *, repeated: bool):
    if visit.created_by_id != current_user.id:
        abort(409)
    if repeated:
        flash(_("这次走访已经保存过了（重复提交不会重复登记）。"), "info")
    return redirect(url_for("visits.receipt", visit_id=visit.id))


def _save(it: _Intake, blocks: list[tuple]):
    """One transaction: the visit, each problem and each photo; files removed if it fails."""
    form = it.form
    token = form.token.data
    earlier = _already_saved(token)
    if earlier is not None:
        return _to_receipt(earlier, repeated=True)
    written: list[str] = []
    try:
        visit, _created = ops.record_visit(
            current_user, visited_on=form.visited_on.data, village=it.visit_village(),
            household_kind=HouseholdKind(form.household_kind.data), household_name=form.household_name.data,
            visitors=form.visitors.data, situation=form.situation.data or "", demands=form.demands.data or "",
            client_token=token, household=it.household(),
            unregistered_reason="" if form.household.data else (form.unregistered_reason.data or ""),
        )
        for pos, (pf, checked) in enumerate(blocks):
            problem, created = case_ops.register_problem(current_user, it.problem_input(pf), visit=visit,
                                                    client_token=f"{token}:{pos}")
            if not created:
                continue
            for c in checked:
                stored = uploads.store(c)
                written.append(stored.stored_name)
                case_ops.add_attachment(problem, current_user, kind=AttachmentKind.photo, filename=c.filename,
                                   stored_name=stored.stored_name, mime=c.mime, size=stored.size,
                                   sha256=stored.sha256)
        db.session.commit()
    except IntegrityError:
        # The same form sent twice at once: the other request saved it.
        db.session.rollback()
        uploads.remove(written)
        earlier = _already_saved(token)
        if earlier is None:
            raise
        return _to_receipt(earlier, repeated=True)
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        uploads.remove(written)
        form.form_errors.append(str(exc))
        return it.page(409 if isinstance(exc, Conflict) else 200)
    except OSError:
        db.session.rollback()
        uploads.remove(written)
        current_app.logger.exception("saving an upload failed; the visit was rolled back")
        form.form_errors.append(str(SAVE_FAILED))
        return it.page(500)
    except BaseException:
        db.session.rollback()
        uploads.remove(written)
        raise
    n = len(blocks)
    flash(_("走访记录已保存，登记问题 %(n)d 个。", n=n) if n else _("走访记录已保存（未登记问题）。"), "success")
    return redirect(url_for("visits.receipt", visit_id=visit.id))


def own_households(user) -> list[Household]:
    """The cadre's own open households (包户), offered as they type the household's name; the page
    is kept on the phone for offline recording, so the list travels with it (no phone numbers)."""
    return list(db.session.scalars(
        select(Household).options(joinedload(Household.village))
        .where(Household.cadre_id == user.id, Household.is_closed.is_(False))
        .order_by(Household.village_id, Household.number).limit(2000)))


@bp.route("/cases/visits/new", methods=["GET", "POST"])
@cadre_only
def new_visit():
    """Record a visit and register the problems raised in it (one screen, works without JS)."""
    it = _Intake()
    form = it.form
    if request.method == "GET":
        form.token.data = uuid.uuid4().hex
        form.visited_on.data = clock.today()
        form.visitors.data = current_user.full_name
        village = request.args.get("village", type=int)
        if village in it.village_ids:
            form.village.data = village
        form.household.data = request.args.get("household", type=int)
        entry = it.household()
        if entry is not None and entry.village_id in it.village_ids:
            form.village.data, form.household_name.data = entry.village_id, entry.head_name
        else:
            form.household.data = None
        form.add_block()
        return it.page()

    if not re.fullmatch(r"[0-9a-f]{32}", form.token.data or ""):
        form.token.data = uuid.uuid4().hex  # missing or tampered with: this submission gets its own
    action = request.form.get("action", "save")
    if "remove" in request.form:
        pos = it.position(request.form.get("remove"))
        if pos is not None:
            it.remove_block(pos)
        return it.page()
    if action == "add":
        if len(form.problems.entries) >= form.problems.max_entries:
            form.form_errors.append(_("一次最多登记 %(n)d 个问题。", n=form.problems.max_entries))
        else:
            form.add_block()
        return it.page()
    if action == "check":
        return it.page()
    if action == "visit_only":
        ok = form.validate_visit()
        ok = it.check_visit() and ok
        if any(not pf.is_blank() for pf in it.blocks):
            form.form_errors.append(_("下面还有填写了内容的问题。要登记它们，请点“保存走访和问题”；"
                                      "不登记的，请先点“删除这个问题”。"))
            ok = False
        return _save(it, []) if ok else it.page(errors=True)
    # Save the visit with every problem block.
    form.validate()
    it.check_visit()
    blocks = it.check_blocks()
    if it.has_errors():
        return it.page(errors=True)
    return _save(it, blocks)


@bp.get("/cases/visits/new/block")
@cadre_only
def block():
    """htmx: one more empty problem block (and the "add" button, renumbered, out of band)."""
    if not is_htmx():
        return redirect(url_for("visits.new_visit"))
    index = request.args.get("i", type=int)
    if index is None or not 0 <= index < MAX_BLOCKS:
        abort(400)
    villages = covered_villages(current_user)
    pf = block_form(index, village_choices(villages),
                    [SelectChoice(c.id, c.name) for c in active_categories()])
    return render("visits/_block.html", pf=pf, index=index, next_index=index + 1,
                  max_mb=uploads.max_bytes() / 1024 / 1024, max_files=uploads.MAX_FILES_PER_PROBLEM,
                  max_blocks=MAX_BLOCKS)


@bp.get("/cases/visits/new/similar")
@cadre_only
def similar():
    """htmx: up to 5 similar open problems of the block's village's town — no resident data."""
    index = request.args.get("block", type=int) or 0
    villages = {v.id: v for v in covered_villages(current_user)}
    vid = (request.args.get(f"problems-{index}-village", type=int)
           or request.args.get("village", type=int))
    village = villages.get(vid)
    title = (request.args.get(f"problems-{index}-title") or "").strip()[:80]
    description = (request.args.get(f"problems-{index}-description") or "").strip()[:4000]
    items = similar_open_problems(village, title, description) if village else []
    return render("visits/_similar.html", index=index, items=items, searched=bool(village and (title or description)))


def _attachable_or_404(problem_id: int) -> Problem:
    """An open problem in a territory the cadre's group covers, whoever registered it."""
    territories = [u.id for u in current_user.unit.covered_units] if current_user.unit else []
    problem = db.session.scalar(select(Problem).where(
        Problem.id == problem_id, Problem.town_id.in_(territories or [-1])))
    if problem is None:
        abort(404)
    return problem


@bp.post("/cases/visits/new/attach/<int:problem_id>")
@cadre_only
def attach(problem_id: int):
    """并入已有问题: the block's resident joins an existing problem; the block leaves the form."""
    problem = _attachable_or_404(problem_id)
    it = _Intake()
    pos = it.position(request.form.get("attach"))
    if pos is None:
        abort(400)
    pf = it.blocks[pos]
    ok = pf.resident_name.validate(pf)
    ok = pf.resident_phone.validate(pf) and ok
    if not ok:
        it.note(pos, _("要把这位群众并入已有问题，请先填写他的姓名和联系电话。"))
        return it.page()
    try:
        _event, created = case_ops.add_co_complainant(problem, current_user, name=pf.resident_name.data,
                                                 phone=pf.resident_phone.data)
    except Invalid as exc:
        db.session.rollback()
        it.note(pos, str(exc))
        return it.page()
    db.session.commit()
    it.remove_block(pos)
    if created:
        flash(_("已将群众 %(name)s 作为共同反映人并入 %(number)s（未新登记问题）。请继续填写并保存走访记录。",
                name=pf.resident_name.data, number=problem.number), "success")
    else:
        flash(_("群众 %(name)s 此前已并入 %(number)s。", name=pf.resident_name.data, number=problem.number), "info")
    return it.page()


# ---------------------------------------------------------------- after saving, and the lists


@bp.get("/cases/visits/<int:visit_id>/receipt")
@cadre_only
def receipt(visit_id: int):
    """Printable receipt: each problem's number and the resident's receipt number."""
    visit = get_visit_or_404(visit_id, current_user)
    problems = visible_problems_of(visit, current_user)
    # The public lookup's address, and per problem a QR code that opens it with the receipt number.
    links = {p.id: url_for("receipt.lookup", no=p.receipt_no, _external=True) for p in problems}
    return render("visits/receipt.html", visit=visit, problems=problems,
                  lookup_address=url_for("receipt.lookup", _external=True), links=links,
                  qr={pid: qr_svg(link, title=_("回执查询")) for pid, link in links.items()})


@bp.get("/cases/visits")
@visit_readers
def index():
    """我的走访: the visits the user may read, newest first, with their problems and statuses."""
    cond = visit_scope(current_user)
    total = db.session.scalar(select(func.count()).select_from(Visit).where(cond))
    pages = max(1, -(-total // VISITS_PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int)), pages)
    items = db.session.scalars(
        select(Visit).options(joinedload(Visit.village), joinedload(Visit.town), joinedload(Visit.created_by),
                              selectinload(Visit.problems))
        .where(cond).order_by(Visit.visited_on.desc(), Visit.id.desc())
        .limit(VISITS_PAGE_SIZE).offset((page - 1) * VISITS_PAGE_SIZE)
    ).unique().all()
    heading = {Role.cadre: _("我的走访"), Role.group_lead: _("本组走访")}.get(current_user.role, _("走访记录"))
    return render("visits/visits.html", block="results", items=items, total=total, page=page, pages=pages,
                  heading=heading)


@bp.get("/cases/visits/<int:visit_id>")
@visit_readers
def visit(visit_id: int):
    """走访记录表: the visit and the problems registered from it (numbers masked)."""
    v = get_visit_or_404(visit_id, current_user)
    problems = visible_problems_of(v, current_user)
    detail = "cases.detail" in current_app.view_functions
    return render("visits/visit.html", visit=v, problems=problems,
                  detail_url=lambda p: url_for("cases.detail", problem_id=p.id) if detail else None,
                  may_reveal={p.id: access.sees_full_contact(current_user, p) for p in problems},
                  mask_phone=access.mask_phone, mask_id_number=access.mask_id_number)
