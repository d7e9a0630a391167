"""The migrations produce exactly the models' schema (on whichever database the suite runs)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from webapp.cases.search import include_name
from webapp.core.extensions import db


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        diff = compare_metadata(ctx, db.metadata)
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff}"


def test_migrations_are_linear(app):
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
    assert len(script.get_heads()) == 1
