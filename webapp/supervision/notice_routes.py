"""督办单 (supervision notices): issue, answer, list, print.

Whoever assigned a problem, or the office, issues a 督办单 to its lead unit from the problem
page (``notices.new?problem_id=``); the unit answers on the notice; everyone concerned finds it
in the list (tabs per role) and prints it. Every read goes through ``notices.scope`` (a notice
outside it is 404); every write is one operation of ``supervision.notices`` and one commit.
"""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..accounts import nav
from ..accounts.gates import roles_required
from ..cases import operations as ops
from ..cases import pages, panels, queries
from ..cases.access import get_problem_or_404, scope, shown_phone
from ..cases.models import Problem, ProblemEvent
from ..cases.workflow import Activity, NotAllowed
from ..core import clock
from ..core.deadlines import time_left
from ..core.errors import Conflict, FieldsInvalid, Invalid
from ..core.extensions import db
from ..core.render import render
from ..documents.pdf import pdf_response, render_pdf
from ..handling.queries import book_in_force, book_under_review
from . import notices
from .models import NoticeStatus, SupervisionNotice
from .notice_forms import AnswerForm, IssueForm

bp = Blueprint("notices", __name__, url_prefix="/supervision/notices")
viewers = roles_required(*notices.VIEW_ROLES)
issuers = roles_required(*notices.ISSUER_ROLES)
answerers = roles_required(*notices.UNIT_ROLES)


@bp.record_once
def _register(_state) -> None:
    nav.register("notices.index", _l("督办单"))
    panels.register("notices", "supervision/_notices_panel.html", panel)


def _common() -> dict:
    return {"status_labels": notices.STATUS_LABELS, "today": clock.today(), "is_overdue": notices.is_overdue}


# ---------------------------------------------------------------- the problem page's panel


def panel(user, problem) -> dict | None:
    """The problem's notices the user may open (None: no panel)."""
    if user.role not in notices.VIEW_ROLES:
        return None
    items = notices.notices_of_problem(user, problem)
    if not items:
        return None
    return {"notices": items, **_common()}


# ---------------------------------------------------------------- the list


@bp.get("")
@viewers
def index():
    """督办单: 待反馈 / 已反馈 for the addressed unit, 我下发的 for the issuer, 全部 for the office and leader."""
    today = clock.today()
    tabs = notices.tabs(current_user, today)
    keys = [t.key for t in tabs]
    tab = request.args.get("tab")
    if tab not in keys:
        tab = keys[0]
    state = request.args.get("state") if tab in ("issued", "all") else None
    if state not in notices.STATES:
        state = None
    page = notices.notice_page(current_user, tab, state=state, page=request.args.get("page", 1, type=int),
                               today=today)

    def page_url(n: int) -> str:
        return url_for("notices.index", tab=tab, state=state, page=n)

    return render("supervision/notices/index.html", tabs=tabs, tab=tab, state=state, page=page, page_url=page_url,
                  states=[("", _("全部")), ("open", _("待反馈")), ("overdue", _("逾期未反馈")),
                          ("answered", _("已反馈"))],
                  **_common())


# ---------------------------------------------------------------- issue (下发督办单)


def _facts(problem: Problem) -> dict:
    """What the issuer sees of the problem: its deadline and time left, the open steps."""
    book = book_in_force(problem) or book_under_review(problem)
    return {
        "problem": problem,
        "problem_url": url_for("cases.detail", problem_id=problem.id),
        "left": time_left(problem.deadline, clock.now()) if problem.deadline else None,
        "open_steps": [s for s in (book.steps if book is not None else []) if s.done_at is None],
        "earlier": notices.notices_of_problem(current_user, problem),
    }


def _unsaved(form: IssueForm) -> list[tuple[str, str]]:
    """What the user typed into a form the page can no longer draw (the problem moved on)."""
    return [(str(f.label.text), f.data) for f in (form.lateness, form.requirement)
            if isinstance(f.data, str) and f.data.strip()]


