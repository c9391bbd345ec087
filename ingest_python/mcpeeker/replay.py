"""Replay pcaps: run Suricata (our rules) and Zeek (our package, when installed) over them, ingest what they wrote
and gather the MCP servers and alerts found. The network team's and CI's way in (`mcpeeker replay`, cli/replay.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import orjson

from .errors import MCPeekerError
from .ingest.deadletter import DeadLetter
from .ingest.normalise import Context
from .ingest.pipeline import Pipeline, ReadStats
from .ingest.readers import read_file
from .settings import Settings

PCAP_SUFFIXES = (".pcap", ".pcapng", ".cap")


def find_pcaps(items: list[str]) -> list[Path]:
    """The pcap files given, directories walked for *.pcap, *.pcapng and *.cap."""
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


def run_suricata_all(pcaps: list[Path], rules: Path | list[Path], outdir: Path) -> tuple[list[Path], str | None]:
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
    evidence: Counter[str] = field(default_factory=Counter)
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
        self.alerts: Counter[str] = Counter()
        self.alert_types: dict[str, str] = {}

    def add(self, doc: dict[str, Any]) -> None:
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
        for attr, value in (
            ("eras", mcp.get("spec_era")),
            ("transports", mcp.get("transport")),
            ("domains", doc.get("url", {}).get("domain")),
        ):
            if value:
                getattr(server, attr).add(value)


class _Tee:
    """Sink that records findings and forwards to the deliverer (or nowhere with --no-index)."""

    def __init__(self, deliverer: Any | None, findings: Findings) -> None:
        self.deliverer = deliverer
        self.findings = findings

    def add(self, action: bytes, file: str, line: int, epoch: float) -> None:
        self.findings.add(orjson.loads(action.split(b"\n", 1)[1]))
        if self.deliverer is not None:
            self.deliverer.add(action, file, line, epoch)


@dataclass(frozen=True)
class SensorRun:
    """What the sensors wrote for a set of pcaps, and why a sensor was skipped (None when it ran)."""

    eves: list[Path]
    zeek_logs: list[Path]
    suricata_skip: str | None
    zeek_skip: str | None

    @property
    def versions(self) -> str:
        return sensor_versions(bool(self.eves), not self.zeek_skip)


def run_sensors(pcaps: list[Path], rules: Path | None, outdir: Path) -> SensorRun:
    from .sensors.suricata import DEFAULT_RULES, REMOTE_RULES

    # By default both rule sets: MCP on the wire, and the remote-service rules with their dataset files.
    eves, suricata_skip = run_suricata_all(pcaps, rules or [DEFAULT_RULES, REMOTE_RULES], outdir)
    zeek_logs, zeek_skip = run_zeek_all(pcaps, outdir)
    return SensorRun(eves, zeek_logs, suricata_skip, zeek_skip)


@dataclass
class ReplayResult:
    findings: Findings
    read: int
    documents: int
    indexed: int
    rejected: int
    spooled_left: int


def ingest_sensor_output(
    settings: Settings, run: SensorRun, dead_letter: Path, index: bool, warn: Callable[[str], None]
) -> ReplayResult:
    """Normalise what the sensors wrote, gather the findings and (with `index`) send the documents to the cluster."""
    if not run.eves and not run.zeek_logs:
        raise MCPeekerError("neither Suricata nor Zeek could run; nothing to replay")
    deadletter = DeadLetter(dead_letter)
    deliverer = None
    if index:
        from .client import make_client
        from .indices import ensure_templates
        from .ingest.deliver import Deliverer
        from .state import default_spool

        client = make_client(settings)
        ensure_templates(settings, client, warn)
        deliverer = Deliverer(client, deadletter, spool_dir=default_spool(settings))
    findings = Findings()
    stats = ReadStats()
    ctx = Context(settings.index_prefix, settings.site_key_bytes())
    pipeline = Pipeline(ctx, _Tee(deliverer, findings), deadletter, stats)
    inputs = [("suricata", str(e)) for e in run.eves] + [("zeek", str(z)) for z in run.zeek_logs]
    for source, path in inputs:
        for item in read_file(source, path):
            pipeline.feed(item)
    left = deliverer.close() if deliverer is not None else 0
    deadletter.close()
    indexed = deliverer.stats.indexed if deliverer is not None else 0
    rejected = stats.bad + (deliverer.stats.rejected if deliverer is not None else 0)
    return ReplayResult(findings, stats.read, stats.documents, indexed, rejected, left)
