"""`mcpeeker serve`: the REST API over HTTPS; `mcpeeker serve token create|list|revoke`: API tokens."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import MCPeekerError
from ..settings import add_connection_arguments, resolve
from .collect import add_listen_arguments, add_token_actions, server_options, ssl_options

console = Console(stderr=True)


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="REST API for developers, analysts and admins (OpenID login, roles enforced by the server)",
        description="Serve /api/v1 (findings, registry, feedback, analytics, API tokens) over HTTPS. People use "
        "their OpenID provider's access tokens, automation uses API tokens (`serve token create`); roles come from "
        "configs/roles.yaml. Settings: configs/serve.yaml (docs/serve.md).",
    )
    add_listen_arguments(serve, 8444)
    serve.add_argument(
        "--insecure-http",
        action="store_true",
        help="serve plain HTTP (only on a loopback --host, e.g. behind a local TLS proxy or for a demo)",
    )
    serve.add_argument("--serve-config", type=Path, help="serve.yaml (default: the site's, else the packaged one)")
    serve.add_argument("--roles", type=Path, help="roles.yaml (default: the site's, else the packaged one)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    add_connection_arguments(serve)
    serve.set_defaults(func=cmd_serve, client_ca=None)

    actions = add_token_actions(serve, "serve_command", "create, list and revoke API tokens for automation")
    create = actions.add_parser("create", help="create a token for one role (printed once, stored hashed)")
    create.add_argument("--role", required=True, help="the role it acts with (configs/roles.yaml)")
    create.add_argument("--name", required=True, help="what it is for, e.g. 'ci-export'")
    create.add_argument("--expires", default="30d", help="lifetime: 12h, 30d, 2w (at most 366d; default 30d)")
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    actions.add_parser("list", help="list tokens (never the secret)")
    for parser in (create, revoke, actions.choices["list"]):
        parser.add_argument("--serve-config", type=Path, default=argparse.SUPPRESS, help="serve.yaml")
        parser.add_argument("--as", dest="as_identity", help="act as this identity (demo prefixes only)")
        add_connection_arguments(parser)
        parser.set_defaults(func=cmd_token)


def cmd_token(args: argparse.Namespace) -> int:
    from .. import audit
    from ..client import make_client
    from ..roles import authorize, with_as
    from ..serve import config as serve_config
    from ..serve.tokens import ApiTokenStore, parse_duration
    from ..timeutil import utcnow

    settings = with_as(resolve(args), getattr(args, "as_identity", None))
    config = serve_config.load(getattr(args, "serve_config", None))
    store = ApiTokenStore(config.tokens_file)
    if args.token_command == "list":
        authorize(settings, "token.list")
        now = utcnow()
        for record in sorted(store.list(), key=lambda r: r.created):
            print(
                f"{record.id}\t{record.name}\t{record.role}\t{record.created_by}\t{record.expires}\t{record.state(now)}"
            )
        return 0
    action = "token.create" if args.token_command == "create" else "token.revoke"
    actor = authorize(settings, action)
    client = make_client(settings)
    audit.signing_key(settings)  # no audit key: refuse before anything changes
    if args.token_command == "create":
        from ..roles import roles_config

        if args.role not in roles_config()["roles"]:
            raise MCPeekerError(f"--role {args.role!r} is not defined in roles.yaml")
        record, secret = store.create(args.name, args.role, parse_duration(args.expires), actor.name)
        audit.append(
            settings,
            client,
            actor,
            "token.create",
            "api_token",
            record.id,
            {"name": record.name, "role": record.role, "expires": record.expires},
        )
        print(secret)
        console.print(
            f"API token {record.id} ({record.name}, role {record.role}, expires {record.expires}): shown once",
            highlight=False,
        )
    else:
        record = store.revoke(args.token_id)
        audit.append(settings, client, actor, "token.revoke", "api_token", record.id, {})
        console.print(f"revoked API token {record.id} ({record.name})", highlight=False)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    if getattr(args, "serve_command", None):
        return 0
    try:
        import fastapi  # noqa: F401
        import jwt  # noqa: F401
    except ImportError as exc:
        raise MCPeekerError(f"mcpeeker serve needs the serve extra: pip install 'mcpeeker[serve]' ({exc})") from None
    import uvicorn

    from ..client import make_client
    from ..correlate.scoring import ScoringConfig
    from ..serve import config as serve_config
    from ..serve.app import ServeContext, create_app
    from ..serve.auth import Authenticator
    from ..serve.oidc import OidcVerifier
    from ..serve.tokens import ApiTokenStore
    from .ingest import quiet_client_logs

    if args.insecure_http:
        if not serve_config.is_loopback(args.host):
            raise MCPeekerError(f"--insecure-http only on a loopback --host (127.0.0.1, ::1), not {args.host}")
        tls: dict[str, Any] = {}
    else:
        tls = ssl_options(args)
    quiet_client_logs(args)
    settings = resolve(args)
    roles_file = str(args.roles) if args.roles else None
    config = serve_config.load(args.serve_config, roles_file)
    from ..roles import roles_config

    roles_config(roles_file)  # a bad roles.yaml fails here, not on the first request
    tokens = ApiTokenStore(config.tokens_file)
    verifier = OidcVerifier(config.oidc)
    try:
        verifier.discover()
    except MCPeekerError as exc:
        console.print(f"[yellow]warning:[/] {exc}; retried on the first request", highlight=False)
    ttl = int(ScoringConfig.load().registry.get("default_ttl_days", 90))
    ctx = ServeContext(
        settings,
        make_client(settings),
        config,
        Authenticator(verifier, tokens, roles_file),
        tokens,
        ttl,
        tls=not args.insecure_http,
    )
    app = create_app(ctx)
    scheme = "http" if args.insecure_http else "https"
    console.print(
        f"mcpeeker serve on {scheme}://{args.host}:{args.port}/api/v1 (OpenAPI: /api/v1/openapi.json); "
        f"issuer {config.oidc.issuer}, audience {config.oidc.audience}; API tokens {tokens.path}; "
        f"cluster {settings.url}",
        highlight=False,
    )
    uvicorn.run(app, **server_options(args, tls))
    return 0
