"""Command-line tasks: database set-up, demo data, audit chain verification."""

import click
from flask import Flask
from flask_migrate import upgrade

from .core.audit import verify_chain
from .core.extensions import db


def register_cli(app: Flask) -> None:
    @app.cli.command("setup")
    @click.option("--demo/--no-demo", default=True, help="Load demo data into an empty database.")
    def setup(demo: bool):
        """Create or upgrade the database through migrations; load demo data when empty."""
        upgrade()
        from .demo.org import database_is_empty, load_demo

        if demo and database_is_empty():
            load_demo()
            db.session.commit()
            click.echo("demo data loaded")
        else:
            click.echo("database up to date; existing data kept")

    @app.cli.group("demo")
    def demo_group():
        """Demo data."""

    @demo_group.command("load")
    def demo_load():
        """Load the Jiawang demo organisation and accounts into an empty database."""
        from .demo.org import database_is_empty, load_demo

        if not database_is_empty():
            raise click.ClickException("the database already holds units; demo data not loaded")
        load_demo()
        db.session.commit()
        click.echo("demo data loaded")

    @app.cli.group("audit")
    def audit_group():
        """The audit log."""

    @audit_group.command("verify")
    def audit_verify():
        """Recompute the audit hash chain; exit 1 at the first broken link."""
        report = verify_chain()
        if report.ok:
            click.echo(f"audit chain intact: {report.checked} events")
            return
        click.echo(f"audit chain BROKEN after {report.checked} good events: {report.problem} (event {report.event_id})", err=True)
        raise SystemExit(1)
