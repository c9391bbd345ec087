"""`mcpeeker replay PCAP…`: run Suricata and Zeek over pcaps, ingest their output and print the MCP servers and
alerts found (the work is in mcpeeker.replay)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..errors import MCPeekerError
from ..replay import Findings, Server, find_pcaps, ingest_sensor_output, run_sensors
from ..settings import add_connection_arguments, resolve
from ._columns import Column, print_fitted
from .ingest import quiet_client_logs
from .ingest import warn as warn_on_ingest_console

console = Console()
err = Console(stderr=True)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay", help="run Suricata and Zeek over pcaps, ingest their output, show what was found"
    )
    p.add_argument("pcaps", nargs="+", metavar="PCAP", help="pcap files or directories of pcaps")
    p.add_argument(
        "--keep", metavar="DIR", type=Path, help="write sensor output here and keep it (default: a temp dir)"
    )
    p.add_argument("--no-index", action="store_true", help="only run the sensors and show the findings; index nothing")
    p.add_argument(
        "--rules", type=Path, help="Suricata rules (default: suricata/mcp.rules and mcp-remote.rules with its datasets)"
    )
    p.add_argument("--dead-letter", metavar="FILE", help="dead-letter file (default: <output dir>/dead-letter.log)")
    add_connection_arguments(p)
    p.set_defaults(func=cmd_replay)


def _joined(values: set[str]) -> str:
    return ", ".join(sorted(values)) or "-"


# The 'MCP servers seen' table, by priority (cli/_columns.py picks what fits the terminal): the instance whole,
# then server, host and attacks, which wrap rather than lose characters; the rest only when there is room.
SERVER_COLUMNS: tuple[Column[Server], ...] = (
    Column("instance", lambda s: s.key),
    Column("server", lambda s: _joined(s.names), 30, wrap=True, floor=10),
    Column("host", lambda s: _joined(s.domains), 30, wrap=True, floor=16),
    Column("attacks", lambda s: _joined(s.attacks), 40, wrap=True, floor=16),
    Column("seen by", lambda s: ", ".join(sorted(s.sources)), 20, wrap=True),
    Column("transport", lambda s: _joined(s.transports), 20, wrap=True),
    Column("era", lambda s: _joined(s.eras), 20, wrap=True),
    Column("evidence", lambda s: " ".join(f"{t}:{n}" for t, n in sorted(s.evidence.items())), 30, wrap=True),
)


def print_findings(findings: Findings) -> None:
    if findings.servers:
        servers = [findings.servers[key] for key in sorted(findings.servers)]
        print_fitted(console, servers, SERVER_COLUMNS, title="MCP servers seen")
    else:
        console.print("[bold]no MCP server seen[/]")
    if findings.alerts:
        alerts = Table(title="Alerts and notices", title_justify="left")
        alerts.add_column("count", justify="right")
        alerts.add_column("evidence")
        alerts.add_column("rule / notice")
        for rule, count in findings.alerts.most_common():
            alerts.add_row(str(count), findings.alert_types.get(rule, ""), rule)
        console.print(alerts)


def cmd_replay(args: argparse.Namespace) -> int:
    quiet_client_logs(args)
    pcaps = find_pcaps(args.pcaps)
    tmp = None
    if args.keep:
        outdir = args.keep
        outdir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="mcpeeker-replay-")
        outdir = Path(tmp.name)
    try:
        return _replay(args, pcaps, outdir)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _replay(args: argparse.Namespace, pcaps: list[Path], outdir: Path) -> int:
    settings = resolve(args)
    settings.site_keys()  # no site key: stop before the sensors run, naming the setting
    started = time.monotonic()
    run = run_sensors(pcaps, args.rules, outdir)
    err.print(run.versions, highlight=False)
    for name, reason in (("suricata", run.suricata_skip), ("zeek", run.zeek_skip)):
        if reason:
            err.print(f"[yellow]{name}:[/] {reason}", highlight=False, soft_wrap=True)
    if run.eves or run.zeek_logs:
        err.print(
            f"{len(pcaps)} pcap(s): Suricata wrote {len(run.eves)} eve.json, Zeek wrote {len(run.zeek_logs)} logs "
            f"in {outdir}" + ("" if args.keep else " (temporary; --keep DIR to keep them)"),
            highlight=False,
        )
    result = ingest_sensor_output(
        settings,
        run,
        Path(args.dead_letter or outdir / "dead-letter.log"),
        index=not args.no_index,
        warn=warn_on_ingest_console,
    )
    print_findings(result.findings)
    err.print(
        f"read {result.read:,} · documents {result.documents:,} · indexed {result.indexed:,} · "
        f"rejected {result.rejected:,} · {time.monotonic() - started:.1f} s"
        + (" · not indexed (--no-index)" if args.no_index else ""),
        highlight=False,
    )
    if result.spooled_left:
        raise MCPeekerError(f"cluster {settings.url} unreachable: {result.spooled_left:,} documents wait in the spool")
    return 1 if result.rejected else 0
