"""``flask api-key create NAME [--scope create --scope read] [--webhook-url URL]``, ``list``, ``revoke``."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..core.errors import Conflict, FieldsInvalid
from ..core.extensions import db
from .keys import create_client, revoke_client
from .models import ApiClient, Scope

cli = AppGroup("api-key", help="API keys of outside systems (the 12345 platform).")


@cli.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice([s.value for s in Scope]),
              help="What the key may do (repeat; default: create and read).")
@click.option("--webhook-url", default=None, help="Where status changes are pushed (signed).")
def create_command(name: str, scopes: tuple[str, ...], webhook_url: str | None):
    """Make a key; the key and the webhook secret are printed this once."""
    try:
        made = create_client(name=name, scopes=scopes or [s.value for s in Scope], webhook_url=webhook_url,
                             actor=None)
        db.session.commit()
    except FieldsInvalid as exc:
        db.session.rollback()
        raise click.ClickException("; ".join(str(m) for m in exc.errors.values())) from None
    click.echo(f"name:           {made.client.name}")
    click.echo(f"scopes:         {made.client.scopes}")
    click.echo(f"api key:        {made.key}")
    click.echo(f"webhook secret: {made.secret}")
    click.echo("(shown once: only the key's hash is stored)")


@cli.command("list")
def list_command():
    """Every key: name, prefix, scopes, revoked or not."""
    for c in db.session.scalars(select(ApiClient).order_by(ApiClient.id)):
        state = f"revoked {c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else "active"
        click.echo(f"{c.name}\t{c.key_prefix}…\t{c.scopes}\t{state}")


@cli.command("revoke")
@click.argument("name")
def revoke_command(name: str):
    """Revoke the key of NAME for good."""
    client = db.session.scalar(select(ApiClient).where(ApiClient.name == name))
    if client is None:
        raise click.ClickException(f"no API key named {name!r}")
    try:
        revoke_client(client, None)
        db.session.commit()
    except Conflict as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {name}")
