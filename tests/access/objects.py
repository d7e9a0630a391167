"""Objects the access rules point at. Areas add what their object routes need."""

from types import SimpleNamespace

from sqlalchemy import select

from webapp.core.extensions import db
from webapp.org.models import Unit


def unit(name: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.name == name))


def build() -> SimpleNamespace:
    ns = SimpleNamespace()
    ns.own_town = unit("潘安湖街道")
    ns.other_town = unit("青山泉镇")
    return ns
