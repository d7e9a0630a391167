"""Integrity (弄虚作假、虚报瞒报): flags of possibly false closure, spot-check callbacks, and
accountability records (问责) against units.

``flask integrity scan`` raises the flags the data shows (idempotent; a scheduler runs it daily).
``--date`` runs it as of another day (catching up, or testing). The detectors and their
thresholds (``INTEGRITY_*`` config keys) are described in ``integrity.detectors``.
"""

import datetime as dt

import click
from flask.cli import AppGroup

from ..core.extensions import db

cli = AppGroup("integrity", help="Integrity checks: flags of possibly false closure.")


@cli.command("scan")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Run as of this local date (YYYY-MM-DD); default today.")
def scan_command(on: dt.datetime | None):
    """Raise the integrity flags the data shows (idempotent; audited)."""
    from ..core import clock
    from .scan import scan

    day = on.date() if on else clock.today()
    counts = scan(day, source="cli")
    db.session.commit()
    total = sum(counts.values())
    detail = ", ".join(f"{kind} {n}" for kind, n in counts.items())
    click.echo(f"{day.isoformat()}: {total} new flags ({detail})")
