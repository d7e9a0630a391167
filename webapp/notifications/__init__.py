"""Reaching people (DOMAIN §13): the inbox, per-user channel choices within the office's
allowance, and the outbound channels (SMS gateway, 企业微信/钉钉 group robots, e-mail).

Operations of any area above tell people with ``notifications.emit.notify(...)``: it writes the
inbox rows and the deliveries in the caller's transaction, and the deliveries are sent on the
task queue once that transaction commits (``tasks.py``). A channel with no adapter configured
(the embedded default) sends nothing off the machine: its deliveries wait on the outbox page.
"""

import click
from flask.cli import AppGroup

cli = AppGroup("notifications", help="Notification channels: the units' group robots.")


@cli.command("robot")
@click.argument("unit_name")
@click.argument("channel", type=click.Choice(["wecom", "dingtalk"]))
@click.argument("webhook_url")
def robot_command(unit_name: str, channel: str, webhook_url: str):
    """Set a unit's 企业微信/钉钉 group robot (WEBHOOK_URL "-" removes it); audited."""
    from sqlalchemy import select

    from ..core import audit
    from ..core.extensions import db
    from ..org.models import Unit
    from .models import UnitRobot

    unit = db.session.scalar(select(Unit).where(Unit.name == unit_name))
    if unit is None:
        raise click.ClickException(f"no unit named {unit_name}")
    if webhook_url != "-" and not webhook_url.startswith("https://"):
        raise click.ClickException("the webhook must be an https:// address")
    row = db.session.scalar(select(UnitRobot).where(UnitRobot.unit_id == unit.id, UnitRobot.channel == channel))
    if webhook_url == "-":
        if row is not None:
            db.session.delete(row)
    else:
        row = row or UnitRobot(unit_id=unit.id, channel=channel)
        row.webhook_url = webhook_url
        db.session.add(row)
    audit.record("notification.robot", object_type="unit", object_id=unit.id, user=None,
                 detail={"channel": channel, "set": webhook_url != "-"})
    db.session.commit()
    click.echo(f"{unit.name} {channel}: {'removed' if webhook_url == '-' else 'set'}")
