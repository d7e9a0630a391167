"""The workflow table, walked exhaustively. No database, no Flask app."""

import itertools

import pytest

from webapp.cases import workflow as wf
from webapp.cases.workflow import ENDED, TRANSITIONS, Action, NotAllowed, Rel, Status

ROLES = ["cadre", "group_lead", "handler", "unit_leader", "desk", "office", "leader",
         "sysadmin", "secadmin", "auditor", None]
REL_SETS = [frozenset(c) for n in range(len(Rel) + 1) for c in itertools.combinations(Rel, n)]


def test_every_status_is_reachable_from_registration():
    reached, frontier = {Status.registered}, [Status.registered]
    while frontier:
        s = frontier.pop()
        for (src, _a), t in TRANSITIONS.items():
            if src == s and t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    assert reached == set(Status)


def test_every_non_terminal_status_can_still_end():
    """From every status there is a path to an ended status (nothing gets stuck)."""
    for start in Status:
        seen, frontier = {start}, [start]
        while frontier:
            s = frontier.pop()
            for (src, _a), t in TRANSITIONS.items():
                if src == s and t.target not in seen:
                    seen.add(t.target)
                    frontier.append(t.target)
        assert seen & ENDED, f"{start} can never end"


def test_ended_problems_only_take_a_reply():
    for (src, action), _t in TRANSITIONS.items():
        if src in ENDED:
            assert action == Action.reply


def test_labels_exist_for_every_status_and_action():
    assert all(str(s.label) for s in Status)
    assert all(str(a.label) for a in Action)


@pytest.mark.parametrize("status", list(Status))
def test_may_and_check_agree_with_the_table_for_every_actor(status):
    for action, role, rels in itertools.product(Action, ROLES, REL_SETS):
        t = TRANSITIONS.get((status, action))
        expected = bool(t and role in t.roles and t.rel & rels)
        assert wf.may(status, action, role, rels) is expected
        if expected:
            assert wf.check(status, action, role, rels) is t
            assert action in wf.allowed_actions(status, role, rels, implemented_only=False)
        else:
            with pytest.raises(NotAllowed):
                wf.check(status, action, role, rels)
            assert action not in wf.allowed_actions(status, role, rels, implemented_only=False)


def test_read_only_and_admin_roles_can_do_nothing():
    for (status, action), _t in TRANSITIONS.items():
        for role in ("leader", "sysadmin", "secadmin", "auditor", None):
            assert not wf.may(status, action, role, frozenset(Rel))


def test_whoever_assigns_verifies():
    t = TRANSITIONS[(Status.pending_verification, Action.verify)]
    assert t.rel == {Rel.assigner, Rel.office}
    assert not wf.may(Status.pending_verification, Action.verify, "group_lead", {Rel.group})
    assert wf.may(Status.pending_verification, Action.verify, "group_lead", {Rel.assigner})


def test_refusals_need_reasons():
    for key in [(Status.assigned, Action.return_), (Status.registered, Action.not_accept),
                (Status.registered, Action.merge), (Status.pending_verification, Action.reject_verification),
                (Status.signed_off, Action.reply_reopen)]:
        assert TRANSITIONS[key].needs_reason
