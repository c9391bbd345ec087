"""`mcpeeker ingest zeek|suricata|agent PATH…` (one-shot with a progress bar, or `--follow`).

The run itself is `mcpeeker.ingest.run.run_ingest` (readers → normalise → pipeline → deliver, follow for tailing);
this module parses the arguments into `IngestOptions` and prints the progress and the summary.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

from ..errors import MCPeekerError
from ..indices import ensure_templates
from ..ingest import native
from ..ingest.readers import SOURCES
from ..ingest.run import IngestOptions, IngestResult, run_ingest
from ..settings import Settings, add_connection_arguments, resolve

console = Console(stderr=True)

HELP = {
    "zeek": "Zeek logs (JSON or TSV, plain or .gz, current or rotated; directories are walked)",
    "suricata": "Suricata eve.json files",
    "agent": "mcpeeker-agent NDJSON reports ('-' reads standard input)",
    "squid": "Squid access.log (native, common or combined logformat): the lines that name a public remote MCP service",
    "kong": "Kong Gateway request log (file-log/tcp-log/syslog JSON lines): requests to a public remote MCP service",
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


def quiet_client_logs(args: argparse.Namespace) -> None:
    """The clients log every failed request with a traceback; retries and the spool already report outages."""
    if not getattr(args, "verbose", False):
        for name in ("opensearch", "elastic_transport.transport", "elasticsearch"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def options(args: argparse.Namespace) -> IngestOptions:
    return IngestOptions(
        source=args.source,
        paths=tuple(args.paths),
        follow=args.follow,
        dead_letter=args.dead_letter,
        checkpoint=args.checkpoint,
        spool_dir=args.spool_dir,
        metrics_port=args.metrics_port,
        metrics_addr=args.metrics_addr,
        batch_size=args.batch_size,
        senders=args.senders,
        drain_timeout=args.drain_timeout,
        poll_interval=args.poll_interval,
        retry_base=args.retry_base,
        max_retries=args.max_retries,
        setup=not args.no_setup,
    )


class ProgressBar:
    """The one-shot progress bar (bytes of the input, or files when their size is unknown), on a terminal."""

    def __init__(self, show: bool) -> None:
        self.show = show
        self.bar: Progress | None = None
        self.task: Any = None

    def start(self, source: str, total_bytes: int) -> None:
        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn() if not total_bytes else TransferSpeedColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[records]:,} records"),
        ]
        self.bar = Progress(*columns, console=console, disable=not self.show, transient=False)
        self.bar.start()
        self.task = self.bar.add_task(f"ingest {source}", total=total_bytes or None, records=0)

    def update(self, completed_bytes: int, records: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=completed_bytes, records=records)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Follow mode: SIGTERM and SIGINT end the run cleanly (checkpoints written, batches delivered)."""

    def _stop(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_summary(result: IngestResult) -> None:
    console.print(
        f"read {result.read:,} · documents {result.documents:,} · indexed {result.indexed:,} · "
        f"rejected {result.rejected:,} · dead-lettered {result.dead_lettered:,} · skipped {result.skipped:,} · "
        f"{result.seconds:.1f} s · {result.rate:,.0f} events/s",
        highlight=False,
    )
    if result.skipped_types:
        kinds = ", ".join(f"{k} ×{v:,}" for k, v in sorted(result.skipped_types.items()))
        console.print(f"[dim]not ingested (types without a mapping): {kinds}[/]", highlight=False)
    if result.skipped_files:
        console.print(
            f"[dim]{len(result.skipped_files)} file(s) in the given directories are not logs of this kind and were "
            f"skipped, e.g. {result.skipped_files[0]}[/]",
            highlight=False,
        )
    if result.dead_letter_path:
        console.print(f"dead letters: {result.dead_letter_path}", highlight=False)
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


def cmd_ingest(args: argparse.Namespace) -> int:
    quiet_client_logs(args)
    settings = resolve(args)
    opts = options(args)
    stop = threading.Event()
    bar = ProgressBar(show=not args.no_progress and console.is_terminal)

    def notify(message: str) -> None:
        console.print(message, highlight=False)

    try:
        if opts.follow:
            with _stop_on_signals(stop):
                result = run_ingest(settings, opts, warn=warn, notify=notify, stop=stop)
        else:
            result = run_ingest(settings, opts, progress=bar, warn=warn, notify=notify)
    finally:
        bar.stop()
    _print_summary(result)
    if result.spooled_left:
        raise MCPeekerError(
            f"cluster {settings.url} unreachable: {result.spooled_left:,} documents wait in {result.spool_dir} "
            "and are sent first by the next 'mcpeeker ingest'"
        )
    return 1 if result.rejected else 0
