"""`mcpeeker-agent scan`: find MCP configs, processes and listeners; print, save or ship one NDJSON report."""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import yaml

from . import __version__
from .clients import OS_NAMES, TableError, load_table
from .config import UsageError, load_agent_config, resolve_site_key
from .discovery import DEFAULT_MAX_DEPTH, DEFAULT_MAX_ENTRIES
from .explain import explain
from .outbox import DrainResult, Outbox, Shipper, default_outbox, read_token
from .parsers import DEFAULT_MAX_BYTES, DEFAULT_MAX_STREAM_BYTES
from .scanner import Scanner, ScanOptions, current_os
from .state import default_state_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcpeeker-agent", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mcpeeker-agent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    scan = sub.add_parser("scan", help="scan this endpoint once (or every --interval seconds)")
    g = scan.add_argument_group("what to scan")
    g.add_argument("--home", action="append", type=Path, help="home directory to scan (repeatable; default: yours)")
    g.add_argument("--all-users", action="store_true", help="scan every home under /home, /Users, C:/Users (and /root)")
    g.add_argument("--root", type=Path, help="filesystem root for absolute (managed) paths; fixtures use this")
    g.add_argument("--os", dest="os_name", choices=OS_NAMES, help="path layout to use (default: this machine's)")
    g.add_argument(
        "--project-root", action="append", type=Path, help="where to look for project configs (default: the homes)"
    )
    g.add_argument("--max-depth", type=int, help=f"project discovery depth (default {DEFAULT_MAX_DEPTH})")
    g.add_argument("--max-files", type=int, help=f"project discovery entry bound (default {DEFAULT_MAX_ENTRIES})")
    g.add_argument("--max-bytes", type=int, help=f"config size cap (default {DEFAULT_MAX_BYTES})")
    g.add_argument(
        "--max-stream-bytes",
        type=int,
        help=f"JSON files over --max-bytes are streamed for their server keys up to this size (default {DEFAULT_MAX_STREAM_BYTES})",
    )
    g.add_argument("--clients-table", type=Path, help="client table YAML replacing the built-in one")
    g.add_argument(
        "--host-address",
        action="append",
        default=[],
        metavar="IP",
        type=_ip_address,
        help="an address this host is reached at that it cannot see itself (NAT, load balancer); repeatable",
    )
    g.add_argument("--no-processes", action="store_true", help="skip the process scan")
    g.add_argument("--no-listeners", action="store_true", help="skip listening sockets (and the probe)")
    g.add_argument("--probe", action="store_true", help="send an MCP initialize to local listeners (127.0.0.1 only)")
    g.add_argument("--probe-max", type=int, help="at most this many ports probed (default 16)")
    g.add_argument("--probe-timeout", type=float, help="seconds per probe step (default 0.5)")
    o = scan.add_argument_group("privacy and state")
    o.add_argument(
        "--site-key-file",
        type=Path,
        help="the site key file from `mcpeeker init` (env MCPEEKER_SITE_KEY_FILE; agent config site_key_file; mcpeeker.yaml)",
    )
    o.add_argument(
        "--site-key",
        help="the site key itself (env MCPEEKER_SITE_KEY); prefer --site-key-file, command lines are visible to other users",
    )
    o.add_argument("--agent-config", type=Path, help="agent settings YAML (site_key, homes, project_roots, bounds …)")
    o.add_argument("--state", type=Path, help=f"fingerprint state file (default {default_state_path()})")
    o.add_argument("--no-state", action="store_true", help="do not read or write the state file")
    o.add_argument("--machine-id", help=argparse.SUPPRESS)
    o.add_argument("--explain", action="store_true", help="show what would be sent, in plain words, and send nothing")
    out = scan.add_argument_group("output")
    out.add_argument("-o", "--output", type=Path, help="append NDJSON reports to this file (default: stdout)")
    out.add_argument(
        "--interval", type=float, help="run as a service: scan every N seconds (ship errors never stop it)"
    )
    out.add_argument("--count", type=int, help="with --interval: stop after N scans")
    s = scan.add_argument_group("shipping to the collector (`mcpeeker collect`; the agent holds no SIEM credentials)")
    s.add_argument(
        "--ship", metavar="URL", help="collector URL, e.g. https://collector.example:8443 (agent config: ship)"
    )
    s.add_argument(
        "--token-file", type=Path, help="file holding this agent's enrollment token (agent config: token_file)"
    )
    s.add_argument("--ca-certs", dest="ca_certs", help="CA bundle that verifies the collector (default: the system's)")
    s.add_argument("--client-cert", dest="client_cert", help="client certificate when the collector requires mTLS")
    s.add_argument("--client-key", dest="client_key", help="its private key")
    s.add_argument(
        "--insecure",
        dest="verify_tls",
        action="store_const",
        const=False,
        default=None,
        help="do NOT verify the collector's certificate (verification is on by default)",
    )
    s.add_argument(
        "--spool-dir", type=Path, help=f"outbox of reports not yet acknowledged (default {default_outbox()})"
    )
    s.add_argument("--ship-retries", type=int, default=3, help="retries per report before waiting for the next scan")
    s.add_argument(
        "--ship-cluster",
        action="store_true",
        help="non-default, for demos and tests: index straight into the cluster named by MCPEEKER_URL/"
        "MCPEEKER_* (this endpoint then needs SIEM write credentials)",
    )
    scan.set_defaults(func=cmd_scan)
    from . import tapcli

    tapcli.register(sub)
    return parser


