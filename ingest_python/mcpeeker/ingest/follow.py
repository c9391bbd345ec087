"""Follow mode: tail log files with a durable checkpoint, survive rotation and restarts, export metrics.

The checkpoint holds, per followed path, the inode and the byte offset after the last line whose documents are
durable (indexed, dead-lettered or spooled). It is written to a temporary file, fsynced and renamed, and only
from the delivery thread's commit callback, so after a crash the tail resumes at or before the first line that
was not delivered; deterministic document ids make the replayed lines overwrite, never duplicate.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

import orjson

from .deliver import Deliverer, DeliveryStats
from .pipeline import Pipeline, ReadStats
from .readers import MAX_LINE, LineReader, ZeekParser, _looks_like, make_parser

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------ checkpoint


class Checkpoint:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.files: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        self._last_write = 0.0
        if self.path.exists():
            try:
                data = orjson.loads(self.path.read_bytes())
                self.files = {str(k): dict(v) for k, v in data.get("files", {}).items()}
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
                log.warning("%s: unreadable checkpoint, starting from the beginning of each file", self.path)

    def get(self, path: str) -> dict[str, int] | None:
        return self.files.get(path)

    def commit(self, marks: dict[str, Any], force: bool = False) -> None:
        with self._lock:
            self.files.update(marks)
            now = time.monotonic()
            # Fewer fsyncs under load: a checkpoint that lags only means a longer (idempotent) replay.
            if force or now - self._last_write >= 0.2:
                self._write()
                self._last_write = now

    def flush(self) -> None:
        with self._lock:
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(orjson.dumps({"version": 1, "files": self.files}, option=orjson.OPT_INDENT_2))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


# ---------------------------------------------------------------------------------------------- tailer


@dataclass
class Position:
    inode: int
    dev: int
    offset: int
    line: int


class Tailer:
    """One followed path. Keeps reading the open file after a rename (rotation), then switches to the new
    file at the path; restarts at offset 0 when the file was truncated."""

    SLICE = 5000  # lines per poll, so checkpoints and flushes happen while a big backlog is read

    def __init__(self, source: str, path: str, pipeline: Pipeline, saved: dict[str, int] | None) -> None:
        self.source = source
        self.path = path
        self.pipeline = pipeline
        self.fh: BinaryIO | None = None
        self.reader: LineReader | None = None
        self.parser = make_parser(source, path)
        self.pos: Position | None = None
        self._pending_old: Tailer | None = None
        self._saved = saved

    # -------------------------------------------------------------- opening
    def _open(self, path: str, offset: int, line: int) -> bool:
        try:
            fh = open(path, "rb")
        except OSError:
            return False
        st = os.fstat(fh.fileno())
        if offset > st.st_size:
            offset, line = 0, 0  # truncated or replaced by a smaller file
        self.parser = make_parser(self.source, self.path)
        if isinstance(self.parser, ZeekParser) and offset > 0:
            self._prime_header(fh, self.parser)
        fh.seek(offset)
        self.fh = fh
        self.reader = LineReader(fh, line=line, offset=offset)
        self.pos = Position(st.st_ino, st.st_dev, offset, line)
        return True

    @staticmethod
    def _prime_header(fh: BinaryIO, parser: ZeekParser) -> None:
        """A TSV log's #fields/#types are at its top: replay them before resuming mid-file."""
        fh.seek(0)
        while True:
            raw = fh.readline(MAX_LINE)
            if not raw.startswith(b"#"):
                return
            parser.header(raw.rstrip(b"\r\n"))

    def _find_rotated(self, inode: int, dev: int) -> str | None:
        directory = os.path.dirname(self.path) or "."
        try:
            names = os.listdir(directory)
        except OSError:
            return None
        for name in names:
            candidate = os.path.join(directory, name)
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            if st.st_ino == inode and st.st_dev == dev:
                return candidate
        return None

    def start(self) -> None:
        saved = self._saved
        if saved:
            try:
                st = os.stat(self.path)
            except OSError:
                st = None
            if st is not None and st.st_ino == saved["inode"] and st.st_dev == saved.get("dev", st.st_dev):
                self._open(self.path, saved["offset"], saved.get("line", 0))
                return
            # Rotated while we were down: finish the old file first (if it is still around), then the new one.
            old = self._find_rotated(saved["inode"], saved.get("dev", 0))
            if old is not None:
                tail = Tailer(self.source, old, self.pipeline, None)
                if tail._open(old, saved["offset"], saved.get("line", 0)):
                    self._pending_old = tail
        self._open(self.path, 0, 0)

    # -------------------------------------------------------------- reading
    def poll(self) -> int:
        n = 0
        if self._pending_old is not None:
            n += self._pending_old._read()
            self._pending_old.close()
            self._pending_old = None
        if self.fh is None:
            if not self._open(self.path, 0, 0):
                return n
        read = self._read(self.SLICE)
        if read < self.SLICE:  # at the end of the file: time to look for rotation or truncation
            read += self._check_rotation()
        return n + read

    def _read(self, limit: int = 0) -> int:
        """Read up to `limit` lines (0: to the end), so the caller can checkpoint between slices."""
        assert self.reader is not None and self.pos is not None
        feed, parser, n = self.pipeline.feed, self.parser, 0
        for line, end, raw in self.reader.lines(final=False):
            n += 1
            if raw is None:
                self.pipeline.bad(self.path, line, f"line longer than {MAX_LINE} bytes")
            else:
                result = parser.parse(raw, line, end)
                if result is not None:
                    feed(result)
            if n == limit:
                break
        self.pos.offset, self.pos.line = self.reader.offset, self.reader.line
        return n

    def _check_rotation(self) -> int:
        assert self.pos is not None and self.fh is not None
        try:
            st = os.stat(self.path)
        except OSError:
            return 0  # renamed away, the new file is not there yet: keep the old one open
        if st.st_ino != self.pos.inode or st.st_dev != self.pos.dev:
            n = self._read()  # whatever the writer added before it rotated
            self.close()
            self._open(self.path, 0, 0)
            return n + self._read()
        if st.st_size < self.pos.offset:
            log.warning("%s: truncated, reading again from the start", self.path)
            self.close()
            self._open(self.path, 0, 0)
        return 0

    def mark(self) -> dict[str, int] | None:
        if self.pos is None:
            return None
        return {"inode": self.pos.inode, "dev": self.pos.dev, "offset": self.pos.offset, "line": self.pos.line}

    def backlog(self) -> int:
        if self.pos is None:
            return 0
        try:
            return (
                max(0, os.stat(self.path).st_size - self.pos.offset)
                if os.stat(self.path).st_ino == self.pos.inode
                else 0
            )
        except OSError:
            return 0

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
        self.fh = None


