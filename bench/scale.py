#!/usr/bin/env python3
"""Growth on a three-node cluster (#21 point 6): the seeds' load, 10 000 endpoints and 100 M events a month, at
growing stored sizes.

    .venv/bin/python bench/scale.py [--sizes 1000000,3000000,10000000] [--heap 1g] [--port 19900] [--keep]

The load is simulated hour by hour at the seeds' rate (100 M / month = 139 k events an hour): every hour each of
10 000 agents sends one scan report (the mcpeeker.agent/1 schema; each host has its own id, address and MCP
server port), and the rest of the hour's events are sensor lines (Zeek JSON and Suricata eve.json made from real
sensor output by bench/ingest_throughput.generate, every line distinct). Everything goes through the real ingest
path (mcpeeker.ingest.run.run_ingest: read, normalise, bulk through the deliverer) into a fresh
`mcpeeker opensearch start --nodes 3` cluster (MCPeeker's indices get one replica there).

At each stored size it measures: ingest throughput (documents/s of the increment); correlation cycle time: the
first cycle from nothing (findings and state dropped), the full sweep (a cycle whose window holds every stored
hour with nothing new: what the correlator's hourly full sweep costs, the dearest cycle a running correlator has),
the cycle after a registry approval; the findings-list query latency p95 (mcpeeker.serve.findings.list_findings,
200 calls after 20 untimed); detection latency p50/p95 with the real services on the stored data
(bench/detection_latency.py --url: `ingest agent --follow` and `correlate --every 5s`, 20 new hosts); disk per
million events once merges have settled (primary store size of mcp-events-* from _cat/indices; total with
replicas beside it); the fullest node's heap. Prints a table, the growth exponent k fitted over all sizes
(value ~ stored**k: 1 is linear, 0 flat) and a projection to a month at 100 M events.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import secrets
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "ingest_python"))
sys.path.insert(0, str(REPO / "bench"))

import ingest_throughput  # noqa: E402

from mcpeeker import indices  # noqa: E402
from mcpeeker.client import make_client  # noqa: E402
from mcpeeker.correlate.engine import Correlator  # noqa: E402
from mcpeeker.ingest.run import IngestOptions, run_ingest  # noqa: E402
from mcpeeker.localnode.cluster import LocalCluster  # noqa: E402
from mcpeeker.registry.store import Registry  # noqa: E402
from mcpeeker.roles import Actor  # noqa: E402
from mcpeeker.serve.findings import FindingPage, list_findings  # noqa: E402
from mcpeeker.settings import Settings  # noqa: E402

AGENTS = 10_000
MONTH_EVENTS = 100_000_000
HOUR_EVENTS = MONTH_EVENTS // (30 * 24)  # 138 888
SITE_KEY = secrets.token_hex(32)
AUDIT_KEY = secrets.token_hex(32)  # registry changes are audited, signed with their own key
ACTOR = Actor("bench", "admin")


@dataclass
class Row:
    stored: int
    ingest_docs_per_s: float
    first_s: float
    sweep_s: float
    registry_s: float
    findings: int
    list_p95_ms: float
    primary_bytes: int
    total_bytes: int
    heap_pct: int  # the fullest node's JVM heap use after the measurements
    detect_p50_s: float
    detect_p95_s: float

    @property
    def mb_per_million(self) -> float:
        return self.primary_bytes / 1e6 / (self.stored / 1e6)


def host_ip(n: int) -> str:
    m = n + 1
    return f"10.{(m >> 16) & 255}.{(m >> 8) & 255}.{m & 255}"


def agent_hour(path: Path, hour: datetime) -> None:
    """One scan report per agent for this hour: a FastMCP process and its listener on the host's own port."""
    stamp = hour.isoformat().replace("+00:00", "Z")
    with open(path, "wb") as fh:
        for n in range(AGENTS):
            port = 8000 + n % 50
            report = {
                "schema": "mcpeeker.agent/1",
                "host_id": hashlib.sha256(f"{SITE_KEY}-host-{n}".encode()).hexdigest(),
                "timestamp": stamp,
                "local_score": 22,
                "agent": {"version": "0.1.0"},
                "host": {"os": "linux", "ips": ["127.0.0.1", host_ip(n)], "listening_ports": [22, port]},
                "evidence": [
                    {
                        "type": "process",
                        "score": 11,
                        "reason": "FastMCP server by command line",
                        "process": {
                            "pid": 4242,
                            "ppid": 1,
                            "name": "python3",
                            "cmdline": f"python3 -m notes_server --port {port}",
                            "matched": "fastmcp",
                        },
                    },
                    {
                        "type": "listener",
                        "score": 11,
                        "reason": "listener owned by an MCP server process",
                        "listener": {"ip": "0.0.0.0", "port": port, "pid": 4242, "transport": "tcp"},
                    },
                ],
            }
            fh.write(orjson.dumps(report) + b"\n")


