"""`mcpeeker audit verify`: walk the audit chain and name every broken record (the chain is mcpeeker.audit)."""

from __future__ import annotations

import argparse

from rich.console import Console

from ..audit import verify
from ..client import make_client
from ..roles import authorize
from ..settings import add_connection_arguments, resolve

console = Console(soft_wrap=True)


def cmd_verify(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "audit.verify")
    count, problems = verify(settings, make_client(settings))
    if not problems:
        console.print(f"[green]audit chain intact[/]: {count} records verified")
        return 0
    for problem in problems:
        console.print(f"[red]seq {problem.seq} (doc {problem.doc_id})[/]: {problem.reason}", highlight=False)
    console.print(f"[red]audit chain BROKEN[/]: {len(problems)} problem(s) in {count} records")
    return 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="the tamper-evident audit trail")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify_parser = actions.add_parser("verify", help="verify the HMAC chain; names every broken record")
    add_connection_arguments(verify_parser)
    verify_parser.set_defaults(func=cmd_verify)
