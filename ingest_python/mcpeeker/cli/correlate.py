"""`mcpeeker correlate --once | --every 10s`."""

from __future__ import annotations

import argparse
import time

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from rich.console import Console

from ..client import make_client
from ..durations import parse_duration
from ..roles import authorize
from ..settings import add_connection_arguments, resolve
from ..correlate.engine import Correlator
from ..correlate.scoring import ScoringConfig
from ..errors import MCPeekerError
from ..judge.config import JudgeConfig
from ..judge.run import Judge
from ..notify import NotifyConfig
from ..notify import load as load_notify
from ..notify import run_cycle as notify_cycle
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
        print_notify(notify_cycle(correlator.settings, correlator.client, notify), console)


def cmd_correlate(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "correlation.run")
    correlator = Correlator(settings, make_client(settings), ScoringConfig.load(args.scoring))
    notify_config = load_notify(args.notify_config)
    notify = notify_config if notify_config.enabled and notify_config.channels else None
    judge = None if args.no_judge else _judge(correlator, args.judge_config)
    if not args.every:
        _one_cycle(correlator, notify, judge)
        return 0
    interval = parse_duration(args.every)
    if args.metrics_port:
        start_http_server(args.metrics_port, addr="127.0.0.1")
    while True:
        started = time.monotonic()
        try:
            _one_cycle(correlator, notify, judge)
        except Exception as exc:  # a failed cycle is retried at the next tick; the service keeps running
            CYCLES.labels("error").inc()
            console.print(f"[red]correlate: cycle failed:[/] {exc}", highlight=False)
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
    add_connection_arguments(parser)
    parser.set_defaults(func=cmd_correlate)
