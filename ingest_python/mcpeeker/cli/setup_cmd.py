"""`mcpeeker setup`: install or upgrade the index templates and create the fixed indices (mcpeeker.indices)."""

from __future__ import annotations

import argparse

from rich.console import Console

from ..indices import install
from ..settings import add_connection_arguments, resolve

console = Console(stderr=True, soft_wrap=True)


def cmd_setup(args: argparse.Namespace) -> int:
    result = install(resolve(args))
    for name in result.installed:
        console.print(f"[green]installed[/] template {name}")
    for name in result.unchanged:
        console.print(f"[dim]unchanged[/] template {name}")
    for name in result.created_indices:
        console.print(f"[green]created[/] index {name}")
    if not result.installed and not result.created_indices:
        console.print("everything already up to date")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("setup", help="install or upgrade index templates (idempotent)")
    add_connection_arguments(parser)
    parser.set_defaults(func=cmd_setup)
