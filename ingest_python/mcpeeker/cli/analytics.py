"""`mcpeeker analytics summary|score-distribution|trendlines|coverage|fp-rate`: tables, or `--json` for scripts
(the searches are in mcpeeker.analytics)."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable, TypeVar

from rich.console import Console
from rich.table import Table

from ..analytics import CLASSES, coverage, fp_rate, score_distribution, summary, trendlines
from ..client import make_client
from ..settings import add_connection_arguments, resolve

console = Console()
T = TypeVar("T")


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row))
    return table


def render_summary(result: dict[str, Any]) -> None:
    rows = [
        ["findings", result["findings"]],
        ["hosts with findings", result["hosts"]],
        ["unregistered", result["unregistered"]],
        ["with attack evidence", result["with_attack_evidence"]],
        ["new in the last 24 h", result["new_last_24h"]],
    ]
    rows += [[f"classification: {k}", v] for k, v in result["by_classification"].items()]
    rows += [[f"severity: {k}", v] for k, v in result["by_severity"].items()]
    rows += [[f"attack: {k}", v] for k, v in result["attack_types"].items()]
    console.print(_table("MCPeeker summary", ["metric", "value"], rows))


def render_scores(result: list[dict[str, Any]]) -> None:
    peak = max((r["count"] for r in result), default=0) or 1
    rows = [
        [
            f"{r['score']:g}",
            r["count"],
            "#" * round(30 * r["count"] / peak),
            ", ".join(f"{k} {v}" for k, v in r["by_classification"].items()),
        ]
        for r in result
    ]
    console.print(_table("Score distribution", ["score", "findings", "", "by classification"], rows))


def render_trend(result: list[dict[str, Any]]) -> None:
    rows = [[r["date"][:16], r["new_findings"], *(r["by_classification"].get(c, 0) for c in CLASSES)] for r in result]
    console.print(_table("New findings", ["from", "new", *CLASSES], rows))


def render_coverage(result: dict[str, Any]) -> None:
    console.print(
        f"hosts reporting in the last {result['window_hours']} h: [bold]{result['hosts_reporting']}[/] "
        f"of {result['hosts_known']} known; {result['scans']} scans, {result['scan_errors']} with errors"
    )
    rows = [
        [
            h["host_id"][:16],
            h["last_scan"],
            h["scans"],
            h["scan_errors"],
            "yes" if h["reporting"] else "NO",
            h["last_error"] or "",
        ]
        for h in result["hosts"]
    ]
    console.print(
        _table(
            "Agent coverage (stalest first)", ["host", "last scan", "scans", "errors", "reporting", "last error"], rows
        )
    )


def render_fp_rate(result: dict[str, Any]) -> None:
    target = f"< {result['target']:.0%}"

    def row(r: dict[str, Any]) -> list[Any]:
        mark = "[green]yes[/]" if r["meets_target"] else "[red]NO[/]"
        return [r["detection"], r["judged"], r["false_positive"], f"{r['rate']:.1%}", target, mark]

    rows = [row(r) for r in result["detections"]] + [row(result["all"])]
    console.print(
        _table(
            "False-positive rate per detection (newest judging verdict per finding)",
            ["detection", "judged", "false positive", "rate", "target", "met"],
            rows,
        )
    )
    if result["verdicts_on_missing_findings"]:
        console.print(f"{result['verdicts_on_missing_findings']} judged finding(s) no longer stored, not counted")


def _emit(result: T, renderer: Callable[[T], None], as_json: bool) -> int:
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        renderer(result)
    return 0


def _run(args: argparse.Namespace) -> int:
    settings = resolve(args)
    client = make_client(settings)
    if args.analytic == "summary":
        return _emit(summary(client, settings), render_summary, args.json)
    if args.analytic == "score-distribution":
        return _emit(score_distribution(client, settings, args.bucket), render_scores, args.json)
    if args.analytic == "fp-rate":
        return _emit(fp_rate(client, settings), render_fp_rate, args.json)
    if args.analytic == "trendlines":
        return _emit(trendlines(client, settings, args.interval, args.days), render_trend, args.json)
    return _emit(coverage(client, settings, args.hours), render_coverage, args.json)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "analytics", help="summary, score distribution, trendlines, agent coverage, false-positive rate"
    )
    kinds = parser.add_subparsers(dest="analytic", metavar="ANALYTIC", required=True)
    helps = {
        "summary": "findings by classification and severity, unregistered, attack evidence",
        "score-distribution": "findings per score bucket",
        "trendlines": "new findings per interval",
        "coverage": "hosts whose agent reported recently, last scan and scan errors per host",
        "fp-rate": "false-positive rate per detection id from analyst verdicts, beside the < 10 % target",
    }
    for name, text in helps.items():
        p = kinds.add_parser(name, help=text, description=text)
        p.add_argument("--json", action="store_true", help="print JSON instead of tables")
        if name == "score-distribution":
            p.add_argument("--bucket", type=float, default=1.0, help="score bucket width (default %(default)s)")
        if name == "trendlines":
            p.add_argument("--interval", default="1d", help="bucket size: 1h, 1d, 1w, 12h ... (default %(default)s)")
            p.add_argument("--days", type=int, default=30, help="how far back (default %(default)s)")
        if name == "coverage":
            p.add_argument("--hours", type=int, default=24, help="reporting window (default %(default)s)")
        add_connection_arguments(p)
        p.set_defaults(func=_run)
