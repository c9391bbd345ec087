"""`mcpeeker replay PCAP…`: run Suricata (our rules) and Zeek (our package, when installed) over pcaps, ingest
what they wrote and print the MCP servers and alerts found. The network team's and CI's way in."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from .errors import MCPeekerError
from .ingest.deadletter import DeadLetter
from .ingest.normalise import Context
from .ingest.pipeline import Pipeline, ReadStats
from .ingest.readers import read_file
from .settings import add_connection_arguments, resolve

console = Console()
err = Console(stderr=True)

PCAP_SUFFIXES = (".pcap", ".pcapng", ".cap")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("replay", help="run Suricata and Zeek over pcaps, ingest their output, show what was found")
    p.add_argument("pcaps", nargs="+", metavar="PCAP", help="pcap files or directories of pcaps")
    p.add_argument("--keep", metavar="DIR", type=Path, help="write sensor output here and keep it (default: a temp dir)")
    p.add_argument("--no-index", action="store_true", help="only run the sensors and show the findings; index nothing")
    p.add_argument("--rules", type=Path, help="Suricata rules (default: suricata/mcp.rules)")
    p.add_argument("--dead-letter", metavar="FILE", help="dead-letter file (default: <output dir>/dead-letter.log)")
    add_connection_arguments(p)
    p.set_defaults(func=cmd_replay)


def _pcaps(items: list[str]) -> list[Path]:
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(PCAP_SUFFIXES)))
        elif path.is_file():
            out.append(path)
        else:
            raise MCPeekerError(f"{path}: no such pcap file or directory")
    if not out:
        raise MCPeekerError(f"no pcaps in {' '.join(items)}")
    return out


def run_suricata_all(pcaps: list[Path], rules: Path, outdir: Path) -> tuple[list[Path], str | None]:
    """eve.json per pcap (one Suricata run each keeps flows of different captures apart)."""
    try:
        from .sensors.suricata import find_suricata, run_suricata
        find_suricata()
    except MCPeekerError as exc:
        return [], f"not usable \N{EM DASH} skipped ({exc})"
    eves = []
    for i, pcap in enumerate(pcaps):
        eves.append(run_suricata(pcap, rules, outdir / "suricata" / f"{i:03d}-{pcap.stem}"))
    return eves, None


def run_zeek_all(pcaps: list[Path], outdir: Path) -> tuple[list[Path], str | None]:
    """JSON logs of Zeek with our package, one run per pcap (zeek on PATH, $MCPEEKER_ZEEK or /opt/zeek/bin/zeek)."""
    from .sensors.zeek import find_zeek, how_to_get, run_zeek

    zeek = find_zeek()
    if zeek is None:
        return [], f"not installed \N{EM DASH} skipped, Suricata results only ({how_to_get()})"
    logs: list[Path] = []
    for i, pcap in enumerate(pcaps):
        logs.extend(run_zeek(pcap, outdir / "zeek" / f"{i:03d}-{pcap.stem}", binary=zeek))
    return logs, None


def sensor_versions(suricata_ran: bool, zeek_ran: bool) -> str:
    """`sensors: suricata 7.0.10, zeek 7.0.11`: which sensors this replay ran."""
    parts = []
    if suricata_ran:
        from .sensors.suricata import find_suricata, suricata_version
        parts.append("suricata " + ".".join(map(str, suricata_version(find_suricata()))))
    if zeek_ran:
        from .sensors.zeek import find_zeek, zeek_version
        zeek = find_zeek()
        parts.append(f"zeek {zeek_version(zeek)}" if zeek else "zeek")
    return "sensors: " + (", ".join(parts) or "none")


@dataclass
class Server:
    key: str
    evidence: Counter = field(default_factory=Counter)
    attacks: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    eras: set[str] = field(default_factory=set)
    transports: set[str] = field(default_factory=set)
    domains: set[str] = field(default_factory=set)


class Findings:
    """What the documents say, aggregated per instance key and per rule, for the closing tables."""

    def __init__(self) -> None:
        self.servers: dict[str, Server] = {}
        self.alerts: Counter = Counter()
        self.alert_types: dict[str, str] = {}

    def add(self, doc: dict) -> None:
        mcpeeker = doc.get("mcpeeker", {})
        ev_type = mcpeeker.get("evidence", {}).get("type")
        rule = doc.get("rule", {}).get("name")
        if doc.get("event", {}).get("kind") == "alert" and rule:
            self.alerts[rule] += 1
            self.alert_types[rule] = ev_type or ""
        key = mcpeeker.get("instance", {}).get("key")
        if not key or ev_type == "context":
            return
        server = self.servers.setdefault(key, Server(key))
        server.evidence[ev_type] += 1
        server.sources.add(doc["event"]["module"])
        attack = mcpeeker.get("attack", {}).get("type")
        if attack:
            server.attacks.update(attack if isinstance(attack, list) else [attack])
        mcp = doc.get("mcp", {})
        name = mcp.get("server", {}).get("name")
        if name:
            server.names.add(f"{name} {mcp['server'].get('version', '')}".strip())
        for attr, value in (("eras", mcp.get("spec_era")), ("transports", mcp.get("transport")),
                            ("domains", doc.get("url", {}).get("domain"))):
            if value:
                getattr(server, attr).add(value)

    def print(self) -> None:
        table = Table(title="MCP servers seen", title_justify="left")
        for col in ("instance", "server", "host", "era", "transport", "evidence", "attacks", "seen by"):
            table.add_column(col)
        for key in sorted(self.servers):
            s = self.servers[key]
            table.add_row(key, ", ".join(sorted(s.names)) or "-", ", ".join(sorted(s.domains)) or "-",
                          ", ".join(sorted(s.eras)) or "-", ", ".join(sorted(s.transports)) or "-",
                          " ".join(f"{t}:{n}" for t, n in sorted(s.evidence.items())),
                          ", ".join(sorted(s.attacks)) or "-", ", ".join(sorted(s.sources)))
        console.print(table if self.servers else "[bold]no MCP server seen[/]")
        if self.alerts:
            alerts = Table(title="Alerts and notices", title_justify="left")
            alerts.add_column("count", justify="right")
            alerts.add_column("evidence")
            alerts.add_column("rule / notice")
            for rule, count in self.alerts.most_common():
                alerts.add_row(str(count), self.alert_types.get(rule, ""), rule)
            console.print(alerts)


class _Tee:
    """Sink that records findings and forwards to the deliverer (or nowhere with --no-index)."""

    def __init__(self, deliverer: Any | None, findings: Findings) -> None:
        self.deliverer = deliverer
        self.findings = findings

    def add(self, action: bytes, file: str, line: int, epoch: float) -> None:
        self.findings.add(orjson.loads(action.split(b"\n", 1)[1]))
        if self.deliverer is not None:
            self.deliverer.add(action, file, line, epoch)


def cmd_replay(args: argparse.Namespace) -> int:
    from .ingest.commands import quiet_client_logs

    quiet_client_logs(args)
    pcaps = _pcaps(args.pcaps)
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
    from .sensors.suricata import DEFAULT_RULES

    resolve(args).site_keys()  # no site key: stop before the sensors run, naming the setting
    started = time.monotonic()
    eves, suricata_skip = run_suricata_all(pcaps, args.rules or DEFAULT_RULES, outdir)
    zeek_logs, zeek_skip = run_zeek_all(pcaps, outdir)
    err.print(sensor_versions(bool(eves), not zeek_skip), highlight=False)
    for name, reason in (("suricata", suricata_skip), ("zeek", zeek_skip)):
        if reason:
            err.print(f"[yellow]{name}:[/] {reason}", highlight=False, soft_wrap=True)
    if not eves and not zeek_logs:
        raise MCPeekerError("neither Suricata nor Zeek could run; nothing to replay")
    err.print(f"{len(pcaps)} pcap(s): Suricata wrote {len(eves)} eve.json, Zeek wrote {len(zeek_logs)} logs "
              f"in {outdir}" + ("" if args.keep else " (temporary; --keep DIR to keep them)"), highlight=False)

    settings = resolve(args)
    deadletter = DeadLetter(args.dead_letter or outdir / "dead-letter.log")
    deliverer = None
    if not args.no_index:
        from .client import make_client
        from .ingest.commands import _ensure_templates, default_spool
        from .ingest.deliver import Deliverer

        client = make_client(settings)
        _ensure_templates(settings, client)
        deliverer = Deliverer(client, deadletter, spool_dir=default_spool(settings))
    findings = Findings()
    stats = ReadStats()
    ctx = Context(settings.index_prefix, settings.site_key_bytes())
    pipeline = Pipeline(ctx, _Tee(deliverer, findings), deadletter, stats)
    inputs = [("suricata", str(e)) for e in eves] + [("zeek", str(z)) for z in zeek_logs]
    for source, path in inputs:
        for item in read_file(source, path):
            pipeline.feed(item)
    left = deliverer.close() if deliverer is not None else 0
    deadletter.close()
    findings.print()
    indexed = deliverer.stats.indexed if deliverer is not None else 0
    rejected = stats.bad + (deliverer.stats.rejected if deliverer is not None else 0)
    err.print(f"read {stats.read:,} · documents {stats.documents:,} · indexed {indexed:,} · rejected {rejected:,} · "
              f"{time.monotonic() - started:.1f} s" + (" · not indexed (--no-index)" if args.no_index else ""),
              highlight=False)
    if left:
        raise MCPeekerError(f"cluster {settings.url} unreachable: {left:,} documents wait in the spool")
    return 1 if rejected else 0
