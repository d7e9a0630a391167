"""The office's page for the attention marks (关注标记) households carry: add, rename, reorder,
deactivate, reactivate, and delete one no household carries.

Like the categories page beside it (both are ``settings.choice_pages``): the office only; each
write loads, calls ``settings.marks``, commits once, flashes and redirects; invalid input
re-renders with the user's input and field messages (HTTP 200); a change someone else saved in
between is refused with HTTP 409 and the form kept.
"""

from flask import Blueprint, flash, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..core.extensions import db
from ..visits.models import AttentionMark
from . import marks as am
from .choice_pages import ChoicePages, PageTexts
from .forms import CategoryStateForm, MarkForm

bp = Blueprint("marks", __name__, url_prefix="/settings/marks")
office_only = roles_required(Role.office)

PAGES = ChoicePages(
    choices=am.MARKS, template="settings/marks.html", index_endpoint="marks.index", anchor="mark",
    form_class=MarkForm, used=am.usage,
    texts=PageTexts(
        added=_l("标记“%(name)s”已添加。"),
        created=_l("标记“%(name)s”已添加，户的登记和筛选中即可选用。"),
        same_name=_l("已有同名标记。"),
        saved=_l("标记“%(name)s”已保存。"),
        unchanged=_l("标记“%(name)s”没有变化，未作修改。"),
        already=_l("标记“%(name)s”已是%(state)s状态。"),
        reactivated=_l("标记“%(name)s”已重新启用，户的登记和筛选中可再次选用。"),
        deactivated=_l("标记“%(name)s”已停用：登记和筛选时不再可选，已有的户仍保留该标记。"),
        stale=_l("该标记已被他人修改，未作任何更改。现在的名称是“%(name)s”，排序 %(order)s，%(state)s。请核对后重新提交。"),
        gone=_l("该标记已被他人删除，未作任何更改。"),
    ),
)


@bp.get("/")
@office_only
def index():
    """Every mark, active first by their order."""
    return PAGES.page()


@bp.post("/new")
@office_only
def create():
    return PAGES.create()


@bp.post("/<int:mark_id>/edit")
@office_only
def edit(mark_id: int):
    """Rename and/or move in the list (households keep the mark, under its new name)."""
    return PAGES.edit(mark_id)


@bp.post("/<int:mark_id>/deactivate")
@office_only
def deactivate(mark_id: int):
    return PAGES.set_active(mark_id, False)


@bp.post("/<int:mark_id>/reactivate")
@office_only
def reactivate(mark_id: int):
    return PAGES.set_active(mark_id, True)


@bp.post("/<int:mark_id>/delete")
@office_only
def remove(mark_id: int):
    """Delete a mark no household carries; one in use is refused (deactivate it instead)."""
    if db.session.get(AttentionMark, mark_id) is None:
        flash(_("该标记已删除。"), "info")
        return PAGES.back()
    form = CategoryStateForm(request.form)
    if not form.validate():
        return PAGES.invalid_state_form()
    try:
        name = am.delete_mark(mark_id, expected=form.version.data or "", user=current_user)
        db.session.commit()
    except am.StaleMark:
        db.session.rollback()
        return PAGES.refused_as_stale(mark_id)
    except (am.MarkInUse, IntegrityError):
        db.session.rollback()
        return PAGES.page(status=409, open_id=mark_id, message=_(
            "已有户带有该标记，不能删除，只能停用：停用后登记和筛选时不再可选，已有的户仍保留该标记。"))
    except LookupError:
        db.session.rollback()
        flash(_("该标记已删除。"), "info")
        return PAGES.back()
    flash(_("标记“%(name)s”已删除。", name=name), "success")
    return PAGES.back()
