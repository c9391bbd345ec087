"""`mcpeeker suppress add|list|remove`: mute findings by host, instance, detection, tool or network range, with an
owner, a reason and an expiry (the work is in mcpeeker.cases.suppressions)."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from ..cases import suppressions as sup
from ..client import make_client
from ..correlate.scoring import ScoringConfig
from ..roles import authorize
from ..settings import add_connection_arguments, resolve
from ..timeutil import utcnow

console = Console(soft_wrap=True)


def max_days() -> int:
    return int(ScoringConfig.load().suppressions.get("max_days", sup.DEFAULT_MAX_DAYS))


def cmd_add(args: argparse.Namespace) -> int:
    settings = resolve(args)
    actor = authorize(settings, "suppress.add")
    match = sup.Match(
        host=args.host, instance=args.instance, detection=args.detection, tool=args.tool, network=args.network
    )
    rule = sup.add(
        settings,
        make_client(settings),
        actor,
        match,
        args.owner or actor.name,
        args.reason,
        sup.parse_expiry(args.expires, utcnow()),
        max_days(),
    )
    console.print(f"added {rule.suppression_id}: {rule.match.describe()} until {rule.expires} (applies next cycle)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "suppress.list")
    now = utcnow()
    rules = sup.load(settings, make_client(settings))
    if not args.all:
        rules = sup.active(rules, now)
    if args.json:
        print(json.dumps([{**r.to_doc(), "active": r.active(now)} for r in rules], indent=2))
        return 0
    table = Table("id", "match", "owner", "expires", "state", "reason")
    for r in rules:
        table.add_row(
            r.suppression_id, r.match.describe(), r.owner, r.expires, "active" if r.active(now) else "expired", r.reason
        )
    console.print(table)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    settings = resolve(args)
    actor = authorize(settings, "suppress.remove")
    rule = sup.remove(settings, make_client(settings), actor, args.suppression_id, args.note or "")
    console.print(f"removed {rule.suppression_id} ({rule.match.describe()}); findings unmute at the next cycle")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("suppress", help="mute findings with an owner, a reason and an expiry")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a suppression (at least one match criterion)")
    add.add_argument("--host", help="host id or name")
    add.add_argument("--instance", help="instance key (see `mcpeeker finding show`)")
    add.add_argument("--detection", help="detection id, e.g. MCP-ATK-001")
    add.add_argument("--tool", help="MCP tool name")
    add.add_argument("--network", help="CIDR holding the server's or its host's address")
    add.add_argument("--reason", required=True)
    add.add_argument("--owner", help="who owns the suppression (default: you)")
    add.add_argument("--expires", required=True, help="30d, 12h or an ISO date (at most suppressions.max_days)")
    add_connection_arguments(add)
    add.set_defaults(func=cmd_add)
    listing = actions.add_parser("list", help="active suppressions (--all: expired ones too)")
    listing.add_argument("--all", action="store_true")
    listing.add_argument("--json", action="store_true")
    add_connection_arguments(listing)
    listing.set_defaults(func=cmd_list)
    remove = actions.add_parser("remove", help="remove a suppression (the audit chain keeps it)")
    remove.add_argument("suppression_id")
    remove.add_argument("--note")
    add_connection_arguments(remove)
    remove.set_defaults(func=cmd_remove)
