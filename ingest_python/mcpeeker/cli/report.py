"""`mcpeeker report --out report.html`: write the HTML report (mcpeeker.report) and print the newest findings."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..report import FEED_COLUMNS, ReportData, feed_rows, write_report
from ..settings import add_connection_arguments, resolve

console = Console(stderr=True)


def _print_feed(data: ReportData) -> None:
    table = Table(title="MCP findings (newest first)", title_justify="left")
    for column in FEED_COLUMNS:
        table.add_column(column)
    for row in feed_rows(data):
        # Text(): server names come from evidence and are never read as rich markup
        table.add_row(*(Text(cell) for cell in row))
    Console().print(table)


def cmd_report(args: argparse.Namespace) -> int:
    settings = resolve(args)
    out = Path(args.out)
    data = write_report(settings, out, args.expiring_days)
    if not args.quiet:
        _print_feed(data)
    console.print(f"report: {out.resolve()} ({out.stat().st_size} bytes, {len(data.findings)} findings)")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("report", help="write a self-contained HTML report (no network needed to open it)")
    parser.add_argument("--out", default="report.html", help="output file (default %(default)s)")
    parser.add_argument("--expiring-days", type=int, default=14, help="registry look-ahead (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="do not print the findings table")
    add_connection_arguments(parser)
    parser.set_defaults(func=cmd_report)
