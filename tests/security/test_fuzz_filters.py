"""Fuzz every GET filter: every demo role opens every page that reads its query string (lists,
queues, ledgers, coverage, the audit log, search, exports) with generated values for the
parameters it knows, as a full page and as an HTMX fragment. No answer may be a server error.

The routes come from the app's url_map; a route's parameters are the fields of the GET forms on
its page plus every name its module reads from ``request.args`` (so a new filter is fuzzed
without touching this file). Bounded to about a minute of one core; it prints what it tried.
"""

import inspect
import re
import sys
import time

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.access import USERS
from tests.cases import factories as f
from tests.conftest import Browser
from tests.handling import factories as hf
from tests.security.test_fuzz_forms import VALUE, id_pools

# Names read from the query string: args.get("x"), args.getlist("x"), args["x"], _int("x") (the
# queue filter's own reader), request.args.get("x", type=int) …
ARG_RE = re.compile(r"""(?:args(?:\.get|\.getlist)?|_int|_date|_flag)\(\s*["']([a-z_]+)["']|args\[["']([a-z_]+)["']\]""")
GET_FORM_RE = re.compile(r"<form\b[^>]*\bmethod=\"get\"[^>]*>(.*?)</form>", re.S | re.I)
NAME_RE = re.compile(r'name="([^"]+)"')
SKIPPED = {"static", "accounts.logout", "offline.service_worker"}


READS = re.compile(r"request\.(?:args|values)|from_args\(")
CALL_RE = re.compile(r"\b([A-Za-z_]\w*)\(")


def query_names(view) -> set[str]:
    """The query-string names a view reads, itself or through the functions of its module it
    calls (two levels: a view's ``_filters()`` helper and what that calls); empty when it reads
    none."""
    fn = inspect.unwrap(view)
    module = sys.modules[fn.__module__]
    sources, seen, todo = [], set(), [(fn, 0)]
    while todo:
        f, depth = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        try:
            src = inspect.getsource(f)
        except (OSError, TypeError):
            continue
        sources.append(src)
        if depth < 2:
            for name in set(CALL_RE.findall(src)):
                g = getattr(module, name, None)
                if inspect.isfunction(g) and g.__module__ == module.__name__:
                    todo.append((g, depth + 1))
    reading = [src for src in sources if READS.search(src)]
    names = {a or b for src in reading for a, b in ARG_RE.findall(src)}
    return (names or {"q", "page"}) if reading else set()


def test_no_query_string_gives_a_server_error(app):
    problems = [f.register(), f.assigned_to_town(), f.assigned_to_department(), f.transferred_to_desk(),
                hf.in_progress(), hf.pending_verification()]
    pools = id_pools(problems)
    pools["slug"] = ["households", "enterprises"]
    pools["fmt"] = ["json", "xml"]
    rules = sorted((r for r in app.url_map.iter_rules()
                    if "GET" in r.methods and r.endpoint not in SKIPPED
                    and all(a in pools for a in r.arguments)
                    and query_names(app.view_functions[r.endpoint])), key=lambda r: r.rule)
    browsers = {}
    for username in USERS:
        b = Browser(app.test_client())
        assert b.login(username).status_code == 302, username
        b.get("/")
        browsers[username] = b
    module_names = {r.endpoint: query_names(app.view_functions[r.endpoint]) for r in rules}
    tried = {"requests": 0, "values": 0, "routes": set()}
    failures: list[str] = []
    started, cpu = time.monotonic(), time.process_time()

    known: dict[str, list[str]] = {}

    def params_of(path, endpoint) -> list[str]:
        """The route's parameters: its module's, and the GET forms' fields of its page as the
        office (which sees every filter) has it."""
        if endpoint in known:
            return known[endpoint]
        resp = browsers["office"].client.get(path)
        html = resp.get_data(as_text=True) if resp.status_code == 200 and resp.mimetype == "text/html" else ""
        if resp.status_code >= 500:
            failures.append(f"GET {path} (no query) → {resp.status_code}")
        in_forms = {n for form in GET_FORM_RE.findall(html) for n in NAME_RE.findall(form)}
        known[endpoint] = sorted((in_forms | module_names[endpoint]) - {"csrf_token"})
        return known[endpoint]

    def fuzz_route(rule):
        """One Hypothesis search per route: the roles take turns (each at least once), the
        query draws any subset of the route's parameters with generated values."""
        first = {a: pools[a][0] for a in rule.arguments}
        names = params_of(rule.build(first, append_unknown=False)[1], rule.endpoint)
        tried["routes"].add(rule.rule)
        turn = iter(range(10**6))

        @settings(max_examples=len(USERS) + 1, deadline=None, database=None, derandomize=True,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(args=st.fixed_dictionaries({a: st.sampled_from(pools[a]) for a in rule.arguments}),
               query=st.fixed_dictionaries({n: st.one_of(VALUE, st.none()) for n in names}),
               fragment=st.booleans())
        def get(args, query, fragment):
            username = USERS[next(turn) % len(USERS)]
            query = {n: v for n, v in query.items() if v is not None}
            target = rule.build(args, append_unknown=False)[1]
            headers = {"HX-Request": "true", "HX-Target": "results"} if fragment else {}
            try:
                status = browsers[username].client.get(target, query_string=query, headers=headers).status_code
            except Exception as exc:  # noqa: BLE001 - the test's point: name whatever escaped
                status = f"{type(exc).__name__}: {exc}"[:300]
            tried["requests"] += 1
            tried["values"] += len(query)
            if not isinstance(status, int) or status >= 500:
                failures.append(f"{username} GET {target} {query!r} → {status}")

        get()

    for rule in rules:
        fuzz_route(rule)

    elapsed, used = time.monotonic() - started, time.process_time() - cpu
    print(f"\nfuzz GET: {tried['requests']} requests, {tried['values']} parameter values, "
          f"{len(tried['routes'])} GET routes with filters × {len(USERS)} roles, {elapsed:.1f} s ({used:.1f} s of CPU)")
    assert len(tried["routes"]) >= 40 and tried["requests"] >= len(tried["routes"]) * len(USERS)
    assert not failures, "\n".join(failures[:40])
