"""Photos on the quick (one-screen) visit of 我的包户: checked and re-encoded like a problem's
photos (no GPS left), a thumbnail beside each, shown on the 走访记录表, served only to those who
may read the visit, kept once on a double submit, refused with the input kept when not a photo."""

import io
import os
from datetime import timedelta

from PIL import Image
from sqlalchemy import func, select

from tests.cases.test_concurrency import account
from tests.security.test_files import GPS_IFD, jpeg_with_gps
from tests.visits import factories as vf
from webapp.accounts.roles import Role
from webapp.cases import uploads
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.visits.models import Visit, VisitPhoto


def _token(page: str) -> str:
    return page.split('name="token" type="hidden" value="')[1].split('"')[0]


def _household(app):
    with app.app_context():
        vf.visit_round(starts_on=clock.today() - timedelta(days=3), ends_on=clock.today() + timedelta(days=3))
        h = vf.household("P-1", head="拍照户")
        db.session.commit()
        return h.id


def test_quick_visit_keeps_its_photos_reencoded_with_thumbnails(app, login_as):
    hid = _household(app)
    b = login_as("cadre")
    page = b.get(f"/visits/households/{hid}/visit").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'accept="image/*"' in page and "multiple" in page
    data = {"token": _token(page), "visited_on": clock.today().isoformat(), "mode": "home", "met": "户主",
            "situation": "家里整洁"}

    def send():
        return b.post(f"/visits/households/{hid}/visit", content_type="multipart/form-data", data={
            **data, "photos": [(io.BytesIO(jpeg_with_gps()), "门前.jpg"), (io.BytesIO(jpeg_with_gps()), "屋内.jpg")]})

    assert send().status_code == 302
    assert send().status_code == 302  # sent twice: one visit, its photos once
    with app.app_context():
        (v,) = db.session.scalars(select(Visit).where(Visit.household_id == hid)).all()
        photos = list(db.session.scalars(select(VisitPhoto).where(VisitPhoto.visit_id == v.id)))
        assert sorted(p.filename for p in photos) == ["屋内.jpg", "门前.jpg"]
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.event == "visit.photo")) == 2
        path = uploads.path_of(photos[0].stored_name)
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        with Image.open(path) as stored:
            assert not stored.getexif().get_ifd(GPS_IFD) and stored.size == (20, 40)  # upright, no position
        vid, pid = v.id, photos[0].id
    record = b.get(f"/cases/visits/{vid}").get_data(as_text=True)
    assert f"/cases/visits/photos/{pid}/thumb" in record and "走访照片" in record
    thumb = b.client.get(f"/cases/visits/photos/{pid}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg" and thumb.headers["Cache-Control"] == "no-store"
    assert Image.open(io.BytesIO(thumb.data)).format == "JPEG"
    full = b.client.get(f"/cases/visits/photos/{pid}")
    assert full.status_code == 200 and full.headers["X-Content-Type-Options"] == "nosniff"
    assert login_as("office").client.get(f"/cases/visits/photos/{pid}").status_code == 200
    # Another work group's cadre may not read the visit, nor its photos.
    with app.app_context():
        account("cadre-qsq9", "青山泉镇工作组", Role.cadre)
    other = login_as("cadre-qsq9")
    assert other.client.get(f"/cases/visits/photos/{pid}/thumb").status_code == 404
    assert other.client.get(f"/cases/visits/photos/{pid}").status_code == 404


def test_a_file_that_is_not_a_photo_is_refused_with_the_input_kept(app, login_as):
    hid = _household(app)
    b = login_as("cadre")
    page = b.get(f"/visits/households/{hid}/visit").get_data(as_text=True)
    data = {"token": _token(page), "visited_on": clock.today().isoformat(), "mode": "home", "met": "户主本人"}
    resp = b.post(f"/visits/households/{hid}/visit", content_type="multipart/form-data",
                  data={**data, "photos": [(io.BytesIO(b"%PDF-1.4 not a photo" + b"\0" * 300), "说明.jpg")]})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "户主本人" in text and "说明.jpg" in text
    assert "请重新选择" in text
    resp = b.post(f"/visits/households/{hid}/visit", content_type="multipart/form-data",
                  data={**data, "photos": [(io.BytesIO(b"just text"), "a.jpg")]})
    assert resp.status_code == 200 and "不是 JPG、PNG 图片或 PDF 文件" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Visit)) == 0
        assert db.session.scalar(select(func.count()).select_from(VisitPhoto)) == 0
