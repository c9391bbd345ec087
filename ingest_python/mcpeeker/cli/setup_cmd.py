"""`mcpeeker setup`: install or upgrade the index templates and create the fixed indices (mcpeeker.indices)."""

from __future__ import annotations

import argparse

from rich.console import Console

from ..indices import install
from ..settings import add_connection_arguments, resolve

console = Console(stderr=True, soft_wrap=True)


def cmd_setup(args: argparse.Namespace) -> int:
    settings = resolve(args)
    result = install(settings)
    for name in result.installed:
        console.print(f"[green]installed[/] template {name}")
    for name in result.unchanged:
        console.print(f"[dim]unchanged[/] template {name}")
    for name in result.created_indices:
        console.print(f"[green]created[/] index {name}")
    if not result.installed and not result.created_indices:
        console.print("everything already up to date")
    if args.lifecycle:
        from ..client import make_client
        from ..maintain import install_policy

        policy = install_policy(settings, make_client(settings))
        if policy.installed:
            console.print(f"[green]installed[/] {policy.kind.upper()} policy {policy.name}")
        else:
            console.print(
                f"[yellow]no {policy.kind.upper()} policy installed:[/] {policy.reason}; schedule "
                "`mcpeeker maintain --every 1h` for the same rollover and retention",
                highlight=False,
            )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("setup", help="install or upgrade index templates (idempotent)")
    parser.add_argument(
        "--lifecycle",
        action="store_true",
        help="also install the evidence rollover and retention policy (ISM on OpenSearch, ILM on Elasticsearch)",
    )
    add_connection_arguments(parser)
    parser.set_defaults(func=cmd_setup)
