"""Personal data encrypted at rest: residents' phone and ID numbers, household heads' and
enterprise contacts' phones, TOTP secrets.

Each value is sealed with AES-256-GCM under a key that is never in the database (``PII_KEYS``:
the instance file ``pii_keys``, 0600, or the environment). A stored value reads
``<key id>$<base64(nonce ‖ ciphertext ‖ tag)>``; the column's purpose is the associated data, so
a value copied into another column does not open. Several keys coexist during a rotation: the
last one listed seals, every listed one opens (``flask pii rotate-key``, ``flask pii status``).
A missing key or a value that does not open is a :class:`PIIKeyError`, never garbage.

Exact search goes through a keyed blind index: HMAC-SHA256 of the normalised value under
``PII_INDEX_KEY``, a separate secret beside the data keys (a rotation of the data keys leaves
the index as it is). The index reveals which rows share a number, nothing of the number itself;
an empty value has no index (NULL).

Models declare a column as ``EncryptedString("phone", index="phone_index")`` with the index
column beside it; ORM writes fill the index (a mapper hook below), bulk inserts call
:func:`with_blind_indexes` on their rows.
"""

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from sqlalchemy import Integer, String, bindparam, case, event, func, inspect, select, table, update
from sqlalchemy.orm import Mapper
from sqlalchemy.sql import column as sql_column
from sqlalchemy.types import TypeDecorator

from .extensions import db

SEP = "$"
KID_RE = re.compile(r"^[a-z0-9]{1,16}$")
NONCE_BYTES = 12
INDEX_HEX = 32  # 128 bits of the HMAC: far beyond any collision among a city's numbers


class PIIKeyError(RuntimeError):
    """A value cannot be sealed or opened with the configured keys."""


def parse_keys(text: str) -> list[tuple[str, bytes]]:
    """``kid:hex`` entries, one a line or comma-separated; the last one seals."""
    keys = []
    for entry in re.split(r"[,\n]", text or ""):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        kid, _, hexkey = entry.partition(":")
        kid = kid.strip()
        try:
            raw = bytes.fromhex(hexkey.strip())
        except ValueError:
            raw = b""
        if not KID_RE.match(kid) or len(raw) != 32:
            raise PIIKeyError(f"PII_KEYS: entry {kid!r} is not 'id:64 hex digits' (id of a-z, 0-9)")
        keys.append((kid, raw))
    if not keys:
        raise PIIKeyError("PII_KEYS is empty: personal data cannot be encrypted or read")
    if len({k for k, _ in keys}) != len(keys):
        raise PIIKeyError("PII_KEYS: a key id is listed twice")
    return keys


def new_key_line(existing: list[str]) -> str:
    """A fresh ``kid:hex`` entry whose id follows the existing ``k<n>`` ids."""
    n = max([int(k[1:]) for k in existing if re.fullmatch(r"k\d+", k)] or [0]) + 1
    return f"k{n}:{secrets.token_hex(32)}"


def instance_key_file(path: str | Path) -> str:
    """The key file's text, creating it (0600, one key) on first use, as the audit key is."""
    path = Path(path)
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text()
    text = new_key_line([]) + "\n"
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return text


def normalise(value: str, kind: str) -> str:
    """What the blind index is taken of: a phone's digits; an ID number upper-cased, no spaces."""
    if kind == "phone":
        return "".join(ch for ch in value if ch.isdigit())
    return "".join(value.split()).upper()


