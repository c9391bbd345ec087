"""Per-agent enrollment tokens: issued once, stored only as a salted scrypt hash, revocable.

A token reads `mcpk_<id>_<secret>`: the public id finds the record, the secret is checked against
scrypt(secret, salt). The store is a JSON file (mode 0600) written atomically under an flock, so the
admin's `issue`/`revoke` and a running collector share it safely; the collector re-reads it when it
changes, so a revocation takes effect on the next request.
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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import orjson

from ..errors import MCPeekerError

PREFIX = "mcpk"
# scrypt cost: about 30 ms and 16 MiB per check; a verified token is cached in memory (keyed by its SHA-256)
# until the store changes, so the cost is paid once per agent, not per report.
SCRYPT = {"n": 1 << 14, "r": 8, "p": 1}
AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")


@dataclass(frozen=True)
class TokenRecord:
    id: str
    agent: str
    created: str
    revoked: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _hash(secret: str, salt: bytes, params: dict[str, int]) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=params["n"], r=params["r"], p=params["p"], maxmem=64 << 20, dklen=32
    )


class TokenStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._mutex = threading.Lock()
        self._hashing = threading.BoundedSemaphore(2)
        self._stamp: tuple[int, int, int] | None = None
        self._records: dict[str, dict[str, Any]] = {}
        self._verified: dict[bytes, TokenRecord] = {}

    # ------------------------------------------------------------------ file access

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            raise MCPeekerError(f"{self.path}: cannot read the token store: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise MCPeekerError(f'{self.path}: not a token store (expected {{"tokens": [...]}})')
        return {r["id"]: r for r in data["tokens"]}

    def _locked(self) -> Any:
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

    def issue(self, agent: str) -> tuple[TokenRecord, str]:
        """A new token for `agent`; the token text is returned once and never stored."""
        if not AGENT_NAME.match(agent):
            raise MCPeekerError(f"agent name {agent!r}: use 1-128 letters, digits, '.', '_', '@' or '-'")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        record = {
            "id": token_id,
            "agent": agent,
            "created": _now(),
            "revoked": None,
            "scrypt": SCRYPT,
            "salt": base64.b64encode(salt).decode(),
            "hash": base64.b64encode(_hash(secret, salt, SCRYPT)).decode(),
        }
        with self._locked():
            records = self._read()
            records[token_id] = record
            self._write(records)
        return self._public(record), f"{PREFIX}_{token_id}_{secret}"

    def revoke(self, *, agent: str | None = None, token_id: str | None = None) -> list[TokenRecord]:
        """Revoke one token (by id) or every active token of an agent; returns what was revoked."""
        if not agent and not token_id:
            raise MCPeekerError("name the token to revoke: --agent NAME or --id ID")
        done = []
        with self._locked():
            records = self._read()
            for record in records.values():
                if record["revoked"] is None and (record["id"] == token_id or (agent and record["agent"] == agent)):
                    record["revoked"] = _now()
                    done.append(self._public(record))
            if done:
                self._write(records)
        if not done:
            raise MCPeekerError(
                f"no active token {'with id ' + token_id if token_id else 'for agent ' + str(agent)} in {self.path}"
            )
        return done

    def list(self) -> list[TokenRecord]:
        return [self._public(r) for r in self._read().values()]

    @staticmethod
    def _public(record: dict[str, Any]) -> TokenRecord:
        return TokenRecord(record["id"], record["agent"], record["created"], record.get("revoked"))

    # ------------------------------------------------------------------ collector side

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._records = self._read() if stamp else {}
            self._verified.clear()  # a revocation must not survive in the cache
            self._stamp = stamp

    def verify(self, token: str) -> TokenRecord | None:
        """The active record the token belongs to, or None (unknown, malformed, wrong secret or revoked)."""
        match = _TOKEN.match(token)
        if not match:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        with self._mutex:
            self._refresh()
            cached = self._verified.get(digest)
            if cached is not None:
                return cached
            record = self._records.get(match.group(1))
        if record is None or record.get("revoked") is not None:
            return None
        expected = base64.b64decode(record["hash"])
        with self._hashing:  # bounded: a flood of wrong secrets costs at most this many cores
            actual = _hash(match.group(2), base64.b64decode(record["salt"]), record.get("scrypt", SCRYPT))
        if not hmac.compare_digest(expected, actual):
            return None
        public = self._public(record)
        with self._mutex:
            if self._records.get(public.id) is record:  # the store did not change while we hashed
                self._verified[digest] = public
        return public

    def __iter__(self) -> Iterator[TokenRecord]:
        return iter(self.list())
