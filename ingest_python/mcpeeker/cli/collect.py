"""`mcpeeker collect`: serve the HTTPS collector; `mcpeeker collect token issue|revoke|list`: enrollment tokens."""

from __future__ import annotations

import argparse
import os
import ssl
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import MCPeekerError
from ..settings import add_connection_arguments, resolve
from ..state import collector_spool, collector_tokens_path

console = Console(stderr=True)


# The HTTPS listener flags and uvicorn options, shared with `mcpeeker serve` (cli/serve.py).
def add_listen_arguments(parser: argparse.ArgumentParser, port: int) -> None:
    """--host, --port, --cert and --key: where the server listens and the TLS files it serves with."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=port, help="port (default %(default)s)")
    parser.add_argument("--cert", type=Path, help="server certificate (PEM, with its chain)")
    parser.add_argument("--key", type=Path, help="server private key (PEM)")


def ssl_options(args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's TLS options from --cert/--key (and --client-ca for mTLS), each file checked first."""
    if not args.cert or not args.key:
        raise MCPeekerError("the collector serves HTTPS only: give --cert and --key (PEM files)")
    for flag, path in (("--cert", args.cert), ("--key", args.key), ("--client-ca", args.client_ca)):
        if path is not None and not path.is_file():
            raise MCPeekerError(f"{flag} {path}: no such file")
    try:  # a clear error before uvicorn's traceback
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.load_verify_locations(args.client_ca)
    except (ssl.SSLError, OSError) as exc:
        raise MCPeekerError(
            f"cannot load the TLS files ({args.cert}, {args.key}"
            f"{', ' + str(args.client_ca) if args.client_ca else ''}): {exc}"
        ) from exc
    options: dict[str, Any] = {"ssl_certfile": str(args.cert), "ssl_keyfile": str(args.key)}
    if args.client_ca:
        options.update(ssl_ca_certs=str(args.client_ca), ssl_cert_reqs=ssl.CERT_REQUIRED)
    return options