class Keyring:
    def __init__(self, keys: list[tuple[str, bytes]], index_key: str):
        if not index_key:
            raise PIIKeyError("PII_INDEX_KEY is not set: exact search by phone or ID number is impossible")
        self.current = keys[-1][0]
        self.kids = [k for k, _ in keys]
        self._aead = {kid: AESGCM(raw) for kid, raw in keys}
        self._index_key = hashlib.sha256(b"huiyin-pii-index:" + index_key.encode()).digest()

    def encrypt(self, value: str, purpose: str, kid: str | None = None) -> str:
        kid = kid or self.current
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[kid].encrypt(nonce, value.encode(), purpose.encode())
        return kid + SEP + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, purpose: str) -> str:
        kid, sep, body = token.partition(SEP)
        if not sep:
            raise PIIKeyError(f"a {purpose} value is stored unencrypted (run the migrations / flask pii status)")
        aead = self._aead.get(kid)
        if aead is None:
            raise PIIKeyError(f"a {purpose} value is sealed under key {kid!r}, which is not in PII_KEYS")
        try:
            raw = base64.b64decode(body, validate=True)
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise PIIKeyError(f"a {purpose} value does not open with key {kid!r}: wrong key or altered value") from exc

    def index(self, value: str | None, kind: str) -> str | None:
        norm = normalise(value or "", kind)
        if not norm:
            return None
        return hmac.new(self._index_key, f"{kind}:{norm}".encode(), hashlib.sha256).hexdigest()[:INDEX_HEX]


_rings: dict[tuple, Keyring] = {}


def keyring() -> Keyring:
    """The app's keyring (built once per configuration)."""
    cfg = current_app.config
    sig = (cfg.get("PII_KEYS") or "", cfg.get("PII_INDEX_KEY") or "")
    ring = _rings.get(sig)
    if ring is None:
        ring = _rings[sig] = Keyring(parse_keys(sig[0]), sig[1])
    return ring


def key_id(token: str | None) -> str | None:
    """The key a stored value is sealed under (None: empty or not sealed)."""
    if not token:
        return None
    kid, sep, _ = token.partition(SEP)
    return kid if sep else None


def looks_like_phone(q: str) -> bool:
    """A whole phone number as typed (mobile or landline, with or without separators)."""
    digits = normalise(q, "phone")
    return 7 <= len(digits) <= 20 and all(ch.isdigit() or ch in " -+()" for ch in q.strip())


def looks_like_id_number(q: str) -> bool:
    return re.fullmatch(r"\d{17}[\dXx]|\d{15}", "".join(q.split())) is not None


def blind_index(value: str | None, kind: str) -> str | None:
    """The index an exact search compares with (None for an empty value)."""
    return keyring().index(value, kind)


class EncryptedString(TypeDecorator):
    """A text column stored sealed (see the module). ``""`` stays ``""`` (no number given).

    Only exact search through the blind index works: comparing the column itself with a value
    never matches (each sealing has its own nonce)."""

    impl = String(255)
    cache_ok = True

    def __init__(self, purpose: str, index: str | None = None):
        super().__init__(255)
        self.purpose = purpose
        self.index = index

    def process_bind_param(self, value, dialect):
        if value is None or value == "":
            return value
        return keyring().encrypt(str(value), self.purpose)

    def process_result_value(self, value, dialect):
        if value is None or value == "":
            return value
        return keyring().decrypt(value, self.purpose)


def index_kind(purpose: str) -> str:
    return "phone" if purpose.endswith("phone") else "id"


def _indexed_columns(table) -> list[tuple[str, str, str]]:
    """(value column, index column, kind) of a table's encrypted columns that have an index."""
    return [(c.key, c.type.index, index_kind(c.type.purpose)) for c in table.columns
            if isinstance(c.type, EncryptedString) and c.type.index]


def encrypted_columns(metadata) -> list[tuple[str, str, str]]:
    """(table, column, purpose) of every encrypted column."""
    return [(t.name, c.name, c.type.purpose) for t in metadata.sorted_tables for c in t.columns
            if isinstance(c.type, EncryptedString)]


def with_blind_indexes(table, rows: list[dict]) -> list[dict]:
    """Fill the blind-index keys of rows for a bulk insert into ``table`` (in place; returned)."""
    pairs = _indexed_columns(table)
    if pairs:
        ring = keyring()
        for row in rows:
            for col, idx, kind in pairs:
                if col in row:
                    row[idx] = ring.index(row[col], kind)
    return rows


_mapper_pairs: dict = {}