class SensorLines:
    """Distinct Zeek JSON (per log type: the reader tells the type from the file name) and eve.json lines made from
    real sensor output. One pool of generated lines (about two hours' worth) is cycled through; each pass rewrites
    the Zeek uid / eve flow_id with the pass number, so every line handed out is distinct (documents are keyed by
    a hash of the line) and memory stays that of the pool whatever the stored size."""

    def __init__(self, work: Path, pool: int) -> None:
        ingest_throughput.MIX = {"zeek_json": 0.6, "zeek_tsv": 0.0, "eve": 0.4, "agent": 0.0}
        files = ingest_throughput.generate(work, pool)
        self.lines = {p.stem: p.read_bytes().splitlines() for p in files["zeek"] if "zeek-json" in str(p)}
        self.lines["eve"] = files["suricata"][0].read_bytes().splitlines()
        shutil.rmtree(work / "zeek-json", ignore_errors=True)
        shutil.rmtree(work / "zeek-tsv", ignore_errors=True)
        shutil.rmtree(work / "suricata", ignore_errors=True)
        self.shares = {kind: len(lines) / pool for kind, lines in self.lines.items()}
        self.at = dict.fromkeys(self.lines, 0)  # lines handed out per kind, over all passes
        self.taken = 0

    @staticmethod
    def _vary(kind: str, line: bytes, turn: int) -> bytes:
        if turn == 0:
            return line
        if kind == "eve":  # flow_id 10**12 + i -> <turn>10**12 + i: a distinct number per pass
            return line.replace(b'"flow_id":1', b'"flow_id":%d1' % turn, 1)
        return line.replace(b'"uid":"C', b'"uid":"P%x-' % turn, 1)

    def take(self, work: Path, count: int) -> dict[str, Path]:
        """`count` lines: a directory of <type>.log for Zeek, one eve.json for Suricata."""
        zeek = work / "zeek"
        shutil.rmtree(zeek, ignore_errors=True)
        zeek.mkdir()
        out = {"zeek": zeek, "suricata": work / "eve.json"}
        for kind, lines in self.lines.items():
            n = int(count * self.shares[kind])
            path = out["suricata"] if kind == "eve" else zeek / f"{kind}.log"
            with open(path, "wb") as fh:
                for k in range(self.at[kind], self.at[kind] + n):
                    turn, i = divmod(k, len(lines))
                    fh.write(self._vary(kind, lines[i], turn) + b"\n")
            self.at[kind] += n
        self.taken += count
        return out


def ingest_file(settings: Settings, source: str, path: Path, work: Path) -> int:
    options = IngestOptions(
        source=source,
        paths=(str(path),),
        dead_letter=str(work / "dead.log"),
        spool_dir=work / "spool",
        batch_size=2000,
        setup=False,
    )
    result = run_ingest(settings, options)
    return result.indexed


def stored(client: Any, settings: Settings) -> int:
    client.indices.refresh(index=settings.index("mcp-events-*"))
    return int(client.count(index=settings.index("mcp-events-*"))["count"])


def disk(client: Any, settings: Settings) -> tuple[int, int]:
    """Store sizes once they have settled: after a burst of ingest the segments a merge replaced stay on disk until
    the next commit (a first 10 M reading was 45 % high). Waits for no merge running, forces a commit, and reads
    until two readings 10 s apart agree within 2 %."""
    pattern = settings.index("mcp-events-*")
    previous: tuple[int, int] | None = None
    deadline = time.monotonic() + 900
    while True:
        stats = client.nodes.stats(metric="indices", index_metric="merge")["nodes"].values()
        if all(n["indices"]["merges"]["current"] == 0 for n in stats):
            client.indices.flush(index=pattern, force=True, wait_if_ongoing=True)
            rows = client.cat.indices(index=pattern, format="json", bytes="b", h="pri.store.size,store.size")
            sizes = sum(int(r["pri.store.size"]) for r in rows), sum(int(r["store.size"]) for r in rows)
            if previous and all(abs(a - b) <= 0.02 * b for a, b in zip(sizes, previous)):
                return sizes
            previous = sizes
        if time.monotonic() > deadline and previous:
            return previous
        time.sleep(10)


