"""`mcpeeker opensearch start|stop|status|url|install`."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from .assemble import ensure_distribution, mcpeeker_home
from .node import LocalNode

console = Console(stderr=True, soft_wrap=True)


def _node(args: argparse.Namespace) -> LocalNode:
    return LocalNode(name=args.name, http_port=args.port, heap=args.heap)


def _say(message: str) -> None:
    console.print(f"[cyan]opensearch:[/] {message}", highlight=False)


def cmd_install(args: argparse.Namespace) -> int:
    dist = ensure_distribution(mcpeeker_home(), _say)
    _say(f"distribution ready in {dist.root}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    status = _node(args).start(timeout=args.timeout, progress=_say)
    _say(f"OpenSearch {status.version} is {status.health} (pid {status.pid})")
    print(status.url)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    stopped = _node(args).stop()
    _say("stopped" if stopped else "was not running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = _node(args).status()
    if args.json:
        print(json.dumps(status.as_dict()))
    elif status.running:
        print(f"running  pid={status.pid}  url={status.url}  version={status.version}  health={status.health}")
    else:
        print(status.detail)
    return 0 if status.running else 3


def cmd_url(args: argparse.Namespace) -> int:
    print(_node(args).url)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("opensearch", help="manage the embedded local OpenSearch node")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, func, help_text in (
        ("install", cmd_install, "assemble the distribution into the cache (downloads once)"),
        ("start", cmd_start, "start the node (or reuse a running one) and wait until green"),
        ("stop", cmd_stop, "stop the node cleanly"),
        ("status", cmd_status, "pid, version and health (exit 3 when not running)"),
        ("url", cmd_url, "print the node's URL"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--name", default="default", help="instance name (several can run on other ports)")
        action.add_argument("--port", type=int, default=9200, help="HTTP port on 127.0.0.1 (transport = port+100)")
        action.add_argument("--heap", default="512m", help="JVM heap, e.g. 512m or 1g")
        action.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for green")
        action.add_argument("--json", action="store_true", help="machine-readable status")
        action.set_defaults(func=func)
