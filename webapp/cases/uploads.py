"""Photos and documents kept with a problem: checked by content, stored outside ``static/``.

A file is accepted by its magic bytes (``filetype``), never by its name or the browser's
content type: JPEG, PNG or PDF, at most ``PHOTO_MAX_BYTES`` (default 10 MB) each. Photos are
decoded and re-encoded (Pillow): the camera's orientation applied, and every piece of metadata —
the EXIF GPS position of a resident's home above all — dropped; a small JPEG thumbnail is kept
beside each. A PDF with scripts, automatic actions or embedded files is refused. Files live
in the configured store (:mod:`webapp.core.storage`: ``UPLOAD_DIR``, readable by the app's user
only — 0600, folders 0700 — or an S3-compatible bucket) with random names (two-level fan-out),
and their SHA-256 is recorded. The caller writes files only after every check passed and removes them again when the
transaction fails (:func:`remove`), so that no file outlives a rolled-back row.
"""

import hashlib
import io
import os
import re
import secrets
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import filetype
from flask import abort, current_app, send_file
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import DictionaryObject, IndirectObject
from werkzeug.datastructures import FileStorage

from ..core import storage
from ..core.storage import LocalStorage

# What may be uploaded: the detected kind → (MIME type served back, stored extension).
ALLOWED = {
    "jpg": ("image/jpeg", "jpg"),
    "png": ("image/png", "png"),
    "pdf": ("application/pdf", "pdf"),
}
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_FILES_PER_PROBLEM = 9
_HEAD = 261  # bytes filetype needs to recognise every kind it knows
MAX_PIXELS = 50_000_000  # a 50-megapixel photo is already more than any phone takes
THUMB_SIZE = (320, 320)
# PDF names that run something or carry another file: scripts, actions on opening or on a page
# event, launching programs, embedded files, rich media and XFA forms.
ACTIVE_PDF_NAMES = frozenset({"/JavaScript", "/JS", "/OpenAction", "/AA", "/Launch", "/EmbeddedFile",
                              "/EmbeddedFiles", "/RichMedia", "/XFA", "/SubmitForm", "/ImportData"})
_ACTIVE_PDF_RE = re.compile(rb"/(JavaScript|JS|OpenAction|Launch|EmbeddedFiles?|RichMedia|XFA)(?![A-Za-z0-9])")
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def max_bytes() -> int:
    return int(current_app.config.get("PHOTO_MAX_BYTES") or DEFAULT_MAX_BYTES)


def upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


class UploadRefused(ValueError):
    """The file is not acceptable (message in Chinese)."""


@dataclass
class Checked:
    """A file that passed the checks, still in the request's stream."""

    storage: FileStorage
    filename: str
    mime: str
    extension: str
    size: int
    data: bytes | None = None  # what is stored instead of the upload (a re-encoded photo)


@dataclass
class Stored:
    stored_name: str
    sha256: str
    size: int


def _size(storage: FileStorage) -> int:
    stream = storage.stream
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def check(storage: FileStorage) -> Checked:
    """Accept a JPEG/PNG/PDF within the size cap, judged by its content; else ``UploadRefused``."""
    name = os.path.basename((storage.filename or "").replace("\\", "/")) or "file"
    size = _size(storage)
    if size == 0:
        raise UploadRefused(_l("文件“%(name)s”是空的。", name=name))
    limit = max_bytes()
    if size > limit:
        raise UploadRefused(_l("文件“%(name)s”超过 %(mb)s MB，请压缩后再上传。",
                               name=name, mb=f"{limit / 1024 / 1024:g}"))
    head = storage.stream.read(_HEAD)
    storage.stream.seek(0)
    kind = filetype.guess(head)
    if kind is None or kind.extension not in ALLOWED:
        raise UploadRefused(_l("文件“%(name)s”不是 JPG、PNG 图片或 PDF 文件（按文件内容判断，与扩展名无关）。",
                               name=name))
    mime, ext = ALLOWED[kind.extension]
    if ext == "pdf":
        _check_pdf(storage, name)
        return Checked(storage=storage, filename=name, mime=mime, extension=ext, size=size)
    data = _clean_image(storage, ext, name)
    return Checked(storage=storage, filename=name, mime=mime, extension=ext, size=len(data), data=data)