def correlate(settings: Settings, client: Any, serial: int, window: timedelta) -> tuple[float, float, float, int]:
    """First cycle from nothing (findings and state dropped), the full sweep (median of 3), the cycle after an
    approval."""
    client.indices.delete(
        index=",".join(settings.index(n) for n in ("mcp-findings*", "mcp-state*")),
        expand_wildcards="all",
        ignore_unavailable=True,
    )
    indices.install(settings, client)
    correlator = Correlator(settings, client)
    correlator.overlap = window  # every cycle's window holds the whole simulated period
    first = correlator.run_once(ACTOR)
    sweep = sorted(correlator.run_once(ACTOR).seconds for _ in range(3))[1]
    registry = Registry(settings, client, ACTOR)
    entry = registry.add(
        {
            "owner": "bench",
            "team": "bench",
            "purpose": f"bench approval {serial}",
            "server": {"ip": host_ip(serial), "port": 8000 + serial % 50},
        }
    )
    registry.apply(entry["entry_id"], "approve")
    approved = correlator.run_once(ACTOR)
    return first.seconds, sweep, approved.seconds, approved.findings_total


def list_p95(settings: Settings, client: Any, calls: int = 200) -> float:
    for _ in range(20):  # untimed: the first calls pay for loading the query's caches
        list_findings(settings, client, FindingPage(), None)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        list_findings(settings, client, FindingPage(), None)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.quantiles(times, n=20)[18]


def detection(settings: Settings, events: int = 20) -> tuple[float, float]:
    """p50/p95 seconds from an agent report written to a followed file to its finding, with the real services
    (`ingest agent --follow`, `correlate --every 5s`) on this cluster and its stored evidence."""
    argv = [sys.executable, str(REPO / "bench" / "detection_latency.py"), "--events", str(events)]
    argv += ["--url", settings.url, "--index-prefix", settings.index_prefix]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=900).stdout
    match = re.search(r"p50=([0-9.]+) p95=([0-9.]+)", out)
    if not match:
        raise SystemExit(f"bench/detection_latency.py printed no result:\n{out}")
    return float(match.group(1)), float(match.group(2))


def exponent(a: float, b: float, na: int, nb: int) -> float:
    if a <= 0 or b <= 0:
        return float("nan")
    return math.log(b / a) / math.log(nb / na)


def fit_exponent(sizes: list[int], values: list[float]) -> float:
    """Slope of log(value) against log(size): value ~ size**k."""
    points = [(math.log(n), math.log(v)) for n, v in zip(sizes, values) if v > 0]
    if len(points) < 2:
        return float("nan")
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den


