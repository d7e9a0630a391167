"""Locust users of the campaign, mixed reads and writes (run by ``benchmarks/load_test.py``).

Each simulated user works as one demo account (the first of an account logs in — CSRF token from
the login form, the session cookie — the others share that session) and works like that role
does: reads its queue (opening tab and another), problem pages, a search and its dashboard; the
units sign for what waits (签收), report progress (报送进展) and ask for sign-off (申请销号), their
leaders approve it (同意销号); the assigners verify (核销). Each write is the form the page shows,
filled in (every text box, the CSRF token and the version it carries) and posted.

Outcomes: 2xx and redirects are successes; 409 (someone else changed the problem first: a stale
change refused with a message) is reported as ``… (stale, refused)``, and a form shown again with
what is missing as ``… (form re-shown)``: neither is a failure. Anything else (4xx, 5xx, a login
page instead of the queue, a connection error) is a failure.
"""

import copy
import logging
import random
import re
from collections import defaultdict
from html import unescape

from gevent.lock import BoundedSemaphore
from locust import HttpUser, between, task

PASSWORD = "Huiyin@2026"  # noqa: S105 - the published demo password
CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
CARD_RE = re.compile(r'class="case-title" href="/cases/(\d+)"')
FORM_RE = re.compile(r'<form\b[^>]*\bmethod="post"[^>]*\baction="([^"]+)"[^>]*>(.*?)</form>', re.S | re.I)
INPUT_RE = re.compile(r"<input\b([^>]*)>", re.I)
TEXTAREA_RE = re.compile(r'<textarea\b[^>]*\bname="([^"]+)"', re.I)
ATTR_RE = re.compile(r'(\w[\w-]*)="([^"]*)"')
TEXT = "负载测试：已按要求处理，情况属实。"

# account → (weight, the writes it does)
ACCOUNTS = {
    "town": (5, ("sign_for", "progress", "signoff")),
    "dept": (3, ("sign_for", "progress", "signoff")),
    "desk": (2, ("sign_for", "progress")),
    "townlead": (1, ("review",)),
    "deptlead": (1, ("review",)),
    "grouplead": (3, ("verify",)),
    "office": (4, ("verify",)),
    "cadre": (3, ()),
}
DASHBOARDS = {"town", "dept", "desk", "grouplead", "office"}  # the accounts with a /stats page
RESHOWN: dict[str, list[str]] = defaultdict(list)  # label → the first messages of re-shown forms
ERROR_RE = re.compile(r'<div class="error-summary".*?</div>|<p class="(?:error|flash flash-error)[^"]*">.*?</p>', re.S)
SESSIONS: dict[str, list] = {}  # account → its session cookies, once logged in
LOCKS = defaultdict(BoundedSemaphore)


def _form(page: str, action_end: str) -> tuple[str, dict] | None:
    """The first POST form whose action ends with ``action_end``, filled in."""
    for action, body in FORM_RE.findall(page):
        if not unescape(action).split("?")[0].endswith(action_end):
            continue
        data = {}
        for attrs in INPUT_RE.findall(body):
            a = dict(ATTR_RE.findall(attrs))
            name, kind = a.get("name"), a.get("type", "text").lower()
            if not name or kind in ("file", "checkbox", "radio", "submit", "button"):
                continue
            data[name] = unescape(a.get("value", ""))
        for name in TEXTAREA_RE.findall(body):
            data[name] = TEXT
        return unescape(action), data
    return None


