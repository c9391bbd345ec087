"""`mcpeeker sigma run [--every 60s]` and `mcpeeker sigma list` (conversion and matching are in mcpeeker.sigma_run)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from ..settings import add_connection_arguments, resolve
from ..sigma_run import DEFAULT_SIGMA_DIR, compile_rules, iter_runs, run_once


def parse_every(text: str) -> float:
    """'60s', '5m', '1h' or plain seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a duration such as 60s, 5m or 1h")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def cmd_run(args: argparse.Namespace) -> int:
    settings = resolve(args)
    rules = compile_rules(args.sigma_dir, settings.backend)
    for n in iter_runs(args.every):
        counts = run_once(settings, rules, args.since, args.max_hits)
        total = sum(counts.values())
        print(
            f"sigma run {n + 1}: {len(rules)} rules, {total} matches "
            + " ".join(f"{k}={v}" for k, v in counts.items() if v),
            flush=True,
        )
        if args.count and n + 1 >= args.count:
            break
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    settings = resolve(args)
    for rule in compile_rules(args.sigma_dir, settings.backend):
        print(f"{rule.stem}\t{rule.level}\t{rule.evidence_type}\t{rule.query}")
    return 0


def register(subparsers: Any) -> None:
    sigma = subparsers.add_parser("sigma", help="run the Sigma rules over mcp-events-* and write sigma.match evidence")
    sub = sigma.add_subparsers(dest="sigma_command", metavar="COMMAND", required=True)
    run = sub.add_parser("run", help="query every rule once, or every --every interval")
    run.add_argument("--every", type=parse_every, metavar="DURATION", help="repeat every DURATION (60s, 5m, 1h)")
    run.add_argument("--count", type=int, help=argparse.SUPPRESS)
    run.add_argument(
        "--since", default="1h", help="look back this far per run (OpenSearch date math unit, default %(default)s)"
    )
    run.add_argument(
        "--max-hits", type=int, default=1000, help="matches fetched per rule and run (default %(default)s)"
    )
    lst = sub.add_parser("list", help="print every rule's converted query")
    for p in (run, lst):
        p.add_argument("--sigma-dir", type=Path, default=DEFAULT_SIGMA_DIR, help="directory with rules/ and pipelines/")
        add_connection_arguments(p)
    run.set_defaults(func=cmd_run)
    lst.set_defaults(func=cmd_list)
