"""Key rings: the site key (keyed hashes of host ids, user names, secret fingerprints) and the audit key (the audit
chain's HMAC). MCPeeker has no built-in key: `mcpeeker init` generates both, `mcpeeker keys rotate` adds new ones.

A key ring file holds one secret per line, oldest first; the last line is the current key. Older keys stay so
hashes made before a rotation can still be looked up. Every key has an id derived from the key itself
(`k` + 8 hex of HMAC(key, "mcpeeker key id")): documents and agent reports carry the id of the key that made their
hashes, and the agent and the SIEM side agree on it without sharing a numbering. The id reveals nothing usable
about the key (it is one more keyed hash, of a constant).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

MIN_SECRET_LEN = 16
HEADER = (
    "# MCPeeker {what} key ring. Keep it mode 0600, off shared disks and out of version control.\n"
    "# One secret per line, oldest first; the last line is the current key, older ones stay for lookups.\n"
    "# Written by `mcpeeker init` / `mcpeeker keys rotate`.\n"
)


class MissingKeyError(ConfigError):
    """A command needs a key the settings do not name."""


SITE_HELP = (
    "no site key: set privacy.site_key_file in mcpeeker.yaml or the environment variable MCPEEKER_SITE_KEY_FILE "
    "to a key file (`mcpeeker init` writes one). MCPeeker has no built-in key: host ids and user names are "
    "keyed hashes that only your key can reproduce"
)
AUDIT_HELP = (
    "no audit key: set audit.key_file in mcpeeker.yaml or the environment variable MCPEEKER_AUDIT_KEY_FILE "
    "to a key file (`mcpeeker init` writes one). The audit chain is signed with its own key, never a built-in one"
)


def key_id(secret: bytes) -> str:
    return "k" + hmac.new(secret, b"mcpeeker key id", hashlib.sha256).hexdigest()[:8]


def keyed_hash(secret: bytes, value: str) -> str:
    return hmac.new(secret, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Key:
    id: str
    secret: bytes


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[Key, ...]
    source: str  # the file, or "MCPEEKER_SITE_KEY" for an inline key

    @classmethod
    def single(cls, secret: bytes, source: str) -> "KeyRing":
        return cls((Key(key_id(secret), secret),), source)

    @property
    def current(self) -> Key:
        return self.keys[-1]

    def get(self, kid: str) -> Key | None:
        return next((k for k in self.keys if k.id == kid), None)

    def hashes(self, value: str) -> dict[str, str]:
        """key id -> HMAC(key, value) for every key in the ring: what to search for to find `value` across rotations."""
        return {k.id: keyed_hash(k.secret, value) for k in self.keys}


def new_secret() -> str:
    return secrets.token_hex(32)


def _check_private(path: Path) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{path}: key file is readable or writable by others (mode {mode:04o}); run `chmod 600 {path}`"
        )


def read_ring(path: Path | str) -> KeyRing:
    """The key ring in `path`; errors name the file and line."""
    path = Path(path)
    try:
        _check_private(path)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: key file not found (`mcpeeker init` writes one)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read key file: {exc.strerror or exc}") from exc
    keys: list[Key] = []
    for number, line in enumerate(text.splitlines(), 1):
        secret = line.strip()
        if not secret or secret.startswith("#"):
            continue
        if len(secret) < MIN_SECRET_LEN or any(c.isspace() for c in secret):
            raise ConfigError(
                f"{path}:{number}: not a key (one secret of at least {MIN_SECRET_LEN} characters, no spaces, per line)"
            )
        raw = secret.encode()
        keys.append(Key(key_id(raw), raw))
    if not keys:
        raise ConfigError(f"{path}: key file holds no key")
    return KeyRing(tuple(keys), str(path))


def _render(what: str, secrets_: list[bytes]) -> str:
    body = "".join(f"{s.decode()}\n" for s in secrets_)
    return HEADER.format(what=what) + body


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` as a 0600 file, atomically (a crash leaves the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # O_CREAT's mode is masked by the umask; never wider than 0600 either way
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_ring(path: Path, what: str) -> KeyRing:
    secret = new_secret().encode()
    write_private(path, _render(what, [secret]))
    return KeyRing.single(secret, str(path))


def rotated(ring: KeyRing) -> KeyRing:
    """The ring with a new current key appended (the old keys stay, for lookups and for verifying)."""
    secret = new_secret().encode()
    return KeyRing(ring.keys + (Key(key_id(secret), secret),), ring.source)


def save_ring(ring: KeyRing, path: Path, what: str) -> None:
    write_private(path, _render(what, [k.secret for k in ring.keys]))
