"""`mcpeeker feedback FINDING_ID --verdict …` and `mcpeeker finding show|list|status|ack|resolve|reopen|suppress`
(the work is in mcpeeker.feedback and mcpeeker.cases; list output in cli/_finding_output.py)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta

from rich.console import Console
from rich.table import Table

from ..cases import lifecycle
from ..cases import suppressions as sup
from ..cases.queries import SORT_FIELDS, FindingFilter, parse_sort
from ..cases.suppressions import parse_expiry
from ..client import make_client
from ..durations import parse_duration
from ..errors import MCPeekerError
from ..feedback import VERDICTS, SuppressRequest, get_finding, give_verdict, list_findings, timeline
from ..timeutil import parse_iso, utcnow
from ..roles import authorize, with_as
from ..settings import add_connection_arguments, resolve
from . import _finding_output as finding_output

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
        owner=args.owner,
        detection=args.detection,
        since=_moment(args.since) if args.since else None,
        until=_moment(args.until) if args.until else None,
        text=args.text,
        suppressed=args.suppressed,
    )


def cmd_finding_list(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "finding.show")
    order = tuple(parse_sort(text) for text in args.sort or ())
    findings = list_findings(settings, make_client(settings), args.size, finding_filter(args), order)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print(finding_output.to_json(findings))
    elif fmt == "csv":
        sys.stdout.write(finding_output.to_csv(findings))
    else:
        finding_output.print_table(console, findings, args.wide)
    return 0


# `mcpeeker finding ack|resolve|reopen ID --reason ...`: the status each shortcut moves the finding to.
SHORTCUTS = {"ack": "acknowledged", "resolve": "resolved", "reopen": "open"}


def cmd_finding_shortcut(args: argparse.Namespace) -> int:
    settings = resolve(args)
    actor = authorize(settings, "finding.status")
    status = SHORTCUTS[args.action]
    change = lifecycle.set_status(settings, make_client(settings), args.finding_id, status, actor, args.reason)
    console.print(f"{change.finding_id}: {change.old} -> {change.new} by {change.by} ({change.reason})", markup=False)
    return 0


def cmd_finding_suppress(args: argparse.Namespace) -> int:
    """Mute the finding's server instance until --expires and move the finding to --status (accepted_risk) when
    that transition is allowed from where it is."""
    settings = resolve(args)
    actor = authorize(settings, "suppress.add")
    authorize(settings, "finding.status")
    client = make_client(settings)
    finding = get_finding(settings, client, args.finding_id)
    from .suppress import max_days

    old = str(finding.get("finding", {}).get("status") or "open")
    rule = sup.add(
        settings,
        client,
        actor,
        sup.Match(instance=finding["instance"]["key"]),
        args.owner or actor.name,
        args.reason,
        parse_expiry(args.expires, utcnow()),
        max_days(),
        source_finding=args.finding_id,
    )
    console.print(f"suppression {rule.suppression_id} until {rule.expires}", markup=False)
    if args.status in lifecycle.TRANSITIONS.get(old, frozenset()):
        reason = f"suppressed by {rule.suppression_id} until {rule.expires}: {rule.reason}"
        change = lifecycle.set_status(settings, client, args.finding_id, args.status, actor, reason)
        console.print(f"{change.finding_id}: {change.old} -> {change.new} by {change.by}", markup=False)
    else:
        console.print(f"{args.finding_id}: status stays {old}", markup=False)
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
    listing.add_argument("--owner", help="registry owner of the finding's entry")
    listing.add_argument("--detection", help="catalogue id the finding carries (detections/MCP-*.yaml)")
    listing.add_argument("--since", help="last seen since: 24h, 7d or an ISO date")
    listing.add_argument("--until", help="last seen before: 24h, 7d or an ISO date")
    listing.add_argument("--text", help="case-insensitive text in summary, instance, server, tools, host, owner")
    listing.add_argument(
        "--suppressed", action=argparse.BooleanOptionalAction, default=None, help="only (or --no-: no) muted findings"
    )
    listing.add_argument(
        "--sort",
        action="append",
        metavar="FIELD[:asc|desc]",
        help=f"order by (repeatable; default score, then last seen): {', '.join(SORT_FIELDS)}",
    )
    listing.add_argument("--format", choices=("table", "json", "csv"), default="table")
    listing.add_argument("--json", action="store_true", help="the same as --format json")
    listing.add_argument("--wide", action="store_true", help="table: every column, whole values")
    add_connection_arguments(listing)
    listing.set_defaults(func=cmd_finding_list)
    status = actions.add_parser("status", help="move a finding to a status, with the reason")
    status.add_argument("finding_id")
    status.add_argument("status", choices=lifecycle.STATUSES)
    status.add_argument("--reason", required=True)
    add_connection_arguments(status)
    status.set_defaults(func=cmd_finding_status)
    for name, target in SHORTCUTS.items():
        shortcut = actions.add_parser(name, help=f"move a finding to {target}, with the reason")
        shortcut.add_argument("finding_id")
        shortcut.add_argument("--reason", required=True)
        add_connection_arguments(shortcut)
        shortcut.set_defaults(func=cmd_finding_shortcut)
    muting = actions.add_parser("suppress", help="suppress the finding's server instance until --expires")
    muting.add_argument("finding_id")
    muting.add_argument("--reason", required=True)
    muting.add_argument("--expires", required=True, help="30d, 12h or an ISO date")
    muting.add_argument("--owner", help="who owns the suppression (default: you)")
    muting.add_argument(
        "--status",
        choices=("accepted_risk", "false_positive"),
        default="accepted_risk",
        help="the status the finding moves to when allowed (default %(default)s)",
    )
    add_connection_arguments(muting)
    muting.set_defaults(func=cmd_finding_suppress)
