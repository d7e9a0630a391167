"""Where uploaded files live: one interface, a local folder by default or an S3-compatible store.

Every file the app keeps for a problem or a visit (photos, their thumbnails, documents, the
meeting packets built in the background) is read and written through :func:`current`, so that
app hosts hold no state when ``STORAGE_BACKEND=s3``: any process on any host serves any file.

``local`` (default): files under ``UPLOAD_DIR``, 0600 in 0700 folders, written with ``O_EXCL`` and
fsynced. ``s3``: objects in ``S3_BUCKET`` (optionally under ``S3_PREFIX``) at ``S3_ENDPOINT_URL``
(MinIO, Ceph, a cloud store…) with ``S3_ACCESS_KEY_ID`` / ``S3_SECRET_ACCESS_KEY``; files are
never public — the app streams them after its role and ownership checks, and :meth:`url` is
only a short-lived signed address for tools that need one.

Names are relative, ``/``-separated (``ab/abcdef….jpg``); a name that would leave the store
(``..``, an absolute path) is refused with ``ValueError``.
"""

import io
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app

_CHUNK = 64 * 1024


class FileExists(FileExistsError):
    """A file of that name is already stored (names are never reused)."""


def check_name(name: str) -> str:
    """The name itself when it stays inside the store; else ``ValueError``."""
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        raise ValueError("stored name outside the store")
    norm = posixpath.normpath(name)
    if norm != name or norm.startswith("../") or norm == ".." or norm == ".":
        raise ValueError("stored name outside the store")
    return name


class Storage(Protocol):
    kind: str

    def put(self, name: str, data: bytes | BinaryIO, *, overwrite: bool = False,
            content_type: str | None = None) -> int: ...
    def get(self, name: str) -> bytes: ...
    def open(self, name: str) -> BinaryIO: ...
    def delete(self, name: str) -> None: ...
    def exists(self, name: str) -> bool: ...
    def names(self, prefix: str = "") -> Iterator[str]: ...
    def url(self, name: str, *, expires: int = 300) -> str | None: ...


def _as_stream(data: bytes | BinaryIO) -> BinaryIO:
    if isinstance(data, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(data))
    data.seek(0)
    return data


class LocalStorage:
    """A folder on this host (or a shared mount): 0600 files in 0700 folders."""

    kind = "local"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        check_name(name)
        base = self.root.resolve()
        path = (base / name).resolve()
        if base not in path.parents:
            raise ValueError("stored name outside the store")
        return path

    def put(self, name, data, *, overwrite=False, content_type=None) -> int:
        path = self.path(name)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if overwrite:
            path.unlink(missing_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise FileExists(name) from exc
        size = 0
        stream = _as_stream(data)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return size

    def get(self, name) -> bytes:
        return self.path(name).read_bytes()

    def open(self, name) -> BinaryIO:
        return open(self.path(name), "rb")  # the caller closes it

    def delete(self, name) -> None:
        self.path(name).unlink(missing_ok=True)

    def exists(self, name) -> bool:
        try:
            return self.path(name).is_file()
        except ValueError:
            return False

    def names(self, prefix="") -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            name = path.relative_to(self.root).as_posix()
            if name.startswith(prefix):
                yield name

    def url(self, name, *, expires=300) -> str | None:
        return None  # served by the app only


class S3Storage:
    """An S3-compatible bucket; objects private, read and written with the app's keys."""

    kind = "s3"

    def __init__(self, *, bucket: str, endpoint_url: str | None = None, access_key: str | None = None,
                 secret_key: str | None = None, region: str | None = None, prefix: str = ""):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url or None, aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None, region_name=region or "us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 3, "mode": "standard"}))
        from botocore.exceptions import ClientError

        self._client_error = ClientError

    def _key(self, name: str) -> str:
        return self.prefix + check_name(name)

    def _missing(self, exc) -> bool:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return code in {"404", "NoSuchKey", "NotFound"}

    def put(self, name, data, *, overwrite=False, content_type=None) -> int:
        key = self._key(name)
        body = _as_stream(data).read()
        extra = {"ContentType": content_type} if content_type else {}
        if not overwrite:
            extra["IfNoneMatch"] = "*"  # never replace a stored file (names are random)
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
        except self._client_error as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"PreconditionFailed", "412"}:
                raise FileExists(name) from exc
            if code not in {"NotImplemented", "501"} or overwrite:
                raise
            # A store without conditional writes: look first (names are random, so a race
            # between two writers of one name does not happen in practice).
            if self.exists(name):
                raise FileExists(name) from exc
            extra.pop("IfNoneMatch")
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
        return len(body)

    def get(self, name) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()
        except self._client_error as exc:
            if self._missing(exc):
                raise FileNotFoundError(name) from exc
            raise

    def open(self, name) -> BinaryIO:
        return io.BytesIO(self.get(name))

    def delete(self, name) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))

    def exists(self, name) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(name))
        except ValueError:
            return False
        except self._client_error as exc:
            if self._missing(exc):
                return False
            raise
        return True

    def names(self, prefix="") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"][len(self.prefix):]

    def url(self, name, *, expires=300) -> str | None:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(name)}, ExpiresIn=expires)


def from_config(config) -> Storage:
    backend = (config.get("STORAGE_BACKEND") or "local").lower()
    if backend == "local":
        return LocalStorage(config["UPLOAD_DIR"])
    if backend == "s3":
        if not config.get("S3_BUCKET"):
            raise RuntimeError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return S3Storage(bucket=config["S3_BUCKET"], endpoint_url=config.get("S3_ENDPOINT_URL"),
                         access_key=config.get("S3_ACCESS_KEY_ID"),
                         secret_key=config.get("S3_SECRET_ACCESS_KEY"),
                         region=config.get("S3_REGION"), prefix=config.get("S3_PREFIX") or "")
    raise RuntimeError(f"unknown STORAGE_BACKEND {backend!r} (local or s3)")


def current() -> Storage:
    """The app's store (made once per app)."""
    ext = current_app.extensions
    store = ext.get("huiyin_storage")
    if store is None:
        store = ext["huiyin_storage"] = from_config(current_app.config)
    return store


def read_bytes(name: str) -> bytes:
    """A stored file's bytes (``FileNotFoundError`` when missing, ``ValueError`` for a bad name)."""
    return current().get(name)
