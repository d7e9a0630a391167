"""The English catalogue: it compiles, it is complete, and an English user sees English.

The UI is Chinese first and the message ids are the Chinese text, so a string someone adds
without translating it shows up in Chinese for English users. Test (b) extracts the messages
from the sources exactly as ``make extract-messages`` does and fails with the list of what is
missing from ``messages.po`` (run ``make extract-messages`` and translate the new entries).
"""

import gettext
import subprocess
import sys
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "webapp" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
SOURCE_DIRS = ("webapp", "templates")  # as in the Makefile's extract-messages
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}  # pybabel extract -k _l


def _catalog():
    with PO.open("rb") as f:
        return read_po(f, locale="en")


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return bool(strings) and all(s and s.strip() for s in strings)


def _source_messages() -> dict[str, set[str]]:
    """Every message id in the sources (the singular of a plural) → where it is used."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, filename="babel.cfg")
    found: dict[str, set[str]] = {}
    for directory in SOURCE_DIRS:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / directory, method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
        ):
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                found.setdefault(msgid, set()).add(f"{directory}/{filename}:{lineno}")
    return found


def test_catalogue_compiles_without_empty_or_fuzzy_entries(tmp_path):
    catalog = _catalog()
    assert not catalog.fuzzy, "the catalogue header is marked fuzzy"
    messages = [m for m in catalog if m.id]
    assert len(messages) > 100
    fuzzy = [m.id for m in messages if m.fuzzy]
    empty = [m.id for m in messages if not _translated(m)]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    assert not empty, f"untranslated entries: {empty}"
    # Placeholders and plural forms agree with the message ids (what `pybabel compile` checks).
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert not problems, problems

    # The real compiler, without --use-fuzzy: it fails on errors and skips a fuzzy catalogue.
    mo = tmp_path / "messages.mo"
    pybabel = Path(sys.executable).with_name("pybabel")
    result = subprocess.run(
        [str(pybabel), "compile", "-i", str(PO), "-o", str(mo), "-l", "en", "--statistics"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert mo.exists(), result.stderr
    with mo.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    assert compiled.gettext("首页") == "Home"
    assert compiled.ngettext("剩余 %(num)d 个工作日", "剩余 %(num)d 个工作日", 2) % {"num": 2} == (
        "2 working days left"
    )


def test_every_source_message_is_translated():
    catalog = _catalog()
    sources = _source_messages()
    assert "首页" in sources and "回音" in sources  # the extraction itself works
    missing = sorted(
        f"{msgid!r}  ({', '.join(sorted(where)[:3])})"
        for msgid, where in sources.items()
        if (m := catalog.get(msgid)) is None or m.fuzzy or not _translated(m)
    )
    assert not missing, (
        f"{len(missing)} message(s) without an English translation — run `make extract-messages` "
        "and translate them in webapp/translations/en/LC_MESSAGES/messages.po:\n  "
        + "\n  ".join(missing)
    )


def test_english_user_sees_english(login_as):
    browser = login_as("office")
    page = browser.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "您的工作" in page  # Chinese by default

    resp = browser.post("/locale", {"lang": "en", "next": "/"})
    assert resp.status_code == 302
    resp = browser.get("/")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert '<html lang="en">' in page
    for english in ("Your work", "Change password", "Log out", "Language", "Workbench"):
        assert english in page, english
    for chinese in ("您的工作", "修改密码", "退出", "语言", "工作台", "事事有着落"):
        assert chinese not in page, chinese


def test_the_catalogue_held_for_a_request_follows_force_locale(app):
    """A request looks its catalogue up once (core.extensions); an official document drawn in
    Chinese inside an English request (``force_locale``) is Chinese, the rest of the page English."""
    from flask_babel import force_locale, gettext, lazy_gettext

    label = lazy_gettext("工作台")
    # Each request in an app context of its own, as when served (the fixture holds one).
    with app.app_context(), app.test_request_context("/"):
        from flask import session

        session["lang"] = "en"
        assert gettext("工作台") == "Workbench" and str(label) == "Workbench"
        with force_locale("zh_CN"):
            assert gettext("工作台") == "工作台" and str(label) == "工作台"
        assert gettext("退出") == "Log out" and str(label) == "Workbench"
    with app.app_context(), app.test_request_context("/"):
        assert gettext("工作台") == "工作台"  # a new request starts from its own language
