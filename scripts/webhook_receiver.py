#!/usr/bin/env python3
"""A local webhook receiver for `make demo` (and trying notifications by hand): verifies the HMAC signature of
each MCPeeker notification and appends it, one JSON line, to OUT.

    python scripts/webhook_receiver.py --key-file hook.key --port-file port.txt --out received.ndjson

Listens on 127.0.0.1 on a free port (written to --port-file once listening). Drops a delivery id already received
(at-least-once delivery may resend the message in flight at a crash), and answers 401 to a bad signature.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--key-file", type=Path, required=True)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    key = args.key_file.read_bytes().strip()
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            stamp = self.headers.get("X-MCPeeker-Timestamp", "")
            expected = "sha256=" + hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            fresh = stamp.isdigit() and abs(time.time() - int(stamp)) < 300
            if not (fresh and hmac.compare_digest(self.headers.get("X-MCPeeker-Signature", ""), expected)):
                self.send_response(401)
                self.end_headers()
                return
            delivery = self.headers.get("X-MCPeeker-Delivery", "")
            if delivery not in seen:
                seen.add(delivery)
                with args.out.open("a", encoding="utf-8") as out:
                    out.write(json.dumps({"delivery": delivery, "body": json.loads(body)}) + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    args.port_file.write_text(str(server.server_port))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
