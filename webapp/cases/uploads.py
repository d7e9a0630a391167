"""Photos and documents kept with a problem: checked by content, stored outside ``static/``.

A file is accepted by its magic bytes (``filetype``), never by its name or the browser's
content type: JPEG, PNG or PDF, at most ``PHOTO_MAX_BYTES`` (default 10 MB) each. Files live
under ``app.config["UPLOAD_DIR"]`` with random names (two-level fan-out), and their SHA-256 is
recorded. The caller writes files only after every check passed and removes them again when the
transaction fails (:func:`remove`), so that no file outlives a rolled-back row.
"""

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import filetype
from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

# What may be uploaded: the detected kind → (MIME type served back, stored extension).
ALLOWED = {
    "jpg": ("image/jpeg", "jpg"),
    "png": ("image/png", "png"),
    "pdf": ("application/pdf", "pdf"),
}
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_FILES_PER_PROBLEM = 9
_HEAD = 261  # bytes filetype needs to recognise every kind it knows
_CHUNK = 64 * 1024


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
    return Checked(storage=storage, filename=name, mime=mime, extension=ext, size=size)


def new_stored_name(extension: str) -> str:
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}.{extension}"


def path_of(stored_name: str) -> Path:
    """The file's path; refuses names that would leave the upload folder."""
    base = upload_dir().resolve()
    path = (base / stored_name).resolve()
    if base not in path.parents:
        raise ValueError("stored name outside the upload folder")
    return path


def store(checked: Checked) -> Stored:
    """Write the file under a new random name (never overwriting) and hash it on the way."""
    stored_name = new_stored_name(checked.extension)
    path = path_of(stored_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    stream = checked.storage.stream
    stream.seek(0)
    try:
        with open(path, "xb") as out:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Stored(stored_name=stored_name, sha256=digest.hexdigest(), size=size)


def remove(stored_names) -> None:
    """Delete files written for a transaction that did not commit."""
    for name in stored_names:
        try:
            path_of(name).unlink(missing_ok=True)
        except (OSError, ValueError):
            current_app.logger.exception("could not remove upload %s", name)
