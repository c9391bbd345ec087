"""Delivery: batches of pre-serialised bulk actions to OpenSearch/Elasticsearch.

- Bounded memory and backpressure: the reader fills one batch (at most `batch_docs` documents or
  `batch_bytes` bytes) while `senders` threads (2: one request being indexed while the next is on the wire)
  ship the previous ones through a queue of `queue_batches`; a full queue blocks the reader. At most
  batch_bytes x (1 + queue_batches + senders) is held in memory.
- Retry with exponential backoff and full jitter on 429, 5xx and connection errors, per request and per
  document.
- While the cluster is unreachable, batches go to a disk spool (fsynced files, oldest first) and the spool is
  drained, in order, before anything new once the cluster answers again.
- A document the cluster refuses (mapping error ...) goes to the dead-letter file with the reason; the rest
  of its batch is indexed as usual.
- `on_commit(marks)` runs once a batch is durable (indexed, dead-lettered or spooled): follow mode advances its
  checkpoint there and nowhere else, so a crash can only replay, never skip.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Protocol

import orjson

from ..errors import MCPeekerError
from .deadletter import DeadLetter

log = logging.getLogger(__name__)

FILTER_PATH = "errors,items.*.status,items.*.error.type,items.*.error.reason,items.*.error.caused_by.reason"


@dataclass(slots=True)
class Item:
    action: bytes  # the bulk action line and the document line, both newline-terminated
    file: str = ""
    line: int = 0
    epoch: float = 0.0


@dataclass(slots=True)
class Batch:
    items: list[Item] = field(default_factory=list)
    nbytes: int = 0
    marks: dict[str, Any] | None = None


@dataclass
class DeliveryStats:
    indexed: int = 0
    rejected: int = 0  # refused by the cluster (dead-lettered)
    retried: int = 0  # documents sent again after a 429/5xx/connection error
    spooled: int = 0  # documents written to the spool
    drained: int = 0  # spooled documents delivered later
    newest_epoch: float = 0.0  # @timestamp of the newest indexed document (for the lag gauge)
    blocked_seconds: float = 0.0  # time the reader waited for the senders (backpressure)
    bulk_seconds: float = 0.0  # time spent in bulk requests (summed over senders)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: float = 1) -> None:
        with self._lock:  # several sender threads update the same counters
            setattr(self, name, getattr(self, name) + n)

    def newest(self, epoch: float) -> None:
        with self._lock:
            if epoch > self.newest_epoch:
                self.newest_epoch = epoch


_EVENT_OPEN = b'"event":{'


def stamp_ingested(payload: bytes, now: float | None = None) -> bytes:
    """Set `event.ingested` (UTC, whole seconds) in every document of a bulk payload: the time it is sent to the
    cluster, so a batch that waited in the spool says when it arrived. One bytes.replace per request, not a
    datetime call per document. Every evidence document has a top-level `event` object and no other object
    named `event`; JSON string values cannot contain the unescaped key, and the action lines have no `event`."""
    stamp = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return payload.replace(_EVENT_OPEN, b'"event":{"ingested":"' + stamp.encode() + b'",')


class Router(Protocol):
    """Rewrites action lines before a request is sent (mcpeeker.lifecycle.Router: a document already stored in a
    rolled-over index goes back to that index, so ids stay idempotent across rollovers)."""

    def route(self, items: list[Any]) -> None: ...


class ClusterDown(Exception):
    """The cluster did not answer after the retries: spool."""


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        meta = getattr(exc, "meta", None)
        status = getattr(meta, "status", None)
    return status if isinstance(status, int) else None


def classify(exc: BaseException) -> str:
    """`retry` for transient failures (connection, timeout, 429, 5xx), `fatal` for the rest (auth, TLS, 4xx)."""
    name = type(exc).__name__
    if "SSL" in name or "TLS" in name:
        return "fatal"
    status = _status(exc)
    if status is not None:
        return "retry" if status == 429 or status >= 500 else "fatal"
    if name in ("ConnectionError", "ConnectionTimeout", "TransportError") or isinstance(
        exc, (ConnectionError, TimeoutError, OSError)
    ):
        return "retry"
    return "fatal"


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^attempt)] (avoids synchronised retry storms)."""
    return random.uniform(0, min(cap, base * (2**attempt)))


