"""Registers and coverage: cadres see their own and their group's entries, a town its places, the
office and the leading group all (the leading group reads only), departments and the desk nothing.
Out-of-scope entries answer 404; changes are for the office and the group lead (their group's)."""

from . import Rule

READ = {"office", "leader", "cadre", "grouplead", "town", "townlead"}
EDIT = {"office", "grouplead"}
GROUP_SCOPED = {"cadre", "grouplead", "town", "townlead"}


def _hh(o):
    return o.own_household.id


def _other_hh(o):
    return o.other_household.id


RULES = [
    Rule("registers.households", "/visits/households", READ),
    Rule("registers.households", "/visits/households?q=jzhz&visited=no", READ, headers={"HX-Request": "true"},
         note="htmx search"),
    Rule("registers.enterprises", "/visits/enterprises", READ),
    Rule("registers.export", "/visits/households/export.xlsx", READ),
    Rule("registers.export", "/visits/enterprises/export.xlsx?visited=no", READ, note="enterprises"),
    Rule("registers.detail", lambda o: f"/visits/households/{_hh(o)}", READ, note="own group"),
    Rule("registers.detail", lambda o: f"/visits/households/{_other_hh(o)}", {"office", "leader"},
         not_found=GROUP_SCOPED, note="other group"),
    Rule("registers.detail", lambda o: f"/visits/enterprises/{o.own_enterprise.id}", READ, note="own enterprise"),
    Rule("registers.detail", lambda o: f"/visits/enterprises/{o.other_enterprise.id}", {"office", "leader"},
         not_found=GROUP_SCOPED, note="other enterprise"),
    Rule("registers.reveal", lambda o: f"/visits/households/{_hh(o)}/reveal", {"office", "cadre", "grouplead"},
         method="POST", note="own group"),
    Rule("registers.reveal", lambda o: f"/visits/households/{_other_hh(o)}/reveal", {"office"}, method="POST",
         not_found={"cadre", "grouplead"}, note="other group"),
    Rule("registers.new", "/visits/households/new", EDIT),
    Rule("registers.new", "/visits/enterprises/new", EDIT, method="POST", note="empty form: errors shown"),
    Rule("registers.edit", lambda o: f"/visits/households/{_hh(o)}/edit", EDIT, note="own group"),
    Rule("registers.edit", lambda o: f"/visits/households/{_other_hh(o)}/edit", {"office"},
         not_found={"grouplead"}, note="other group"),
    Rule("registers.edit", lambda o: f"/visits/households/{_hh(o)}/edit", EDIT, method="POST",
         note="empty form: errors shown"),
    Rule("registers.close", lambda o: f"/visits/households/{_hh(o)}/close", EDIT, method="POST",
         note="no reason: errors shown"),
    Rule("registers.close", lambda o: f"/visits/enterprises/{o.other_enterprise.id}/close", {"office"},
         method="POST", not_found={"grouplead"}, note="other group, no reason"),
    Rule("registers.reassign", "/visits/reassign", EDIT),
    Rule("registers.reassign", "/visits/reassign", EDIT, method="POST", note="empty form: errors shown"),
    Rule("coverage.rounds", "/visits/rounds", {"office"}),
    Rule("coverage.rounds", "/visits/rounds", {"office"}, method="POST", note="empty form: errors shown"),
    Rule("coverage.index", lambda o: f"/visits/coverage?round={o.visit_round.id}&by=village", READ),
    Rule("coverage.uncovered", lambda o: f"/visits/coverage/uncovered?round={o.visit_round.id}&kind=enterprises",
         READ),
    Rule("coverage.mine", "/visits/mine", {"cadre"}),
    Rule("coverage.record", lambda o: f"/visits/households/{_hh(o)}/visit", {"cadre"}),
    Rule("coverage.record", lambda o: f"/visits/households/{_hh(o)}/visit", {"cadre"}, method="POST",
         note="empty form: errors shown"),
    Rule("coverage.record", lambda o: f"/visits/enterprises/{o.other_enterprise.id}/visit", set(),
         not_found={"cadre"}, note="another group's enterprise"),
]


def _visit_id(o):
    return o.intake_visit.id


RULES += [
    Rule("ledger.index", "/visits/ledger", READ),
    Rule("ledger.index", "/visits/ledger?mode=home&from=2026-01-01", READ, headers={"HX-Request": "true"},
         note="htmx filter"),
    Rule("ledger.export", "/visits/ledger/export.xlsx", READ),
    Rule("ledger.record_pdf", lambda o: f"/visits/{_visit_id(o)}/record.pdf", {"office", "leader", "cadre", "grouplead",
                                                                               "town", "townlead"},
         note="own group's visit in the town"),
    Rule("ledger.record_pdf", lambda o: f"/visits/{o.other_group_visit.id}/record.pdf", {"office", "leader"},
         not_found={"cadre", "grouplead", "town", "townlead"}, note="another group's visit in another town"),
    Rule("ledger.village_pdf", lambda o: f"/visits/ledger/village.pdf?village={o.intake_visit.village_id}", READ),
    Rule("ledger.unlinked", "/visits/unlinked", {"office"}),
    Rule("ledger.match", "/visits/unlinked/match", {"office"}, method="POST"),
    Rule("ledger.link", lambda o: f"/visits/{_visit_id(o)}/link", {"office"}, method="POST",
         note="no entry chosen: message"),
]

RULES += [
    Rule("imports.households", "/visits/import/households", {"office"}),
    Rule("imports.households", "/visits/import/households", {"office"}, method="POST", note="no file: message"),
    Rule("imports.enterprises", "/visits/import/enterprises", {"office"}),
    Rule("imports.enterprises", "/visits/import/enterprises", {"office"}, method="POST", note="no file: message"),
    Rule("imports.template", "/visits/import/households/template.xlsx", {"office"}),
    Rule("imports.visits", "/visits/import/visits", {"office"}),
    Rule("imports.visits", "/visits/import/visits", {"office"}, method="POST", note="no file: message"),
    Rule("imports.template", "/visits/import/visits/template.xlsx", {"office"}, note="historical visits"),
    # A visit's photos: whoever may read the visit (its cadre's group, office, leader).
    Rule("visit_photos.photo", lambda o: f"/cases/visits/photos/{o.own_visit_photo.id}",
         {"cadre", "grouplead", "office", "leader"}, note="own group"),
    Rule("visit_photos.thumbnail", lambda o: f"/cases/visits/photos/{o.own_visit_photo.id}/thumb",
         {"cadre", "grouplead", "office", "leader"}, note="own group"),
    Rule("visit_photos.photo", lambda o: f"/cases/visits/photos/{o.other_group_visit_photo.id}",
         {"office", "leader"}, not_found={"cadre", "grouplead"}, note="other group"),
    Rule("visit_photos.thumbnail", lambda o: f"/cases/visits/photos/{o.other_group_visit_photo.id}/thumb",
         {"office", "leader"}, not_found={"cadre", "grouplead"}, note="other group"),
]
