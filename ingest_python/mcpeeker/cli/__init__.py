"""`mcpeeker` command line: one module per command group under mcpeeker/cli/, each with a `register(subparsers)`.

The command modules hold argument parsing and output only; the work is done by the library modules they call
(mcpeeker.indices, mcpeeker.ingest, mcpeeker.correlate, ...), which take typed arguments and return values.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from typing import Sequence

from rich.console import Console
from rich.markup import escape  # error text is data: `mcpeeker[sigma]` is not a style tag

from .. import __version__
from ..errors import MCPeekerError

# One module per command group, in help order. Each exposes register(subparsers) and sets `func` on its parsers.
COMMAND_MODULES: tuple[str, ...] = (
    "mcpeeker.cli.site",
    "mcpeeker.cli.opensearch",
    "mcpeeker.cli.setup_cmd",
    "mcpeeker.cli.ingest",
    "mcpeeker.cli.collect",
    "mcpeeker.cli.serve",
    "mcpeeker.cli.replay",
    "mcpeeker.cli.correlate",
    "mcpeeker.cli.maintain",
    "mcpeeker.cli.judge",
    "mcpeeker.cli.notify",
    "mcpeeker.cli.registry",
    "mcpeeker.cli.feedback",
    "mcpeeker.cli.suppress",
    "mcpeeker.cli.audit",
    "mcpeeker.cli.sigma",
    "mcpeeker.cli.analytics",
    "mcpeeker.cli.report",
    "mcpeeker.cli.dashboards",
    "mcpeeker.cli.catalogue",
)

err_console = Console(stderr=True, soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcpeeker", description="MCPeeker SIEM side: OpenSearch, ingest, correlation, registry."
    )
    parser.add_argument("--version", action="version", version=f"mcpeeker {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        # A command group that fails to import is a bug: raise, never drop the command silently. Optional extras
        # (sigma, elasticsearch) are imported where they are used, which names the extra to install.
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:
        # The client libraries log every failed request with a traceback; our error line says it once.
        for noisy in ("opensearch", "elastic_transport", "elasticsearch", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MCPeekerError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = cluster_error_message(exc, getattr(args, "url", None) or "the cluster")
        if message is None:
            raise
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        return 2


def cluster_error_message(exc: Exception, url: str) -> str | None:
    """One clear line for the client errors of opensearch-py and elasticsearch-py; None for anything else."""
    module = type(exc).__module__.split(".")[0]
    if module not in {"opensearchpy", "elasticsearch", "elastic_transport"}:
        return None
    name = type(exc).__name__
    text = str(exc)
    from ..client import tls_error_message

    tls = tls_error_message(text, url)
    if tls:
        return tls
    if name in {"ConnectionError", "ConnectionTimeout", "SSLError", "TransportError"} and "Connection" in text + name:
        return f"cannot reach {url}: {text[:300]} (is it running? `mcpeeker opensearch start` starts the local node)"
    if "index_not_found" in text:
        return f"{text[:300]}: run `mcpeeker setup` first (with the same --index-prefix)"
    if name in {"AuthenticationException", "AuthorizationException"}:
        return f"{url} refused the credentials: {text[:300]}"
    return f"{url} answered with an error: {name} {text[:400]}"
