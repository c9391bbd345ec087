#!/usr/bin/env python3
"""Ingest throughput: normalisation events/s on one core, end-to-end `mcpeeker ingest` vs helpers.bulk, peak RSS.

Generates a mixed log set (Zeek JSON + Zeek TSV + Suricata eve.json + agent NDJSON) of --events lines from real
sensor output (shared/zeek-logs, eve.json Suricata writes over tests/pcaps, a real mcpeeker-agent report), then:

1. normalisation: read + parse + normalise + serialise every line on one core (no cluster), next to the cost of
   the JSON parse alone (orjson.loads of the same lines; for TSV the tab split), in events/s; each file --repeat
   times, the median counting; it says which hot-path modules run compiled (setup.py builds them with Cython);
2. end-to-end into a local node: documents/s of `mcpeeker ingest` (a subprocess, everything included) and of
   `opensearchpy.helpers.bulk` of the same documents pre-built in memory, in one run, and their ratio;
3. peak RSS of `mcpeeker ingest` at several input sizes (should be flat).

    .venv/bin/python bench/ingest_throughput.py [--events 1000000] [--url http://127.0.0.1:9200] [--skip-e2e]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "ingest_python"))

from mcpeeker.ingest import native  # noqa: E402
from mcpeeker.ingest.normalise import Context  # noqa: E402
from mcpeeker.ingest.pipeline import Pipeline  # noqa: E402
from mcpeeker.ingest.deadletter import DeadLetter  # noqa: E402
from mcpeeker.ingest.readers import read_file  # noqa: E402

SHARED = REPO.parent / "shared" / "zeek-logs"
# Agent reports are rare next to network logs (10,000 endpoints scanning every 15 min send ~11 reports/s; a
# sensor writes thousands of lines/s) and each costs a JSON Schema validation: 0.2 % of the lines.
MIX = {"zeek_json": 0.35, "zeek_tsv": 0.35, "eve": 0.298, "agent": 0.002}


# ---------------------------------------------------------------------------------------------- corpus


def _real_eve(work: Path) -> list[bytes]:
    from mcpeeker.sensors.suricata import run_suricata

    lines: list[bytes] = []
    for pcap in sorted((REPO / "tests" / "pcaps").glob("*.pcap")):
        eve = run_suricata(pcap, REPO / "suricata" / "mcp.rules", work / "eve" / pcap.stem)
        lines += [
            line
            for line in eve.read_bytes().splitlines()
            if orjson.loads(line).get("event_type") in ("alert", "http", "flow", "fileinfo", "tls", "anomaly")
        ]
    return lines


def _real_agent(work: Path) -> bytes:
    home = work / "home"
    (home / ".cursor").mkdir(parents=True, exist_ok=True)
    (home / ".cursor" / "mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "gh": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]},
                    "remote": {"url": "https://mcp.example.com/mcp"},
                }
            }
        )
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpeeker_agent.cli",
            "scan",
            "--home",
            str(home),
            "--no-processes",
            "--no-listeners",
            "--no-state",
            "--site-key",
            "bench",
        ],
        capture_output=True,
        check=True,
    )
    return out.stdout.splitlines()[0]


def generate(work: Path, events: int) -> dict[str, list[Path]]:
    """Files per source with `events` lines in total; every line distinct (uid/flow_id/scan_id varied)."""
    zeek_json = [
        line
        for log in ("conn", "http", "dns", "ssl")
        for p in sorted((SHARED / "json").glob(f"*/{log}.log"))
        for line in p.read_bytes().splitlines()
    ]
    tsv_files = {log: sorted((SHARED / "tsv").glob(f"*/{log}.log")) for log in ("conn", "http", "dns", "ssl")}
    eve = _real_eve(work)
    agent = orjson.loads(_real_agent(work))
    counts = {k: int(events * v) for k, v in MIX.items()}
    counts["zeek_json"] += events - sum(counts.values())
    files: dict[str, list[Path]] = {"zeek": [], "suricata": [], "agent": []}

    out = work / "zeek-json"
    out.mkdir()
    handles = {}
    for i in range(counts["zeek_json"]):
        rec = orjson.loads(zeek_json[i % len(zeek_json)])
        rec["uid"] = f"C{i:017x}"
        rec["ts"] = rec["ts"] + (i // len(zeek_json)) * 1e-3
        kind = (
            "conn"
            if "conn_state" in rec
            else "http"
            if "trans_depth" in rec
            else "dns"
            if "query" in rec or "trans_id" in rec
            else "ssl"
        )
        fh = handles.get(kind) or handles.setdefault(kind, open(out / f"{kind}.log", "wb"))
        fh.write(orjson.dumps(rec) + b"\n")
    for fh in handles.values():
        fh.close()
    files["zeek"] += sorted(out.glob("*.log"))

    out = work / "zeek-tsv"
    out.mkdir()
    per_log = counts["zeek_tsv"] // 4
    for n_log, (log, paths) in enumerate(tsv_files.items()):
        header, rows = [], []
        for p in paths:
            for line in p.read_bytes().splitlines():
                if line.startswith(b"#"):
                    if not header or not line.startswith((b"#open", b"#close")) and line not in header:
                        if len(header) < 8:
                            header.append(line)
                else:
                    rows.append(line.split(b"\t"))
        n = per_log + (counts["zeek_tsv"] - per_log * 4 if n_log == 3 else 0)
        with open(out / f"{log}.log", "wb") as fh:
            fh.write(b"\n".join(h for h in header if not h.startswith(b"#close")) + b"\n")
            for i in range(n):
                row = list(rows[i % len(rows)])
                row[1] = f"T{n_log}{i:016x}".encode()
                fh.write(b"\t".join(row) + b"\n")
            fh.write(b"#close\t2026-01-01-00-00-00\n")
        files["zeek"].append(out / f"{log}.log")

    out = work / "suricata"
    out.mkdir()
    with open(out / "eve.json", "wb") as fh:
        for i in range(counts["eve"]):
            rec = orjson.loads(eve[i % len(eve)])
            rec["flow_id"] = 10**12 + i
            fh.write(orjson.dumps(rec) + b"\n")
    files["suricata"].append(out / "eve.json")

    out = work / "agent"
    out.mkdir()
    with open(out / "reports.ndjson", "wb") as fh:
        for i in range(counts["agent"]):
            agent["scan_id"] = f"{i:032x}"
            fh.write(orjson.dumps(agent) + b"\n")
    files["agent"].append(out / "reports.ndjson")
    return files


# ---------------------------------------------------------------------------------------- 1. normalise


def _reference_us() -> float:
    """A fixed pure-Python workload, to compare this machine with others (about 8-10 us on a current desktop core)."""
    import timeit

    return min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6


class NullSink:
    def __init__(self) -> None:
        self.docs = 0
        self.bytes = 0

    def add(self, action: bytes, file: str, line: int, epoch: float) -> None:
        self.docs += 1
        self.bytes += len(action)


def _time_file(source: str, path: Path, lines: list[bytes], tsv: bool) -> tuple[float, float, int]:
    """CPU seconds of the parse alone and of the full path over one file, and the documents made."""
    gc.collect()
    t0 = time.process_time()
    if tsv:
        for line in lines:
            line.decode().split("\t")
    else:
        for line in lines:
            orjson.loads(line)
    parse = time.process_time() - t0
    sink = NullSink()
    pipeline = Pipeline(Context("bench-", b"bench-key"), sink, DeadLetter(None))
    t0 = time.process_time()
    for item in read_file(source, str(path)):
        pipeline.feed(item)
    full = time.process_time() - t0
    assert pipeline.stats.bad == 0, (path, pipeline.stats)
    return parse, full, sink.docs


def bench_normalise(files: dict[str, list[Path]], repeat: int) -> None:
    print("\n== 1. normalisation on one core (read + parse + normalise + serialise; no cluster)")
    print(
        f"   CPU time of this process (the machine's load average is {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
        f"reference loop sum(range(1000)): {_reference_us():.1f} us)"
    )
    print(f"   native: {native.summary()}")
    print(f"   each file {repeat} times; the median of its timings counts (the machine's noise is a few per cent)")
    print(f"{'source':<12}{'lines':>10}{'docs':>10}{'parse only ev/s':>18}{'full ev/s':>14}{'full/parse':>12}")
    totals = [0, 0, 0.0, 0.0]
    for source, paths in files.items():
        for path in paths:
            label = f"{source}:{path.parent.name}/{path.name}"[:40]
            data = path.read_bytes()
            lines = [line for line in data.splitlines() if line and not line.startswith(b"#")]
            tsv = not data.startswith(b"{")
            del data
            runs = [_time_file(source, path, lines, tsv) for _ in range(repeat)]
            parse = statistics.median(r[0] for r in runs)
            full = statistics.median(r[1] for r in runs)
            docs = runs[0][2]
            n = len(lines)
            totals[0] += n
            totals[1] += docs
            totals[2] += parse
            totals[3] += full
            print(f"{label:<12}\n{'':<12}{n:>10,}{docs:>10,}{n / parse:>18,.0f}{n / full:>14,.0f}{parse / full:>12.2f}")
    n, docs, parse, full = totals
    print(f"{'ALL':<12}{n:>10,}{docs:>10,}{n / parse:>18,.0f}{n / full:>14,.0f}{parse / full:>12.2f}")
    print(
        f"normalisation: {n / full:,.0f} events/s/core (target >= 100,000); JSON parse alone: {n / parse:,.0f} events/s"
    )


# ---------------------------------------------------------------------------------------- 2. end-to-end


def _settings(url: str, prefix: str):
    from mcpeeker.settings import Settings

    return Settings(url=url, index_prefix=prefix, site_key="bench-key")


def _count(client, prefix: str) -> int:
    client.indices.refresh(index=f"{prefix}mcp-events-*")
    return client.count(index=f"{prefix}mcp-events-*")["count"]


def run_ingest(url: str, prefix: str, files: dict[str, list[Path]], work: Path) -> tuple[float, int, int]:
    """Seconds, documents indexed and peak RSS (KiB, the whole process) of `mcpeeker ingest` per source."""
    seconds, peak = 0.0, 0
    for source, paths in files.items():
        cmd = [
            sys.executable,
            "-m",
            "mcpeeker.cli",
            "ingest",
            source,
            *map(str, paths),
            "--url",
            url,
            "--index-prefix",
            prefix,
            "--no-progress",
            "--spool-dir",
            str(work / f"spool-{prefix}"),
            "--dead-letter",
            str(work / f"dead-{prefix}.log"),
        ]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        # Poll the child's RSS (ru_maxrss of a child would include the parent's pages inherited at fork).
        child = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                if child.exe().endswith(("python", "python3", "python3.11")) and child.cmdline()[1:3] == [
                    "-m",
                    "mcpeeker.cli",
                ]:
                    peak = max(peak, child.memory_info().rss // 1024)
            except (psutil.NoSuchProcess, psutil.AccessDenied, IndexError):
                pass
            time.sleep(0.02)
        seconds += time.perf_counter() - t0
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"mcpeeker ingest {source} failed: {stderr}")
    return seconds, 0, peak


def build_docs(files: dict[str, list[Path]], prefix: str) -> list[dict]:
    """The same documents `mcpeeker ingest` sends, as dicts with _index/_id for helpers.bulk."""
    docs: list[dict] = []

    class Collect:
        def add(self, action: bytes, file: str, line: int, epoch: float) -> None:
            meta, body, _ = action.split(b"\n")
            m = orjson.loads(meta)["index"]
            doc = orjson.loads(body)
            doc["_index"], doc["_id"] = m["_index"], m["_id"]
            docs.append(doc)

    pipeline = Pipeline(Context(prefix, b"bench-key"), Collect(), DeadLetter(None))
    for source, paths in files.items():
        for path in paths:
            for item in read_file(source, str(path)):
                pipeline.feed(item)
    return docs


def bench_e2e(url: str, files: dict[str, list[Path]], work: Path) -> int:
    from mcpeeker import indices
    from mcpeeker.client import make_client
    from opensearchpy import helpers

    print("\n== 2. end-to-end into the local node")
    run = uuid.uuid4().hex[:6]
    ours, theirs = f"bench-{run}-a-", f"bench-{run}-b-"
    client = make_client(_settings(url, ours))
    for prefix in (ours, theirs):
        indices.install(_settings(url, prefix), client)
    try:
        # Warm the node (JIT, first segments) so neither measured run pays for it.
        warm = f"bench-{run}-warm-"
        indices.install(_settings(url, warm), client)
        run_ingest(url, warm, {"suricata": files["suricata"]}, work)
        client.indices.delete(index=f"{warm}*", ignore_unavailable=True)
        seconds, _, peak = run_ingest(url, ours, files, work)
        n_ours = _count(client, ours)
        docs = build_docs(files, theirs)
        gc.collect()
        gc.freeze()  # a million live dicts must not make the baseline pay for garbage-collector passes
        t0 = time.perf_counter()
        ok, errors = helpers.bulk(
            client, docs, chunk_size=1000, max_chunk_bytes=5 << 20, max_retries=5, request_timeout=120
        )
        bulk_seconds = time.perf_counter() - t0
        gc.unfreeze()
        n_theirs = _count(client, theirs)
        assert n_theirs == n_ours == len({d["_id"] for d in docs}), (n_ours, n_theirs, len(docs))
        rate_ours, rate_bulk = n_ours / seconds, n_theirs / bulk_seconds
        print(
            f"mcpeeker ingest (subprocesses incl. start-up, read+normalise+deliver): {n_ours:,} docs in {seconds:.1f} s "
            f"= {rate_ours:,.0f} docs/s, peak RSS {peak / 1024:.0f} MiB"
        )
        print(
            f"helpers.bulk of the same pre-built docs (chunk 1000):  {n_theirs:,} docs in {bulk_seconds:.1f} s = {rate_bulk:,.0f} docs/s"
        )
        print(f"ratio mcpeeker/helpers.bulk: {rate_ours / rate_bulk:.2f} (target >= 0.90)")
        del docs
        return peak
    finally:
        client.indices.delete(index=f"bench-{run}-*", ignore_unavailable=True)
        for prefix in (ours, theirs, f"bench-{run}-warm-"):
            for name in indices.load_templates(prefix):
                client.indices.delete_index_template(name=f"{prefix}{name}", ignore=[404])


def bench_rss(url: str, work: Path, sizes: list[int]) -> None:
    from mcpeeker.client import make_client

    print("\n== 3. peak RSS of `mcpeeker ingest` by input size (whole process, max over the per-source runs)")
    for size in sizes:
        sub = work / f"rss-{size}"
        sub.mkdir()
        files = generate(sub, size)
        prefix = f"bench-rss-{uuid.uuid4().hex[:6]}-"
        try:
            seconds, _, peak = run_ingest(url, prefix, files, sub)
            print(f"{size:>10,} events: peak RSS {peak / 1024:6.0f} MiB ({seconds:.1f} s)")
        finally:
            make_client(_settings(url, prefix)).indices.delete(index=f"{prefix}*", ignore_unavailable=True)
        shutil.rmtree(sub)


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", message=".*matching patterns from existing older templates.*")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--url", help="cluster to use (default: start a dedicated local node, 2 GB heap, port 9280)")
    parser.add_argument("--node-port", type=int, default=9280)
    parser.add_argument("--node-heap", default="2g")
    parser.add_argument("--skip-e2e", action="store_true", help="normalisation only (no cluster needed)")
    parser.add_argument("--repeat", type=int, default=3, help="normalisation passes per file; the median counts")
    parser.add_argument("--rss-sizes", default="100000,300000", help="extra input sizes for the RSS series")
    parser.add_argument("--workdir", type=Path, help="keep the generated logs here")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mcpeeker-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        files = generate(work, args.events)
        lines = sum(1 for ps in files.values() for p in ps for line in open(p, "rb") if not line.startswith(b"#"))
        size = sum(p.stat().st_size for ps in files.values() for p in ps)
        print(
            f"generated {lines:,} events ({size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s: "
            + ", ".join(f"{k} {v:.0%}" for k, v in MIX.items())
        )
        bench_normalise(files, args.repeat)
        if not args.skip_e2e:
            node = None
            url = args.url
            if url is None:
                from mcpeeker.localnode import LocalNode

                node = LocalNode(name="bench", http_port=args.node_port, heap=args.node_heap)
                url = node.start(timeout=300).url
                print(f"\nlocal bench node {url} (heap {args.node_heap})")
            try:
                peak = bench_e2e(url, files, work)
                bench_rss(url, work, [int(s) for s in args.rss_sizes.split(",") if s])
                print(f"{args.events:>10,} events: peak RSS {peak / 1024:6.0f} MiB (from run 2)")
            finally:
                if node is not None:
                    node.stop()
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
