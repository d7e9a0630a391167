"""Fuzz every form: every demo role posts generated values into every POST route of the app.

The routes come from the app's url_map (a new form is fuzzed without touching this file), the
field names from every WTForms form class of the app plus the few fields views read directly.
Each request carries a valid CSRF token, so the values reach the views. No answer may be a
server error, and no problem outside the user's scope may change. Bounded to finish well within
90 seconds on one core; it prints how many requests and field values it tried.
"""

import re
import time

import wtforms
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.access import USERS
from tests.cases import factories as f
from tests.conftest import Browser
from tests.handling import factories as hf
from webapp.accounts.models import User
from webapp.cases.access import scope
from webapp.cases.models import Problem
from webapp.core.extensions import db

# Ending one's own session would leave the rest of the round logged out.
SKIPPED = {"accounts.logout"}
# Fields views read from the request directly, not through a form class.
EXTRA_FIELDS = {"next", "lang", "ids", "action", "q", "page", "version", "token", "confirm", "reason"}
NAME_RE = re.compile(r'name="([^"]+)"')
EXAMPLES = 1  # generated requests per role and route (about 900 in all: under 90 s of one core)

EDGE = st.sampled_from([
    "", " ", "0", "-1", "-9223372036854775809", str(2**63), str(2**64), "1" * 60, "1e309", "NaN",
    "0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "9999-12-31T23:59", "0001-01-01T00:00",
    "个性", "individual", "town", "quick", "joint", "on", "true", "null", "None",
    "<script>alert(1)</script>", "' OR 1=1 --", "=HYPERLINK(\"x\")", "\x00", "\r\n", "/%09/evil.example",
    "😀" * 40, "测" * 5000,
])
VALUE = st.one_of(
    EDGE,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=100, max_size=600),
    st.dates().map(lambda d: d.isoformat()),
)


def form_field_names() -> set[str]:
    """Every field name of every WTForms form the app defines (block prefixes included)."""
    import webapp  # noqa: F401 - the forms are imported with the app

    names, seen, todo = set(), set(), [wtforms.Form]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub in seen:
                continue
            seen.add(sub)
            todo.append(sub)
            if not sub.__module__.startswith("webapp."):
                continue
            for name in dir(sub):
                if isinstance(getattr(sub, name, None), wtforms.fields.core.UnboundField):
                    names.add(name)
    names |= {f"problems-0-{n}" for n in ("resident_name", "resident_phone", "title", "description",
                                          "village", "category", "resident_id_number", "address")}
    names |= {"steps-0-title", "steps-0-due_on", "decisions-0-unit", "decisions-0-text", "decisions-0-due_on"}
    return (names | EXTRA_FIELDS) - {"csrf_token"}


def id_pools(problems) -> dict[str, list[int]]:
    """Real ids for each URL argument (so requests reach the views), plus a few that name nothing."""
    from webapp.org.models import Unit

    def ids(model, n=6):
        return list(db.session.scalars(select(model.id).order_by(model.id.desc()).limit(n)))

    pools = {"problem_id": [p.id for p in problems], "user_id": ids(User), "unit_id": ids(Unit)}
    for name, model in _models().items():
        pools[name] = ids(model) or [1]
    return {k: v + [999_999, 2**31 - 1] for k, v in pools.items()}


def _models() -> dict:
    from webapp.cases.models import Category, CoordinatedList
    from webapp.handling.models import Meeting, TaskStep
    from webapp.integrity.models import Flag
    from webapp.stats.reports import HalfMonthReport
    from webapp.supervision.models import AgendaItem, SupervisionNotice

    return {"meeting_id": Meeting, "step_id": TaskStep, "flag_id": Flag, "category_id": Category,
            "report_id": HalfMonthReport, "notice_id": SupervisionNotice, "item_id": AgendaItem,
            "list_id": CoordinatedList}


def outside_scope(user) -> dict[int, tuple]:
    """The problems this user may not see, with what a change would alter."""
    db.session.rollback()
    rows = db.session.execute(select(Problem.id, Problem.version, Problem.status).where(~scope(user))).all()
    return {r.id: (r.version, r.status) for r in rows}


def test_no_form_input_gives_a_server_error_or_reaches_outside_the_scope(app):
    problems = [f.register(), f.assigned_to_town(), f.assigned_to_department(), f.transferred_to_desk(),
                hf.in_progress(), hf.pending_verification()]
    pools = id_pools(problems)
    pools["fmt"] = ["json", "xml"]  # the 12345 API's answer formats (its POSTs are fuzzed too)
    fields = sorted(form_field_names())
    rules = sorted((r for r in app.url_map.iter_rules() if "POST" in r.methods and r.endpoint not in SKIPPED),
                   key=lambda r: r.rule)
    browsers = {}
    for username in USERS:
        b = Browser(app.test_client())
        assert b.login(username).status_code == 302, username
        b.get("/")
        browsers[username] = b
    tried = {"requests": 0, "values": 0}
    failures: list[str] = []
    started, cpu = time.monotonic(), time.process_time()

    pages: dict[tuple, list[str]] = {}

    def page_fields(browser, username, rule, args) -> list[str]:
        """The field names of the page that shows this form (the route itself, or its parent)."""
        path = rule.build(args, append_unknown=False)[1]
        target = path if "GET" in rule.methods else (path.rsplit("/", 1)[0] or "/")
        if (username, target) not in pages:
            resp = browser.client.get(target)
            html = resp.get_data(as_text=True) if resp.status_code == 200 else ""
            pages[username, target] = sorted(set(NAME_RE.findall(html)) - {"csrf_token"})
        return pages[username, target]

    def post_once(browser, username, rule):
        """One Hypothesis search per role and route: ids for the URL, generated values for the
        fields of the form's page (so the values reach the form) and for a few others."""
        first = {a: pools.get(a, [1])[0] for a in rule.arguments}
        own = page_fields(browser, username, rule, first) or fields

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(args=st.fixed_dictionaries({a: st.sampled_from(pools.get(a, [1])) for a in rule.arguments}),
               own_values=st.fixed_dictionaries({name: VALUE for name in own}),
               other_values=st.dictionaries(st.sampled_from(fields), VALUE, max_size=4))
        def post(args, own_values, other_values):
            form = {**other_values, **own_values}
            path = rule.build(args, append_unknown=False)[1]
            try:
                status = browser.post(path, form).status_code
            except Exception as exc:  # noqa: BLE001 - the test's point: name whatever escaped
                db.session.rollback()
                status = f"{type(exc).__name__}: {exc}"[:300]
            tried["requests"] += 1
            tried["values"] += len(form)
            if not isinstance(status, int) or status >= 500:
                failures.append(f"{username} POST {path} {sorted(form)} → {status}")

        post()

    for username, browser in browsers.items():
        user = db.session.scalar(select(User).where(User.username == username))
        before = outside_scope(user)
        for rule in rules:
            post_once(browser, username, rule)
        after = outside_scope(user)
        changed = sorted(pid for pid, state in before.items() if after.get(pid, state) != state)
        if changed:
            failures.append(f"{username} changed problems outside its scope: {changed}")

    elapsed, used = time.monotonic() - started, time.process_time() - cpu
    print(f"\nfuzz: {tried['requests']} requests, {tried['values']} field values, "
          f"{len(rules)} POST routes × {len(USERS)} roles, {elapsed:.1f} s ({used:.1f} s of CPU)")
    assert tried["requests"] >= len(rules) * len(USERS)
    assert not failures, "\n".join(failures[:40])
