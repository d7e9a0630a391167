"""The upload store: the same interface over a local folder and a real S3-compatible server
(moto's server mode on 127.0.0.1); with S3 the app host keeps no upload on its own disk."""

import io
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from tests.cases import factories as f
from tests.conftest import use_s3
from webapp.cases import operations as ops
from webapp.cases import uploads
from webapp.cases.models import AttachmentKind
from webapp.core import storage
from webapp.core.extensions import db


def png(size=(900, 600)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


def local_files(app) -> list:
    root = Path(app.config["UPLOAD_DIR"])
    return [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


def test_put_get_open_exists_delete_names(app, store_backend):
    store = storage.current()
    assert store.kind == store_backend
    assert store.put("ab/one.pdf", b"%PDF-1.4 one") == 12
    store.put("ab/two.jpg", io.BytesIO(b"\xff\xd8two"))
    store.put("packets/p.pdf", b"%PDF packet")
    assert store.get("ab/one.pdf") == b"%PDF-1.4 one"
    with store.open("ab/two.jpg") as fh:
        assert fh.read() == b"\xff\xd8two"
    assert storage.read_bytes("packets/p.pdf") == b"%PDF packet"
    assert store.exists("ab/one.pdf") and not store.exists("ab/none.pdf")
    assert sorted(store.names()) == ["ab/one.pdf", "ab/two.jpg", "packets/p.pdf"]
    assert list(store.names("packets/")) == ["packets/p.pdf"]
    # A stored name is never silently reused; replacing must be asked for.
    with pytest.raises(storage.FileExists):
        store.put("ab/one.pdf", b"other")
    assert store.get("ab/one.pdf") == b"%PDF-1.4 one"
    store.put("ab/one.pdf", b"other", overwrite=True)
    assert store.get("ab/one.pdf") == b"other"
    store.delete("ab/one.pdf")
    store.delete("ab/one.pdf")  # deleting what is gone is no error
    assert not store.exists("ab/one.pdf")
    with pytest.raises(FileNotFoundError):
        store.get("ab/one.pdf")


@pytest.mark.parametrize("name", ["../secret", "/etc/passwd", "ab/../../x", "a\\b", "", "ab//c"])
def test_names_leaving_the_store_are_refused(app, store_backend, name):
    with pytest.raises(ValueError):
        storage.current().get(name)
    with pytest.raises(ValueError):
        storage.current().put(name, b"x")


def test_s3_keeps_nothing_on_the_app_host(app, s3_endpoint):
    bucket_name = use_s3(app, s3_endpoint)
    bucket = storage.current()
    stored = uploads.store(uploads.check(FileStorage(io.BytesIO(png()), filename="现场.png")))
    assert bucket.exists(stored.stored_name) and bucket.exists(uploads.thumbnail_name(stored.stored_name))
    assert local_files(app) == []
    # The object is private: only a signed address reads it without the app's keys.
    anonymous = f"{s3_endpoint}/{bucket_name}/{stored.stored_name}"
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(anonymous, timeout=5)  # noqa: S310 — the local test server
    with urllib.request.urlopen(bucket.url(stored.stored_name), timeout=5) as resp:  # noqa: S310
        assert resp.read() == uploads.read_bytes(stored.stored_name)


def test_a_missing_thumbnail_is_made_on_first_request(app, login_as, store_backend):
    problem = f.register()
    checked = uploads.check(FileStorage(io.BytesIO(png()), filename="现场.png"))
    stored = uploads.store(checked)
    att = ops.add_attachment(problem, f.user("cadre"), kind=AttachmentKind.photo, filename=checked.filename,
                             stored_name=stored.stored_name, mime=checked.mime, size=stored.size,
                             sha256=stored.sha256)
    db.session.commit()
    storage.current().delete(uploads.thumbnail_name(stored.stored_name))
    cadre = login_as("cadre")
    resp = cadre.client.get(f"/attachments/{att.id}/thumb")
    assert resp.status_code == 200
    assert Image.open(io.BytesIO(resp.data)).size == (320, 213)
    assert storage.current().exists(uploads.thumbnail_name(stored.stored_name))
    assert cadre.client.get(f"/attachments/{att.id}").data == uploads.read_bytes(stored.stored_name)
    # The file gone from the store: a 404, never a 5xx.
    storage.current().delete(stored.stored_name)
    assert cadre.client.get(f"/attachments/{att.id}").status_code == 404


def test_files_of_a_failed_transaction_are_removed(app, store_backend):
    stored = uploads.store(uploads.check(FileStorage(io.BytesIO(png()), filename="a.png")))
    uploads.remove([stored.stored_name])
    assert list(storage.current().names()) == []