def _new_page(problem: Problem, form: IssueForm | None = None, *, error: str | None = None, status: int = 200,
              show_form: bool = True):
    if form is None:
        form = IssueForm(formdata=None, data={
            "version": problem.version, "lateness": notices.default_lateness(problem),
            "requirement": notices.default_requirement(), "reply_by": notices.default_reply_by()})
    form.ensure_token()
    unsaved = [] if show_form or request.method != "POST" else _unsaved(form)
    return render("supervision/notices/new.html", status=status, form=form, error=error, show_form=show_form,
                  unsaved=unsaved, hidden_errors=form.hidden_errors, min_day=clock.today().isoformat(),
                  max_day=notices.latest_reply_by().isoformat(), **_facts(problem), **_common())


def _reload(problem_id: int) -> Problem:
    return pages.reload(problem_id)


@bp.route("/new", methods=["GET", "POST"])
@issuers
def new():
    """下发督办单 on ``?problem_id=`` (whoever assigned it, or the office, while it is being handled)."""
    problem_id = request.args.get("problem_id", type=int)
    if not problem_id:
        flash(_("请在问题页面点击“下发督办单”。"), "info")
        return redirect(url_for("notices.index"))
    if request.method == "GET":
        problem = get_problem_or_404(problem_id, current_user, options=queries.detail_options())
        refused = pages.refusal(problem, Activity.supervise)
        if refused is not None:
            code, message = refused
            if code == 403:
                abort(403)
            return _new_page(problem, error=message, show_form=False)
        return _new_page(problem)

    problem = pages.load(problem_id, for_update=True)
    form = IssueForm()
    refused = pages.refusal(problem, Activity.supervise)
    if refused is not None:
        code, message = refused
        return _new_page(problem, form, error=message, status=code, show_form=False)
    if not form.validate():
        if form.version.errors:
            abort(400)
        return _new_page(problem, form)
    try:
        notice = notices.issue(problem, current_user, lateness=form.lateness.data, requirement=form.requirement.data,
                               reply_by=form.reply_by.data, version=form.version.data, token=form.token.data or None)
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        problem = _reload(problem_id)
        form.now_at(problem.version)  # they have now seen the current state
        msg = str(exc) if isinstance(exc, Conflict) else str(ops.STALE)
        return _new_page(problem, form, error=msg, status=409)
    except NotAllowed as exc:
        problem = _reload(problem_id)
        code, _message = pages.refusal(problem, Activity.supervise) or (403, "")
        return _new_page(problem, form, error=str(exc), status=code, show_form=False)
    except FieldsInvalid as exc:
        form.set_field_errors(exc.errors)
        return _new_page(_reload(problem_id), form)
    except Invalid as exc:
        return _new_page(_reload(problem_id), form, error=str(exc))
    except IntegrityError:
        # The same form sent twice at once: the other request issued it (same client token).
        db.session.rollback()
        event = db.session.scalar(select(ProblemEvent).where(ProblemEvent.client_token == form.token.data)) \
            if form.token.data else None
        if event is None:
            raise
        notice = notices.replayed(event.problem, form.token.data)
        if notice is None:
            raise
    flash(_("已向%(unit)s下发督办单 %(number)s，请其于 %(day)s 前反馈。", unit=notice.unit.name, number=notice.number,
            day=notice.reply_by.isoformat()), "success")
    return redirect(url_for("notices.show", notice_id=notice.id))


# ---------------------------------------------------------------- the notice and its answer


def _load(notice_id: int, *, for_update: bool = False) -> SupervisionNotice:
    if for_update and notices.get_notice(notice_id, current_user, for_update=True) is None:
        abort(404)
    notice = notices.get_notice(notice_id, current_user)
    if notice is None:
        abort(404)
    return notice


def _show_page(notice: SupervisionNotice, form: AnswerForm | None = None, *, error: str | None = None,
               status: int = 200, unsaved: str | None = None):
    user = current_user
    may_answer = notices.may_answer(user, notice)
    if form is None:
        form = AnswerForm(formdata=None, data={"version": notice.version})
    problem = notice.problem
    visible = db.session.scalar(select(Problem.id).where(Problem.id == problem.id, scope(user))) is not None
    return render("supervision/notices/show.html", status=status, notice=notice, problem=problem, form=form,
                  error=error, may_answer=may_answer, unsaved=unsaved, problem_visible=visible,
                  left=time_left(problem.deadline, clock.now()) if problem.deadline else None,
                  hidden_errors=form.hidden_errors, **_common())


@bp.get("/<int:notice_id>")
@viewers
def show(notice_id: int):
    """The notice: the problem, what is late, what is required, by when, and the unit's answer."""
    return _show_page(_load(notice_id))