# --------------------------------------------------------------------------------------------- metrics


class IngestCollector:
    """Prometheus collector reading the live counters at scrape time (no per-event cost)."""

    def __init__(
        self, source: str, read: ReadStats, delivery: DeliveryStats, tailers: Iterable[Tailer], deliverer: Deliverer
    ) -> None:
        self.source, self.read, self.delivery, self.tailers, self.deliverer = source, read, delivery, tailers, deliverer

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        labels = ["source"]

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            metric = CounterMetricFamily(name, doc, labels=labels)
            metric.add_metric([self.source], value)
            return metric

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            metric = GaugeMetricFamily(name, doc, labels=labels)
            metric.add_metric([self.source], value)
            return metric

        backlog = sum(t.backlog() for t in list(self.tailers))
        caught_up = backlog == 0 and not self.deliverer.spool.pending()
        newest = self.delivery.newest_epoch
        lag = 0.0 if caught_up or not newest else max(0.0, time.time() - newest)
        yield counter("mcpeeker_ingest_events_in", "log lines read (records and bad lines)", self.read.read)
        yield counter("mcpeeker_ingest_indexed", "documents indexed", self.delivery.indexed)
        yield counter(
            "mcpeeker_ingest_rejected",
            "lines or documents rejected (dead-lettered)",
            self.read.bad + self.delivery.rejected,
        )
        yield counter("mcpeeker_ingest_skipped", "records of types that are not ingested", self.read.skipped)
        yield counter(
            "mcpeeker_ingest_retried", "documents sent again after 429/5xx/connection errors", self.delivery.retried
        )
        yield counter("mcpeeker_ingest_spooled", "documents written to the disk spool", self.delivery.spooled)
        yield gauge(
            "mcpeeker_ingest_lag_seconds",
            "now minus @timestamp of the newest indexed event while behind; 0 when caught up",
            lag,
        )
        yield gauge("mcpeeker_ingest_backlog_bytes", "bytes written to followed files but not read yet", backlog)


def start_metrics(port: int, collector: IngestCollector, addr: str = "127.0.0.1") -> Any:
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(collector)
    return start_http_server(port, addr=addr, registry=registry)


# ------------------------------------------------------------------------------------------------ loop


def discover(source: str, paths: list[str]) -> list[str]:
    """Followed files: explicit files (even if absent yet), and current logs inside directories."""
    found: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for child in sorted(path.iterdir()):
                name = child.name
                # Rotated archives (conn.2024-...log.gz) are history, not something to tail.
                if child.is_file() and _looks_like(source, child) and not name.endswith(".gz") and name.count(".") <= 1:
                    found.append(str(child))
        else:
            found.append(str(path))
    return found


def follow(
    source: str,
    paths: list[str],
    pipeline: Pipeline,
    deliverer: Deliverer,
    checkpoint: Checkpoint,
    stop: threading.Event,
    tailers: list[Tailer],
    poll_interval: float = 0.25,
    rescan_interval: float = 5.0,
) -> None:
    """Run until `stop` is set. `tailers` is filled in place (the metrics collector reads it)."""
    known: set[str] = set()
    last_scan = 0.0
    last_flush = time.monotonic()
    last_marks: dict[str, Any] = {}
    while not stop.is_set():
        now = time.monotonic()
        if now - last_scan >= rescan_interval or not known:
            for path in discover(source, paths):
                if path not in known:
                    known.add(path)
                    tailer = Tailer(source, path, pipeline, checkpoint.get(path))
                    tailer.start()
                    tailers.append(tailer)
            last_scan = now
        n = sum(t.poll() for t in tailers)
        if n == 0 or time.monotonic() - last_flush >= 0.5:
            marks = {t.path: m for t in tailers if (m := t.mark()) is not None}
            if marks != last_marks:
                deliverer.mark(marks)
                last_marks = marks
            deliverer.flush()
            last_flush = time.monotonic()
        if n == 0:
            stop.wait(poll_interval)
    marks = {t.path: m for t in tailers if (m := t.mark()) is not None}
    deliverer.mark(marks)
    deliverer.flush()