class CampaignUser(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self):
        names = list(ACCOUNTS)
        self.account = random.choices(names, [ACCOUNTS[n][0] for n in names])[0]  # noqa: S311
        self.writes = ACCOUNTS[self.account][1]
        self.seen: list[int] = []
        # The users of one account share its session (like one person's several tabs): 200 users
        # would otherwise spend the run's first minute on 200 password hashes (argon2, by design
        # slow), measuring the login rather than the work.
        with LOCKS[self.account]:  # the first user of an account logs in while the others wait
            shared = SESSIONS.get(self.account)
            if shared:
                for cookie in shared:  # as set by the server (domain and path kept)
                    self.client.cookies.set_cookie(copy.copy(cookie))
            else:
                self._login()

    def _login(self):
        page = self.client.get("/login", name="/login").text
        token = CSRF_RE.search(page).group(1)
        with self.client.post("/login", data={"username": self.account, "password": PASSWORD,
                                              "csrf_token": token}, allow_redirects=False,
                               name="/login [POST]", catch_response=True) as resp:
            if resp.status_code != 302:
                resp.failure(f"login as {self.account}: HTTP {resp.status_code}")
            else:
                SESSIONS.setdefault(self.account, list(self.client.cookies))

    # ------------------------------------------------------------ reads

    def _queue(self, tab: str | None = None) -> list[int]:
        path = "/cases" + (f"?tab={tab}" if tab else "")
        with self.client.get(path, name=f"queue {self.account} {tab or 'opening'}", catch_response=True) as resp:
            if resp.status_code != 200 or 'action="/login"' in resp.text:
                resp.failure(f"queue: HTTP {resp.status_code}")
                return []
            ids = [int(i) for i in CARD_RE.findall(resp.text)]
        if ids:
            self.seen = ids
        return ids

    @task(6)
    def queue(self):
        self._queue()

    @task(2)
    def queue_all(self):
        self._queue("all")

    @task(4)
    def problem_page(self):
        if not self.seen:
            self._queue()
        if self.seen:
            pid = random.choice(self.seen)  # noqa: S311
            self.client.get(f"/cases/{pid}", name="problem page")

    @task(1)
    def dashboard(self):
        # The office's, a group's and a unit's dashboard, between the writes that change them.
        if self.account in DASHBOARDS:
            self.client.get("/stats", name=f"dashboard {self.account}")

    @task(1)
    def search(self):
        q = random.choice(["路灯", "ldsh", "自来水", "gongjiao", "垃圾"])  # noqa: S311
        self.client.get("/cases", params={"q": q}, name="search")

    # ------------------------------------------------------------ writes

    def _post_form(self, page_path: str, action_end: str, label: str, *, page: str | None = None):
        if page is None:
            with self.client.get(page_path, name=f"{label} form", catch_response=True) as resp:
                if resp.status_code == 403:
                    # Not this unit's to do (it cooperates on the problem): the page refuses, as it
                    # must; nothing to post.
                    resp.success()
                    return
                if resp.status_code != 200:
                    resp.failure(f"{label} form: HTTP {resp.status_code}")
                    return
                page = resp.text
        found = _form(page, action_end)
        if found is None:  # nothing of this kind to do on this problem now (e.g. already done)
            return
        action, data = found
        with self.client.post(action, data=data, allow_redirects=False, name=label, catch_response=True) as resp:
            if resp.status_code in (204, 302, 303):
                resp.success()
            elif resp.status_code in (200, 422):
                # The form shown again with what it says is missing: nothing written, no failure;
                # reported under its own name so that the writes that took effect stay countable.
                resp.request_meta["name"] = f"{label} (form re-shown)"
                errors = ERROR_RE.findall(resp.text)
                if errors and len(RESHOWN[label]) < 3:
                    RESHOWN[label].append(unescape(re.sub(r"<[^>]+>", "", errors[0]))[:200])
                    logging.warning("%s re-shown: %s", label, RESHOWN[label][-1])
                resp.success()
            elif resp.status_code == 409:
                resp.request_meta["name"] = f"{label} (stale, refused)"
                resp.success()  # someone else changed it first: refused with a message
            else:
                resp.failure(f"{label}: HTTP {resp.status_code}")

    @task(3)
    def write(self):
        if not self.writes:
            return
        kind = random.choice(self.writes)  # noqa: S311
        if kind == "sign_for":
            ids = self._queue("to_sign")
            if ids:
                pid = random.choice(ids)  # noqa: S311
                page = self.client.get(f"/cases/{pid}", name="problem page").text
                self._post_form("", f"/cases/{pid}/sign-for", "sign for", page=page)
        elif kind == "progress":
            ids = self._queue("handling")
            if ids:
                pid = random.choice(ids)  # noqa: S311
                self._post_form(f"/cases/{pid}/progress", f"/cases/{pid}/progress", "progress")
        elif kind == "signoff":
            ids = self._queue("handling")
            if ids:
                pid = random.choice(ids)  # noqa: S311
                self._post_form(f"/cases/{pid}/sign-off", f"/cases/{pid}/sign-off", "sign-off")
        elif kind == "review":
            ids = self._queue("to_review")
            if ids:
                pid = random.choice(ids)  # noqa: S311
                self._post_form(f"/cases/{pid}/sign-off/review", f"/cases/{pid}/sign-off/review", "leader review")
        elif kind == "verify":
            ids = self._queue("to_verify")
            if ids:
                pid = random.choice(ids)  # noqa: S311
                self._post_form(f"/cases/{pid}/verification", f"/cases/{pid}/verification", "verification")
