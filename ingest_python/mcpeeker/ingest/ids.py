"""Deterministic document ids and daily index names.

The `_id` hashes the source type, the record type and the raw record bytes, not the file name: the same line
read again from a rotated or re-copied file, or replayed after a crash, overwrites the same document.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

EVENTS_INDEX = "mcp-events-"
ID_LENGTH = 32


_PREFIXES: dict[str, bytes] = {}


def id_prefix(source: str, record_type: str) -> bytes:
    return f"{source}\0{record_type}\0".encode()


def document_id(source: str, record_type: str, raw: bytes, part: str = "") -> str:
    """First 32 hex chars of SHA-256(source NUL type NUL raw [NUL part]); `raw` is the line without its newline.
    `part` numbers the documents of one record (an agent report's evidence items)."""
    key = source + record_type
    prefix = _PREFIXES.get(key)
    if prefix is None:
        prefix = id_prefix(source, record_type)
        if len(_PREFIXES) < 10_000:
            _PREFIXES[key] = prefix
    if part:
        return hashlib.sha256(prefix + raw + b"\0" + part.encode()).hexdigest()[:ID_LENGTH]
    return hashlib.sha256(prefix + raw).hexdigest()[:ID_LENGTH]


_DAY_CACHE: dict[tuple[str, int], str] = {}
# (prefix, day, name) of the previous call, replaced as a whole (safe across threads): consecutive events share a day.
_LAST: tuple[str | None, int | None, str] = (None, None, "")


def events_index(prefix: str, epoch_seconds: float) -> str:
    """`{prefix}mcp-events-YYYY.MM.DD` of the UTC day of the observation."""
    global _LAST
    day = int(epoch_seconds // 86400)
    last = _LAST
    if day == last[1] and prefix == last[0]:
        return last[2]
    key = (prefix, day)
    name = _DAY_CACHE.get(key)
    if name is None:
        suffix = datetime.fromtimestamp(key[1] * 86400, timezone.utc).strftime("%Y.%m.%d")
        name = f"{prefix}{EVENTS_INDEX}{suffix}"
        if len(_DAY_CACHE) < 100_000:
            _DAY_CACHE[key] = name
    _LAST = (prefix, day, name)
    return name
