"""督查督办: the page for the office and the leader; running the sweep for the office alone."""

from . import Rule

READERS = {"office", "leader"}

RULES = [
    Rule("supervision.index", "/supervision", READERS),
    Rule("supervision.run", "/supervision/sweep", {"office"}, method="POST", data={}),
]
