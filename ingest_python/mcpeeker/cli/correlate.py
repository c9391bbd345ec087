"""`mcpeeker correlate --once | --every 10s`."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from datetime import datetime, timezone

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from rich.console import Console
from rich.text import Text

from ..client import make_client
from ..durations import parse_duration
from ..roles import authorize
from ..settings import add_connection_arguments, resolve
from ..correlate.engine import Correlator
from ..correlate.lease import Lease, LeaseState
from ..correlate.scoring import ScoringConfig
from ..errors import MCPeekerError
from ..judge.config import JudgeConfig
from ..judge.run import Judge
from ..notify import NotifyConfig
from ..notify import load as load_notify
from ..notify import run_cycle as notify_cycle
from ..retry import Backoff
from .judge import print_run as print_judge
from .notify import print_result as print_notify

console = Console(stderr=True, soft_wrap=True)
CYCLES = Counter("mcpeeker_correlation_cycles_total", "correlation cycles run", ["outcome"])
CYCLE_SECONDS = Histogram("mcpeeker_correlation_cycle_seconds", "wall time of one correlation cycle")
FINDINGS = Gauge("mcpeeker_findings", "findings known after the last cycle")
WRITTEN = Counter("mcpeeker_findings_written_total", "findings created or changed")
SUPPRESSED = Gauge("mcpeeker_findings_suppressed", "stored findings an active suppression mutes")
REOPENED = Counter("mcpeeker_findings_reopened_total", "closed findings reopened by new attack evidence")


def _one_cycle(correlator: Correlator, notify: NotifyConfig | None = None, judge: Judge | None = None) -> None:
    result = correlator.run_once()
    CYCLES.labels("ok").inc()
    CYCLE_SECONDS.observe(result.seconds)
    FINDINGS.set(result.findings_total)
    WRITTEN.inc(result.written)
    SUPPRESSED.set(result.suppressed)
    REOPENED.inc(len(result.reopened))
    console.print(
        f"correlate: {result.touched} instance(s) touched, {result.rebuilt} rebuilt, {result.written} finding(s) written, "
        f"{result.deleted} merged away, {result.findings_total} total, "
        f"{len(result.expired_entries)} registry entr(y/ies) expired, {result.suppressed} suppressed, "
        f"{len(result.reopened)} reopened, {result.seconds:.2f}s",
        highlight=False,
    )
    if judge is not None:
        # The judge reads the findings just written; its evidence is scored by the next cycle (docs/judge.md).
        print_judge(judge.run_once(), console)
    if notify is not None:
        # Notifications follow the findings just written; their outbox survives a crash (docs/notify.md).
        # The memory of findings merged away goes with them (an ever-running `--every` stays bounded).
        print_notify(notify_cycle(correlator.settings, correlator.client, notify, gone=result.merged_away), console)


def cmd_correlate(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "correlation.run")
    correlator = Correlator(settings, make_client(settings), ScoringConfig.load(args.scoring))
    notify_config = load_notify(args.notify_config)
    notify = notify_config if notify_config.enabled and notify_config.channels else None
    judge = None if args.no_judge else _judge(correlator, args.judge_config)
    interval = parse_duration(args.every) if args.every else 0.0
    period = parse_duration(args.lease) if args.lease else max(30.0, 3 * interval) if args.every else 10.0
    lease = Lease(correlator.client, settings, period)
    if not args.every:
        if not _once_lease(lease):
            return 1
        lease.start_heartbeat()
        try:
            _one_cycle(correlator, notify, judge)
        finally:
            lease.release()
        return 0
    if args.metrics_port:
        start_http_server(args.metrics_port, addr="127.0.0.1")
    # SIGTERM (systemd stop) unwinds like Ctrl-C, so the lease is released for an immediate hand-over.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        _serve(correlator, lease, interval, notify, judge)
    finally:
        lease.release()
    return 0


def _once_lease(lease: Lease) -> bool:
    """--once: wait for a lease left by a correlator that stopped (it lapses), but not for a live one (it renews)."""
    first: LeaseState | None = None
    while True:
        state = lease.acquire()
        if state.held:
            return True
        if first is None:
            first = state
            console.print(f"correlate: waiting: {_holder(state)}; taking over if it was stopped", highlight=False)
        elif state.owner != first.owner or state.expires_at > first.expires_at:
            console.print(f"[red]correlate:[/] {_holder(state)}: it runs the cycles; not running a second one")
            return False
        time.sleep(max(0.2, min(1.0, lease.period / 10)))


def _say(text: str, error: bool) -> None:
    # Text, not markup: a cluster's error message may hold "[...]" that rich would read as a style.
    console.print(Text(text, style="red" if error else ""), highlight=False)


def _holder(state: LeaseState) -> str:
    until = datetime.fromtimestamp(state.expires_at, timezone.utc).strftime("%H:%M:%S UTC")
    return f"another correlator ({state.owner}) holds the correlation lease until {until}"


def _serve(
    correlator: Correlator, lease: Lease, interval: float, notify: NotifyConfig | None, judge: Judge | None
) -> None:
    """Cycles while this process holds the lease; otherwise wait, polling often enough to take over soon after
    the holder's lease lapses."""
    poll = max(0.2, min(1.0, lease.period / 10))
    waiting: str | None = None
    holding = False
    backoff = Backoff("correlate", _say)  # a transient cluster error is retried with a growing delay
    while True:
        started = time.monotonic()
        try:
            state = lease.acquire()
        except Exception as exc:  # noqa: BLE001 - the cluster is down or reorganising: back off and try again
            backoff.failed("cannot reach the lease", exc)
            continue
        if not state.held:
            if holding:
                lease.stop_heartbeat()
                holding = False
            if state.owner != waiting:
                console.print(f"correlate: waiting: {_holder(state)}; taking over if it stops", highlight=False)
                waiting = state.owner
            time.sleep(poll)
            continue
        if not holding:
            before = f" (after {waiting})" if waiting else ""
            console.print(
                f"correlate: holding the correlation lease as {lease.owner}{before}, period {lease.period:g}s",
                highlight=False,
            )
            lease.start_heartbeat()
            holding, waiting = True, None
        try:
            _one_cycle(correlator, notify, judge)
        except Exception as exc:  # noqa: BLE001 - a failed cycle is retried with backoff; the service keeps running
            CYCLES.labels("error").inc()
            backoff.failed("cycle failed", exc)
            continue
        backoff.succeeded("cycles run again")
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def _judge(correlator: Correlator, path: str | None) -> Judge | None:
    config = JudgeConfig.load(path)
    if not config.enabled:
        return None
    try:
        return Judge(correlator.settings, correlator.client, config)
    except MCPeekerError as exc:  # the judge extra is not installed: correlation runs without it
        console.print(f"[yellow]correlate: no judge:[/] {exc}", highlight=False)
        return None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("correlate", help="merge evidence into scored, classified findings")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="run one cycle (the default)")
    mode.add_argument("--every", metavar="DURATION", help="run as a service, one cycle every DURATION (e.g. 10s)")
    parser.add_argument("--scoring", help="scoring config (default configs/scoring.yaml)")
    parser.add_argument("--notify-config", help="notifications after each cycle (default: the site's notify.yaml)")
    parser.add_argument("--judge-config", help="the judge after each cycle (default: the site's judge.yaml)")
    parser.add_argument("--no-judge", action="store_true", help="do not run the judge after each cycle")
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT")
    parser.add_argument(
        "--lease",
        metavar="DURATION",
        help="one correlator at a time: the lease period (default: 3 x --every, at least 30s); a second correlator "
        "waits and takes over within a period of the first one stopping",
    )
    add_connection_arguments(parser)
    parser.set_defaults(func=cmd_correlate)
