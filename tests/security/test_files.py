"""Files: photos lose their metadata (GPS above all), PDFs cannot run anything, attachments are
never cached or sniffed, and what the app writes is readable by its own user only."""

import io
import os
import stat

import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject
from sqlalchemy.engine import make_url
from werkzeug.datastructures import FileStorage

from tests.cases import factories as f
from webapp import create_app
from webapp.cases import operations as ops
from webapp.cases import uploads
from webapp.cases.models import AttachmentKind
from webapp.core.extensions import db

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(size=(40, 20)) -> bytes:
    """A phone photo: landscape pixels, "rotate 90°" in EXIF, and a GPS position."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (34.0, 25.0, 12.0), 3: "E", 4: (117.0, 27.0, 30.0)})
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif, comment=b"home of resident")
    return buf.getvalue()


def storage(data: bytes, name: str) -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name)


def test_photo_is_reencoded_without_metadata_and_upright(app, store_backend):
    original = Image.open(io.BytesIO(jpeg_with_gps()))
    assert original.getexif().get_ifd(GPS_IFD)  # the test photo does carry a position

    checked = uploads.check(storage(jpeg_with_gps(), "现场.jpg"))
    stored = uploads.store(checked)
    clean = Image.open(io.BytesIO(uploads.read_bytes(stored.stored_name)))
    assert clean.format == "JPEG"
    assert clean.size == (20, 40)  # the orientation was applied to the pixels
    assert not clean.getexif()  # no EXIF at all: no GPS, no maker, no orientation left to apply twice
    assert "exif" not in clean.info and "comment" not in clean.info and "icc_profile" not in clean.info
    assert b"PhoneMaker" not in uploads.read_bytes(stored.stored_name)


def test_png_text_chunks_are_dropped(app, store_backend):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Location", "34.42N 117.45E")
    buf = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 128)).save(buf, format="PNG", pnginfo=info)
    stored = uploads.store(uploads.check(storage(buf.getvalue(), "a.png")))
    assert b"34.42N" not in uploads.read_bytes(stored.stored_name)


def test_a_damaged_photo_is_refused(app):
    data = jpeg_with_gps()[:300]
    with pytest.raises(uploads.UploadRefused, match="已损坏"):
        uploads.check(storage(data, "坏.jpg"))


def _pdf(mutate=None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if mutate:
        mutate(writer)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _open_action(writer):
    action = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                               NameObject("/JS"): TextStringObject("app.alert(1)")})
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)


def _document_javascript(writer):
    action = writer._add_object(DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                                  NameObject("/JS"): TextStringObject("app.alert(1)")}))
    tree = DictionaryObject({NameObject("/Names"): ArrayObject([TextStringObject("x"), action])})
    writer._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): tree})


def _hex_escaped(writer):
    writer._root_object[NameObject("/Extra")] = writer._add_object(DictionaryObject())


@pytest.mark.parametrize("mutate", [
    _document_javascript,
    lambda w: w.add_attachment("payload.exe", b"MZ..."),
    _open_action,
], ids=["javascript", "embedded-file", "open-action"])
def test_active_pdfs_are_refused(app, mutate):
    with pytest.raises(uploads.UploadRefused, match="含有脚本、自动动作或嵌入文件"):
        uploads.check(storage(_pdf(mutate), "材料.pdf"))


def test_a_hex_escaped_javascript_name_is_refused(app):
    data = _pdf(_hex_escaped).replace(b"/Extra", b"/J#53  ")  # "/J#53" is the name /JS
    with pytest.raises(uploads.UploadRefused):
        uploads.check(storage(data, "材料.pdf"))


def test_a_plain_pdf_is_kept_as_it_is(app, store_backend):
    data = _pdf()
    checked = uploads.check(storage(data, "材料.pdf"))
    stored = uploads.store(checked)
    assert uploads.read_bytes(stored.stored_name) == data


def _attach(problem, data, name):
    checked = uploads.check(storage(data, name))
    stored = uploads.store(checked)
    att = ops.add_attachment(problem, f.user("cadre"), kind=AttachmentKind.photo, filename=checked.filename,
                             stored_name=stored.stored_name, mime=checked.mime, size=stored.size,
                             sha256=stored.sha256)
    db.session.commit()
    return att


def test_attachments_and_thumbnails_are_private_no_store_nosniff(app, login_as, store_backend):
    problem = f.register()
    att = _attach(problem, jpeg_with_gps((1200, 800)), "现场.jpg")
    cadre = login_as("cadre")
    for path in (f"/attachments/{att.id}", f"/attachments/{att.id}/thumb"):
        resp = cadre.client.get(path)
        assert resp.status_code == 200
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    thumb = Image.open(io.BytesIO(cadre.client.get(f"/attachments/{att.id}/thumb").data))
    assert thumb.format == "JPEG" and max(thumb.size) <= 320 and thumb.size[1] > thumb.size[0]
    page = cadre.get(f"/cases/{problem.id}").get_data(as_text=True)
    assert f"/attachments/{att.id}/thumb" in page
    # Another unit's user does not learn the photo exists.
    assert login_as("dept").client.get(f"/attachments/{att.id}/thumb").status_code == 404


def test_files_the_app_writes_are_0600_in_0700_folders(app):
    stored = uploads.store(uploads.check(storage(jpeg_with_gps(), "a.jpg")))
    path = uploads.path_of(stored.stored_name)
    for file in (path, uploads.path_of(uploads.thumbnail_name(stored.stored_name))):
        assert stat.S_IMODE(os.stat(file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(uploads.upload_dir()).st_mode) == 0o700


def test_the_sqlite_database_is_closed_up_at_start(app, tmp_path):
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        pytest.skip("the database file is PostgreSQL's own")
    os.chmod(url.database, 0o644)
    os.umask(0o022)
    create_app({**app.config, "UPLOAD_DIR": str(tmp_path / "u2")})
    assert stat.S_IMODE(os.stat(url.database).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "u2").st_mode) == 0o700
    assert os.umask(0o077) == 0o077  # the app set the umask for every file it creates later


def test_javascript_inside_a_compressed_stream_is_found(app):
    import zlib

    hidden = zlib.compress(b"<</S/JavaScript/JS(app.alert(1))>>")
    data = (b"%PDF-1.5\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"3 0 obj<</Type/ObjStm/Filter/FlateDecode/Length " + str(len(hidden)).encode() + b">>stream\n"
            + hidden + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    with pytest.raises(uploads.UploadRefused, match="含有脚本"):
        uploads.check(storage(data, "材料.pdf"))


def test_a_pdf_that_passed_the_scan_is_only_a_download_photos_stay_inline(app, login_as):
    problem = f.register()
    pdf = _attach(problem, _pdf(), "材料.pdf")
    photo = _attach(problem, jpeg_with_gps(), "现场.jpg")
    cadre = login_as("cadre")
    resp = cadre.client.get(f"/attachments/{pdf.id}")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Cache-Control"] == "no-store"
    resp = cadre.client.get(f"/attachments/{photo.id}")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("inline;")
