"""One ingest run, one-shot or following: readers -> pipeline -> deliverer, with the dead-letter file, the spool
and (follow mode) checkpoints and metrics. `mcpeeker ingest` parses its arguments into `IngestOptions`, calls
`run_ingest` and prints the `IngestResult`; progress and notices reach it through callbacks.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from ..client import make_client
from ..errors import MCPeekerError
from ..indices import ensure_templates
from ..lifecycle import Router, Ticker, skew_window
from ..settings import Settings
from ..state import checkpoint_path, default_spool
from .deadletter import DeadLetter
from .deliver import Deliverer, DeliveryStats
from .normalise import Context
from .pipeline import Pipeline, ReadStats
from .readers import expand_paths, read_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOptions:
    source: str  # "zeek", "suricata" or "agent" (readers.SOURCES)
    paths: tuple[str, ...]  # files or directories; "-" is standard input (agent, one-shot)
    follow: bool = False
    dead_letter: str | None = "mcpeeker-dead-letter.log"  # created on first use; None: not written
    checkpoint: Path | None = None  # follow mode; default: under the state dir, per source and paths
    spool_dir: Path | None = None  # default: under the state dir, per cluster URL
    metrics_port: int | None = None  # follow mode: Prometheus metrics on metrics_addr:metrics_port
    metrics_addr: str = "127.0.0.1"
    batch_size: int = 1000
    senders: int = 2
    drain_timeout: float = 30.0  # one-shot: how long to keep retrying a spool at the end
    poll_interval: float = 0.25
    retry_base: float = 0.25
    max_retries: int = 5
    setup: bool = True  # install (or check) the index templates first


@dataclass
class IngestResult:
    read: int
    documents: int
    indexed: int
    rejected: int  # bad lines and documents the cluster refused
    dead_lettered: int
    skipped: int  # records of types we do not ingest
    spooled_left: int  # documents still in the spool (the cluster was unreachable)
    seconds: float
    skipped_types: dict[str, int] = field(default_factory=dict)  # "zeek.files" -> records
    skipped_files: list[str] = field(default_factory=list)  # files of the given directories that are not logs
    dead_letter_path: Path | None = None  # set when something was dead-lettered
    spool_dir: Path | None = None
    blocked_seconds: float = 0.0  # the reader waited for the sender
    bulk_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


class ProgressSink(Protocol):
    """One-shot progress: `start` once with the total input bytes (0: unknown, e.g. standard input)."""

    def start(self, source: str, total_bytes: int) -> None: ...

    def update(self, completed_bytes: int, records: int) -> None: ...


def _checked(options: IngestOptions) -> None:
    if options.follow and "-" in options.paths:
        raise MCPeekerError("--follow cannot read standard input; give file paths")
    if options.source != "agent" and "-" in options.paths:
        raise MCPeekerError("'-' (standard input) is only for 'ingest agent'")


def run_ingest(
    settings: Settings,
    options: IngestOptions,
    *,
    progress: ProgressSink | None = None,
    warn: Callable[[str], None] = log.warning,
    notify: Callable[[str], None] = log.info,
    stop: threading.Event | None = None,
) -> IngestResult:
    """Ingest `options.paths` into the events index of `settings`. One-shot: every file once, then the spool is
    drained (up to `drain_timeout`) and what was indexed is made searchable. Follow: until `stop` is set."""
    _checked(options)
    ctx = Context(settings.index_prefix, settings.site_key_bytes())  # no site key: stop before touching anything
    client = make_client(settings)
    if options.setup:
        ensure_templates(settings, client, warn)
    # Evidence goes through the write alias; its conditions are checked now and every lifecycle.check_seconds.
    router = Router(client, settings)
    ticker = Ticker(client, settings, on_rollover=router.invalidate)
    ticker.check()
    deadletter = DeadLetter(options.dead_letter)
    read_stats = ReadStats()
    delivery_stats = DeliveryStats()
    spool_dir = options.spool_dir or default_spool(settings)
    checkpoint = None
    if options.follow:
        from .follow import Checkpoint

        checkpoint = Checkpoint(options.checkpoint or checkpoint_path(options.source, list(options.paths)))
    deliverer = Deliverer(
        client,
        deadletter,
        spool_dir=spool_dir,
        stats=delivery_stats,
        batch_docs=options.batch_size,
        senders=options.senders,
        max_retries=options.max_retries,
        backoff_base=options.retry_base,
        on_commit=checkpoint.commit if checkpoint else None,
        router=router,
    )
    pipeline = Pipeline(ctx, deliverer, deadletter, read_stats, skew=skew_window(settings.lifecycle))
    ticker.start()
    started = time.monotonic()
    skipped_files: list[str] = []
    try:
        if checkpoint is not None:
            _follow(options, pipeline, deliverer, checkpoint, stop or threading.Event(), notify)
        else:
            skipped_files = _once(options, pipeline, progress)
    finally:
        ticker.stop()
        left = deliverer.close(drain_timeout=options.drain_timeout if not options.follow else 5.0)
        if checkpoint is not None:
            checkpoint.flush()
        deadletter.close()
    if not options.follow and delivery_stats.indexed and not left:
        _make_searchable(client, settings)
    log.info(
        "reader waited %.1f s for the sender; bulk requests took %.1f s",
        delivery_stats.blocked_seconds,
        delivery_stats.bulk_seconds,
    )
    return IngestResult(
        read=read_stats.read,
        documents=read_stats.documents,
        indexed=delivery_stats.indexed,
        rejected=read_stats.bad + delivery_stats.rejected,
        dead_lettered=deadletter.count,
        skipped=read_stats.skipped,
        spooled_left=left,
        seconds=time.monotonic() - started,
        skipped_types=dict(read_stats.skipped_types),
        skipped_files=skipped_files,
        dead_letter_path=deadletter.path if deadletter.count else None,
        spool_dir=spool_dir,
        blocked_seconds=delivery_stats.blocked_seconds,
        bulk_seconds=delivery_stats.bulk_seconds,
    )


def _make_searchable(client: Any, settings: Settings) -> None:
    """One-shot: what the run indexed is searchable when it returns, so a correlation run straight after it
    sees all of it instead of what the last scheduled refresh (1 s) happened to catch."""
    try:
        client.indices.refresh(index=settings.index("mcp-events-*"), ignore_unavailable=True, allow_no_indices=True)
    except Exception as exc:  # noqa: BLE001 - the documents are indexed; they become searchable at the next refresh
        log.warning("refresh after the ingest failed (%s): the documents show within a second", exc)


def _once(options: IngestOptions, pipeline: Pipeline, progress: ProgressSink | None) -> list[str]:
    files, skipped = expand_paths(options.source, list(options.paths))
    if not files:
        raise MCPeekerError(f"no {options.source} input found in: {' '.join(options.paths)}")
    sizes = {f: (os.path.getsize(f) if f != "-" else 0) for f in files}
    if progress is not None:
        progress.start(options.source, sum(sizes.values()))
    done = 0
    for f in files:
        size = sizes[f]
        n = 0
        for item in read_file(options.source, f):
            pipeline.feed(item)
            n += 1
            if progress is not None and n & 4095 == 0:
                progress.update(done + min(item.end, size), pipeline.stats.read)
        done += size
        if progress is not None:
            progress.update(done, pipeline.stats.read)
    return skipped


def _follow(
    options: IngestOptions,
    pipeline: Pipeline,
    deliverer: Deliverer,
    checkpoint: Any,
    stop: threading.Event,
    notify: Callable[[str], None],
) -> None:
    from .follow import IngestCollector, Tailer, follow, start_metrics

    tailers: list[Tailer] = []
    server = None
    if options.metrics_port is not None:
        collector = IngestCollector(options.source, pipeline.stats, deliverer.stats, tailers, deliverer)
        server = start_metrics(options.metrics_port, collector, addr=options.metrics_addr)
    notify(f"following {len(options.paths)} path(s); checkpoint {checkpoint.path}; Ctrl-C to stop")
    try:
        follow(
            options.source,
            list(options.paths),
            pipeline,
            deliverer,
            checkpoint,
            stop,
            tailers,
            poll_interval=options.poll_interval,
        )
    finally:
        for tailer in tailers:
            tailer.close()
        if server is not None and isinstance(server, tuple):
            server[0].shutdown()
