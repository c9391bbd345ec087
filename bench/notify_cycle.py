#!/usr/bin/env python3
"""Cost of a notification cycle: the first one after enabling (every finding new to the notifier) and a quiet one.

    .venv/bin/python bench/notify_cycle.py --url http://127.0.0.1:9250 [--findings 5000]

Writes N unauthorized findings (typed records, 50 hosts) under its own index prefix, then runs
mcpeeker.notify.run_cycle with one webhook channel (a local HTTP receiver) throttled to 50 per hour per channel:
50 notifications are sent, the rest held and summed up in one digest. Prints each cycle's wall time and counts.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mcpeeker import indices
from mcpeeker.client import bulk_helper, make_client
from mcpeeker.notify import run_cycle
from mcpeeker.notify.config import parse
from mcpeeker.settings import Settings
from mcpeeker.timeutil import iso, utcnow


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--url", required=True, help="a running node (e.g. the test node on 9250)")
    parser.add_argument("--findings", type=int, default=5000)
    args = parser.parse_args()

    received = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            self.rfile.read(int(self.headers["Content-Length"]))
            received[0] += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    prefix = f"notify-cycle-{uuid.uuid4().hex[:8]}-"
    settings = Settings(url=args.url, index_prefix=prefix)
    client = make_client(settings)
    indices.install(settings, client)
    now = iso(utcnow())
    docs = (
        {
            "_op_type": "index",
            "_index": settings.index("mcp-findings"),
            "_id": f"f{n:08d}",
            "_source": {
                "finding": {"id": f"f{n:08d}", "status": "open", "summary": f"Unregistered MCP server {n}"},
                "classification": "unauthorized",
                "severity": "medium",
                "host": {"id": f"host-{n % 50}"},
                "mcp": {"server": {"name": f"server-{n}"}},
                "updated": now,
                "@timestamp": now,
            },
        }
        for n in range(args.findings)
    )
    bulk_helper(settings).bulk(client, docs, raise_on_error=True, refresh=True)
    config = parse(
        {
            "enabled": True,
            "throttle": {"per_channel": {"max": 50, "period": "1h"}},
            "channels": {"hook": {"type": "webhook", "url": f"http://127.0.0.1:{server.server_port}/hook"}},
        },
        "notify.yaml",
    )
    root = Path(tempfile.mkdtemp(prefix="mcpeeker-notify-cycle-"))
    try:
        for label in ("first cycle", "quiet cycle"):
            started = time.perf_counter()
            result = run_cycle(settings, client, config, root)
            seconds = time.perf_counter() - started
            channel = result.channels["hook"]
            print(
                f"RESULT notify_{label.replace(' ', '_')} findings={args.findings} read={result.findings_read} "
                f"events={result.events} queued={result.enqueued} sent={channel.sent} held={channel.held} "
                f"digests={channel.digests} seconds={seconds:.2f}"
            )
    finally:
        server.shutdown()
        client.indices.delete(index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True)
        for name in indices.load_templates(prefix):
            client.indices.delete_index_template(name=f"{prefix}{name}", ignore=[404])
    print(f"webhook requests received: {received[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
