"""`mcpeeker ingest zeek|suricata|agent PATH…` (one-shot with a progress bar, or `--follow`).

The stages live in mcpeeker.ingest (readers → normalise → pipeline → deliver, follow for tailing); this module
wires them to the command line and prints the progress and the summary.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

from ..client import make_client
from ..errors import MCPeekerError
from ..indices import ensure_templates
from ..ingest import native
from ..ingest.deadletter import DeadLetter
from ..ingest.deliver import Deliverer, DeliveryStats
from ..ingest.normalise import Context
from ..ingest.pipeline import Pipeline, ReadStats
from ..ingest.readers import SOURCES, expand_paths, read_file
from ..settings import Settings, add_connection_arguments, resolve
from ..state import checkpoint_path, default_spool

console = Console(stderr=True)

HELP = {
    "zeek": "Zeek logs (JSON or TSV, plain or .gz, current or rotated; directories are walked)",
    "suricata": "Suricata eve.json files",
    "agent": "mcpeeker-agent NDJSON reports ('-' reads standard input)",
}


def register(subparsers: Any) -> None:
    ingest = subparsers.add_parser("ingest", help="normalise Zeek / Suricata / agent output into the events index")
    kinds = ingest.add_subparsers(dest="source", metavar="SOURCE", required=True)
    for source in SOURCES:
        p = kinds.add_parser(source, help=HELP[source], description=HELP[source])
        p.add_argument(
            "paths", nargs="+", metavar="PATH", help="files or directories" + (" or -" if source == "agent" else "")
        )
        p.add_argument("--follow", action="store_true", help="keep tailing the files (checkpointed, survives rotation)")
        p.add_argument(
            "--dead-letter",
            metavar="FILE",
            default="mcpeeker-dead-letter.log",
            help="where rejected lines go as '<file>:<line>: <reason>' (default: %(default)s, created on first use)",
        )
        p.add_argument(
            "--checkpoint", metavar="FILE", type=Path, help="follow-mode checkpoint (default: under the state dir)"
        )
        p.add_argument("--spool-dir", metavar="DIR", type=Path, help="where batches wait while the cluster is down")
        p.add_argument(
            "--metrics-port", type=int, metavar="PORT", help="expose Prometheus metrics on 127.0.0.1:PORT (follow mode)"
        )
        p.add_argument("--metrics-addr", default="127.0.0.1", help=argparse.SUPPRESS)
        p.add_argument(
            "--batch-size", type=int, default=1000, metavar="N", help="documents per bulk request (default %(default)s)"
        )
        p.add_argument(
            "--senders", type=int, default=2, metavar="N", help="concurrent bulk requests (default %(default)s)"
        )
        p.add_argument(
            "--drain-timeout",
            type=float,
            default=30.0,
            metavar="S",
            help="one-shot: how long to keep retrying a spool at the end (default %(default)s s)",
        )
        p.add_argument("--poll-interval", type=float, default=0.25, help=argparse.SUPPRESS)
        p.add_argument("--retry-base", type=float, default=0.25, help=argparse.SUPPRESS)
        p.add_argument("--max-retries", type=int, default=5, help=argparse.SUPPRESS)
        p.add_argument("--no-setup", action="store_true", help="do not install/check the index templates first")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        add_connection_arguments(p)
        p.set_defaults(func=cmd_ingest)


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {message}")


def _ensure_templates(settings: Settings, client: Any) -> None:
    ensure_templates(settings, client, warn)


@dataclass
class Summary:
    read: int
    documents: int
    indexed: int
    rejected: int
    dead_lettered: int
    skipped: int
    spooled_left: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


def _print_summary(summary: Summary, deadletter: DeadLetter, read_stats: ReadStats, skipped_files: list[str]) -> None:
    console.print(
        f"read {summary.read:,} · documents {summary.documents:,} · indexed {summary.indexed:,} · "
        f"rejected {summary.rejected:,} · dead-lettered {summary.dead_lettered:,} · skipped {summary.skipped:,} · "
        f"{summary.seconds:.1f} s · {summary.rate:,.0f} events/s",
        highlight=False,
    )
    if read_stats.skipped_types:
        kinds = ", ".join(f"{k} ×{v:,}" for k, v in sorted(read_stats.skipped_types.items()))
        console.print(f"[dim]not ingested (types without a mapping): {kinds}[/]", highlight=False)
    if skipped_files:
        console.print(
            f"[dim]{len(skipped_files)} file(s) in the given directories are not logs of this kind and were "
            f"skipped, e.g. {skipped_files[0]}[/]",
            highlight=False,
        )
    if deadletter.count and deadletter.path:
        console.print(f"dead letters: {deadletter.path}", highlight=False)
    slow = native.interpreted()
    if slow:
        hint = (
            ""
            if all("MCPEEKER_PURE_PYTHON" in s for s in slow)
            else ": reinstall with a C compiler and the Python headers (`make venv`)"
        )
        console.print(
            f"[yellow]note: the ingest hot path runs interpreted here ({', '.join(slow)}), about 20 % slower{hint}[/]",
            highlight=False,
        )


def _checkpoint_path(args: argparse.Namespace) -> Path:
    return args.checkpoint or checkpoint_path(args.source, args.paths)


def quiet_client_logs(args: argparse.Namespace) -> None:
    """The clients log every failed request with a traceback; retries and the spool already report outages."""
    if not getattr(args, "verbose", False):
        for name in ("opensearch", "elastic_transport.transport", "elasticsearch"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def cmd_ingest(args: argparse.Namespace) -> int:
    quiet_client_logs(args)
    if args.follow and "-" in args.paths:
        raise MCPeekerError("--follow cannot read standard input; give file paths")
    if args.source != "agent" and "-" in args.paths:
        raise MCPeekerError("'-' (standard input) is only for 'ingest agent'")
    settings = resolve(args)
    ctx = Context(settings.index_prefix, settings.site_key_bytes())  # no site key: stop before touching anything
    client = make_client(settings)
    if not args.no_setup:
        _ensure_templates(settings, client)
    deadletter = DeadLetter(args.dead_letter)
    read_stats = ReadStats()
    delivery_stats = DeliveryStats()
    spool_dir = args.spool_dir or default_spool(settings)
    checkpoint = None
    if args.follow:
        from ..ingest.follow import Checkpoint

        checkpoint = Checkpoint(_checkpoint_path(args))
    deliverer = Deliverer(
        client,
        deadletter,
        spool_dir=spool_dir,
        stats=delivery_stats,
        batch_docs=args.batch_size,
        senders=args.senders,
        max_retries=args.max_retries,
        backoff_base=args.retry_base,
        on_commit=checkpoint.commit if checkpoint else None,
    )
    pipeline = Pipeline(ctx, deliverer, deadletter, read_stats)
    started = time.monotonic()
    skipped_files: list[str] = []
    try:
        if args.follow:
            assert checkpoint is not None
            _run_follow(args, pipeline, deliverer, checkpoint, read_stats, delivery_stats)
        else:
            skipped_files = _run_once(args, pipeline)
    finally:
        left = deliverer.close(drain_timeout=args.drain_timeout if not args.follow else 5.0)
        if checkpoint is not None:
            checkpoint.flush()
        deadletter.close()
    if not args.follow and delivery_stats.indexed and not left:
        _make_searchable(client, settings)
    summary = Summary(
        read=read_stats.read,
        documents=read_stats.documents,
        indexed=delivery_stats.indexed,
        rejected=read_stats.bad + delivery_stats.rejected,
        dead_lettered=deadletter.count,
        skipped=read_stats.skipped,
        spooled_left=left,
        seconds=time.monotonic() - started,
    )
    _print_summary(summary, deadletter, read_stats, skipped_files)
    logging.getLogger(__name__).info(
        "reader waited %.1f s for the sender; bulk requests took %.1f s",
        delivery_stats.blocked_seconds,
        delivery_stats.bulk_seconds,
    )
    if left:
        raise MCPeekerError(
            f"cluster {settings.url} unreachable: {left:,} documents wait in {spool_dir} "
            "and are sent first by the next 'mcpeeker ingest'"
        )
    return 1 if summary.rejected else 0


def _make_searchable(client: Any, settings: Settings) -> None:
    """One-shot: what the command indexed is searchable when it returns, so a correlation run straight after it
    sees all of it instead of what the last scheduled refresh (1 s) happened to catch."""
    try:
        client.indices.refresh(index=settings.index("mcp-events-*"), ignore_unavailable=True, allow_no_indices=True)
    except Exception as exc:  # noqa: BLE001 - the documents are indexed; they become searchable at the next refresh
        logging.getLogger(__name__).warning(
            "refresh after the ingest failed (%s): the documents show within a second", exc
        )


def _run_once(args: argparse.Namespace, pipeline: Pipeline) -> list[str]:
    files, skipped = expand_paths(args.source, args.paths)
    if not files:
        raise MCPeekerError(f"no {args.source} input found in: {' '.join(args.paths)}")
    sizes = {f: (os.path.getsize(f) if f != "-" else 0) for f in files}
    total = sum(sizes.values())
    show = not args.no_progress and console.is_terminal
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if not total else TransferSpeedColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[records]:,} records"),
    ]
    with Progress(*columns, console=console, disable=not show, transient=False) as progress:
        task = progress.add_task(f"ingest {args.source}", total=total or None, records=0)
        done = 0
        for f in files:
            size = sizes[f]
            n = 0
            for item in read_file(args.source, f):
                pipeline.feed(item)
                n += 1
                if n & 4095 == 0:
                    progress.update(task, completed=done + min(item.end, size), records=pipeline.stats.read)
            done += size
            progress.update(task, completed=done, records=pipeline.stats.read)
    return skipped


def _run_follow(
    args: argparse.Namespace,
    pipeline: Pipeline,
    deliverer: Deliverer,
    checkpoint: Any,
    read_stats: ReadStats,
    delivery_stats: DeliveryStats,
) -> None:
    from ..ingest.follow import IngestCollector, Tailer, follow, start_metrics

    stop = threading.Event()
    tailers: list[Tailer] = []

    def _stop(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    server = None
    if args.metrics_port is not None:
        server = start_metrics(
            args.metrics_port,
            IngestCollector(args.source, read_stats, delivery_stats, tailers, deliverer),
            addr=args.metrics_addr,
        )
    console.print(f"following {len(args.paths)} path(s); checkpoint {checkpoint.path}; Ctrl-C to stop", highlight=False)
    try:
        follow(
            args.source,
            list(args.paths),
            pipeline,
            deliverer,
            checkpoint,
            stop,
            tailers,
            poll_interval=args.poll_interval,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for tailer in tailers:
            tailer.close()
        if server is not None and isinstance(server, tuple):
            server[0].shutdown()