def _open_image(stream, name: str) -> Image.Image:
    """Decode fully, refusing decompression bombs and damaged files."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(stream)
            if image.width * image.height > MAX_PIXELS:
                raise UploadRefused(_l("图片“%(name)s”像素过多，请缩小后再上传。", name=name))
            image.load()
        except UploadRefused:
            raise
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise UploadRefused(_l("图片“%(name)s”像素过多，请缩小后再上传。", name=name)) from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise UploadRefused(_l("图片“%(name)s”已损坏，无法读取。", name=name)) from exc
    return image


def _clean_image(storage: FileStorage, ext: str, name: str) -> bytes:
    """The photo re-encoded with its orientation applied and no metadata at all."""
    stream = storage.stream
    stream.seek(0)
    image = _open_image(stream, name)
    stream.seek(0)
    image = ImageOps.exif_transpose(image)
    if ext == "jpg":
        image = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    # Pixels only: a new image carries no EXIF, XMP, ICC, comments or text chunks.
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    if ext == "jpg":
        clean.save(out, format="JPEG", quality=88, optimize=True)
    else:
        clean.save(out, format="PNG")
    return out.getvalue()


def thumbnail_bytes(data: bytes) -> bytes:
    """A small JPEG of a (clean) photo, for lists and the problem page."""
    image = _open_image(io.BytesIO(data), "thumbnail")
    image.thumbnail(THUMB_SIZE)
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = background
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _check_pdf(storage: FileStorage, name: str) -> None:
    """Refuse a PDF that can run something or carries other files.

    Two looks: the raw bytes with every compressed stream inflated (what a forgiving viewer would
    reconstruct, even from a file without a valid cross-reference table), and, when pypdf can
    parse the file, every object it holds."""
    stream = storage.stream
    stream.seek(0)
    data = stream.read()
    stream.seek(0)
    refused = UploadRefused(_l("PDF 文件“%(name)s”含有脚本、自动动作或嵌入文件，出于安全原因不能上传。"
                               "请打印为普通 PDF 后再上传。", name=name))
    if any(_ACTIVE_PDF_RE.search(_PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), part))
           for part in _pdf_parts(data)):
        raise refused
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise UploadRefused(_l("PDF 文件“%(name)s”已加密，无法检查，请上传未加密的文件。", name=name))
            for idnum, generation in _pdf_object_ids(reader):
                obj = reader.get_object(IndirectObject(idnum, generation, reader))
                if isinstance(obj, DictionaryObject) and ACTIVE_PDF_NAMES.intersection(obj.keys()) | (
                        {obj.get("/S")} & ACTIVE_PDF_NAMES):
                    raise refused
    except UploadRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError):
        # Not parseable by pypdf: the inflated raw scan above is what stands.
        return


_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
_MAX_INFLATED = 20 * 1024 * 1024


def _pdf_parts(data: bytes):
    """The file, then each of its streams inflated (at most ``_MAX_INFLATED`` bytes in all)."""
    yield data
    budget = _MAX_INFLATED
    for match in _PDF_STREAM.finditer(data):
        if budget <= 0:
            return
        inflater = zlib.decompressobj()
        try:
            part = inflater.decompress(match.group(1), budget)
        except zlib.error:
            continue
        budget -= len(part)
        yield part


def _pdf_object_ids(reader: PdfReader):
    for generation, objects in reader.xref.items():
        for idnum in objects:
            yield idnum, generation
    for idnum in reader.xref_objStm:
        yield idnum, 0


def new_stored_name(extension: str) -> str:
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}.{extension}"


def path_of(stored_name: str) -> Path:
    """The file's path in a local upload folder; refuses names that would leave it.

    Only for the local backend (tests, tools): the app itself reads through :func:`read_bytes`."""
    return LocalStorage(upload_dir()).path(stored_name)


def thumbnail_name(stored_name: str) -> str:
    """Where a photo's thumbnail lives: beside it, same random name."""
    return f"{stored_name.rsplit('.', 1)[0]}.thumb.jpg"


