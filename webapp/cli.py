"""Command-line tasks: database set-up, demo data, audit chain verification; the task queue's
consumer (``flask tasks worker``, from ``core.tasks``)."""

from pathlib import Path

import click
from flask import Flask
from flask_migrate import upgrade

from .core.audit import verify_chain
from .core.extensions import db


def register_cli(app: Flask) -> None:
    from .api.cli import cli as api_cli
    from .core.tasks import cli as tasks_cli
    from .integrity import cli as integrity_cli
    from .notifications import cli as notifications_cli
    from .supervision import cli as supervision_cli

    app.cli.add_command(supervision_cli)
    app.cli.add_command(notifications_cli)
    app.cli.add_command(integrity_cli)
    app.cli.add_command(tasks_cli)
    app.cli.add_command(api_cli)

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
        from .stats import sums

        if sums.needs_first_count():
            sums.rebuild()  # problems stored before the dashboards' sums were kept
            db.session.commit()
        from .visits import counts as coverage_counts

        if coverage_counts.needs_first_count():
            coverage_counts.rebuild()  # households stored before the coverage counters existed
            db.session.commit()

        if demo and database_is_empty():
            from .demo.cases import load_demo_cases

            load_demo()
            load_demo_cases()
            db.session.commit()
            click.echo("demo data loaded")
            if campaign:
                _load_campaign()
            _load_registers()
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
        from .demo.supervision import load_notices, load_papers
        from .integrity.scan import scan
        from .supervision import sweep

        notices_made = load_notices()
        db.session.commit()
        swept = sweep.run(source="demo")
        flags = scan(source="demo")
        db.session.commit()
        click.echo(f"supervision sweep: {swept.reminded} 催办, {swept.noticed} 通报; "
                   f"integrity scan: {sum(flags.values())} flags")
        paper_work = load_papers()
        db.session.commit()
        click.echo(f"supervision on paper: {notices_made['notices']} 督办单 ({notices_made['answered']} answered), "
                   f"papers {paper_work['papers']}, reminders {paper_work['limits']}")

    def _load_registers() -> None:
        from .demo.registers import load_registers

        counts = load_registers()
        db.session.commit()
        click.echo(f"registers loaded: {counts['households']} households, {counts['enterprises']} enterprises, "
                   f"{counts['visits']} visits in two rounds, {counts['linked']} earlier visits tied to them")

    @demo_group.command("registers")
    def demo_registers():
        """Add the demo households, enterprises, visiting rounds and visits (coverage differs by town)."""
        from .demo.org import database_is_empty
        from .demo.registers import has_registers

        if database_is_empty():
            raise click.ClickException("no units yet; run `flask demo load` first")
        if has_registers():
            raise click.ClickException("the registers already hold households; demo registers not loaded")
        _load_registers()

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
        """Give USERNAME a one-time reset code (24 hours; the owner sets a password at
        /login/reset) and unlock the account; audited.

        The way back in for the security or audit admin, whose accounts the system admin may not
        reset (三员分立)."""
        from sqlalchemy import select

        from .accounts.admin_operations import reset_password
        from .accounts.models import User

        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no such user: {username}")
        code = reset_password(user, None)
        db.session.commit()
        click.echo(f"one-time reset code for {username} (valid 24 h, to be used at /login/reset): {code}")

    @app.cli.group("residents")
    def residents_group():
        """Residents' personal data."""

    @residents_group.command("purge")
    @click.option("--after-days", type=click.IntRange(0, 3650), default=None,
                  help="Days after the campaign deadline (default: RESIDENT_PURGE_AFTER_DAYS).")
    @click.option("--dry-run", is_flag=True, help="Count what would be anonymised; change nothing.")
    def residents_purge(after_days, dry_run):
        """Anonymise the residents of ended problems once the campaign has been closed long enough."""
        from flask import current_app

        from .core import clock
        from .visits import retention

        days = current_app.config["RESIDENT_PURGE_AFTER_DAYS"] if after_days is None else after_days
        try:
            result = retention.purge(days, clock.today(), dry_run=dry_run)
        except retention.NoDeadline as exc:
            raise click.ClickException(
                "the office has not saved the campaign deadline (活动设置 → 活动截止日期); nothing purged") from exc
        except retention.TooEarly as exc:
            raise click.ClickException(
                f"the campaign has not been closed {days} days yet: possible from {exc.args[0].isoformat()}") from exc
        if not dry_run:
            db.session.commit()
        verb = "would anonymise" if dry_run else "anonymised"
        click.echo(f"{verb} the residents of {result.problems} ended problems and {result.visits} visits")

    @app.cli.group("pii")
    def pii_group():
        """Personal data encrypted at rest: keys and their use."""

    @pii_group.command("status")
    def pii_status():
        """Count the sealed values per key id, column by column."""
        from .core import pii

        ring = pii.keyring()
        click.echo(f"keys: {', '.join(ring.kids)} (sealing with {ring.current})")
        for where, counts in pii.status(db.metadata).items():
            shown = ", ".join(f"{kid}={n}" for kid, n in counts.items())
            click.echo(f"{where}: {shown}")

    @pii_group.command("rotate-key")
    @click.option("--new-key/--no-new-key", default=True,
                  help="Add a new key to PII_KEY_FILE first (--no-new-key: re-seal under the last key listed).")
    @click.option("--batch", type=click.IntRange(1, 100_000), default=1000, help="Rows per transaction.")
    def pii_rotate_key(new_key: bool, batch: int):
        """Re-seal every value under a new key, in batches; run again to resume after an interruption."""
        from flask import current_app

        from .core import audit, pii

        if new_key:
            path = current_app.config.get("PII_KEY_FILE")
            if not path:
                raise click.ClickException(
                    "PII_KEYS comes from the environment: append a new 'id:hex' key there, restart, "
                    "then run `flask pii rotate-key --no-new-key`")
            kid = pii.add_key_to_file(path)
            current_app.config["PII_KEYS"] = Path(path).read_text()
            click.echo(f"new key {kid} added to {path}")
        ring = pii.keyring()
        audit.record("pii.rotation_started", object_type="pii_key", object_id=ring.current,
                     detail={"key": ring.current, "keys": ring.kids})
        db.session.commit()
        done = pii.rotate(db.metadata, batch=batch,
                          progress=lambda where, n: click.echo(f"  {where}: {n} re-sealed"))
        audit.record("pii.rotated", object_type="pii_key", object_id=ring.current,
                     detail={"key": ring.current, "resealed": done})
        db.session.commit()
        click.echo(f"every value is sealed under {ring.current} ({sum(done.values())} re-sealed); "
                   "`flask pii drop-key` removes an old key once `flask pii status` shows it unused")

    @pii_group.command("drop-key")
    @click.argument("kid")
    def pii_drop_key(kid: str):
        """Remove a key from PII_KEY_FILE once no value is sealed under it."""
        from flask import current_app

        from .core import audit, pii

        path = current_app.config.get("PII_KEY_FILE")
        if not path:
            raise click.ClickException("PII_KEYS comes from the environment: remove the key there")
        ring = pii.keyring()
        if kid not in ring.kids:
            raise click.ClickException(f"no key {kid!r} in {path}")
        if kid == ring.current:
            raise click.ClickException(f"{kid} is the key that seals: rotate to a new key first")
        used = {where: counts.get(kid, 0) for where, counts in pii.status(db.metadata).items()}
        if any(used.values()):
            raise click.ClickException(f"values are still sealed under {kid}: {used}; run `flask pii rotate-key`")
        pii.drop_key_from_file(path, kid)
        current_app.config["PII_KEYS"] = Path(path).read_text()
        audit.record("pii.key_dropped", object_type="pii_key", object_id=kid, detail={"key": kid})
        db.session.commit()
        click.echo(f"key {kid} removed from {path}")

    @app.cli.group("backup")
    def backup_group():
        """Backups of the database, the uploads and the audit anchors."""

    @backup_group.command("create")
    @click.option("--dir", "dest", default=None, help="Folder for the archive (default: BACKUP_DIR).")
    def backup_create(dest):
        """Write one archive (0600) with the database, the uploads, the anchor file and a manifest."""
        from flask import current_app

        from .core import audit, backup

        archive = backup.create(dest or current_app.config["BACKUP_DIR"])
        audit.record("backup.created", object_type="backup", detail={"file": archive.name})
        db.session.commit()
        click.echo(f"backup written: {archive}")

    @backup_group.command("restore")
    @click.argument("archive")
    @click.option("--force", is_flag=True, help="Replace a database and uploads that are not empty.")
    def backup_restore(archive, force):
        """Check ARCHIVE against its manifest, load it, and prove it: equal row counts and an
        audit chain that verifies against the restored anchors (exit 1 otherwise)."""
        from .core import audit, backup

        try:
            report = backup.restore(archive, force=force)
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"restored {sum(report.tables.values())} rows in {len(report.tables)} tables, "
                   f"{report.files} uploaded files")
        for table, (want, got) in report.mismatched.items():
            click.echo(f"  row count of {table}: {got}, the backup had {want}", err=True)
        if report.chain.ok:
            click.echo(f"audit chain intact: {report.chain.checked} events; {report.chain.anchors} anchors match")
        else:
            for finding in report.chain.findings:
                click.echo(f"  audit: {finding}", err=True)
        if not report.ok:
            raise SystemExit(1)
        audit.record("backup.restored", object_type="backup", detail={"file": str(archive)[-200:]})
        db.session.commit()

    @app.cli.group("counts")
    def counts_group():
        """The work queues' kept counters."""

    @counts_group.command("verify")
    def counts_verify():
        """Compare the kept counters with a fresh count of the problems; exit 1 on any difference."""
        from .cases import counts
        from .core import clock
        from .stats import sums

        diff = counts.verify()
        sums_diff = sums.verify(clock.today())
        db.session.rollback()
        if not diff and not sums_diff:
            click.echo("counters and dashboard sums agree with a fresh count")
            return
        for key, (kept, fresh) in [*list(diff.items())[:50], *list(sums_diff.items())[:50]]:
            click.echo(f"{key}: kept {kept}, fresh {fresh}", err=True)
        click.echo(f"{len(diff)} counters and {len(sums_diff)} dashboard sums differ; "
                   "`flask counts rebuild` counts afresh", err=True)
        raise SystemExit(1)

    @counts_group.command("rebuild")
    def counts_rebuild():
        """Count every problem afresh (after a bulk load or a restore)."""
        from .cases import counts
        from .stats import sums

        rows = counts.rebuild()
        cells = sums.rebuild()
        db.session.commit()
        click.echo(f"counters rebuilt: {rows} rows; dashboard sums: {cells} cells")

    @app.cli.group("coverage")
    def coverage_group():
        """The visit coverage counters."""

    @coverage_group.command("verify")
    def coverage_verify():
        """Compare the coverage counters with a fresh count of the registers and visits; exit 1 on
        any difference."""
        from .visits import counts as coverage_counts

        diff = coverage_counts.verify()
        db.session.rollback()
        if not diff:
            click.echo("coverage counters agree with a fresh count")
            return
        for (round_id, kind, by, key), (kept, fresh) in list(diff.items())[:50]:
            click.echo(f"round {round_id} {kind} {by}:{key}: kept {kept}, fresh {fresh}", err=True)
        click.echo(f"{len(diff)} coverage counters differ; `flask coverage rebuild` counts afresh", err=True)
        raise SystemExit(1)

    @coverage_group.command("rebuild")
    def coverage_rebuild():
        """Count the registers' coverage afresh (after a bulk load or a restore)."""
        from .visits import counts as coverage_counts

        rows = coverage_counts.rebuild()
        db.session.commit()
        click.echo(f"coverage counters rebuilt: {rows} rows")

    @app.cli.group("audit")
    def audit_group():
        """The audit log."""

    @audit_group.command("verify")
    def audit_verify():
        """Recompute the keyed audit chain and compare it with the anchor file; exit 1 when
        a row was edited, deleted (the tail included), inserted or recomputed, naming each."""
        from .core import anchors

        report = verify_chain(anchors.read_anchors())
        if report.ok:
            extra = f", {report.unkeyed} of them from before keying" if report.unkeyed else ""
            click.echo(f"audit chain intact: {report.checked} events{extra}; {report.anchors} anchors match")
            return
        click.echo(f"audit chain BROKEN: {len(report.findings)} problem(s), {report.checked} good events", err=True)
        for finding in report.findings:
            click.echo(f"  - {finding}", err=True)
        raise SystemExit(1)

    @audit_group.command("anchor")
    def audit_anchor():
        """Write the chain's head (position, id, hash, time) to the anchor file; audited."""
        from .core import anchors

        anchor = anchors.write_anchor("cli")
        db.session.commit()
        click.echo(f"anchored seq {anchor.seq} (event {anchor.event_id}) hash {anchor.hash} "
                   f"at {anchor.at.isoformat()} in {anchors.anchor_path()}")
