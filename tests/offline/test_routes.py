"""The installable web app over HTTP: the manifest, the service worker served at the root, and
the cadre's register for offline lookup (login required, the cadre's own villages only)."""

import json
from pathlib import Path

from sqlalchemy import select

from tests.cases import factories as f
from tests.conftest import DEMO_PASSWORD
from webapp.accounts.passwords import hash_password
from webapp.accounts.roles import Role
from webapp.core.extensions import db
from webapp.core.security import CSP
from webapp.org.models import Unit, UnitKind
from webapp.visits.intake_routes import active_categories, covered_villages

STATIC = Path(__file__).resolve().parents[2] / "static"


def test_manifest_is_served_and_names_the_app(client):
    resp = client.get("/static/manifest.webmanifest")
    assert resp.status_code == 200
    assert resp.mimetype == "application/manifest+json"
    manifest = json.loads(resp.get_data(as_text=True))
    assert manifest["short_name"] == "回音"
    assert manifest["display"] == "standalone"
    # Relative to the manifest's own URL (/static/…): the whole app, wherever it is mounted.
    assert manifest["start_url"] == "../" and manifest["scope"] == "../"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert (STATIC / icon["src"]).is_file(), icon["src"]
        assert client.get(f"/static/{icon['src']}").status_code == 200


def test_every_page_links_the_manifest_and_the_offline_script(web):
    html = web.get("/login").get_data(as_text=True)
    assert 'rel="manifest" href="/static/manifest.webmanifest"' in html
    assert 'src="/static/js/offline.js"' in html
    assert 'data-offline-sw="/sw.js"' in html
    assert 'data-offline-user=""' in html  # nobody logged in: the script clears what a phone kept


def test_service_worker_is_served_at_the_root_for_every_page(client):
    resp = client.get("/sw.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    assert resp.headers["Service-Worker-Allowed"] == "/"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.get_data() == (STATIC / "sw.js").read_bytes()
    # Same origin, within the policy every page has: scripts and workers from 'self' only.
    assert "script-src 'self'" in CSP and "worker-src" not in CSP
    assert "http" not in resp.get_data(as_text=True).replace("http-equiv", "")


def test_the_assets_the_worker_keeps_exist():
    sw = (STATIC / "sw.js").read_text()
    listed = [line.strip().strip('",') for line in sw.splitlines() if line.strip().startswith('"static/')]
    assert "static/js/offline.js" in listed and "static/css/app.css" in listed
    for path in listed:
        assert (STATIC.parent / path).is_file(), path


def test_register_needs_a_login(client):
    resp = client.get("/offline/register.json")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_register_is_the_cadres_own(app, login_as):
    cadre = login_as("cadre")
    resp = cadre.get("/offline/register.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["Cache-Control"] == "no-store"
    data = resp.get_json()
    me = f.user("cadre")
    assert data["user"] == me.id
    assert data["pages"] == ["/cases/visits/new"]
    assert data["csrf_token"]
    with app.test_request_context():
        expected = [v.id for v in covered_villages(me)]
        categories = [c.id for c in active_categories()]
    assert expected, "the demo cadre's group covers villages"
    assert [v["id"] for v in data["villages"]] == expected  # exactly what the intake form offers
    assert [c["id"] for c in data["categories"]] == categories
    names = {v["name"] for v in data["villages"]}
    assert "权台村" in names
    # No village of a territory the group does not cover.
    covered = {u.id for u in me.unit.covered_units}
    outside = [v.id for v in db.session.scalars(select(Unit).where(Unit.kind == UnitKind.village))
               if v.parent_id not in covered]
    assert outside and not set(outside) & {v["id"] for v in data["villages"]}


def cadre_of(username: str, unit_name: str) -> str:
    """Another cadre, able to log in with the demo password."""
    u = f.make_user(username, unit_name, Role.cadre)
    u.password_hash = hash_password(DEMO_PASSWORD)
    u.must_change_password = False
    db.session.commit()
    return username


def test_another_groups_cadre_gets_their_own_villages(app, login_as):
    me = f.user("cadre")
    other_group = next(g for g in db.session.scalars(
        select(Unit).where(Unit.kind == UnitKind.work_group, Unit.id != me.unit_id))
        if g.covered_units)
    data = login_as(cadre_of("cadre-offline", other_group.name)).get("/offline/register.json").get_json()
    mine = {v["id"] for v in login_as("cadre").get("/offline/register.json").get_json()["villages"]}
    theirs = {v["id"] for v in data["villages"]}
    assert theirs and not theirs & mine
    assert data["user"] == f.user("cadre-offline").id


def test_a_group_without_territories_gets_no_villages(login_as):
    group = next(g for g in db.session.scalars(select(Unit).where(Unit.kind == UnitKind.work_group))
                 if g.id != f.user("cadre").unit_id)
    group.covered_units = []
    db.session.commit()
    data = login_as(cadre_of("cadre-nowhere", group.name)).get("/offline/register.json").get_json()
    assert data["villages"] == []
    assert data["categories"]  # shared by all


def test_only_cadres_get_a_register_and_the_page_says_where_it_is(login_as):
    office = login_as("office")
    assert office.get("/offline/register.json").status_code == 403
    assert "data-offline-lookup" not in office.get("/").get_data(as_text=True)
    cadre_home = login_as("cadre").get("/").get_data(as_text=True)
    assert 'data-offline-lookup="/offline/register.json"' in cadre_home
    assert f'data-offline-user="{f.user("cadre").id}"' in cadre_home


def test_intake_form_is_marked_for_offline_recording(login_as):
    html = login_as("cadre").get("/cases/visits/new").get_data(as_text=True)
    assert 'data-offline-form="save visit_only"' in html


def test_the_phone_keeps_the_cadres_own_households(app, login_as):
    from tests.visits import factories as vf

    mine = vf.household("OFF-1", head="离线户主", address="三组12号")
    vf.household("OFF-2", head="同组他人户主", cadre=cadre_of("cadre-same", f.user("cadre").unit.name))
    db.session.commit()
    data = login_as("cadre").get("/offline/register.json").get_json()
    heads = {h["head"] for h in data["households"]}
    assert "离线户主" in heads and "同组他人户主" not in heads  # only those in the cadre's own charge
    (row,) = [h for h in data["households"] if h["id"] == mine.id]
    assert row["number"] == "OFF-1" and row["village"] == "权台村" and row["address"] == "三组12号"
    assert "phone" not in row
    # The intake page the phone keeps offers the same households as the cadre types a name.
    page = login_as("cadre").get("/cases/visits/new").get_data(as_text=True)
    assert 'list="my-households"' in page and 'value="离线户主"' in page and "同组他人户主" not in page
