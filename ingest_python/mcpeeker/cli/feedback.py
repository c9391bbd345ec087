"""`mcpeeker feedback FINDING_ID --verdict …` and `mcpeeker finding show|list` (the work is in mcpeeker.feedback)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

from rich.console import Console
from rich.table import Table

from ..client import make_client
from ..feedback import VERDICTS, add_feedback, get_finding, list_findings, timeline
from ..roles import authorize
from ..settings import add_connection_arguments, resolve

console = Console(soft_wrap=True)


def cmd_feedback(args: argparse.Namespace) -> int:
    settings = resolve(args)
    if args.as_identity:
        settings = replace(settings, identity=args.as_identity)
    actor = authorize(settings, "feedback.add")
    doc = add_feedback(settings, make_client(settings), actor, args.finding_id, args.verdict, args.note or "")
    console.print(f"recorded {doc['verdict']} on {args.finding_id} ({doc['feedback_id']})")
    return 0


def cmd_finding_show(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "finding.show")
    client = make_client(settings)
    finding = get_finding(settings, client, args.finding_id)
    rows = timeline(settings, client, args.finding_id)
    if args.json:
        print(json.dumps({"finding": finding, "timeline": rows}, indent=2))
        return 0
    console.print(f"[bold]{finding['finding']['summary']}[/]")
    console.print(
        f"score {finding['score']}  {finding['classification']}  severity {finding['severity']}  "
        f"first {finding.get('first_seen')}  last {finding.get('last_seen')}",
        highlight=False,
    )
    table = Table("time", "kind", "source", "detail")
    for row in rows:
        table.add_row(str(row["at"]), row["kind"], str(row["source"]), row["detail"])
    console.print(table)
    return 0


def findings_table(findings: list[dict[str, Any]]) -> Table:
    table = Table("finding", "class", "score", "severity", "instance", "server", "evidence", "attacks", "registry")
    colours = {"unauthorized": "red", "suspect": "yellow", "authorized": "green"}
    for f in findings:
        cls = f["classification"]
        table.add_row(
            f["finding"]["id"],
            f"[{colours.get(cls, 'white')}]{cls}[/]",
            f"{f['score']:g}",
            f["severity"],
            f["instance"]["key"][:48],
            (f.get("mcp", {}).get("server", {}) or {}).get("name", ""),
            ",".join(f.get("evidence", {}).get("types", [])),
            ",".join(f.get("attack", {}).get("types", [])),
            f.get("registry", {}).get("entry_id", "") if f.get("registry", {}).get("match") else "-",
        )
    return table


def cmd_finding_list(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "finding.show")
    findings = list_findings(settings, make_client(settings), args.size)
    if args.json:
        print(json.dumps(findings, indent=2))
    else:
        console.print(findings_table(findings))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    feedback = subparsers.add_parser("feedback", help="record an analyst verdict on a finding")
    feedback.add_argument("finding_id")
    feedback.add_argument("--verdict", required=True, choices=VERDICTS)
    feedback.add_argument("--note")
    feedback.add_argument("--as", dest="as_identity", help="act as this identity")
    add_connection_arguments(feedback)
    feedback.set_defaults(func=cmd_feedback)

    finding = subparsers.add_parser("finding", help="inspect findings")
    actions = finding.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="a finding and its investigation timeline")
    show.add_argument("finding_id")
    show.add_argument("--json", action="store_true")
    add_connection_arguments(show)
    show.set_defaults(func=cmd_finding_show)
    listing = actions.add_parser("list", help="findings, highest score first")
    listing.add_argument("--size", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    add_connection_arguments(listing)
    listing.set_defaults(func=cmd_finding_list)
