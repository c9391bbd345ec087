"""Deterministic document ids and the index evidence is written to.

The `_id` hashes the source type, the record type and the raw record bytes, not the file name: the same line
read again from a rotated or re-copied file, or replayed after a crash, overwrites the same document.
"""

from __future__ import annotations

import hashlib
from .memo import Memo

EVENTS_ALIAS = "mcp-events"
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


def events_index(prefix: str, epoch_seconds: float) -> str:
    """The write alias `{prefix}mcp-events` (mcpeeker.lifecycle), whatever the event time: indices follow the
    volume and age of ingestion (rollover), so a replay of years or a forged clock cannot create indices."""
    return prefix + EVENTS_ALIAS
