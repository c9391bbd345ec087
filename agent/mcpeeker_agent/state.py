"""Server fingerprints of the previous scan, so each scan reports added / removed / changed servers."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

STATE_VERSION = 1


def default_state_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mcpeeker-agent" / "state.json"


@dataclass
class ServerRecord:
    client: str
    scope: str
    path: str
    name: str
    fingerprint: str
    instance_key: str

    @property
    def key(self) -> str:
        return "\x1f".join((self.client, self.path, self.name))


@dataclass
class State:
    servers: dict[str, ServerRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> tuple["State", str | None]:
        """The stored state, or an empty one and the reason it could not be used."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(), None
        except (OSError, ValueError) as exc:
            return cls(), f"state file unusable, starting fresh: {type(exc).__name__}"
        if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION or not isinstance(raw.get("servers"), list):
            return cls(), "state file has an unknown layout, starting fresh"
        state = cls()
        for item in raw["servers"]:
            try:
                rec = ServerRecord(
                    **{k: str(item[k]) for k in ("client", "scope", "path", "name", "fingerprint", "instance_key")}
                )
            except (KeyError, TypeError):
                continue
            state.servers[rec.key] = rec
        return state, None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {
            "version": STATE_VERSION,
            "servers": [vars(r) for r in sorted(self.servers.values(), key=lambda r: r.key)],
        }
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)  # atomic: a crash leaves the old state intact
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def diff(
    previous: State, current: list[ServerRecord], unreadable_paths: set[str]
) -> tuple[dict[str, str], list[ServerRecord], State]:
    """Change per current key, the removed records, and the next state.

    Servers of a file that could not be read this time are neither removed nor forgotten.
    """
    changes: dict[str, str] = {}
    nxt = State()
    for rec in current:
        old = previous.servers.get(rec.key)
        changes[rec.key] = (
            "added" if old is None else ("unchanged" if old.fingerprint == rec.fingerprint else "changed")
        )
        nxt.servers[rec.key] = rec
    removed: list[ServerRecord] = []
    for key, old in previous.servers.items():
        if key in nxt.servers:
            continue
        if old.path in unreadable_paths:
            nxt.servers[key] = old
        else:
            removed.append(old)
    return changes, removed, nxt
