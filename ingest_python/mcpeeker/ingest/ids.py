"""Deterministic document ids and daily index names.

The `_id` hashes the source type, the record type and the raw record bytes, not the file name: the same line
read again from a rotated or re-copied file, or replayed after a crash, overwrites the same document.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from .memo import Memo

EVENTS_INDEX = "mcp-events-"
ID_LENGTH = 32


def id_prefix(source: str, record_type: str) -> bytes:
    return f"{source}\0{record_type}\0".encode()


_PREFIXES: Memo[tuple[str, str], bytes] = Memo(lambda key: id_prefix(*key), 10_000)


def document_id(source: str, record_type: str, raw: bytes, part: str = "") -> str:
    """First 32 hex chars of SHA-256(source NUL type NUL raw [NUL part]); `raw` is the line without its newline.
    `part` numbers the documents of one record (an agent report's evidence items)."""
    prefix = _PREFIXES[source, record_type]
    if part:
        return hashlib.sha256(prefix + raw + b"\0" + part.encode()).hexdigest()[:ID_LENGTH]
    return hashlib.sha256(prefix + raw).hexdigest()[:ID_LENGTH]


def _day_index(key: tuple[str, int]) -> str:
    prefix, day = key
    return f"{prefix}{EVENTS_INDEX}{datetime.fromtimestamp(day * 86400, timezone.utc).strftime('%Y.%m.%d')}"


_DAYS: Memo[tuple[str, int], str] = Memo(_day_index, 100_000)
# (prefix, day, name) of the previous call, replaced as a whole (safe across threads): consecutive events share a day.
_LAST: tuple[str | None, int | None, str] = (None, None, "")


def events_index(prefix: str, epoch_seconds: float) -> str:
    """`{prefix}mcp-events-YYYY.MM.DD` of the UTC day of the observation."""
    global _LAST
    day = int(epoch_seconds // 86400)
    last = _LAST
    if day == last[1] and prefix == last[0]:
        return last[2]
    name = _DAYS[prefix, day]
    _LAST = (prefix, day, name)
    return name
