"""Keyed hashes, committed-secret detection and redaction: nothing secret leaves the host.

Host ids, user names and secret fingerprints are HMAC-SHA256 with the site key, so the SIEM can join
and count them without learning the values.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .patterns import Patterns, load

REDACTED = "REDACTED"
SNIPPET_MAX_BYTES = 1024
# Flags whose next argument is a credential (`--api-key sk-...`, `-p hunter2`).
_SECRET_FLAG = re.compile(r"^--?(?:[\w-]*(?:key|token|secret|password|passwd|pwd|credential|auth)[\w-]*)$", re.I)
_KV = re.compile(r"^(--?[\w.-]+|[A-Za-z_][\w.-]*)=(.*)$", re.S)
_URL_QUERY_SECRET = re.compile(r"([?&][^=&#]*(?:key|token|secret|password|auth|sig)[^=&#]*=)[^&#]*", re.I)
_URL_USERINFO = re.compile(r"(://)[^/@\s]+@")
# A user's home directory inside a path or command line (not one of the scanned homes, which become ~).
_USER_HOME = re.compile(r"(?<![\w.:/\\-])(?:/home|/Users|[A-Za-z]:[\\/]Users)[\\/]([^\\/\s\"':;,]+)")


def key_id(site_key: bytes) -> str:
    """The key's id, the same as the SIEM side's (mcpeeker.site.keys.key_id): reports carry it beside the hashes."""
    return "k" + hmac.new(site_key, b"mcpeeker key id", hashlib.sha256).hexdigest()[:8]


def read_key_file(path: Path) -> bytes:
    """The current (last) key of a key ring file written by `mcpeeker init` (one secret per line, # comments).
    A file others can read is refused: the key is what keeps host ids and user names unguessable."""
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ValueError(
                f"{path}: key file is readable or writable by others (mode {mode:04o}); run `chmod 600 {path}`"
            )
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    keys = [line for line in lines if line and not line.startswith("#")]
    if not keys:
        raise ValueError(f"{path}: key file holds no key")
    if len(keys[-1]) < 16 or any(c.isspace() for c in keys[-1]):
        raise ValueError(f"{path}: the last key is not a key (at least 16 characters, no spaces)")
    return keys[-1].encode()


class Hasher:
    """HMAC-SHA256 with the site key; one instance per scan."""

    def __init__(self, site_key: bytes) -> None:
        if not site_key:
            raise ValueError("no site key")
        self._key = site_key
        self.key_id = key_id(site_key)

    def hex(self, value: str) -> str:
        return hmac.new(self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def host_id(self, machine_id: str) -> str:
        return self.hex(machine_id)

    def user_id(self, user: str) -> str:
        # Full 64-hex, so the ingest side recognises it as already keyed and keeps it.
        return self.hex(f"user:{user}")

    def secret_fingerprint(self, value: str) -> str:
        return self.hex(f"secret:{value}")[:32]


@dataclass(frozen=True)
class SecretHit:
    kind: str
    fingerprint: str
    field: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "fingerprint": self.fingerprint, "field": self.field}


def secret_kind(value: str, key_name: str | None = None, patterns: Patterns | None = None) -> str | None:
    """Kind of credential `value` looks like, or None. `key_name` is the env/header/flag it sits under."""
    p = patterns or load()
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    if p.secret_reference.match(stripped) or stripped.lower() in p.placeholders:
        return None
    for kind, rx in p.secrets:
        if rx.search(stripped):
            return kind
    if key_name and p.secret_key_names.search(key_name) and _looks_random(stripped):
        return "generic_secret"
    return None


def _looks_random(value: str) -> bool:
    # A literal credential is long-ish and mixes character classes; paths and words are not secrets.
    if len(value) < 8 or " " in value or value.startswith(("/", "./", "~", "http://", "https://")):
        return False
    classes = sum(bool(re.search(rx, value)) for rx in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"))
    return classes >= 2


def redact_url(url: str) -> str:
    return _URL_QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, _URL_USERINFO.sub(r"\1" + REDACTED + "@", url))


def redact_args(args: list[str], patterns: Patterns | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """Redacted copy of argv plus (kind, value) of every secret removed (values only for fingerprinting)."""
    p = patterns or load()
    out: list[str] = []
    found: list[tuple[str, str]] = []
    previous_is_secret_flag = False
    for arg in args:
        arg = str(arg)
        kv = _KV.match(arg)
        if previous_is_secret_flag and not arg.startswith("-"):
            kind = secret_kind(arg, "token", p)
            if kind:
                found.append((kind, arg))
                out.append(REDACTED)
            else:
                out.append(arg)
        elif kv and (kind := secret_kind(kv.group(2), kv.group(1), p)):
            found.append((kind, kv.group(2)))
            out.append(f"{kv.group(1)}={REDACTED}")
        elif kind := secret_kind(arg, None, p):
            found.append((kind, arg))
            out.append(REDACTED)
        elif "://" in arg:
            out.append(redact_url(arg))
        else:
            out.append(arg)
        previous_is_secret_flag = bool(_SECRET_FLAG.match(arg)) and "=" not in arg
    return out, found


def mask_user_homes(text: str, user_id: Callable[[str], str]) -> str:
    """/home/bob/x, /Users/bob/x, C:\\Users\\bob\\x -> ~<first 12 hex of bob's keyed user id>/x: another user's
    home (not scanned, so not written as ~) carries no user name in clear; the prefix matches `user_id`."""
    return _USER_HOME.sub(lambda m: "~" + user_id(m.group(1))[:12], text)


def truncate_utf8(text: str, limit: int = SNIPPET_MAX_BYTES) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "..."
