"""Dead-letter file: one line per rejected record, `<file>:<line>: <reason>`, then a TAB and a JSON object with
enough to replay it (the redacted raw line, or the normalised document the cluster refused with its index and
_id). The file is opened on the first entry, so a clean run leaves nothing behind."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, TextIO

import orjson

from . import privacy

RAW_LIMIT = 64 * 1024  # longer raw lines are kept truncated (a 1 MB+ line is not replayable anyway)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class DeadLetter:
    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.count = 0
        self._fh: TextIO | None = None
        self._lock = threading.Lock()

    def write(
        self,
        file: str,
        line: int,
        reason: str,
        *,
        source: str = "",
        raw: bytes | None = None,
        doc: dict[str, Any] | None = None,
        index: str | None = None,
        doc_id: str | None = None,
    ) -> None:
        replay: dict[str, Any] = {"source": source}
        if raw is not None:
            text = raw[:RAW_LIMIT].decode("utf-8", "backslashreplace")
            replay["raw"] = privacy.redact_text(text)
            if len(raw) > RAW_LIMIT:
                replay["truncated"] = True
        if doc is not None:
            replay.update({"index": index, "id": doc_id, "doc": doc})
        entry = f"{file}:{line}: {_one_line(reason)}\t{orjson.dumps(replay, default=str).decode()}\n"
        with self._lock:
            self.count += 1
            if self.path is None:
                return
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "a", encoding="utf-8")
            self._fh.write(entry)
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def parse_entry(text: str) -> tuple[str, int, str, dict[str, Any]]:
    """(file, line, reason, replay data) of one dead-letter line: for tests and replay tooling."""
    head, _, tail = text.rstrip("\n").partition("\t")
    location, _, reason = head.partition(": ")
    file, _, line = location.rpartition(":")
    return file, int(line), reason, orjson.loads(tail) if tail else {}