def server_options(args: argparse.Namespace, tls: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for uvicorn.Config/uvicorn.run: address, access log, quiet logs, no Server header."""
    return {
        "host": args.host,
        "port": args.port,
        "access_log": args.access_log,
        "log_level": "warning",
        "lifespan": "off",
        "server_header": False,
        **tls,
    }


def add_token_actions(parser: argparse.ArgumentParser, dest: str, help: str) -> Any:
    """`<command> token ACTION`: the token sub-command of a server command; returns its ACTION subparsers.
    `dest` is set when a token action was given, so the server's own func knows to do nothing."""
    sub = parser.add_subparsers(dest=dest, metavar="token")
    token = sub.add_parser("token", help=help)
    return token.add_subparsers(dest="token_command", metavar="ACTION", required=True)


def register(subparsers: Any) -> None:
    collect = subparsers.add_parser(
        "collect",
        help="HTTPS collector for agent reports (agents hold an enrollment token, never SIEM credentials)",
        description="Serve POST /api/v1/reports (bearer enrollment token), /healthz and /metrics over HTTPS; "
        "accepted reports go through the ingest pipeline (spool while the cluster is down, retry, "
        "dead letter). `collect token ...` manages the enrollment tokens.",
    )
    add_listen_arguments(collect, 8443)
    collect.add_argument("--client-ca", type=Path, help="require agent client certificates signed by this CA (mTLS)")
    collect.add_argument(
        "--tokens",
        type=Path,
        help="token store (default: env MCPEEKER_COLLECTOR_TOKENS or <state dir>/collector/tokens.json)",
    )
    collect.add_argument(
        "--dead-letter",
        type=Path,
        default=Path("mcpeeker-collector-dead-letter.log"),
        help="rejected reports with the reason (default: %(default)s)",
    )
    collect.add_argument("--spool-dir", type=Path, help="where accepted documents wait while the cluster is down")
    collect.add_argument(
        "--max-report-bytes", type=int, default=8 << 20, help="largest report accepted (default 8 MiB)"
    )
    collect.add_argument("--senders", type=int, default=2, help="concurrent bulk requests (default %(default)s)")
    collect.add_argument("--access-log", action="store_true", help="log every request")
    collect.add_argument("--no-setup", action="store_true", help="do not install/check the index templates first")
    add_connection_arguments(collect)
    collect.set_defaults(func=cmd_collect)

    actions = add_token_actions(collect, "collect_command", "issue, revoke and list agent enrollment tokens")
    issue = actions.add_parser("issue", help="issue a token for an agent (printed once, stored hashed)")
    issue.add_argument("--agent", required=True, help="agent name (e.g. the asset tag or host name)")
    issue.add_argument("--output", type=Path, help="write the token to this file (mode 0600) instead of stdout")
    revoke = actions.add_parser("revoke", help="revoke a token (by --id) or every token of an agent (--agent)")
    who = revoke.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent", help="revoke every active token of this agent")
    who.add_argument("--id", dest="token_id", help="revoke this token id (see `token list`)")
    actions.add_parser("list", help="list tokens (ids, agents, dates; never the secret)")
    for parser in (issue, revoke, actions.choices["list"]):
        parser.add_argument("--tokens", type=Path, default=argparse.SUPPRESS, help="token store (as for collect)")
        parser.set_defaults(func=cmd_token)


def cmd_token(args: argparse.Namespace) -> int:
    from ..collect.tokens import TokenStore

    store = TokenStore(getattr(args, "tokens", None) or collector_tokens_path())
    if args.token_command == "issue":
        record, token = store.issue(args.agent)
        if args.output:
            fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(token + "\n")
            console.print(f"token {record.id} for agent {record.agent} written to {args.output}", highlight=False)
        else:
            print(token)
            console.print(
                f"token {record.id} for agent {record.agent}: shown once, give it to the agent as --token-file",
                highlight=False,
            )
    elif args.token_command == "revoke":
        for record in store.revoke(agent=args.agent, token_id=args.token_id):
            console.print(f"revoked token {record.id} of agent {record.agent}", highlight=False)
    else:
        for record in sorted(store.list(), key=lambda r: (r.agent, r.created)):
            state = f"revoked {record.revoked}" if record.revoked else "active"
            print(f"{record.id}\t{record.agent}\t{record.created}\t{state}")
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    if getattr(args, "collect_command", None):
        return 0
    import uvicorn

    from ..client import make_client
    from ..collect.server import CollectorOptions, Ingestor, build_app
    from ..collect.tokens import TokenStore
    from ..ingest.deadletter import DeadLetter
    from ..ingest.normalise.common import Context
    from ..lifecycle import Router, Ticker
    from .ingest import _ensure_templates, quiet_client_logs

    tls = ssl_options(args)
    quiet_client_logs(args)
    settings = resolve(args)
    tokens = TokenStore(args.tokens or collector_tokens_path())
    active = [r for r in tokens.list() if r.active]
    if not active:
        console.print(
            f"[yellow]warning:[/] no active enrollment token in {tokens.path}: every report is refused "
            "until `mcpeeker collect token issue --agent NAME`",
            highlight=False,
        )
    client = make_client(settings)
    if not args.no_setup:
        _ensure_templates(settings, client)
    spool = args.spool_dir or collector_spool(settings)
    deadletter = DeadLetter(args.dead_letter)
    # Reports go through the evidence write alias, rolled over while the collector runs (mcpeeker.lifecycle).
    router = Router(client, settings)
    ticker = Ticker(client, settings, on_rollover=router.invalidate)
    ticker.check()
    ingestor = Ingestor(
        client,
        Context(settings.index_prefix, settings.site_key_bytes()),
        deadletter,
        spool,
        senders=args.senders,
        router=router,
    )
    ticker.start()
    app = build_app(ingestor, tokens, deadletter, CollectorOptions(max_body=args.max_report_bytes))
    config = uvicorn.Config(app, **server_options(args, tls))
    server = uvicorn.Server(config)
    console.print(
        f"collector starting on https://{args.host}:{args.port}/api/v1/reports"
        f"{' (client certificates required)' if args.client_ca else ''}; tokens {tokens.path}; "
        f"spool {spool}; cluster {settings.url}",
        highlight=False,
    )
    try:
        server.run()
    finally:
        ticker.stop()
        left = ingestor.close(drain_timeout=5.0)
        deadletter.close()
        if left:
            console.print(
                f"{left:,} documents wait in {spool} and are sent first by the next `mcpeeker collect`", highlight=False
            )
    return 0
