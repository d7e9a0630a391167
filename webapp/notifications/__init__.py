"""Reaching people (DOMAIN §13): the inbox, per-user channel choices within the office's
allowance, and the outbound channels (SMS gateway, 企业微信/钉钉 group robots, e-mail).

Operations of any area above tell people with ``notifications.emit.notify(...)``: it writes the
inbox rows and the deliveries in the caller's transaction, and the deliveries are sent on the
task queue once that transaction commits (``tasks.py``). A channel with no adapter configured
(the embedded default) sends nothing off the machine: its deliveries wait on the outbox page.
"""
