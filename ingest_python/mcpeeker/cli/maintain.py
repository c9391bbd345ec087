"""`mcpeeker maintain [--every DURATION] [--dry-run]`: rollover check and retention of the evidence indices
(mcpeeker.maintain); scheduled like correlate on clusters without ISM/ILM."""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

from rich.console import Console
from rich.text import Text

from ..client import make_client
from ..durations import parse_duration
from ..maintain import run
from ..retry import Backoff
from ..roles import authorize
from ..settings import add_connection_arguments, resolve

console = Console(stderr=True, soft_wrap=True)


def say(text: str, error: bool) -> None:
    # Text, not markup: a cluster's error message may hold "[...]" that rich would read as a style.
    console.print(Text(text, style="red" if error else ""), highlight=False)


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def cmd_maintain(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "correlation.run")  # the correlation service account runs it beside correlate
    client = make_client(settings)
    days = settings.lifecycle.events_retention_days
    backoff = Backoff("maintain", say)  # a transient cluster error is retried, never the end of the service
    while True:
        started = time.monotonic()
        try:
            result = run(settings, client, dry_run=args.dry_run)
        except Exception as exc:  # noqa: BLE001 - a run once fails loudly; the service keeps going
            if not args.every:
                raise
            backoff.failed("run failed", exc)
            continue
        backoff.succeeded("runs again")
        if result.rollover is not None and result.rollover.rolled_over:
            console.print(f"rolled {result.rollover.old_index} over to {result.rollover.new_index}", highlight=False)
        verb = "would delete" if args.dry_run else "deleted"
        for age in result.deleted:
            console.print(
                f"{verb} {age.index}: {age.documents:,} documents, last ingested {_when(age.last_ingested)} "
                f"(retention {days:g} days)",
                highlight=False,
            )
        console.print(
            f"maintain: write index {result.write_index}, {len(result.kept)} evidence index(es) kept, "
            f"{len(result.deleted)} {verb}; findings, registry, feedback and audit are never deleted",
            highlight=False,
        )
        if not args.every:
            return 0
        time.sleep(max(0.0, parse_duration(args.every) - (time.monotonic() - started)))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "maintain", help="roll the evidence index over and delete rolled-over evidence past retention"
    )
    parser.add_argument("--every", metavar="DURATION", help="run as a service, once every DURATION (e.g. 1h)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be deleted, change nothing")
    add_connection_arguments(parser)
    parser.set_defaults(func=cmd_maintain)
