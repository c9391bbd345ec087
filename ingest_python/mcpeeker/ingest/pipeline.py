"""The per-record path shared by one-shot and follow mode: parsed line -> documents -> delivery, with every
bad or skipped line accounted for (dead-letter or skip counters)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

import orjson

from .deadletter import DeadLetter
from .normalise import Context, NormaliseError, Unsupported, normalise
from .readers import BadLine, Record


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
    def __init__(self, ctx: Context, sink: Sink, deadletter: DeadLetter, stats: ReadStats | None = None) -> None:
        self.ctx = ctx
        self.sink = sink
        self.deadletter = deadletter
        self.stats = stats or ReadStats()
        self._reported: set[tuple[str, str]] = set()
        self._now = 0.0
        self._ingested = ""
        self._meta_prefix: dict[str, bytes] = {}

    def _ingested_now(self) -> str:
        now = time.time()
        if now - self._now >= 1.0:
            self._now = now
            self._ingested = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        return self._ingested

    def _action(self, index: str, doc_id: str) -> bytes:
        prefix = self._meta_prefix.get(index)
        if prefix is None:
            prefix = self._meta_prefix[index] = b'{"index":{"_index":' + orjson.dumps(index) + b',"_id":"'
        return prefix + doc_id.encode() + b'"}}\n'

    def feed(self, item: Record | BadLine) -> None:
        stats = self.stats
        stats.read += 1
        if isinstance(item, BadLine):
            self.bad(item.file, item.line, item.reason, item.raw)
            return
        try:
            outputs = normalise(item, self.ctx)
        except Unsupported as exc:
            stats.skipped += 1
            key = f"{item.source}.{item.rtype}"
            stats.skipped_types[key] = stats.skipped_types.get(key, 0) + 1
            if (item.file, item.rtype) not in self._reported:
                self._reported.add((item.file, item.rtype))
                self.deadletter.write(item.file, item.line, f"{exc}: lines of this type in this file are skipped",
                                      source=item.source)
            return
        except NormaliseError as exc:
            self.bad(item.file, item.line, str(exc), item.raw, item.source)
            return
        ingested = self._ingested_now()
        try:
            actions = []
            for index, doc_id, doc, epoch in outputs:
                doc["event"]["ingested"] = ingested
                actions.append((self._action(index, doc_id) + orjson.dumps(doc) + b"\n", epoch))
        except (TypeError, orjson.JSONEncodeError) as exc:  # e.g. a TSV count beyond 64 bits
            self.bad(item.file, item.line, f"cannot serialise the document: {exc}", item.raw, item.source)
            return
        for action, epoch in actions:
            self.sink.add(action, item.file, item.line, epoch)
        stats.documents += len(outputs)

    def bad(self, file: str, line: int, reason: str, raw: bytes = b"", source: str = "") -> None:
        self.stats.bad += 1
        self.deadletter.write(file, line, reason, source=source, raw=raw or None)

