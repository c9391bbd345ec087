"""The envelope every agent report shares (the scan's and the tap's): schema, ids, timestamp, local score."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

from . import SCHEMA, __version__
from .privacy import Hasher


def iso(ts: float) -> str:
    """A Unix time as UTC ISO 8601 with milliseconds and a Z, the form the ingest side parses."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def combine(scores: Iterable[float]) -> float:
    """Noisy-OR of the evidence scores: more independent evidence, higher local score."""
    remaining = 1.0
    for s in scores:
        remaining *= 1.0 - max(0.0, min(1.0, float(s)))
    return round(1.0 - remaining, 4)


def envelope(hasher: Hasher, host_id: str, now: float) -> dict[str, Any]:
    """The leading fields of a report; the caller adds host, evidence, errors and timings."""
    return {
        "schema": SCHEMA,
        "scan_id": uuid.uuid4().hex,
        "host_id": host_id,
        "key_id": hasher.key_id,
        "timestamp": iso(now),
        "agent": {"version": __version__},
    }