def _index_pairs(mapper) -> list[tuple[str, str, str]]:
    pairs = _mapper_pairs.get(mapper)
    if pairs is None:
        pairs = _mapper_pairs[mapper] = [
            (mapper.get_property_by_column(c).key, mapper.get_property_by_column(mapper.local_table.c[c.type.index]).key,
             index_kind(c.type.purpose))
            for c in mapper.local_table.columns if isinstance(c.type, EncryptedString) and c.type.index]
    return pairs


@event.listens_for(Mapper, "before_insert")
def _index_new_row(mapper, _connection, target) -> None:
    for attr, idx, kind in _index_pairs(mapper):
        setattr(target, idx, blind_index(getattr(target, attr), kind))


@event.listens_for(Mapper, "before_update")
def _index_changed_value(mapper, _connection, target) -> None:
    state = inspect(target)
    for attr, idx, kind in _index_pairs(mapper):
        if state.attrs[attr].history.has_changes():  # an unchanged value is neither loaded nor re-indexed
            setattr(target, idx, blind_index(getattr(target, attr), kind))


# ---------------------------------------------------------------- status and key rotation

def _lean_table(name: str, value: str):
    """The table with the value column as plain text: the stored, sealed value itself."""
    return table(name, sql_column("id", Integer), sql_column(value, String))


def status(metadata) -> dict[str, dict[str, int]]:
    """``{"table.column": {key id: count}}`` of the stored values; ``"(other)"``: sealed under a
    key that is not configured, or not sealed at all."""
    ring = keyring()
    out = {}
    for name, column, _purpose in encrypted_columns(metadata):
        t = _lean_table(name, column)
        c = t.c[column]
        # One pass per table: a conditional count per configured key, the rest apart.
        per_key = [func.count(case((c.startswith(kid + SEP, autoescape=True), 1))) for kid in ring.kids]
        total, *counts = db.session.execute(select(func.count(), *per_key).where(c.is_not(None), c != "")).one()
        row = dict(zip(ring.kids, counts, strict=True))
        if total - sum(counts):
            row["(other)"] = total - sum(counts)
        out[f"{name}.{column}"] = row
    return out


def rotate(metadata, batch: int = 1000, progress=None) -> dict[str, int]:
    """Re-seal every value not yet under the current key, ``batch`` rows a transaction.

    Resumable: an interrupted run leaves each value sealed under the old or the new key (both
    open), and the next run carries on with what is left. Returns the count per column."""
    ring = keyring()
    done: dict[str, int] = {}
    for name, column, purpose in encrypted_columns(metadata):
        t = _lean_table(name, column)
        c = t.c[column]
        stmt = update(t).where(t.c.id == bindparam("b_id")).values({column: bindparam("v")})
        last, n = 0, 0
        while True:
            rows = db.session.execute(
                select(t.c.id, c).where(t.c.id > last, c.is_not(None), c != "",
                                        ~c.startswith(ring.current + SEP, autoescape=True))
                .order_by(t.c.id).limit(batch)).all()
            if not rows:
                break
            db.session.execute(stmt, [{"b_id": i, "v": ring.encrypt(ring.decrypt(v, purpose), purpose)}
                                      if key_id(v) else {"b_id": i, "v": ring.encrypt(v, purpose)}
                                      for i, v in rows])
            db.session.commit()
            last, n = rows[-1][0], n + len(rows)
            if progress:
                progress(f"{name}.{column}", n)
        done[f"{name}.{column}"] = n
    return done


def add_key_to_file(path: str) -> str:
    """Append a new key to the key file (it seals from now on); returns its id."""
    text = Path(path).read_text()
    line = new_key_line([k for k, _ in parse_keys(text)])
    with open(path, "a") as fh:
        fh.write(("" if text.endswith("\n") or not text else "\n") + line + "\n")
    return line.split(":", 1)[0]


def drop_key_from_file(path: str, kid: str) -> None:
    """Remove key ``kid`` from the key file (the caller has checked nothing is sealed under it)."""
    lines = Path(path).read_text().splitlines()
    kept = [ln for ln in lines if ln.split(":", 1)[0].strip() != kid]
    parse_keys("\n".join(kept))  # never leave the file without a key
    Path(path).write_text("\n".join(kept) + "\n")
