"""Reading the triage and list pages the way a person's browser does (tests only)."""

import html
import io
import re

from PIL import Image
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.conftest import DEMO_PASSWORD
from webapp.accounts.models import User
from webapp.accounts.passwords import hash_password
from webapp.accounts.roles import Role
from webapp.core import clock
from webapp.core.extensions import db

HIDDEN_RE = re.compile(r'<input type="hidden" name="([\w-]+)" value="([^"]*)">')
DATE_RE = re.compile(r'<input type="date" [^>]*name="([\w-]+)"[^>]* value="([^"]*)"')
FLASH_RE = re.compile(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', re.S)


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def form_values(page: str, action: str) -> dict[str, str]:
    """The hidden fields (version, token, …) and prefilled dates of the form posting to ``action``."""
    start = page.index(f'action="{action}"')
    end = page.index("</form>", start)
    found = HIDDEN_RE.findall(page[start:end]) + DATE_RE.findall(page[start:end])
    return {k: html.unescape(v) for k, v in found if k != "csrf_token"}


def flashes(resp) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m) for _c, m in FLASH_RE.findall(resp.get_data(as_text=True))]


def triage_fields(**kw) -> dict:
    """The triage part of a form (defaults: individual, town level, quick, 民生保障)."""
    return {"kind": "individual", "level": "town", "tier": "quick", "category": str(f.category().id), **kw}


def count(model, *where) -> int:
    db.session.rollback()  # see what the requests committed
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def fresh(obj):
    db.session.rollback()
    db.session.refresh(obj)
    return obj


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


def other_group_cadre(group="青山泉镇工作组", username="cadre_qsq") -> User:
    """A cadre of another work group (committed), able to register problems there."""
    u = User(username=username, full_name="钱二", unit=f.unit(group), role=Role.cadre,
             password_hash=hash_password(DEMO_PASSWORD), password_changed_at=clock.now(),
             must_change_password=False, is_demo=True)
    db.session.add(u)
    db.session.commit()
    return u