def read_bytes(stored_name: str) -> bytes:
    """A stored file's bytes, from whichever store is configured (``FileNotFoundError`` when gone)."""
    return storage.current().get(stored_name)


def stored_thumbnail(stored_name: str) -> bytes | None:
    """A stored photo's thumbnail JPEG (made now for photos stored before thumbnails were kept);
    None when the file is gone or is not a readable picture."""
    try:
        return thumbnail_of(stored_name)
    except (ValueError, OSError, UploadRefused):
        return None


def write_thumbnail(stored_name: str, data: bytes) -> bytes:
    """Make (or remake) the thumbnail of a stored photo; returns its bytes."""
    thumb = thumbnail_bytes(data)
    storage.current().put(thumbnail_name(stored_name), thumb, overwrite=True, content_type="image/jpeg")
    return thumb


def thumbnail_of(stored_name: str) -> bytes:
    """A photo's thumbnail, made on first request for photos stored before thumbnails were kept."""
    try:
        return storage.current().get(thumbnail_name(stored_name))
    except FileNotFoundError:
        return write_thumbnail(stored_name, read_bytes(stored_name))


def store(checked: Checked) -> Stored:
    """Write the file under a new random name (never overwriting) and hash it on the way."""
    stored_name = new_stored_name(checked.extension)
    store_ = storage.current()
    if checked.data is not None:
        data = checked.data
    else:
        stream = checked.storage.stream
        stream.seek(0)
        data = stream.read()
    digest = hashlib.sha256(data).hexdigest()
    try:
        size = store_.put(stored_name, data, content_type=checked.mime)
        if checked.data is not None:
            write_thumbnail(stored_name, checked.data)
    except BaseException:
        _remove_one(stored_name)
        raise
    return Stored(stored_name=stored_name, sha256=digest, size=size)


def _remove_one(name: str) -> None:
    store_ = storage.current()
    store_.delete(name)
    store_.delete(thumbnail_name(name))


def remove(stored_names) -> None:
    """Delete files written for a transaction that did not commit."""
    for name in stored_names:
        try:
            _remove_one(name)
        except Exception:
            current_app.logger.exception("could not remove upload %s", name)


def private_file(data: bytes, *, mimetype: str, name: str, etag: str, download: bool = False):
    """A resident's file as a response: never kept by a cache, never sniffed into another type;
    ``download`` hands it over as an attachment rather than for the browser to open."""
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=download, download_name=name,
                         etag=etag, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def serve(item, *, what: str):
    """The stored file of ``item`` (a problem's attachment or a visit's photo: its ``stored_name``,
    ``filename``, ``mime`` and ``sha256``), read whole from whichever store holds it — no file
    handle outlives the request — with the stored SHA-256 as the ETag; 404 when it cannot be read.
    Only photos are shown in the page; a PDF (or anything else) is handed over as a download, never
    opened by the browser's viewer."""
    try:
        data = read_bytes(item.stored_name)
    except ValueError:
        abort(404)
    except FileNotFoundError:
        current_app.logger.error("%s %s: file %s is missing", what, item.id, item.stored_name)
        abort(404)
    ext = Path(item.stored_name).suffix
    name = item.filename if item.filename.lower().endswith(ext) else f"{Path(item.filename).stem}{ext}"
    return private_file(data, mimetype=item.mime, name=name, etag=item.sha256,
                        download=not item.mime.startswith("image/"))


def serve_thumbnail(item):
    """A photo's small JPEG (made from the photo when it is not kept yet); 404 for anything else."""
    if not item.mime.startswith("image/"):
        abort(404)
    try:
        data = thumbnail_of(item.stored_name)
    except (ValueError, OSError, UploadRefused):
        abort(404)
    return private_file(data, mimetype="image/jpeg", name=f"{Path(item.filename).stem}-缩略图.jpg",
                        etag=f"{item.sha256}-thumb")
