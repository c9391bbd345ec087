#!/usr/bin/env python3
"""Notification latency: evidence line written to a watched file -> its notification received by a webhook.

    .venv/bin/python bench/notify_latency.py [--events 40] [--every 5s] [--url http://127.0.0.1:9250]

Runs the real services as subprocesses: `mcpeeker ingest agent FILE --follow` and
`mcpeeker correlate --every 5s --notify-config notify.yaml`, against --url (a running node, under its own index
prefix) or a local node it starts. Each event is an agent report of a new host with an MCP listener: a new
unregistered server, so exactly one new_unauthorized notification, POSTed (HMAC-signed) to a local HTTP receiver.
Prints p50 / p95 / max (target in issue 17: p95 <= 10 s with --every 5s).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.localnode import LocalNode
from mcpeeker.settings import Settings

# The agent report, its finding id and the following ingest are detection_latency.py's (bench/ is sys.path[0]).
from detection_latency import follow_agent_events, report


def receiver(received: dict[str, float]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fid = body.get("finding", {}).get("id")
            if fid and fid not in received:
                received[fid] = time.monotonic()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--every", default="5s", help="correlation interval")
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between two events")
    parser.add_argument("--url", help="a running node (default: start a local node on --port)")
    parser.add_argument("--port", type=int, default=9296)
    args = parser.parse_args()

    node = None
    if args.url:
        url = args.url
    else:
        node = LocalNode(name="bench-notify", http_port=args.port, heap="1g")
        url = node.start(timeout=300).url
    run = uuid.uuid4().hex[:8]
    prefix = f"notify-lat-{run}-"
    settings = Settings(url=url, index_prefix=prefix)
    client = make_client(settings)
    indices.install(settings, client)
    work = Path(tempfile.mkdtemp(prefix="mcpeeker-notify-latency-"))
    events = work / "agent.ndjson"
    events.touch()
    received: dict[str, float] = {}
    server = receiver(received)
    key = work / "hook.key"
    key.write_bytes(os.urandom(32).hex().encode())
    key.chmod(0o600)
    config = work / "notify.yaml"
    config.write_text(
        "enabled: true\nchannels:\n  hook:\n    type: webhook\n"
        f"    url: http://127.0.0.1:{server.server_port}/hook\n    key_file: hook.key\n"
        "    route: {events: [new_unauthorized]}\n"
    )
    common = ["--url", url, "--index-prefix", prefix]
    env = dict(
        os.environ,
        MCPEEKER_SITE_KEY="notify-latency-site-key-0123",
        MCPEEKER_AUDIT_KEY=os.urandom(32).hex(),
        MCPEEKER_IDENTITY="admin",
        MCPEEKER_STATE_DIR=str(work / "state"),
    )
    exe = [sys.executable, "-m", "mcpeeker.cli"]
    ingest = follow_agent_events(events, work, common, env)
    correlate = subprocess.Popen(
        [*exe, "correlate", "--every", args.every, "--notify-config", str(config), *common],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "correlate.log", "w"),
    )
    time.sleep(3)  # both services up
    written: dict[str, float] = {}
    try:
        with events.open("a") as out:
            for n in range(args.events):
                line, fid = report(n, seed=f"notify-latency-{run}", net=78)
                out.write(json.dumps(line) + "\n")
                out.flush()
                written[fid] = time.monotonic()
                time.sleep(args.gap)
        deadline = time.monotonic() + 120
        while len(set(received) & set(written)) < len(written) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for proc in (ingest, correlate):
            proc.send_signal(signal.SIGTERM)
        for proc in (ingest, correlate):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.shutdown()
    latencies = sorted(received[f] - written[f] for f in written if f in received)
    missing = len(written) - len(latencies)
    client.indices.delete(index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True)
    for name in indices.load_templates(prefix):
        client.indices.delete_index_template(name=f"{prefix}{name}", ignore=[404])
    if node is not None:
        node.stop()
    if not latencies:
        print(f"no notification arrived; logs in {work}")
        return 1
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
    print(f"events={len(written)} notified={len(latencies)} missing={missing}")
    print(
        f"RESULT notification_latency_seconds p50={statistics.median(latencies):.2f} p95={p95:.2f} "
        f"max={latencies[-1]:.2f} (evidence line written -> webhook received; correlate --every {args.every})"
    )
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
