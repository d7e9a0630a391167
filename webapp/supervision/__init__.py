"""督查督办: the daily sweep that adds 催办 and 通报 to overdue problems, its command and page.

Run the sweep once a day (cron / systemd timer): ``flask supervision sweep``; ``--date`` runs it
as of another day (catching up, or testing). Running it more than once a day does no harm.
"""

import datetime as dt

import click
from flask.cli import AppGroup

from ..core.extensions import db

cli = AppGroup("supervision", help="督查督办: 催办 and 通报 of overdue problems.")


@cli.command("sweep")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Run as of this local date (YYYY-MM-DD); default today.")
def sweep_command(on: dt.datetime | None):
    """Add the 催办 and 通报 due today to overdue problems (idempotent; audited)."""
    from . import sweep

    result = sweep.run(on.date() if on else None, source="cli")
    db.session.commit()
    click.echo(f"{result.date.isoformat()}: overdue {result.overdue}, "
               f"reminded {result.reminded}, noticed {result.noticed}")


@cli.command("limits")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Run as of this local date (YYYY-MM-DD); default today.")
def limits_command(on: dt.datetime | None):
    """Remind near the time limits, tell who is late, escalate (each person once per limit)."""
    from . import limits

    result = limits.run(on.date() if on else None, source="cli")
    db.session.commit()
    click.echo(f"{result.date.isoformat()}: " + ", ".join(f"{k} {v}" for k, v in sorted(result.told.items())))
