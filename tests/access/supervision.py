"""督查督办: the page for the office and the leader; running the sweep for the office alone."""

from . import Rule

READERS = {"office", "leader"}

RULES = [
    Rule("supervision.index", "/supervision", READERS),
    Rule("supervision.sent", "/supervision/sent?unit=1&action=remind", READERS),
    Rule("supervision.sent", "/supervision/sent?unit=1&action=notice", READERS),
    Rule("supervision.sent", "/supervision/sent?unit=99999999&action=remind", set(), not_found=READERS,
         note="no such unit"),
    Rule("supervision.sent", "/supervision/sent?unit=1&action=other", set(), not_found=READERS,
         note="no such list"),
    Rule("supervision.run", "/supervision/sweep", {"office"}, method="POST", data={}),
]
