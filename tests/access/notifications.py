"""Notifications: every account has its inbox and channels; the office alone sees the outbox,
the rules per kind and resends failures. Someone else's notification is not found."""

from . import EVERYONE, Rule

RULES = [
    Rule("notifications.inbox", "/notifications", EVERYONE),
    Rule("notifications.read_all", "/notifications/read-all", EVERYONE, method="POST", data={}),
    Rule("notifications.preferences", "/notifications/preferences", EVERYONE),
    Rule("notifications.preferences", "/notifications/preferences", EVERYONE, method="POST", data={}),
    Rule("notifications.open_", lambda o: f"/notifications/{o.town_notification}", {"town"},
         not_found=EVERYONE - {"town"}, note="the town handler's own"),
    Rule("notifications.rules", "/notifications/rules", {"office"}),
    Rule("notifications.rules", "/notifications/rules", {"office"}, method="POST", data={}),
    Rule("notifications.outbox", "/notifications/outbox", {"office"}),
    Rule("notifications.resend", lambda o: f"/notifications/deliveries/{o.failed_delivery}/resend",
         {"office"}, method="POST", data={}),
]
