"""`mcpeeker feedback FINDING_ID --verdict …` and `mcpeeker finding show|list|status` (the work is in
mcpeeker.feedback and mcpeeker.cases)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from ..cases import lifecycle
from ..cases.queries import FindingFilter
from ..cases.suppressions import parse_expiry
from ..client import make_client
from ..durations import parse_duration
from ..errors import MCPeekerError
from ..feedback import VERDICTS, SuppressRequest, get_finding, give_verdict, list_findings, timeline
from ..timeutil import parse_iso, utcnow
from ..roles import authorize, with_as
from ..settings import add_connection_arguments, resolve

console = Console(soft_wrap=True)


def cmd_feedback(args: argparse.Namespace) -> int:
    settings = with_as(resolve(args), args.as_identity)
    actor = authorize(settings, "feedback.add")
    suppress = None
    if args.suppress:
        authorize(settings, "suppress.add")
        if not args.expires:
            raise MCPeekerError("--suppress needs --expires (e.g. 30d)")
        from .suppress import max_days

        suppress = SuppressRequest(parse_expiry(args.expires, utcnow()), max_days())
    result = give_verdict(
        settings, make_client(settings), actor, args.finding_id, args.verdict, args.note or "", suppress
    )
    doc = result.feedback
    console.print(f"recorded {doc['verdict']} on {args.finding_id} ({doc['feedback_id']})")
    if result.status:
        console.print(f"status {result.status.old} -> {result.status.new}")
    if result.suppression:
        console.print(f"suppression {result.suppression.suppression_id} until {result.suppression.expires}")
    return 0


def cmd_finding_status(args: argparse.Namespace) -> int:
    settings = resolve(args)
    actor = authorize(settings, "finding.status")
    change = lifecycle.set_status(settings, make_client(settings), args.finding_id, args.status, actor, args.reason)
    console.print(f"{change.finding_id}: {change.old} -> {change.new} by {change.by} ({change.reason})")
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
    head = finding["finding"]
    status = f"status {head.get('status', 'open')}"
    if head.get("status_changed_by"):
        status += f" (by {head['status_changed_by']} at {head.get('status_changed_at')}: {head.get('status_reason')})"
    if head.get("suppressed"):
        status += f"  suppressed by {', '.join(head.get('suppression_ids', []))}"
    console.print(status, highlight=False, markup=False)
    table = Table("time", "kind", "source", "detail")
    for row in rows:
        table.add_row(str(row["at"]), row["kind"], str(row["source"]), row["detail"])
    console.print(table)
    return 0


def findings_table(findings: list[dict[str, Any]]) -> Table:
    table = Table(
        "finding", "status", "class", "score", "severity", "instance", "server", "evidence", "attacks", "registry"
    )
    colours = {"unauthorized": "red", "suspect": "yellow", "authorized": "green"}
    for f in findings:
        cls = f["classification"]
        status = f["finding"].get("status", "open") + (" (muted)" if f["finding"].get("suppressed") else "")
        table.add_row(
            f["finding"]["id"],
            status,
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


def _moment(text: str) -> datetime:
    """`24h`/`7d` (that long ago) or an ISO date/time."""
    try:
        return utcnow() - timedelta(seconds=parse_duration(text))
    except MCPeekerError:
        pass
    try:
        return parse_iso(text if "T" in text else f"{text}T00:00:00Z")
    except ValueError as exc:
        raise MCPeekerError(f"--since/--until: {text!r} is neither a duration (24h) nor an ISO date") from exc


def finding_filter(args: argparse.Namespace) -> FindingFilter:
    return FindingFilter(
        classification=tuple(args.classification or ()),
        severity=tuple(args.severity or ()),
        status=tuple(args.status or ()),
        host=args.host,
        since=_moment(args.since) if args.since else None,
        until=_moment(args.until) if args.until else None,
        text=args.text,
        suppressed=args.suppressed,
    )


def cmd_finding_list(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "finding.show")
    findings = list_findings(settings, make_client(settings), args.size, finding_filter(args))
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
    feedback.add_argument(
        "--suppress", action="store_true", help="false_positive only: also suppress the finding's instance"
    )
    feedback.add_argument("--expires", help="the suppression's expiry: 30d, 12h or an ISO date")
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
    listing.add_argument("--classification", action="append", choices=("authorized", "suspect", "unauthorized"))
    listing.add_argument("--severity", action="append", choices=("info", "low", "medium", "high", "critical"))
    listing.add_argument("--status", action="append", choices=lifecycle.STATUSES)
    listing.add_argument("--host", help="host id, name or address")
    listing.add_argument("--since", help="last seen since: 24h, 7d or an ISO date")
    listing.add_argument("--until", help="last seen before: 24h, 7d or an ISO date")
    listing.add_argument("--text", help="case-insensitive text in summary, instance, server, tools, host, owner")
    listing.add_argument(
        "--suppressed", action=argparse.BooleanOptionalAction, default=None, help="only (or --no-: no) muted findings"
    )
    listing.add_argument("--json", action="store_true")
    add_connection_arguments(listing)
    listing.set_defaults(func=cmd_finding_list)
    status = actions.add_parser("status", help="move a finding to a status, with the reason")
    status.add_argument("finding_id")
    status.add_argument("status", choices=lifecycle.STATUSES)
    status.add_argument("--reason", required=True)
    add_connection_arguments(status)
    status.set_defaults(func=cmd_finding_status)
