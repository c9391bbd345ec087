"""Normalisers: one pure function per source type, `Record` -> [(index, _id, document, epoch)].

They raise `NormaliseError` (bad content: dead-lettered) or `Unsupported` (a record type we do not ingest:
skipped and reported once per file and type). Nothing else may escape for any input; the hypothesis tests
hold them to that.
"""

from __future__ import annotations

from ..readers import Record
from .agent import normalise_agent
from .common import Context, Normaliser, NormaliseError, Output, Unsupported
from .suricata import normalise_suricata
from .kong import normalise_kong
from .squid import normalise_squid
from .zeek import normalise_zeek

NORMALISERS: dict[str, Normaliser] = {
    "zeek": normalise_zeek,
    "suricata": normalise_suricata,
    "agent": normalise_agent,
    "squid": normalise_squid,
    "kong": normalise_kong,
}


def normalise(record: Record, ctx: Context) -> list[Output]:
    fn = NORMALISERS[record.source]
    try:
        return fn(record.rtype, record.data, record.raw, ctx, record.file, record.line)
    except (NormaliseError, Unsupported):
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        # A shape the tables did not foresee (a list where an object belongs ...): bad content, not a crash.
        raise NormaliseError(f"unexpected record shape: {type(exc).__name__}: {str(exc)[:200]}") from None


__all__ = ["Context", "NormaliseError", "Unsupported", "normalise", "NORMALISERS", "Output"]
