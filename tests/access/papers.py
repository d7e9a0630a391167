"""催办通知书 and 通报: the office issues; office and leader read all; a unit reads the papers that
name it (others are not found) and alone acknowledges its own."""

from . import Rule

UNIT_USERS = {"town", "townlead", "dept", "deptlead", "desk"}
READERS = {"office", "leader"}
NAMED = {"town", "townlead"}  # the object paper names 潘安湖街道 only

RULES = [
    Rule("papers.index", "/supervision/papers", READERS | UNIT_USERS),
    Rule("papers.issue", "/supervision/papers", {"office"}, method="POST", data={"kind": "bulletin"}),
    Rule("papers.show", lambda o: f"/supervision/papers/{o.town_paper}", READERS | NAMED,
         not_found=UNIT_USERS - NAMED),
    Rule("papers.pdf", lambda o: f"/supervision/papers/{o.town_paper}.pdf", READERS | NAMED,
         not_found=UNIT_USERS - NAMED),
    Rule("papers.acknowledge", lambda o: f"/supervision/papers/{o.town_paper}/acknowledge", NAMED,
         method="POST", data={}, not_found=UNIT_USERS - NAMED),
]