def _reload_notice(notice_id: int) -> SupervisionNotice:
    db.session.rollback()
    notice = db.session.scalar(
        select(SupervisionNotice).where(SupervisionNotice.id == notice_id, notices.scope(current_user))
        .execution_options(populate_existing=True))
    if notice is None:
        abort(404)
    return notice


@bp.post("/<int:notice_id>/answer")
@answerers
def answer(notice_id: int):
    """办理情况反馈: the addressed unit's staff answer an open notice, once."""
    notice = _load(notice_id, for_update=True)
    if notice.unit_id != current_user.unit_id:
        abort(403)
    form = AnswerForm()
    if notice.status != NoticeStatus.open:
        if notice.answered_by_id == current_user.id and (form.answer.data or "").strip() == (notice.answer or ""):
            flash(_("您刚刚已经提交过（可能是重复提交），未再次处理。"), "info")
            return redirect(url_for("notices.show", notice_id=notice_id))
        return _show_page(notice, form, error=str(notices.ANSWERED), status=409, unsaved=form.answer.data)
    if not form.validate():
        if form.version.errors:
            abort(400)
        return _show_page(notice, form)
    try:
        notices.answer(notice, current_user, answer=form.answer.data, version=form.version.data)
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        notice = _reload_notice(notice_id)
        form.now_at(notice.version)
        msg = str(exc) if isinstance(exc, Conflict) else str(notices.NOTICE_STALE)
        unsaved = form.answer.data if notice.status != NoticeStatus.open else None
        return _show_page(notice, form, error=msg, status=409, unsaved=unsaved)
    except NotAllowed as exc:
        return _show_page(_reload_notice(notice_id), form, error=str(exc), status=403)
    except FieldsInvalid as exc:
        db.session.rollback()
        form.set_field_errors(exc.errors)
        return _show_page(_load(notice_id), form)
    flash(_("已反馈督办单 %(number)s。", number=notice.number), "success")
    return redirect(url_for("notices.show", notice_id=notice_id))


# ---------------------------------------------------------------- printed: 督办单


SUMMARY_MAX = 300  # characters of the problem's description printed on the notice


def _clip(text: str, n: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= n else text[: n - 1] + "…"


def print_context(notice: SupervisionNotice) -> dict:
    """The 督办单 as a plain view-model (the resident's phone masked whoever prints it)."""
    problem = notice.problem
    left = time_left(problem.deadline, clock.now()) if problem.deadline else None
    return {
        "issuer": _("贾汪区“百千万”集中走访帮扶活动"),
        "doc_number": notice.number,
        "doc_title": _("督办单"),
        "issuer_unit": notice.issuer_unit.name,
        "issued_by": notice.issued_by.full_name,
        "issued_on": clock.local(notice.issued_at).date(),
        "unit": notice.unit.name,
        "problem_number": problem.number,
        "title": problem.title,
        "summary": _clip(problem.description, SUMMARY_MAX),
        "category": problem.category.name,
        "resident": problem.resident_name,
        "phone": shown_phone(problem),
        "village": f"{problem.town.name}{problem.village.name}",
        "status": str(problem.status.label),
        "deadline": problem.deadline,
        "overdue": left.label if left is not None and left.is_overdue else "",
        "lateness": notice.lateness,
        "requirement": notice.requirement,
        "reply_by": notice.reply_by,
        "answered": notice.status == NoticeStatus.answered,
        "answer": notice.answer or "",
        "answered_by": notice.answered_by.full_name if notice.answered_by else "",
        "answered_on": clock.local(notice.answered_at).date() if notice.answered_at else None,
        "answered_late": bool(notice.answered_at and clock.local(notice.answered_at).date() > notice.reply_by),
        "printed_on": clock.today(),
    }


@bp.get("/<int:notice_id>.pdf")
@viewers
def pdf(notice_id: int):
    """督办单 (A4), for whoever may open the notice (404 otherwise)."""
    notice = _load(notice_id)
    with force_locale("zh_CN"):  # an official document: Chinese whatever the user's language
        ctx = print_context(notice)
        data = render_pdf("supervision_notice", **ctx)
    return pdf_response(data, f"{ctx['doc_title']}-{notice.number}.pdf")