class Spool:
    """Append-only directory of bulk payload files. Each file is written to a temp name, fsynced and renamed,
    so a crash leaves either a whole file or none."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fh = open(self.dir / ".lock", "w")
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_fh.close()
            raise MCPeekerError(f"{self.dir}: spool in use by another mcpeeker ingest; pass --spool-dir") from None
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink(missing_ok=True)
        self._seq = 0
        self._write_lock = threading.Lock()

    def files(self) -> list[Path]:
        return sorted(self.dir.glob("*.ndjson"))

    def pending(self) -> bool:
        return any(True for _ in self.dir.glob("*.ndjson"))

    def write(self, items: list[Item]) -> None:
        with self._write_lock:
            self._seq += 1
            seq = self._seq
        name = f"{time.time_ns():020d}-{os.getpid()}-{seq:06d}"
        tmp = self.dir / f"{name}.tmp"
        with open(tmp, "wb") as fh:
            for item in items:
                fh.write(item.action)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, self.dir / f"{name}.ndjson")
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    @staticmethod
    def read(path: Path) -> list[Item]:
        lines = path.read_bytes().splitlines(keepends=True)
        items = []
        for i in range(0, len(lines) - 1, 2):
            items.append(Item(lines[i] + lines[i + 1]))
        return items

    def close(self) -> None:
        self._lock_fh.close()


def _origin(item: Item) -> tuple[str, int, dict[str, Any] | None]:
    """file, line and the document of an item (spooled items carry them only inside the document)."""
    try:
        doc = orjson.loads(item.action.split(b"\n", 1)[1])
    except (orjson.JSONDecodeError, IndexError):
        return item.file or "<spool>", item.line, None
    if item.file:
        return item.file, item.line, doc
    src = (doc.get("mcpeeker") or {}).get("source") or {}
    return str(src.get("file", "<spool>")), int(src.get("line", 0) or 0), doc


class Deliverer:
    """Reader side: `add`, `mark`, `flush`, `close`. Sender side: `senders` threads sharing one bounded queue.

    Batches may be indexed out of order by different senders (documents are independent and ids deterministic),
    but `on_commit` sees the checkpoint marks strictly in the order the reader produced them: a mark is
    committed only once its batch and every earlier batch are durable.
    """

    STOP = object()

    def __init__(
        self,
        client: Any,
        deadletter: DeadLetter,
        *,
        spool_dir: str | Path,
        stats: DeliveryStats | None = None,
        batch_docs: int = 1000,
        batch_bytes: int = 5 << 20,
        queue_batches: int = 2,
        senders: int = 2,
        max_retries: int = 5,
        backoff_base: float = 0.25,
        backoff_cap: float = 30.0,
        probe_interval: float = 2.0,
        on_commit: Callable[[dict[str, Any]], None] | None = None,
        router: Router | None = None,
    ) -> None:
        self.client = client
        self.router = router
        self.deadletter = deadletter
        self.stats = stats or DeliveryStats()
        self.spool = Spool(spool_dir)
        self.batch_docs = batch_docs
        self.batch_bytes = batch_bytes
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.probe_interval = probe_interval
        self.on_commit = on_commit
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_batches)
        self._batch = Batch()
        self._seq = 0  # reader side: number of the next batch
        self._commit_lock = threading.Lock()
        self._done: dict[int, dict[str, Any] | None] = {}
        self._next_commit = 0
        self._spool_lock = threading.RLock()  # one drain at a time; new batches wait behind a drain
        self._down = False
        self._next_probe = 0.0
        self._probe_failures = 0
        self._fatal: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._run, name=f"mcpeeker-deliver-{n}", daemon=True)
            for n in range(max(1, senders))
        ]
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------------ reader side

    def add(self, action: bytes, file: str, line: int, epoch: float) -> None:
        batch = self._batch
        batch.items.append(Item(action, file, line, epoch))
        batch.nbytes += len(action)
        if len(batch.items) >= self.batch_docs or batch.nbytes >= self.batch_bytes:
            self.flush()

    def mark(self, marks: dict[str, Any]) -> None:
        """Checkpoint positions reached once everything added so far is durable."""
        self._batch.marks = marks

    def flush(self) -> None:
        batch, self._batch = self._batch, Batch()
        if batch.items or batch.marks:
            self._put((self._seq, batch))
            self._seq += 1

    def _put(self, obj: object) -> None:
        try:
            self._queue.put_nowait(obj)
            return
        except queue.Full:
            pass
        started = time.monotonic()
        while True:
            if self._fatal is not None:
                raise MCPeekerError(f"delivery failed: {self._fatal}") from self._fatal
            try:
                self._queue.put(obj, timeout=0.5)  # blocks while the senders are behind: backpressure
                break
            except queue.Full:
                continue
        self.stats.add("blocked_seconds", time.monotonic() - started)

    def close(self, drain_timeout: float = 30.0) -> int:
        """Ship what is left; try to drain the spool for up to `drain_timeout` s. Returns documents still spooled."""
        self.flush()
        for _ in self._threads:
            self._put(self.STOP)
        for thread in self._threads:
            thread.join()
        if self._fatal is not None:
            self.spool.close()
            raise MCPeekerError(f"delivery failed: {self._fatal}") from self._fatal
        deadline = time.monotonic() + drain_timeout
        while self.spool.pending() and time.monotonic() < deadline:
            if not self._drain():
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        left = sum(len(Spool.read(p)) for p in self.spool.files())
        self.spool.close()
        return left

    # ------------------------------------------------------------------ sender side

    def _run(self) -> None:
        try:
            # A previous run may have left a spool: it goes first.
            if self.spool.pending():
                self._drain()
            while True:
                try:
                    obj = self._queue.get(timeout=self.probe_interval)
                except queue.Empty:
                    if self.spool.pending() and time.monotonic() >= self._next_probe:
                        self._drain()
                    continue
                if obj is self.STOP:
                    return
                seq, batch = obj
                self._deliver(batch)
                self._committed(seq, batch.marks)
        except BaseException as exc:  # surfaced to the reader thread by _put/close
            self._fatal = exc
            log.debug("delivery thread failed", exc_info=True)

    def _committed(self, seq: int, marks: dict[str, Any] | None) -> None:
        with self._commit_lock:
            self._done[seq] = marks
            latest = None
            while self._next_commit in self._done:
                latest = self._done.pop(self._next_commit) or latest
                self._next_commit += 1
            if latest is not None and self.on_commit:
                self.on_commit(latest)

    def _deliver(self, batch: Batch) -> None:
        if not batch.items:
            return
        if self.spool.pending():
            with self._spool_lock:
                if time.monotonic() >= self._next_probe:
                    self._drain()
                if self.spool.pending():
                    self._to_spool(batch.items)
                    return
        try:
            self._send(batch.items, self.max_retries)
        except ClusterDown as down:
            with self._spool_lock:
                self._to_spool(down.args[0])

    def _to_spool(self, items: list[Item]) -> None:
        self.spool.write(items)
        self.stats.add("spooled", len(items))
        if not self._down:
            log.warning("cluster unreachable: spooling to %s", self.spool.dir)
        self._down = True
        if time.monotonic() >= self._next_probe:
            self._schedule_probe()

    def _schedule_probe(self) -> None:
        self._probe_failures += 1
        delay = min(self.backoff_cap, self.probe_interval * (2 ** min(self._probe_failures - 1, 4)))
        self._next_probe = time.monotonic() + random.uniform(delay / 2, delay)

    def _drain(self) -> bool:
        """Deliver spooled files oldest first; stop at the first that cannot be delivered. True when empty."""
        with self._spool_lock:
            for path in self.spool.files():
                items = Spool.read(path)
                try:
                    self._send(items, retries=1)
                except ClusterDown:
                    self._schedule_probe()
                    return False
                path.unlink()
                self.stats.add("drained", len(items))
            if self._down:
                log.warning("cluster reachable again: spool drained")
            self._down = False
            self._probe_failures = 0
            return True

    def _bulk(self, items: list[Item]) -> dict[str, Any]:
        payload = stamp_ingested(b"".join(item.action for item in items))
        started = time.monotonic()
        try:
            response = self.client.bulk(body=payload, filter_path=FILTER_PATH)
        finally:
            self.stats.add("bulk_seconds", time.monotonic() - started)
        return response if isinstance(response, dict) else getattr(response, "body", response)

    def _send(self, items: list[Item], retries: int) -> None:
        """Index `items`; raise ClusterDown(undelivered items) when the cluster stays unavailable."""
        attempt = 0
        pending = items
        routed = self.router is None
        while pending:
            try:
                if not routed and self.router is not None:
                    self.router.route(pending)  # once: a retry resends the same, already routed, actions
                    routed = True
                response = self._bulk(pending)
            except Exception as exc:  # noqa: BLE001 - classified below, fatal ones re-raised
                if classify(exc) == "fatal":
                    raise
                attempt += 1
                if attempt > retries:
                    raise ClusterDown(pending) from exc
                self.stats.add("retried", len(pending))
                time.sleep(backoff(attempt, self.backoff_base, self.backoff_cap))
                continue
            pending = self._results(pending, response)
            if pending:
                attempt += 1
                if attempt > retries:
                    raise ClusterDown(pending)
                self.stats.add("retried", len(pending))
                time.sleep(backoff(attempt, self.backoff_base, self.backoff_cap))

    def _results(self, items: list[Item], response: dict[str, Any]) -> list[Item]:
        """Count successes, dead-letter refusals, return the items to retry (429/5xx)."""
        results = response.get("items") or []
        if not response.get("errors"):
            if len(results) == len(items) or not results:
                self._indexed(items)
                return []
        retry: list[Item] = []
        ok: list[Item] = []
        for n, item in enumerate(items):
            result = results[n] if n < len(results) else {}
            info: dict[str, Any] = next(iter(result.values()), {}) if result else {}
            status = int(info.get("status", 500))
            if status < 300:
                ok.append(item)
            elif status == 429 or status >= 500:
                retry.append(item)
            else:
                error = info.get("error") or {}
                reason = f"refused by the cluster ({status} {error.get('type', 'error')}): {error.get('reason', '')}"
                caused = (error.get("caused_by") or {}).get("reason")
                if caused:
                    reason += f" ({caused})"
                file, line, doc = _origin(item)
                meta = orjson.loads(item.action.split(b"\n", 1)[0]).get("index", {})
                self.deadletter.write(
                    file, line, reason, source="cluster", doc=doc, index=meta.get("_index"), doc_id=meta.get("_id")
                )
                self.stats.add("rejected")
        self._indexed(ok)
        return retry

    def _indexed(self, items: list[Item]) -> None:
        if not items:
            return
        self.stats.add("indexed", len(items))
        self.stats.newest(max(item.epoch for item in items))
