"""`mcpeeker registry add|list|show|approve|reject|revoke|renew|import|export|due|claim|push`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

from ..client import make_client
from ..correlate.scoring import ScoringConfig
from ..errors import MCPeekerError
from ..roles import authorize, with_as
from ..settings import add_connection_arguments, resolve
from ..timeutil import utcnow
from ..registry.model import RegistryEntry, effective_status
from ..notify import notify_due
from ..registry.store import Registry, read_import_file, render_export, write_suricata_datasets

console = Console(soft_wrap=True)


def _registry(args: argparse.Namespace, action: str) -> Registry:
    settings = with_as(resolve(args), getattr(args, "as_identity", None))
    actor = authorize(settings, f"registry.{action}")
    ttl = int(ScoringConfig.load().registry.get("default_ttl_days", 90))
    return Registry(settings, make_client(settings), actor, ttl)


def _entry_table(entries: list[RegistryEntry]) -> Table:
    now = utcnow()
    table = Table("entry", "status", "owner", "team", "server", "host", "expires")
    for e in entries:
        server, remote = e.get("server", {}), e.get("remote", {})
        where = "remote " + (remote.get("service") or remote.get("host") or "") if remote else ""
        where = (
            where
            or server.get("url")
            or ":".join(str(x) for x in (server.get("ip") or server.get("name") or "", server.get("port") or "") if x)
        )
        host = e.get("host", {})
        clients = ",".join(c[:12] for c in remote.get("clients", [])) or ("(all clients)" if remote else "")
        table.add_row(
            e["entry_id"],
            effective_status(e, now),
            e.get("owner") or "",
            e.get("team") or "",
            where,
            clients or (host.get("id") or "")[:12] or host.get("ip") or host.get("name") or "",
            e.get("expires", "")[:10],
        )
    return table


def _fields_from_args(args: argparse.Namespace) -> dict[str, Any]:
    if args.remote_service or args.remote_host:
        # A remote MCP service (detections/remote/endpoints.yaml) approved for every client or for --clients.
        return {
            "owner": args.owner,
            "team": args.team,
            "purpose": args.purpose,
            "expires": args.expires,
            "remote": {"service": args.remote_service, "host": args.remote_host, "clients": args.clients or []},
        }
    if args.clients:
        raise MCPeekerError("--clients goes with --remote-service or --remote-host")
    return {
        "owner": args.owner,
        "team": args.team,
        "purpose": args.purpose,
        "expires": args.expires,
        "host": {"id": args.host_id, "name": args.host_name, "ip": args.host_ip},
        "server": {"name": args.server_name, "port": args.port, "url": args.url_server, "ip": args.server_ip},
    }


def cmd_add(args: argparse.Namespace) -> int:
    entry = _registry(args, "add").add(_fields_from_args(args))
    console.print(f"added {entry['entry_id']} (pending) expires {entry['expires'][:10]}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    entries = _registry(args, "list").all()
    if args.status:
        entries = [e for e in entries if effective_status(e, utcnow()) == args.status]
    if args.json:
        print(json.dumps(entries, indent=2))
    else:
        console.print(_entry_table(entries))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    entry = _registry(args, "show").get(args.entry_id)
    print(json.dumps({**entry, "effective_status": effective_status(entry, utcnow())}, indent=2))
    return 0


def _transition(action: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        entry = _registry(args, action).apply(
            args.entry_id, action, note=args.note or "", days=getattr(args, "days", None)
        )
        console.print(f"{entry['entry_id']}: {entry['status']} (expires {entry['expires'][:10]})")
        return 0

    return run


def cmd_import(args: argparse.Namespace) -> int:
    registry = _registry(args, "import")
    added, present, errors = registry.import_entries(read_import_file(args.file), str(args.file))
    for error in errors:
        console.print(f"[red]{error}[/]", highlight=False)
    console.print(f"imported {added} new, {present} already present, {len(errors)} rejected")
    return 1 if errors else 0


def cmd_export(args: argparse.Namespace) -> int:
    entries = _registry(args, "export").all()
    if args.suricata_dataset:
        ip_file, string_file = write_suricata_datasets(entries, Path(args.suricata_dataset))
        console.print(f"wrote {ip_file} and {string_file}")
        return 0
    text = render_export(entries, args.format)
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_due(args: argparse.Namespace) -> int:
    due = _registry(args, "due").due(args.days)
    console.print(_entry_table(due))
    if args.notify and due:
        console.print(f"notified {args.notify}: HTTP {notify_due(args.notify, due, args.days)}")
    return 0


def cmd_claim(args: argparse.Namespace) -> int:
    """The developer flow: confirm ownership of a finding; creates a pending entry pre-filled from it."""
    entry = _registry(args, "claim").claim(args.finding_id, args.owner, args.team, args.purpose)
    console.print(f"claimed finding {args.finding_id}: entry {entry['entry_id']} is pending approval")
    return 0


def _broker_target(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT")
    return host, int(port)


def cmd_push(args: argparse.Namespace) -> int:
    """Approved servers to running Zeek sensors (zeek/scripts/mcp/registry.zeek): Broker and/or a Config file."""
    from ..registry.push import approved_hosts, push_broker, write_config_file

    if not args.broker and not args.file:
        raise MCPeekerError("registry push: give --broker HOST:PORT (repeatable) and/or --file PATH")
    approved = approved_hosts(_registry(args, "push").all(), utcnow())
    listed = ", ".join(str(a) for a in approved.addresses) or "none"
    console.print(f"{len(approved.addresses)} approved server address(es): {listed}", highlight=False)
    if approved.port_scoped:
        console.print(
            f"{len(approved.port_scoped)} entr(y/ies) approve one port; Zeek's known_mcp_hosts approves "
            f"the address: {', '.join(approved.port_scoped)}",
            highlight=False,
        )
    if approved.without_address:
        console.print(
            f"not pushed, no IP address (server.name, host.id or a URL host name): "
            f"{', '.join(approved.without_address)}",
            highlight=False,
        )
    if args.file:
        console.print(f"wrote {write_config_file(args.file, approved.addresses)}", highlight=False)
    for host, port in args.broker or ():
        result = push_broker(host, port, approved.addresses, timeout=args.timeout)
        console.print(
            f"{host}:{port}: Zeek ({result.node}) applied {result.applied} address(es) "
            f"in {result.seconds * 1000:.1f} ms",
            highlight=False,
        )
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument("--as", dest="as_identity", help="act as this identity (roles: configs/roles.yaml)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("registry", help="approved MCP servers: lifecycle, import/export, reminders")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="request approval for an MCP server (pending)")
    add.add_argument("--owner", required=True)
    add.add_argument("--team")
    add.add_argument("--purpose", required=True, help="business justification")
    add.add_argument("--host-id")
    add.add_argument("--host-name")
    add.add_argument("--host-ip")
    add.add_argument("--server-name")
    add.add_argument("--server-ip")
    add.add_argument("--port", type=int)
    add.add_argument("--server-url", dest="url_server")
    add.add_argument("--remote-service", help="approve use of a public remote MCP service by its catalogue id")
    add.add_argument("--remote-host", help="... or by its host name (detections/remote/endpoints.yaml)")
    add.add_argument(
        "--clients", nargs="+", metavar="HOST", help="only these client hosts (host ids or IPs); default every client"
    )
    add.add_argument("--expires", help="ISO date; default now + TTL (configs/scoring.yaml registry.default_ttl_days)")
    add.set_defaults(func=cmd_add)

    listing = actions.add_parser("list", help="list entries")
    listing.add_argument("--status", choices=["pending", "approved", "rejected", "revoked", "expired"])
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    show = actions.add_parser("show", help="one entry with its history")
    show.add_argument("entry_id")
    show.set_defaults(func=cmd_show)

    for action, help_text in (
        ("approve", "approve a pending entry"),
        ("reject", "reject a pending entry"),
        ("revoke", "revoke an approved entry"),
        ("renew", "extend an approved or expired entry"),
    ):
        sub = actions.add_parser(action, help=help_text)
        sub.add_argument("entry_id")
        sub.add_argument("--note")
        if action == "renew":
            sub.add_argument("--days", type=int, help="new TTL in days")
        sub.set_defaults(func=_transition(action))

    imp = actions.add_parser("import", help="import entries from YAML or CSV (idempotent)")
    imp.add_argument("file", type=Path)
    imp.set_defaults(func=cmd_import)

    exp = actions.add_parser("export", help="export entries (yaml/csv/json) or Suricata datasets")
    exp.add_argument("--format", choices=["yaml", "csv", "json"], default="yaml")
    exp.add_argument("--out")
    exp.add_argument("--suricata-dataset", metavar="DIR", help="write mcpeeker-approved*.lst datasets into DIR")
    exp.set_defaults(func=cmd_export)

    due = actions.add_parser("due", help="approved entries expiring within N days")
    due.add_argument("--days", type=int, default=14)
    due.add_argument("--notify", metavar="WEBHOOK_URL", help="POST a JSON reminder to this URL")
    due.set_defaults(func=cmd_due)

    claim = actions.add_parser("claim", help="confirm ownership of a finding (creates a pending entry)")
    claim.add_argument("finding_id")
    claim.add_argument("--owner", required=True)
    claim.add_argument("--team")
    claim.add_argument("--purpose", required=True)
    claim.set_defaults(func=cmd_claim)

    push = actions.add_parser("push", help="approved server addresses to running Zeek sensors (Broker and/or file)")
    push.add_argument(
        "--broker",
        metavar="HOST:PORT",
        type=_broker_target,
        action="append",
        help="a Zeek listening for registry pushes (MCP::registry_listen/registry_port, or a cluster "
        "manager); repeatable",
    )
    push.add_argument(
        "--file",
        type=Path,
        metavar="PATH",
        help="write a Zeek Config framework file (Config::config_files), replaced atomically",
    )
    push.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each Zeek's answer")
    push.set_defaults(func=cmd_push)

    for sub in actions.choices.values():
        _common(sub)
