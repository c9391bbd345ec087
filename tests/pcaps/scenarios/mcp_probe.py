"""A non-SDK HTTP client (requests) talking to an SDK server the way a scanner or a small
hand-written integration would.

--mode errors: trip the SDK server's characteristic error answers (406 Not Acceptable
without text/event-stream in Accept, 400 for a missing session, 404 "Session not found"
for an unknown one), then perform a valid initialize / notifications/initialized / tools/list.
--mode batch: negotiate 2025-03-26, the one revision with JSON-RPC batches, and send a batch.
--mode session: check whether an already initialized server enforces its session: after the 406
probe and a valid initialize / notifications/initialized, send tools/list without Mcp-Session-Id
(TypeScript SDK: 400 "Bad Request: Mcp-Session-Id header is required") and with an unknown one
(404 "Session not found"), then with the right one.
"""

from __future__ import annotations

import argparse

import requests

INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "mcp-scanner", "version": "0.3.0"}},
}  # fmt: skip
BOTH = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def batch(url: str) -> None:
    client_info = {"name": "inventory-sync", "version": "1.4.2"}
    init = INIT | {"params": INIT["params"] | {"protocolVersion": "2025-03-26", "clientInfo": client_info}}
    with requests.Session() as s:
        r = s.post(url, json=init, headers=BOTH, timeout=10)
        print("initialize:", r.status_code, r.text[:200])
        hdrs = BOTH | {"Mcp-Session-Id": r.headers["mcp-session-id"]}
        r = s.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=hdrs, timeout=10)
        print("initialized:", r.status_code)
        calls = [{"jsonrpc": "2.0", "id": 10 + i, "method": m} for i, m in
                 enumerate(["tools/list", "prompts/list", "resources/list"])]  # fmt: skip
        r = s.post(url, json=calls, headers=hdrs, timeout=10)
        print("batch:", r.status_code, r.text[:300])
        print("delete:", s.delete(url, headers=hdrs, timeout=10).status_code)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--mode", choices=["errors", "batch", "session"], default="errors")
    args = ap.parse_args()
    if args.mode == "batch":
        batch(args.url)
    elif args.mode == "session":
        session_checks(args.url)
    else:
        errors(args.url)


def errors(url: str) -> None:
    with requests.Session() as s:
        r = s.post(url, json=INIT, headers={"Accept": "application/json"}, timeout=10)
        print("no event-stream accept:", r.status_code, r.text[:120])
        r = s.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=BOTH, timeout=10)
        print("no session:", r.status_code, r.text[:120])
        r = s.post(url, json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
                   headers=BOTH | {"Mcp-Session-Id": "0123456789abcdef0123456789abcdef"}, timeout=10)  # fmt: skip
        print("unknown session:", r.status_code, r.text[:120])
        hdrs = _open_session(s, url)
        r = s.post(url, json={"jsonrpc": "2.0", "id": 4, "method": "tools/list"}, headers=hdrs, timeout=10)
        print("tools/list:", r.status_code, r.text[:200])
        print("delete:", s.delete(url, headers=hdrs, timeout=10).status_code)


def _open_session(s: requests.Session, url: str) -> dict[str, str]:
    """initialize + notifications/initialized; the headers every later request of the session carries."""
    r = s.post(url, json=INIT, headers=BOTH, timeout=10)
    sid = r.headers["mcp-session-id"]
    print("initialize:", r.status_code, r.text[:200])
    hdrs = BOTH | {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"}
    r = s.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=hdrs, timeout=10)
    print("initialized:", r.status_code)
    return hdrs


def session_checks(url: str) -> None:
    with requests.Session() as s:
        r = s.post(url, json=INIT, headers={"Accept": "application/json"}, timeout=10)
        print("no event-stream accept:", r.status_code, r.text[:120])
        hdrs = _open_session(s, url)
        r = s.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=BOTH, timeout=10)
        print("no session:", r.status_code, r.text[:120])
        r = s.post(url, json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
                   headers=hdrs | {"Mcp-Session-Id": "0123456789abcdef0123456789abcdef"}, timeout=10)  # fmt: skip
        print("unknown session:", r.status_code, r.text[:120])
        r = s.post(url, json={"jsonrpc": "2.0", "id": 4, "method": "tools/list"}, headers=hdrs, timeout=10)
        print("tools/list:", r.status_code, r.text[:200])
        print("delete:", s.delete(url, headers=hdrs, timeout=10).status_code)


if __name__ == "__main__":
    main()
