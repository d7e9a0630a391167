"""The rate limit's two counters: database rows (default) and Redis (when configured)."""

from sqlalchemy import select

from tests.api.factories import get, make_key, mid_window
from webapp.api.models import RateWindow
from webapp.core.extensions import db


def test_the_database_keeps_one_row_per_key_and_window(app, client):
    made = make_key()
    with mid_window():
        for _ in range(3):
            assert get(client, "/services.json", made.key).status_code == 200
    db.session.commit()
    rows = db.session.scalars(select(RateWindow).where(RateWindow.subject == f"key:{made.client.id}")).all()
    assert len(rows) == 1 and rows[0].calls == 3


class FakeRedis:
    """INCR and EXPIRE, as far as the limiter uses them (no server in the tests)."""

    store: dict = {}
    expiries: dict = {}

    @classmethod
    def from_url(cls, url):
        assert url == "redis://cache:6379/1"
        return cls()

    def pipeline(self):
        ops = []

        class Pipe:
            def incr(self, key):
                ops.append(("incr", key))

            def expire(self, key, seconds):
                ops.append(("expire", key, seconds))

            def execute(self):
                out = []
                for op in ops:
                    if op[0] == "incr":
                        FakeRedis.store[op[1]] = FakeRedis.store.get(op[1], 0) + 1
                        out.append(FakeRedis.store[op[1]])
                    else:
                        FakeRedis.expiries[op[1]] = op[2]
                        out.append(True)
                return out

        return Pipe()


def test_with_redis_configured_the_calls_are_counted_there(app, client, monkeypatch):
    import redis

    monkeypatch.setattr(redis, "Redis", FakeRedis)
    app.config.update(API_RATE_LIMIT_REDIS_URL="redis://cache:6379/1", API_RATE_LIMIT=2)
    made = make_key()
    with mid_window():
        codes = [get(client, "/services.json", made.key).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    [key] = FakeRedis.store
    assert key.startswith(f"huiyin:api-rate:key:{made.client.id}:") and FakeRedis.store[key] == 3
    assert FakeRedis.expiries[key] == 120
    db.session.commit()
    assert db.session.scalar(select(db.func.count()).select_from(RateWindow)) == 0


def test_refused_calls_are_limited_per_address_and_stop_filling_the_audit_log(app, client):
    from webapp.core.audit import AuditEvent

    app.config["API_REFUSED_LIMIT"] = 2

    def calls():
        db.session.commit()
        return db.session.scalar(select(db.func.count()).select_from(AuditEvent).where(AuditEvent.event == "api.call"))

    with mid_window():
        codes = [get(client, "/services.json", "hy_guess").status_code for _ in range(4)]
    assert codes == [403, 403, 429, 429]
    assert calls() == 2
    # A caller with a valid key from the same address is not held back by them.
    assert get(client, "/services.json", make_key().key).status_code == 200
