"""Arguments and output of `mcpeeker-agent tap`, `tap install|uninstall` and `inventory`; the logic lives in tap.py,
tapinstall.py, inventory.py and toolmeta.py."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .clients import OS_NAMES, Layout, load_table
from .config import UsageError, load_agent_config, resolve_site_key
from .outbox import default_outbox
from .privacy import Hasher
from .scanner import Scanner, ScanOptions, current_os, machine_id
from .toolmeta import Sink, default_tools_state


def _evidence_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where the evidence goes (default: the agent's outbox; the next `scan --ship` sends it)")
    g.add_argument("-o", "--output", type=Path, help="append NDJSON reports to this file instead of the outbox")
    g.add_argument("--spool-dir", type=Path, help=f"the outbox (default {default_outbox()})")
    g.add_argument("--tools-state", type=Path, help=f"tool fingerprints per server (default {default_tools_state()})")
    g.add_argument("--no-state", action="store_true", help="no fingerprint state (no rug-pull check)")
    g.add_argument("--site-key-file", type=Path, help="the site key file (as for scan)")
    g.add_argument("--agent-config", type=Path, help="agent settings YAML")
    g.add_argument("--machine-id", help=argparse.SUPPRESS)


def register(sub: Any) -> None:
    tap = sub.add_parser(
        "tap",
        help="relay a stdio MCP server and record its MCP metadata (tap -- COMMAND ARGS; tap install|uninstall)",
        usage="mcpeeker-agent tap [--client NAME] [--server NAME] [options] -- COMMAND [ARGS...]\n"
        "       mcpeeker-agent tap install|uninstall (--client NAME | --all) [--dry-run]",
    )
    tap.add_argument("--client", default="unknown", help="the client whose config starts this server")
    tap.add_argument("--server", default=None, help="the server's name in that config (default: the command)")
    tap.add_argument("--grace", type=float, default=2.0, help="seconds between stdin EOF and SIGTERM, then SIGKILL")
    tap.add_argument("--log", type=Path, help="the tap's log file (default ~/.local/state/mcpeeker-agent/tap.log)")
    _evidence_args(tap)
    tap.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    tap.set_defaults(func=cmd_tap)

    inv = sub.add_parser("inventory", help="start each configured stdio server, list its tools (never calls one)")
    inv.add_argument("--home", action="append", type=Path, help="home directory (repeatable; default: yours)")
    inv.add_argument("--root", type=Path, help="filesystem root for absolute paths; fixtures use this")
    inv.add_argument("--os", dest="os_name", choices=OS_NAMES, help="path layout (default: this machine's)")
    inv.add_argument("--client", action="append", help="only these clients (repeatable)")
    inv.add_argument("--timeout", type=float, default=20.0, help="seconds per server (default 20)")
    inv.add_argument(
        "--allow-env", action="store_true", help="pass the config's env (usually secrets) to the servers it starts"
    )
    inv.add_argument("--remote", action="store_true", help="also list remote servers whose URL the config carries")
    _evidence_args(inv)
    inv.set_defaults(func=cmd_inventory)


def _sink(args: argparse.Namespace, cfg: dict[str, Any], root: Path = Path("/")) -> tuple[Sink, bytes]:
    site_key, _source = resolve_site_key(None, args.site_key_file, cfg)
    hasher = Hasher(site_key)
    configured = Path(cfg["tools_state"]) if cfg.get("tools_state") else None
    state = None if args.no_state else (args.tools_state or configured or default_tools_state())
    spool = args.spool_dir or (Path(cfg["spool_dir"]) if cfg.get("spool_dir") else default_outbox())
    host = hasher.host_id(args.machine_id or machine_id(root))
    return Sink(hasher, host, output=args.output, outbox=None if args.output else spool, state=state), site_key


def cmd_tap(args: argparse.Namespace) -> int:
    rest = list(args.rest)
    if rest and rest[0] in ("install", "uninstall"):
        return _install(rest[0], rest[1:])
    if rest and rest[0] == "--":
        rest = rest[1:]
    if not rest:
        raise UsageError("tap needs the server's command: mcpeeker-agent tap -- COMMAND [ARGS...]")
    from .tap import default_log, log, run_tap, setup_log

    setup_log(args.log or default_log())
    sink: Sink | None = None
    try:
        sink = _sink(args, load_agent_config(args.agent_config))[0]
    except Exception as exc:  # noqa: BLE001 - no key, bad config: relay without recording, say so in the log
        log.warning("not recording (%s); relaying only", exc)
    return run_tap(rest, args.client, args.server or Path(rest[0]).name, sink, grace=args.grace)


def _install(action: str, argv: list[str]) -> int:
    from . import tapinstall

    p = argparse.ArgumentParser(prog=f"mcpeeker-agent tap {action}")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--client", action="append", help="client name from the client table (repeatable)")
    which.add_argument("--all", action="store_true", help="every supported client")
    p.add_argument("--dry-run", action="store_true", help="say what would change, write nothing")
    p.add_argument("--home", type=Path, help="home directory (default: yours)")
    p.add_argument("--root", type=Path, default=Path("/"), help="filesystem root; fixtures use this")
    p.add_argument("--os", dest="os_name", choices=OS_NAMES, default=current_os())
    p.add_argument("--clients-table", type=Path, help="client table YAML replacing the built-in one")
    a = p.parse_args(argv)
    table = load_table(a.clients_table)
    known = {s.client for s in table.files}
    if a.client and (unknown := sorted(set(a.client) - known)):
        raise UsageError(f"unknown client(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    layout = Layout(a.os_name, a.home or Path.home(), a.root)
    prefix = tapinstall.tap_command()
    failed = False
    for spec, path in tapinstall.candidates(table, layout, None if a.all else set(a.client)):
        if action == "install":
            r = tapinstall.install_file(spec, path, prefix, a.dry_run)
        else:
            r = tapinstall.uninstall_file(spec, path, a.dry_run)
        failed |= r.action == "refused"
        verb = f"would be {r.action}" if a.dry_run and r.action in ("wrapped", "restored", "unwrapped") else r.action
        line = f"{r.client}\t{path}\t{verb}"
        if r.servers:
            line += "\t" + ",".join(r.servers)
        if r.detail:
            line += f"\t({r.detail})"
        print(line)
    return 1 if failed else 0


def cmd_inventory(args: argparse.Namespace) -> int:
    from .inventory import run_inventory, targets

    cfg = load_agent_config(args.agent_config)
    root = args.root or Path("/")
    sink, site_key = _sink(args, cfg, root)
    options = ScanOptions(
        homes=args.home or [Path.home()],
        os_name=args.os_name or current_os(),
        root=root,
        processes=False,
        listeners=False,
    )
    items = [t for t in targets(Scanner(options, site_key)) if not args.client or t.client in args.client]
    allow_env = args.allow_env or bool(cfg.get("inventory_allow_env"))
    remote = args.remote or bool(cfg.get("inventory_remote"))
    failed = 0
    for o in run_inventory(items, sink, args.timeout, allow_env, remote):
        t = o.target
        if o.ok and o.tools is not None:
            print(f"{t.client}\t{t.name}\t{o.tools.count} tool(s)\t{o.tools.hash}")
        elif o.error:
            failed += 1
            print(f"{t.client}\t{t.name}\tnot listed: {o.error}", file=sys.stderr)
    return 0 if not failed else 1