def measure(settings: Settings, client: Any, serial: int, window: timedelta, ingest_rate: float, warm: bool) -> Row:
    """Every measurement at the stored size; `warm`: a throw-away pass first (caches and JIT of a new cluster)."""
    count = stored(client, settings)
    if warm:  # its approval names an address outside the simulated hosts
        correlate(settings, client, AGENTS + serial, window)
    first, sweep, approved, findings = correlate(settings, client, serial, window)
    print(f"  cycles: first {first:.2f}s full sweep {sweep:.2f}s registry change {approved:.2f}s", flush=True)
    p95 = list_p95(settings, client)
    primary, total = disk(client, settings)
    nodes = client.nodes.stats(metric="jvm")["nodes"].values()
    heap = max(int(n["jvm"]["mem"]["heap_used_percent"]) for n in nodes)
    p50, p95_detect = detection(settings)
    print(f"  detection p50 {p50:.2f}s p95 {p95_detect:.2f}s", flush=True)
    return Row(count, ingest_rate, first, sweep, approved, findings, p95, primary, total, heap, p50, p95_detect)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000,3000000,10000000", help="stored event counts to measure at")
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--port", type=int, default=19900)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running with its data")
    parser.add_argument(
        "--measure-only", action="store_true", help="measure what a kept cluster stores again, ingesting nothing"
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    base = REPO / "bench" / "out" / "scale"
    cluster = LocalCluster("bench-scale", 3, args.port, args.heap, base=base)
    t0 = time.perf_counter()
    cluster.start(timeout=600, progress=lambda msg: print(msg, flush=True))
    print(f"3-node cluster green in {time.perf_counter() - t0:.0f}s (heap {args.heap} each)", flush=True)
    settings = Settings(
        url=cluster.url, index_prefix="scale-", site_key=SITE_KEY, audit_key=AUDIT_KEY, identity="admin"
    )
    client = make_client(settings)
    if args.measure_only:
        serial = 100 + secrets.randbelow(AGENTS - 100)  # a host not approved by an earlier run (most likely)
        row = measure(settings, client, serial, timedelta(days=30), float("nan"), warm=True)
        report([row])
        return 0
    client.indices.delete(index="scale-*", expand_wildcards="all", ignore_unavailable=True)
    indices.install(settings, client)
    work = Path(tempfile.mkdtemp(prefix="mcpeeker-scale-"))
    rows: list[Row] = []
    try:
        # Only part of the sensor lines become documents (record types MCPeeker does not index are skipped): the
        # lines of each hour are sized from the previous hours' ratio so that an hour stores the seeds' 139 k.
        sensors = SensorLines(work, 2 * HOUR_EVENTS)
        ratio = 0.5  # stored documents per sensor line, measured from the first hour on
        agent_docs = 3 * AGENTS
        # The simulated hours end now (nothing in the future, which ingest would flag as clock skew), and every
        # correlation cycle's window holds all of them.
        hours = math.ceil(sizes[-1] / HOUR_EVENTS) + 2
        hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)
        window = timedelta(hours=hours + 2)
        for size in sizes:
            seconds, indexed = 0.0, 0
            while stored(client, settings) < size:
                reports = work / "agents.ndjson"
                agent_hour(reports, hour)
                lines = int(max(0, HOUR_EVENTS - agent_docs) / ratio)
                files = {"agent": reports, **sensors.take(work, lines)}
                t = time.perf_counter()
                per_source = {source: ingest_file(settings, source, path, work) for source, path in files.items()}
                seconds += time.perf_counter() - t
                indexed += sum(per_source.values())
                agent_docs = per_source["agent"]
                ratio = max(0.05, (per_source["zeek"] + per_source["suricata"]) / max(1, lines))
                hour += timedelta(hours=1)
                print(
                    f"  {hour:%m-%d %H}:00 stored {stored(client, settings):,} (agents {agent_docs:,}, sensors "
                    f"{per_source['zeek'] + per_source['suricata']:,} of {lines:,} lines)",
                    flush=True,
                )
            rows.append(measure(settings, client, len(rows) + 1, window, indexed / seconds, warm=not rows))
            print(f"measured at {rows[-1].stored:,}", flush=True)
        report(rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            client.indices.delete(index="scale-*", expand_wildcards="all", ignore_unavailable=True)
            cluster.stop()
    return 0


def report(rows: list[Row]) -> None:
    print()
    print(
        "| stored events | ingest docs/s | first cycle s | full sweep s | registry-change cycle s | findings "
        "| findings list p95 ms | detection p50 / p95 s | MB/M events (primary) | store total MB | max node heap % |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.stored:,} | {r.ingest_docs_per_s:,.0f} | {r.first_s:.2f} | {r.sweep_s:.2f} | {r.registry_s:.2f} "
            f"| {r.findings:,} | {r.list_p95_ms:.1f} | {r.detect_p50_s:.1f} / {r.detect_p95_s:.1f} | {r.mb_per_million:.0f} | {r.total_bytes / 1e6:,.0f} | {r.heap_pct} |"
        )
    if len(rows) < 2:
        return
    b = rows[-1]
    print()
    print(
        f"growth exponent k, least squares of log(value) on log(stored) over {len(rows)} sizes "
        f"{rows[0].stored:,} .. {b.stored:,} (1 = linear, 0 = flat); per step in brackets:"
    )
    metrics = {
        "first cycle": [r.first_s for r in rows],
        "full sweep": [r.sweep_s for r in rows],
        "registry-change cycle": [r.registry_s for r in rows],
        "findings list p95": [r.list_p95_ms for r in rows],
        "detection p95": [r.detect_p95_s for r in rows],
        "disk (primary)": [float(r.primary_bytes) for r in rows],
    }
    sizes = [r.stored for r in rows]
    for name, values in metrics.items():
        k = fit_exponent(sizes, values)
        steps = ", ".join(
            f"{exponent(values[i], values[i + 1], sizes[i], sizes[i + 1]):.2f}" for i in range(len(rows) - 1)
        )
        # A negative exponent is noise (warm-up, caches), not a cost that shrinks with data: project flat then.
        projected = values[-1] * (MONTH_EVENTS / b.stored) ** max(k, 0.0)
        unit = "ms" if "list" in name else "GB" if "disk" in name else "s"
        value = projected / 1e9 if unit == "GB" else projected
        print(f"  {name:24s} k={k:5.2f} [{steps}]  projected at {MONTH_EVENTS:,} events: {value:,.2f} {unit}")
    print(
        f"  disk with one replica at {MONTH_EVENTS:,}: {b.total_bytes / b.stored * MONTH_EVENTS / 1e9:,.1f} GB "
        f"(linear in the events at {b.total_bytes / b.stored:,.0f} B/event)"
    )


if __name__ == "__main__":
    sys.exit(main())
