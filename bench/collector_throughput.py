#!/usr/bin/env python3
"""Collector throughput: agent reports/s that `mcpeeker collect` takes in over HTTPS and makes durable.

Starts the real collector (a subprocess, TLS with a CA made here, one enrollment token) in front of a local
node, then sends --reports distinct copies of a real mcpeeker-agent report (fixture home of the agent tests:
17 clients' configs, about 30 evidence items) from --clients concurrent keep-alive HTTPS connections. Every
acknowledgement (202) means the report's documents are indexed, so reports/s is end to end: TLS, token check,
schema validation, normalisation, bulk indexing. Afterwards the documents are counted (each report exactly
once) and the bench's indices are deleted.

    .venv/bin/python bench/collector_throughput.py [--url http://127.0.0.1:9250] [--reports 2000] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "ingest_python"), str(REPO / "agent"), str(REPO / "tests")]

from collect.pki import make_pki  # noqa: E402  (tests/collect/pki.py)
from agent.homes import make_home  # noqa: E402

from mcpeeker.client import make_client  # noqa: E402
from mcpeeker.settings import Settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def agent_report(work: Path, site_key: str) -> dict:
    home = make_home(work / "home", "linux")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpeeker_agent.cli",
            "scan",
            "--home",
            str(home.home),
            "--root",
            str(home.root),
            "--os",
            "linux",
            "--no-processes",
            "--no-listeners",
            "--no-state",
            "--machine-id",
            "bench",
        ],
        capture_output=True,
        check=True,
        env={**os.environ, "MCPEEKER_SITE_KEY": site_key},
    )
    return json.loads(out.stdout.splitlines()[0])


def baseline(client, settings: Settings, bodies: list[bytes]) -> float:
    """documents/s of plain bulk requests of the same documents, normalised beforehand (what the cluster takes)."""
    import orjson

    from mcpeeker.ingest.normalise.agent import normalise_agent
    from mcpeeker.ingest.normalise.common import Context

    from dataclasses import replace

    from mcpeeker import indices

    base = replace(settings, index_prefix=settings.index_prefix + "base-")
    indices.install(base, client)  # the same templates (mappings) as the collector's indices
    ctx = Context(base.index_prefix, base.site_key_bytes())
    actions = []
    for body in bodies:
        for index, doc_id, doc, _epoch in normalise_agent("report", orjson.loads(body), body, ctx, "bench", 0):
            actions.append(
                orjson.dumps({"index": {"_index": index, "_id": doc_id}}) + b"\n" + orjson.dumps(doc) + b"\n"
            )
    started = time.perf_counter()
    for i in range(0, len(actions), 1000):
        client.bulk(body=b"".join(actions[i : i + 1000]), filter_path="errors")
    return len(actions) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("MCPEEKER_URL", "http://127.0.0.1:9250"))
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the bench's indices")
    args = parser.parse_args()

    site_key = "bench-collector-site-key-0123456789"
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    settings = Settings(url=args.url, index_prefix=prefix, site_key=site_key)
    client = make_client(settings)
    with tempfile.TemporaryDirectory(prefix="mcpeeker-collect-bench-") as tmp:
        work = Path(tmp)
        pki = make_pki(work / "pki")
        tokens = work / "tokens.json"
        token = subprocess.run(
            [
                sys.executable,
                "-m",
                "mcpeeker.cli",
                "collect",
                "token",
                "issue",
                "--agent",
                "bench",
                "--tokens",
                str(tokens),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        report = agent_report(work, site_key)
        bodies = []
        for n in range(args.reports):  # distinct reports: own scan id, host and second
            report["scan_id"] = uuid.uuid4().hex
            report["host_id"] = f"{n:064x}"
            bodies.append(json.dumps(report, separators=(",", ":")).encode())
        per_report = len(report["evidence"]) + 1
        port = free_port()
        log = open(work / "collector.log", "w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mcpeeker.cli",
                "collect",
                "--port",
                str(port),
                "--cert",
                str(pki.server_cert),
                "--key",
                str(pki.server_key),
                "--tokens",
                str(tokens),
                "--spool-dir",
                str(work / "spool"),
                "--dead-letter",
                str(work / "dead.log"),
                "--url",
                args.url,
                "--index-prefix",
                prefix,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MCPEEKER_SITE_KEY": site_key},
        )
        context = ssl.create_default_context(cafile=str(pki.ca))
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"collector did not start: {(work / 'collector.log').read_text()}")
                    time.sleep(0.2)
            # warm-up: token check (scrypt, then cached), templates, first bulk
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=60)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            queue = list(range(len(bodies)))

            def worker() -> None:
                c = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=120)
                while True:
                    with lock:
                        if not queue:
                            return
                        i = queue.pop()
                    started = time.perf_counter()
                    c.request("POST", "/api/v1/reports", body=bodies[i], headers=headers)
                    response = c.getresponse()
                    response.read()
                    with lock:
                        latencies.append(time.perf_counter() - started)
                        if response.status != 202:
                            errors.append(f"{response.status}")

            started = time.perf_counter()
            threads = [threading.Thread(target=worker) for _ in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            index = settings.index("mcp-events-*")
            client.indices.refresh(index=index)
            count = client.count(index=index)["count"]
            bulk_rate = baseline(client, settings, bodies)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            log.close()
            if not args.keep:
                client.indices.delete(index=f"{prefix}*", ignore_unavailable=True, expand_wildcards="all")
                for name in client.indices.get_index_template(name=f"{prefix}*", ignore=[404]).get(
                    "index_templates", []
                ):
                    client.indices.delete_index_template(name=name["name"], ignore=[404])
    latencies.sort()
    print(
        f"collector: {args.reports} reports ({per_report} documents each) from {args.clients} HTTPS clients "
        f"into {args.url}"
    )
    print(
        f"  {args.reports / elapsed:,.0f} reports/s, {args.reports * per_report / elapsed:,.0f} documents/s "
        f"({elapsed:.1f} s); ack latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.0f} ms"
    )
    print(f"  documents in the cluster: {count} (expected {args.reports * per_report}); refused: {len(errors)}")
    print(
        f"  baseline, the same documents pre-built and bulk-indexed 1000 at a time under another prefix: "
        f"{bulk_rate:,.0f} documents/s (collector / baseline = {args.reports * per_report / elapsed / bulk_rate:.2f})"
    )
    return 0 if count == args.reports * per_report and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
