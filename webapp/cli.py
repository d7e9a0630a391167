"""Command-line tasks: database set-up, demo data, audit chain verification; the task queue's
consumer (``flask tasks worker``, from ``core.tasks``)."""

import click
from flask import Flask
from flask_migrate import upgrade

from .core.audit import verify_chain
from .core.extensions import db


def register_cli(app: Flask) -> None:
    from .core.tasks import cli as tasks_cli
    from .integrity import cli as integrity_cli
    from .supervision import cli as supervision_cli

    app.cli.add_command(supervision_cli)
    app.cli.add_command(integrity_cli)
    app.cli.add_command(tasks_cli)

    @app.cli.command("setup")
    @click.option("--demo/--no-demo", default=True, help="Load demo data into an empty database.")
    @click.option("--campaign/--no-campaign", default=True,
                  help="With the demo, load the campaign so far (1,250 problems, reports issued).")
    def setup(demo: bool, campaign: bool):
        """Create or upgrade the database through migrations; load demo data when empty."""
        upgrade()
        from .cases import counts
        from .demo.org import database_is_empty, load_demo

        if counts.needs_first_count():
            counts.rebuild()  # problems stored before the counters existed
            db.session.commit()

        if demo and database_is_empty():
            from .demo.cases import load_demo_cases

            load_demo()
            load_demo_cases()
            db.session.commit()
            click.echo("demo data loaded")
            if campaign:
                _load_campaign()
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
        from .demo.cases import load_demo_cases

        load_demo()
        load_demo_cases()
        db.session.commit()
        click.echo("demo data loaded")

    @demo_group.command("cases")
    @click.option("--seed", default=2017, show_default=True, help="Random seed of the demo problems.")
    def demo_cases(seed: int):
        """Add the demo problems (and their extra demo accounts) to a database with the demo org."""
        from .demo.cases import has_demo_cases, load_demo_cases
        from .demo.org import database_is_empty

        if database_is_empty():
            raise click.ClickException("no units yet; run `flask demo load` (organisation and problems)")
        if has_demo_cases():
            raise click.ClickException("the database already holds problems; demo problems not loaded")
        try:
            counts = load_demo_cases(seed)
        except RuntimeError as exc:  # the demo accounts are missing
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
        click.echo(f"demo problems loaded: {sum(counts.values())} "
                   + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))

    def _load_campaign() -> None:
        from .demo.campaign import CampaignError, load_campaign

        try:
            counts = load_campaign()
        except CampaignError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
        click.echo(f"campaign loaded: {counts['total']} problems, {counts['solved']} solved, "
                   f"{counts['reports']} half-month reports issued")
        # Today's scheduled work, as cron would have run it: the office finds the 催办/通报 and
        # the integrity flags the campaign's data calls for.
        from .integrity.scan import scan
        from .supervision import sweep

        swept = sweep.run(source="demo")
        flags = scan(source="demo")
        db.session.commit()
        click.echo(f"supervision sweep: {swept.reminded} 催办, {swept.noticed} 通报; "
                   f"integrity scan: {sum(flags.values())} flags")

    @demo_group.command("campaign")
    def demo_campaign():
        """Add the campaign so far (1,250 problems, 790 solved; past half-month reports) to the demo."""
        from .demo.campaign import has_campaign
        from .demo.cases import has_demo_cases

        if not has_demo_cases():
            raise click.ClickException("no demo problems yet; run `flask demo load` first")
        if has_campaign():
            raise click.ClickException("the campaign is already loaded")
        _load_campaign()

    @app.cli.group("users")
    def users_group():
        """Accounts (for the server operator)."""

    @users_group.command("reset-password")
    @click.argument("username")
    def users_reset_password(username: str):
        """Give USERNAME a temporary password (changed at next login); audited.

        The way back in for the security or audit admin, whose accounts the system admin may not
        reset (三员分立)."""
        from sqlalchemy import select

        from .accounts.admin_operations import reset_password
        from .accounts.models import User

        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no such user: {username}")
        password = reset_password(user, None)
        db.session.commit()
        click.echo(f"temporary password for {username}: {password}")

    @app.cli.group("counts")
    def counts_group():
        """The work queues' kept counters."""

    @counts_group.command("verify")
    def counts_verify():
        """Compare the kept counters with a fresh count of the problems; exit 1 on any difference."""
        from .cases import counts

        diff = counts.verify()
        db.session.rollback()
        if not diff:
            click.echo("counters agree with a fresh count")
            return
        for key, (kept, fresh) in list(diff.items())[:50]:
            click.echo(f"{key}: kept {kept}, fresh {fresh}", err=True)
        click.echo(f"{len(diff)} counters differ; `flask counts rebuild` counts afresh", err=True)
        raise SystemExit(1)

    @counts_group.command("rebuild")
    def counts_rebuild():
        """Count every problem afresh (after a bulk load or a restore)."""
        from .cases import counts

        rows = counts.rebuild()
        db.session.commit()
        click.echo(f"counters rebuilt: {rows} rows")

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