def _homes(args: argparse.Namespace, cfg: dict[str, Any], root: Path) -> list[Path]:
    homes = list(args.home or []) or [Path(h) for h in cfg.get("homes", [])]
    if args.all_users:
        for parent in ("home", "Users"):
            base = root / parent
            if base.is_dir():
                homes += [
                    p
                    for p in sorted(base.iterdir())
                    if p.is_dir() and not p.name.startswith((".", "Public", "Default"))
                ]
        if (root / "root").is_dir():
            homes.append(root / "root")
    return homes or [Path.home()]


def options_from_args(args: argparse.Namespace, cfg: dict[str, Any]) -> ScanOptions:
    root = args.root or Path("/")
    state = (
        None if args.no_state else (args.state or (Path(cfg["state"]) if cfg.get("state") else default_state_path()))
    )
    try:
        table = load_table(args.clients_table or cfg.get("clients_table"))
    except (OSError, TableError, yaml.YAMLError) as exc:
        raise UsageError(f"client table: {exc}") from exc
    roots = args.project_root or ([Path(r) for r in cfg["project_roots"]] if "project_roots" in cfg else None)

    def pick(flag: Any, key: str, default: Any) -> Any:
        return flag if flag is not None else cfg.get(key, default)

    return ScanOptions(
        homes=_homes(args, cfg, root),
        os_name=args.os_name or current_os(),
        root=root,
        project_roots=roots,
        max_depth=pick(args.max_depth, "max_depth", DEFAULT_MAX_DEPTH),
        max_files=pick(args.max_files, "max_files", DEFAULT_MAX_ENTRIES),
        max_bytes=pick(args.max_bytes, "max_bytes", DEFAULT_MAX_BYTES),
        max_stream_bytes=pick(args.max_stream_bytes, "max_stream_bytes", DEFAULT_MAX_STREAM_BYTES),
        processes=not args.no_processes,
        listeners=not args.no_listeners,
        probe=args.probe or bool(cfg.get("probe")),
        probe_max=pick(args.probe_max, "probe_max", 16),
        probe_timeout=pick(args.probe_timeout, "probe_timeout", 0.5),
        state_path=state,
        machine_id=args.machine_id,
        table=table,
        extra_addresses=args.host_address,
    )


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an IP address: {value!r}") from exc


