"""Every route × every role: the access matrix (rules live in tests/access/*.py)."""

import importlib
import pkgutil

import pytest

import tests.access as access_pkg
from tests.access import USERS, Rule
from tests.conftest import Browser


def _all_rules() -> list[Rule]:
    rules = []
    for mod in pkgutil.iter_modules(access_pkg.__path__):
        rules.extend(getattr(importlib.import_module(f"tests.access.{mod.name}"), "RULES", []))
    return rules


RULES = _all_rules()


def test_every_route_is_in_the_matrix(app):
    covered = {(r.endpoint, r.method) for r in RULES}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (rule.endpoint, method) not in covered:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, "routes missing from the access matrix:\n" + "\n".join(missing)


def test_every_view_declares_a_gate(app):
    from webapp.core.gates import gate_of

    ungated = [ep for ep, view in app.view_functions.items() if ep != "static" and gate_of(view) is None]
    assert ungated == []


def _request(b: Browser, rule: Rule, objects):
    path = rule.path(objects) if callable(rule.path) else rule.path
    if rule.method == "GET":
        return b.client.get(path, headers=rule.headers)
    data = rule.data(objects) if callable(rule.data) else dict(rule.data or {})
    data.setdefault("csrf_token", b.token)
    return b.client.open(path, method=rule.method, data=data, headers=rule.headers)


@pytest.fixture
def objects(app):
    """Named objects the rules' paths refer to (own and other unit's cases, …)."""
    from tests.access.objects import build

    return build()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.method}:{r.endpoint}:{r.note or ''}")
def test_access(app, rule, objects):
    # Anonymous first.
    anon = Browser(app.test_client())
    anon.get("/login")
    resp = _request(anon, rule, objects)
    if rule.public:
        assert resp.status_code not in (401, 403), f"anonymous refused on public {rule.endpoint}"
    else:
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], (
            f"anonymous reached {rule.endpoint}: {resp.status_code}")
    # Refused users before allowed ones, so that a state change cannot mask a refusal.
    for username in sorted(USERS, key=lambda u: u in rule.allow):
        b = Browser(app.test_client())
        assert b.login(username).status_code == 302
        resp = _request(b, rule, objects)
        if username in rule.allow:
            assert resp.status_code not in (403, 404, 401), (
                f"{username} refused ({resp.status_code}) on {rule.method} {rule.endpoint}")
            if not rule.redirects_to_login:
                assert not (resp.status_code == 302 and "/login" in resp.headers.get("Location", ""))
        else:
            expected = 404 if username in rule.not_found else rule.deny
            assert resp.status_code == expected, (
                f"{username} got {resp.status_code} on {rule.method} {rule.endpoint}, expected {expected}")
