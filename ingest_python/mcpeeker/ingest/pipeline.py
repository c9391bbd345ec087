"""The per-record path shared by one-shot and follow mode: parsed line -> documents -> delivery, with every
bad or skipped line accounted for (dead-letter or skip counters)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from .deadletter import DeadLetter
from .normalise import Context, NormaliseError, Unsupported, normalise
from .readers import BadLine, Record

_dumps = orjson.dumps
_now = time.time
DEFAULT_SKEW = (30 * 86400.0, 600.0)  # settings.Lifecycle's skew_past_days, skew_future_seconds


class Sink(Protocol):
    def add(self, action: bytes, file: str, line: int, epoch: float) -> None: ...


@dataclass
class ReadStats:
    read: int = 0  # lines that were records or bad lines (headers and blank lines are not counted)
    documents: int = 0  # documents produced (an agent report makes several)
    bad: int = 0  # unreadable or unnormalisable lines (dead-lettered)
    skipped: int = 0  # records of types we do not ingest
    skipped_types: dict[str, int] = field(default_factory=dict)


class Pipeline:
    """`event.ingested` is not set here: the deliverer stamps it when a batch is sent (see deliver.py)."""

    def __init__(
        self,
        ctx: Context,
        sink: Sink,
        deadletter: DeadLetter,
        stats: ReadStats | None = None,
        skew: tuple[float, float] = DEFAULT_SKEW,
    ) -> None:
        self.ctx = ctx
        self.skew_past, self.skew_future = skew
        self.sink = sink
        self.deadletter = deadletter
        self.stats = stats or ReadStats()
        self._reported: set[tuple[str, str]] = set()
        self._meta_prefix: dict[str, bytes] = {}

    def _action(self, index: str, doc_id: str, doc: dict[str, Any]) -> bytes:
        """The bulk action and source lines of one document, built in one allocation."""
        prefix = self._meta_prefix.get(index)
        if prefix is None:
            prefix = self._meta_prefix[index] = b'{"index":{"_index":' + orjson.dumps(index) + b',"_id":"'
        return b"".join((prefix, doc_id.encode(), b'"}}\n', _dumps(doc), b"\n"))

    def feed(self, item: Record | BadLine) -> None:
        stats = self.stats
        stats.read += 1
        if isinstance(item, BadLine):
            self.bad(item.file, item.line, item.reason, item.raw)
            return
        try:
            outputs = normalise(item, self.ctx)
        except Unsupported as exc:
            self._skipped(item, exc)
            return
        except NormaliseError as exc:
            self.bad(item.file, item.line, str(exc), item.raw, item.source)
            return
        single: bytes | None = None
        now = _now()
        lo, hi = now - self.skew_past, now + self.skew_future
        for output in outputs:
            if not lo <= output[3] <= hi:  # kept and written like any other, only flagged
                _flag_skew(output[2], now, output[3])
        try:
            # Every document of the record is serialised before any is handed over: a record is delivered whole.
            if len(outputs) == 1:  # the usual case: one line, one document
                index, doc_id, doc, epoch = outputs[0]
                single = self._action(index, doc_id, doc)
            else:
                actions = [(self._action(index, doc_id, doc), epoch) for index, doc_id, doc, epoch in outputs]
        except (TypeError, orjson.JSONEncodeError) as exc:  # e.g. a TSV count beyond 64 bits
            self.bad(item.file, item.line, f"cannot serialise the document: {exc}", item.raw, item.source)
            return
        if single is not None:
            self.sink.add(single, item.file, item.line, epoch)
            stats.documents += 1
            return
        add, file, line = self.sink.add, item.file, item.line
        for action, epoch in actions:
            add(action, file, line, epoch)
        stats.documents += len(actions)

    def _skipped(self, item: Record, exc: Unsupported) -> None:
        stats = self.stats
        stats.skipped += 1
        key = f"{item.source}.{item.rtype}"
        stats.skipped_types[key] = stats.skipped_types.get(key, 0) + 1
        if (item.file, item.rtype) not in self._reported:
            self._reported.add((item.file, item.rtype))
            self.deadletter.write(
                item.file, item.line, f"{exc}: lines of this type in this file are skipped", source=item.source
            )

    def bad(self, file: str, line: int, reason: str, raw: bytes = b"", source: str = "") -> None:
        self.stats.bad += 1
        self.deadletter.write(file, line, reason, source=source, raw=raw or None)


def _flag_skew(doc: dict[str, Any], now: float, epoch: float) -> None:
    """Mark an event whose @timestamp is far from when it was read (a replayed archive, a broken or forged
    clock): mcpeeker.time_skew and the difference in seconds, so it can be found and discounted."""
    meta = doc.setdefault("mcpeeker", {})
    meta["time_skew"] = True
    meta["time_skew_seconds"] = int(now - epoch)