def _emit(report: dict[str, Any], args: argparse.Namespace, outbox: Outbox | None) -> None:
    line = json.dumps(report, separators=(",", ":"), ensure_ascii=False)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with args.output.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    elif outbox is None and not args.ship_cluster:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    if outbox is not None:
        outbox.put(line.encode("utf-8"), str(report.get("scan_id", "")))  # on disk before anything is sent
    if args.ship_cluster:
        from mcpeeker.settings import resolve

        from .ship import ship

        count = ship(report, resolve(args))
        print(f"shipped {count} evidence documents", file=sys.stderr)


def _shipper(args: argparse.Namespace, cfg: dict[str, Any]) -> tuple[Outbox, Shipper] | tuple[None, None]:
    url = args.ship or cfg.get("ship")
    if not url:
        return None, None
    if args.ship_cluster:
        raise UsageError("--ship (collector) and --ship-cluster exclude each other")
    token_file = args.token_file or (Path(cfg["token_file"]) if cfg.get("token_file") else None)
    if token_file is None:
        raise UsageError("--ship needs --token-file (the enrollment token from `mcpeeker collect token issue`)")
    spool = args.spool_dir or (Path(cfg["spool_dir"]) if cfg.get("spool_dir") else default_outbox())
    try:
        shipper = Shipper(
            url,
            read_token(token_file),
            ca_certs=args.ca_certs or cfg.get("ca_certs"),
            client_cert=args.client_cert or cfg.get("client_cert"),
            client_key=args.client_key or cfg.get("client_key"),
            verify_tls=args.verify_tls is not False,
            retries=args.ship_retries,
        )
        return Outbox(spool), shipper
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from exc


def _drain(outbox: Outbox, shipper: Shipper) -> DrainResult:
    result = shipper.drain(outbox)
    for rejection in result.rejections:
        print(
            f"mcpeeker-agent: the collector refused a report (kept in {outbox.dir / 'rejected'}): {rejection}",
            file=sys.stderr,
        )
    if result.error:
        print(
            f"mcpeeker-agent: not shipped: {result.error}; {result.left} report(s) wait in {outbox.dir} and are "
            "sent, in order, when the collector answers",
            file=sys.stderr,
        )
    elif result.sent:
        print(f"mcpeeker-agent: shipped {result.sent} report(s) to {shipper.url}", file=sys.stderr)
    return result


def cmd_scan(args: argparse.Namespace) -> int:
    cfg = load_agent_config(args.agent_config)
    options = options_from_args(args, cfg)
    site_key, key_source = resolve_site_key(args.site_key, args.site_key_file, cfg)
    outbox, shipper = (None, None) if args.explain else _shipper(args, cfg)
    runs = 0
    while True:
        report = Scanner(options, site_key).run()
        if args.explain:
            sys.stdout.write(explain(report, options, key_source))
            return 0
        try:
            _emit(report, args, outbox)
        except Exception as exc:  # noqa: BLE001 - a service keeps scanning through cluster and disk errors
            if not args.interval:
                raise
            print(
                f"mcpeeker-agent: error: {'shipping' if args.ship_cluster else 'saving the report'} failed: {exc}",
                file=sys.stderr,
            )
        result = None
        if outbox is not None and shipper is not None:
            try:
                result = _drain(outbox, shipper)
            except Exception as exc:  # noqa: BLE001 - the reports stay in the outbox for the next scan
                if not args.interval:
                    raise
                print(f"mcpeeker-agent: error: shipping failed: {exc}", file=sys.stderr)
        runs += 1
        if not args.interval or (args.count and runs >= args.count):
            return 1 if result is not None and (result.error or result.rejected) else 0
        time.sleep(max(0.0, args.interval - report["duration_ms"] / 1000))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"mcpeeker-agent: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - shipping errors come from many libraries
        if getattr(args, "ship_cluster", False):
            print(f"mcpeeker-agent: error: shipping failed: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
