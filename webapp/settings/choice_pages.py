"""The office's pages for a small list of named choices (问题类别, 关注标记): the list with a form
per entry, create, rename / reorder, deactivate, reactivate.

Each write: load, call the list (``settings.choices``), commit once, flash, redirect to the entry
on the list; invalid input re-renders the list with the user's input and field messages (HTTP
200); a change someone else saved in between is refused with HTTP 409 and the form kept. The
views (with their URLs and gates) stay in the blueprints; they call a ``ChoicePages``.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..core import audit
from ..core.extensions import db
from ..core.render import render
from .choices import ChoiceList
from .forms import CategoryStateForm

TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class PageTexts:
    """A list's flash and conflict messages (lazy strings). ``stale`` takes ``%(name)s``,
    ``%(order)s`` and ``%(state)s``, ``already`` ``%(name)s`` and ``%(state)s``, the others
    ``%(name)s`` except ``same_name`` and ``gone`` (someone deleted the entry: lists that allow
    deleting)."""

    added: str  # a double submit of the new form
    created: str
    same_name: str  # the same name saved at the same moment
    saved: str
    unchanged: str
    already: str
    reactivated: str
    deactivated: str
    stale: str
    gone: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChoicePages:
    """The pages of one list: its template, the endpoint of the list page, the prefix of an
    entry's anchor on it (``category-<id>``), the form of an entry, how many things use each
    entry, and the texts."""

    choices: ChoiceList
    template: str
    index_endpoint: str
    anchor: str
    form_class: type
    used: Callable[[], dict[int, int]]
    texts: PageTexts

    def new_form(self, formdata=None):
        form = self.form_class(formdata=formdata)
        if formdata is None:
            form.ensure_token()
        return form

    def edit_form(self, entry):
        return self.form_class(formdata=None, data={
            "name": entry.name, "sort_order": entry.sort_order, "version": self.choices.stamp(entry)})

    def page(self, *, new_form=None, edit=None, status=200, message=None, open_id=None):
        """The list; ``edit`` is an (entry id, form) to show with the user's input and errors."""
        rows = self.choices.all()
        forms = {e.id: self.edit_form(e) for e in rows}
        if edit is not None:
            forms[edit[0]] = edit[1]
        return render(
            self.template, status=status, entries=rows, used=self.used(), forms=forms,
            state_forms={e.id: CategoryStateForm(formdata=None, data={"version": self.choices.stamp(e)})
                         for e in rows},
            new_form=new_form or self.new_form(), message=message,
            open_id=open_id if open_id else (edit or (None,))[0],
        )

    def back(self, entry_id: int | None = None):
        """To the list, at the entry."""
        return redirect(url_for(self.index_endpoint, _anchor=f"{self.anchor}-{entry_id}" if entry_id else None))

    def created_with(self, token: str | None) -> bool:
        """Whether an entry was already created from the form carrying this token (double submit)."""
        if not token or not TOKEN_RE.match(token):
            return False
        return db.session.scalar(select(audit.AuditEvent.id).where(
            audit.AuditEvent.event == self.choices.event("create"),
            audit.AuditEvent.detail.contains(token)).limit(1)) is not None

    def stale_message(self, entry) -> str:
        if entry is None and self.texts.gone is not None:
            return str(self.texts.gone)
        state = _("启用中") if entry.is_active else _("已停用")
        return str(self.texts.stale) % {"name": entry.name, "order": entry.sort_order, "state": state}

    def create(self):
        texts = self.texts
        form = self.new_form(request.form)
        token = form.token.data if form.token.data and TOKEN_RE.match(form.token.data) else None
        if not form.validate():
            return self.page(new_form=form)
        if self.created_with(token):
            flash(str(texts.added) % {"name": form.name.data}, "success")
            return self.back()
        try:
            entry = self.choices.create(form.name.data, form.sort_order.data, user=current_user, token=token)
            db.session.commit()
        except self.choices.error as exc:
            db.session.rollback()
            for name, msg in exc.errors.items():
                form[name].errors.append(msg)
            return self.page(new_form=form)
        except IntegrityError:  # the same name saved at the same moment
            db.session.rollback()
            if self.created_with(token):
                flash(str(texts.added) % {"name": form.name.data}, "success")
                return self.back()
            form.name.errors.append(str(texts.same_name))
            return self.page(new_form=form)
        flash(str(texts.created) % {"name": entry.name}, "success")
        return self.back(entry.id)

    def edit(self, entry_id: int):
        """Rename and/or move in the list (what carries the entry keeps it, under its new name)."""
        texts = self.texts
        db.get_or_404(self.choices.model, entry_id)
        form = self.form_class(request.form)
        if not form.validate():
            return self.page(edit=(entry_id, form))
        if form.sort_order.data is None:
            form.sort_order.errors.append(_("请填写排序。"))
            return self.page(edit=(entry_id, form))
        try:
            entry, changed = self.choices.update(
                entry_id, name=form.name.data, sort_order=form.sort_order.data,
                expected=form.version.data or "", user=current_user)
            db.session.commit()
        except self.choices.error as exc:
            db.session.rollback()
            for name, msg in exc.errors.items():
                form[name].errors.append(msg)
            return self.page(edit=(entry_id, form))
        except self.choices.stale:
            db.session.rollback()
            entry = db.session.get(self.choices.model, entry_id)
            form.version.data = self.choices.stamp(entry)
            return self.page(edit=(entry_id, form), status=409, message=self.stale_message(entry))
        except IntegrityError:
            db.session.rollback()
            form.name.errors.append(str(texts.same_name))
            return self.page(edit=(entry_id, form))
        flash(str(texts.saved if changed else texts.unchanged) % {"name": entry.name},
              "success" if changed else "info")
        return self.back(entry.id)

    def invalid_state_form(self):
        return self.page(status=400, message=_("表单已失效，请刷新页面后重试。"))

    def refused_as_stale(self, entry_id: int):
        return self.page(status=409, message=self.stale_message(db.session.get(self.choices.model, entry_id)),
                         open_id=entry_id)

    def set_active(self, entry_id: int, active: bool):
        """Deactivate or reactivate (the button carries the fingerprint it was drawn with)."""
        texts = self.texts
        db.get_or_404(self.choices.model, entry_id)
        form = CategoryStateForm(request.form)
        if not form.validate():
            return self.invalid_state_form()
        try:
            entry, changed = self.choices.set_active(entry_id, active, expected=form.version.data or "",
                                                     user=current_user)
            db.session.commit()
        except self.choices.stale:
            db.session.rollback()
            return self.refused_as_stale(entry_id)
        if not changed:
            flash(str(texts.already) % {"name": entry.name, "state": _("启用") if active else _("停用")}, "info")
        elif active:
            flash(str(texts.reactivated) % {"name": entry.name}, "success")
        else:
            flash(str(texts.deactivated) % {"name": entry.name}, "success")
        return self.back(entry.id)
