"""Bearer tokens issued once and stored only as a salted scrypt hash: the collector's agent enrollment tokens
(collect/tokens.py) and the API tokens of `mcpeeker serve` (serve/tokens.py) share this store.

A token reads `<prefix>_<id>_<secret>`: the public id finds the record, the secret is checked against
scrypt(secret, salt). The store is a JSON file (mode 0600) written atomically under an flock, so an admin's
issue/revoke and a running server share it safely; the server re-reads it when it changes, so a revocation takes
effect on the next request.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import os
import re
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Generic, TypeVar

import orjson

from .errors import MCPeekerError

# scrypt cost: about 30 ms and 16 MiB per check; a verified token is cached in memory (keyed by its SHA-256)
# until the store changes, so the cost is paid once per client, not per request.
SCRYPT = {"n": 1 << 14, "r": 8, "p": 1}

R = TypeVar("R")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _hash(secret: str, salt: bytes, params: dict[str, int]) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=params["n"], r=params["r"], p=params["p"], maxmem=64 << 20, dklen=32
    )


class HashedTokenStore(Generic[R]):
    """The file, the hashing and the verify cache; subclasses say what a record holds (`public`) and whether a
    stored record may still be used (`usable`, checked on every verify, cached or not)."""

    prefix = "tok"
    kind = "token"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._pattern = re.compile(rf"^{self.prefix}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")
        self._mutex = threading.Lock()
        self._hashing = threading.BoundedSemaphore(2)
        self._stamp: tuple[int, int, int] | None = None
        self._records: dict[str, dict[str, Any]] = {}
        self._verified: dict[bytes, tuple[dict[str, Any], R]] = {}

    # ------------------------------------------------------------------ what subclasses define

    def public(self, record: dict[str, Any]) -> R:
        raise NotImplementedError

    def usable(self, record: dict[str, Any]) -> bool:
        return record.get("revoked") is None

    # ------------------------------------------------------------------ file access

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            raise MCPeekerError(f"{self.path}: cannot read the {self.kind} store: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise MCPeekerError(f'{self.path}: not a {self.kind} store (expected {{"tokens": [...]}})')
        return {r["id"]: r for r in data["tokens"]}

    def _locked(self) -> IO[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path.with_name(self.path.name + ".lock"), "a")
        fcntl.flock(handle, fcntl.LOCK_EX)
        return handle

    def _write(self, records: dict[str, dict[str, Any]]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps({"version": 1, "tokens": list(records.values())}, option=orjson.OPT_INDENT_2))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    # ------------------------------------------------------------------ admin side

    def _issue(self, fields: dict[str, Any]) -> tuple[R, str]:
        """Store a new record with `fields`; the token text is returned once and never stored."""
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        record = {
            "id": token_id,
            **fields,
            "created": now_iso(),
            "revoked": None,
            "scrypt": SCRYPT,
            "salt": base64.b64encode(salt).decode(),
            "hash": base64.b64encode(_hash(secret, salt, SCRYPT)).decode(),
        }
        with self._locked():
            records = self._read()
            records[token_id] = record
            self._write(records)
        return self.public(record), f"{self.prefix}_{token_id}_{secret}"

    def _revoke(self, selected: Callable[[dict[str, Any]], bool]) -> list[R]:
        """Revoke every active record `selected` picks; returns what was revoked."""
        done = []
        with self._locked():
            records = self._read()
            for record in records.values():
                if record.get("revoked") is None and selected(record):
                    record["revoked"] = now_iso()
                    done.append(self.public(record))
            if done:
                self._write(records)
        return done

    def list(self) -> list[R]:
        return [self.public(r) for r in self._read().values()]

    # ------------------------------------------------------------------ server side

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._records = self._read() if stamp else {}
            self._verified.clear()  # a revocation must not survive in the cache
            self._stamp = stamp

    def verify(self, token: str) -> R | None:
        """The usable record the token belongs to, or None (unknown, malformed, wrong secret, revoked, expired)."""
        match = self._pattern.match(token)
        if not match:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        with self._mutex:
            self._refresh()
            cached = self._verified.get(digest)
            if cached is not None:
                return cached[1] if self.usable(cached[0]) else None  # expiry is checked every time
            record = self._records.get(match.group(1))
        if record is None or not self.usable(record):
            return None
        expected = base64.b64decode(record["hash"])
        with self._hashing:  # bounded: a flood of wrong secrets costs at most this many cores
            actual = _hash(match.group(2), base64.b64decode(record["salt"]), record.get("scrypt", SCRYPT))
        if not hmac.compare_digest(expected, actual):
            return None
        public = self.public(record)
        with self._mutex:
            if self._records.get(record["id"]) is record:  # the store did not change while we hashed
                self._verified[digest] = (record, public)
        return public
