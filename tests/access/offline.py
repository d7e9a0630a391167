"""The installable web app: the service worker script is public (it holds no data); the offline
register (villages, categories, the pages to keep) is the cadre's own."""

from . import EVERYONE, Rule

RULES = [
    Rule("offline.service_worker", "/sw.js", EVERYONE, public=True),
    Rule("offline.lookup", "/offline/register.json", {"cadre"}),
]
