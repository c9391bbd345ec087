"""Where the SIEM-side commands keep local state: checkpoints, spools, the collector's token store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .settings import Settings


def state_dir() -> Path:
    env = os.environ.get("MCPEEKER_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mcpeeker"


def _cluster_key(settings: Settings) -> str:
    return hashlib.sha256(settings.url.encode()).hexdigest()[:12]


def default_spool(settings: Settings) -> Path:
    """One spool per cluster, so documents spooled for one cluster are never drained into another."""
    return state_dir() / "spool" / _cluster_key(settings)


def collector_spool(settings: Settings) -> Path:
    """The collector's spool, per cluster like the ingest spool but apart from it."""
    return state_dir() / "collector-spool" / _cluster_key(settings)


def collector_tokens_path() -> Path:
    """The collector's enrollment-token store: $MCPEEKER_COLLECTOR_TOKENS or <state dir>/collector/tokens.json."""
    return Path(os.environ.get("MCPEEKER_COLLECTOR_TOKENS") or state_dir() / "collector" / "tokens.json")


def checkpoint_path(source: str, paths: list[str]) -> Path:
    """The follow-mode checkpoint of one set of input paths."""
    key = hashlib.sha256("\0".join(sorted(os.path.abspath(p) for p in paths)).encode()).hexdigest()[:16]
    return state_dir() / "checkpoints" / f"{source}-{key}.json"
