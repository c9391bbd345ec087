"""Clients for the bad-input (robustness) scenarios (see badinput_servers.py).

    badinput_clients.py chunked --url URL        http.client: every request body chunked one byte per chunk
    badinput_clients.py probe --mode M --url URL requests: a valid MCP handshake, then M's bad input
    badinput_clients.py sdk-long --url URL       Python SDK 1.x client calling a tool that streams for seconds
    badinput_clients.py {bulk-rpc,json-bomb,feeds} --url URL   the non-MCP counterparts

probe modes: truncated (an answer cut by the server, then a request whose Content-Length is larger
than the body sent before the client gives up), garbled (invalid JSON answers), utf8 (Latin-1 encoded
JSON from the client, invalid UTF-8 in the server's answers), bomb (tools/call arguments nested
100,000 and 10,000 arrays deep and 5,000 objects deep).  Every MCP message is a real JSON-RPC
message built with json; only the failure modes named here are introduced.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

PROTOCOL = "2025-11-25"
BOTH = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def initialize(name: str, version: str, mid: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": mid, "method": "initialize",
            "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": name, "version": version}}}  # fmt: skip


def call(mid: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": mid, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


# --- chunked: one-byte chunks (http.client encodes an iterable body with Transfer-Encoding: chunked) ---


def one_byte_chunks(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        yield data[i : i + 1]


def chunked(url: str) -> None:
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)  # sets TCP_NODELAY: one segment per chunk
    headers = dict(BOTH)
    steps = [
        initialize("edge-gateway", "2.1.0"),
        INITIALIZED,
        call(2, "tools/list"),
        call(3, "tools/call", {"name": "get_weather", "arguments": {"city": "Lisbon"}}),
    ]
    for msg in steps:
        conn.request("POST", u.path, body=one_byte_chunks(json.dumps(msg).encode()), headers=headers)
        resp = conn.getresponse()
        print(msg.get("method"), resp.status, resp.getheader("Transfer-Encoding"), resp.read()[:200], flush=True)
        headers = dict(BOTH) | {"MCP-Protocol-Version": PROTOCOL}
    conn.close()


# --- probe: requests, tolerant of whatever comes back -------------------------------------------------


class Probe:
    def __init__(self, url: str, name: str) -> None:
        import requests

        self.requests = requests
        self.url, self.name = url, name
        self.s = requests.Session()
        self.headers = dict(BOTH)

    def post(self, label: str, body: dict[str, Any] | bytes) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            r = self.s.post(self.url, data=data, headers=self.headers, timeout=15)
        except self.requests.RequestException as exc:
            print(f"{label}: {type(exc).__name__}: {str(exc)[:160]}", flush=True)
            return None
        print(f"{label}: {r.status_code} {len(r.content)} bytes {r.content[:120]!r}", flush=True)
        return r

    def handshake(self, version: str = "1.0.0") -> None:
        self.post("initialize", initialize(self.name, version))
        self.headers = dict(BOTH) | {"MCP-Protocol-Version": PROTOCOL}
        self.post("notifications/initialized", INITIALIZED)
        self.post("tools/list", call(2, "tools/list"))


def probe_truncated(url: str) -> None:
    p = Probe(url, "report-sync")
    p.handshake("0.9.4")
    p.post(
        "tools/call (answer cut by the server)",
        call(3, "tools/call", {"name": "get_weather", "arguments": {"city": "Porto"}}),
    )
    # A request whose Content-Length promises more than is sent: the client stalls, then gives up.
    u = urllib.parse.urlsplit(url)
    body = json.dumps(call(4, "tools/call", {"name": "add_numbers", "arguments": {"a": 40, "b": 2}})).encode()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.putrequest("POST", u.path)
    for k, v in (p.headers | {"Content-Length": str(len(body) + 64)}).items():
        conn.putheader(k, v)
    conn.endheaders()
    conn.send(body[: len(body) * 3 // 5])
    time.sleep(1.5)
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    print("tools/call (request cut by the client): gave up after 1.5 s", flush=True)
    p.post("tools/list (afterwards)", call(5, "tools/list"))


def probe_garbled(url: str) -> None:
    p = Probe(url, "kb-indexer")
    p.handshake("3.2.0")
    for label, msg in [
        ("tools/call (noise)", call(3, "tools/call", {"name": "get_weather", "arguments": {"city": "Ghent"}})),
        ("resources/read (cut JSON)", call(4, "resources/read", {"uri": "config://app/settings"})),
        (
            "prompts/get (broken syntax)",
            call(5, "prompts/get", {"name": "summarize", "arguments": {"text": "Q3 notes"}}),
        ),
        ("tools/list (two answers run together)", call(6, "tools/list")),
    ]:
        r = p.post(label, msg)
        if r is not None:
            try:
                r.json()
                print("  parsed?!", flush=True)
            except ValueError as exc:
                print(f"  invalid JSON: {exc}", flush=True)


def latin1(msg: dict[str, Any]) -> bytes:
    """JSON encoded as Latin-1 instead of UTF-8: a classic client bug, invalid UTF-8 on the wire."""
    return json.dumps(msg, ensure_ascii=False).encode("latin-1")


def probe_utf8(url: str) -> None:
    p = Probe(url, "meteo-kiosk")
    p.post("initialize (Latin-1 clientInfo)", latin1(initialize("météo-kiosk", "1.0", mid=1)))
    p.handshake("1.0.1")
    p.post("tools/call (valid UTF-8 request, invalid UTF-8 answer)",
           call(3, "tools/call", {"name": "get_weather", "arguments": {"city": "Zürich"}}))  # fmt: skip
    p.post(
        "tools/call (Latin-1 arguments)",
        latin1(call(4, "tools/call", {"name": "get_weather", "arguments": {"city": "München"}})),
    )
    p.post("resources/read", call(5, "resources/read", {"uri": "config://app/settings"}))


def nested(open_: str, close: str, depth: int) -> bytes:
    return (open_ * depth + close * depth).encode()


def probe_bomb(url: str) -> None:
    p = Probe(url, "fuzz-harness")
    p.handshake("0.1.0")
    for mid, what, value in [
        (3, "100000 nested arrays", nested("[", "]", 100_000)),  # 200 KB: more than a sensor buffers
        (4, "10000 nested arrays", nested("[", "]", 10_000)),
        (5, "5000 nested objects", nested('{"a":', "}", 5_000).replace(b'{"a":}', b'{"a":0}')),
    ]:
        head = json.dumps(call(mid, "tools/call", {"name": "get_weather", "arguments": {"city": None}})).encode()
        body = head.replace(b'"city": null', b'"city": ' + value)
        p.post(f"tools/call ({what}, {len(body)} bytes)", body)
    p.post("tools/call (ordinary)", call(6, "tools/call", {"name": "get_weather", "arguments": {"city": "Oslo"}}))


# --- sdk-long: the Python SDK 1.x client following a tool that streams for seconds -------------------------


async def sdk_long(url: str, lines: int) -> None:
    import httpx
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    counts = {"log": 0, "progress": 0}

    async def on_log(params: Any) -> None:
        counts["log"] += 1

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        counts["progress"] += 1

    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(30, read=300)) as hc,
        streamable_http_client(url, http_client=hc) as (read, write, _sid),
        ClientSession(read, write, logging_callback=on_log) as session,
    ):
        await session.initialize()
        print("tools:", [t.name for t in (await session.list_tools()).tools], flush=True)
        result = await session.call_tool("tail_build_log", {"build": "api-server#1842", "lines": lines},
                                         progress_callback=on_progress)  # fmt: skip
        print("result:", result.content[0].text, counts, flush=True)


# --- non-MCP -------------------------------------------------------------------------------------------


def bulk_rpc(url: str) -> None:
    import requests

    items = [{"sku": f"SKU-{i:06d}", "name": f"stainless hex bolt M{3 + i % 10}x{10 + i % 90}", "price": round(0.05 + i % 300 / 100, 2),
              "stock": i * 7 % 1000, "warehouse": ["FRA-2", "AMS-1", "WAW-3"][i % 3]} for i in range(1, 91_000)]  # fmt: skip
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "catalog.bulkUpsert", "params": {"items": items}}).encode()
    with requests.Session() as s:
        r = s.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
        print("bulkUpsert:", len(body), "bytes ->", r.status_code, r.json(), flush=True)
        r = s.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "catalog.stats"}, timeout=10)
        print("stats:", r.json(), flush=True)


def json_bomb(url: str) -> None:
    import requests

    rpc = url.rsplit("/api/", 1)[0] + "/rpc"
    bomb = nested("[", "]", 100_000)
    with requests.Session() as s:
        for target, body in [
            (url, bomb),
            (
                rpc,
                json.dumps({"jsonrpc": "2.0", "id": 2, "method": "docs.import", "params": {"tree": None}})
                .encode()
                .replace(b"null", nested("[", "]", 30_000)),
            ),
            (url, json.dumps({"title": "Quarterly report", "tags": ["finance"]}).encode()),
            (rpc, json.dumps({"jsonrpc": "2.0", "id": 3, "method": "docs.count"}).encode()),
        ]:
            r = s.post(target, data=body, headers={"Content-Type": "application/json"}, timeout=30)
            print(urllib.parse.urlsplit(target).path, len(body), "bytes ->", r.status_code, r.text[:120], flush=True)


def feeds(url: str, seconds: float) -> None:
    import requests

    def follow(topic: str) -> None:
        n, deadline = 0, time.monotonic() + seconds
        with requests.Session() as s:
            r = s.get(url, params={"topic": topic}, headers={"Accept": "text/event-stream"}, stream=True, timeout=10)
            for line in r.iter_lines():
                n += line.startswith(b"data: ")
                if time.monotonic() > deadline:
                    break  # the feed never ends: the client gives up
            r.close()
        print(f"{topic}: {n} events, cut off after {seconds} s", flush=True)

    threads = [threading.Thread(target=follow, args=(t,)) for t in ("metrics", "newHeads")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["chunked", "probe", "sdk-long", "bulk-rpc", "json-bomb", "feeds"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--mode", choices=["truncated", "garbled", "utf8", "bomb"])
    ap.add_argument("--seconds", type=float, default=6.0, help="feeds: how long the client follows the feeds")
    ap.add_argument("--lines", type=int, default=200, help="sdk-long: log lines the tool streams")
    args = ap.parse_args()
    if args.kind == "probe":
        {"truncated": probe_truncated, "garbled": probe_garbled, "utf8": probe_utf8, "bomb": probe_bomb}[args.mode](
            args.url
        )
    elif args.kind == "sdk-long":
        asyncio.run(sdk_long(args.url, args.lines))
    elif args.kind == "feeds":
        feeds(args.url, args.seconds)
    else:
        {"chunked": chunked, "bulk-rpc": bulk_rpc, "json-bomb": json_bomb}[args.kind](args.url)


if __name__ == "__main__":
    main()
