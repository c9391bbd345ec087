#!/usr/bin/env python3
"""Detection latency: evidence line written to a watched file -> its finding in `mcp-findings`.

    .venv/bin/python bench/detection_latency.py [--events 100] [--every 5s] [--url URL --index-prefix PREFIX]

Runs the real services as subprocesses: `mcpeeker ingest agent FILE --follow` and
`mcpeeker correlate --every 5s`, on a local node of its own (indices under lat-, removed afterwards), or with
--url on a running cluster whose indices under --index-prefix are kept (e.g. the 10 M events bench/scale.py
--keep leaves, to measure detection with a month's worth of stored evidence). Each event is an agent report of a
new host with an MCP listener, so each one must produce exactly one new finding. Prints p50 / p95 / max.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.correlate.instances import finding_id
from mcpeeker.localnode import LocalNode
from mcpeeker.model import instance_key
from mcpeeker.settings import Settings
from mcpeeker.timeutil import iso, utcnow

PREFIX = "lat-"


def report(n: int, seed: str = "latency-host", net: int = 77) -> tuple[dict, str]:
    """One agent report of a listening MCP server (host `seed`-n, port 9000+n) and the id of the finding it makes."""
    host_id = hashlib.sha256(f"{seed}-{n}".encode()).hexdigest()
    port = 9000 + n
    line = {
        "schema": "mcpeeker.agent/1",
        "host_id": host_id,
        "timestamp": iso(utcnow()),
        "local_score": 11,
        "host": {"os": "linux", "ips": [f"10.{net}.{n // 250}.{1 + n % 250}"], "listening_ports": [port]},
        "evidence": [
            {
                "type": "listener",
                "score": 11,
                "reason": "listener of an MCP server process",
                "listener": {"ip": "0.0.0.0", "port": port, "pid": 1000 + n, "transport": "tcp"},
            }
        ],
    }
    return line, finding_id(instance_key.host_port(host_id, port))


def follow_agent_events(events: Path, work: Path, common: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`mcpeeker ingest agent EVENTS --follow` with its checkpoint, spool and dead letters under `work`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mcpeeker.cli",
            "ingest",
            "agent",
            str(events),
            "--follow",
            "--no-progress",
            "--no-setup",
            "--checkpoint",
            str(work / "checkpoint"),
            "--spool-dir",
            str(work / "spool"),
            "--dead-letter",
            str(work / "dead.log"),
            *common,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "ingest.log", "w"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--every", default="5s", help="correlation interval")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between two events")
    parser.add_argument("--port", type=int, default=9295)
    parser.add_argument("--url", help="a running cluster to use (its data under --index-prefix is kept)")
    parser.add_argument("--index-prefix", default=PREFIX)
    args = parser.parse_args()

    node = None if args.url else LocalNode(name="bench-latency", http_port=args.port, heap="1g")
    url = args.url or node.start(timeout=300).url
    prefix = args.index_prefix
    settings = Settings(url=url, index_prefix=prefix)
    client = make_client(settings)
    if node:
        client.indices.delete(index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True)
    indices.install(settings, client)
    stored = client.count(index=settings.index("mcp-events*"))["count"]
    print(f"{stored:,} events stored under {prefix}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="mcpeeker-latency-"))
    events = work / "agent.ndjson"
    events.touch()
    common = ["--url", url, "--index-prefix", prefix]
    env = dict(os.environ, MCPEEKER_SITE_KEY="latency-site-key-0123")
    exe = [sys.executable, "-m", "mcpeeker.cli"]
    ingest = follow_agent_events(events, work, common, env)
    correlate = subprocess.Popen(
        [*exe, "correlate", "--every", args.every, *common],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "correlate.log", "w"),
    )
    time.sleep(3)  # both services up
    run = f"latency-{os.urandom(4).hex()}"  # new hosts on every run, also when a kept cluster is reused
    written: dict[str, float] = {}
    seen: dict[str, float] = {}
    try:
        with events.open("a") as out:
            for n in range(args.events):
                line, fid = report(n, seed=run)
                out.write(json.dumps(line) + "\n")
                out.flush()
                written[fid] = time.monotonic()
                time.sleep(args.gap)
                seen.update(poll(client, settings, written, seen))
        deadline = time.monotonic() + 120
        while len(seen) < len(written) and time.monotonic() < deadline:
            seen.update(poll(client, settings, written, seen))
            time.sleep(0.2)
    finally:
        for proc in (ingest, correlate):
            proc.send_signal(signal.SIGTERM)
        for proc in (ingest, correlate):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    latencies = sorted(seen[f] - written[f] for f in seen)
    missing = len(written) - len(seen)
    if not latencies:
        print(f"no finding appeared; logs in {work}")
        return 1
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
    print(f"events={len(written)} detected={len(seen)} missing={missing}")
    print(
        f"RESULT detection_latency_seconds p50={statistics.median(latencies):.2f} p95={p95:.2f} "
        f"max={latencies[-1]:.2f} (correlate --every {args.every}, ingest --follow)"
    )
    if node:
        client.indices.delete(index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True)
        node.stop()
    return 0 if not missing else 1


def poll(client, settings: Settings, written: dict[str, float], seen: dict[str, float]) -> dict[str, float]:
    pending = [f for f in written if f not in seen]
    if not pending:
        return {}
    now = time.monotonic()
    docs = client.mget(index=settings.index("mcp-findings"), body={"ids": pending})["docs"]
    return {d["_id"]: now for d in docs if d.get("found")}


if __name__ == "__main__":
    sys.exit(main())
