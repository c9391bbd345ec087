"""Servers for the bad-input (robustness) scenarios of the corpus.

    badinput_servers.py mcp --break MODE [--profile P] [--stateless --json-response] --port N --name NAME
    badinput_servers.py {bulk-rpc,json-api,feeds} --port N

`mcp` is the official Python SDK's Streamable HTTP app (FastMCP 1.x / MCPServer 2.x, built with
py_server.py's settings) served by uvicorn (h11), with one ASGI middleware around it that changes
how the SDK's answers reach the wire:

    none         the SDK's answers as they are
    gzip         Starlette's GZipMiddleware (minimum_size=0): every JSON answer Content-Encoding: gzip
    chunk-bytes  Content-Length dropped and every answer body sent one byte per ASGI message, so
                 uvicorn frames it Transfer-Encoding: chunked with one-byte chunks
    truncate     tools/call answers: the real Content-Length, half of the body, then uvicorn closes
                 the connection (h11: "Too little data for declared Content-Length")
    garble       tools/call, resources/read, prompts/get and every tools/list after the first are
                 answered with invalid JSON made from the SDK's own answer (noise, cut, broken syntax,
                 two answers run together); Content-Length matches the garbled body
    utf8         every answer: the UTF-8 of "°", "€" and U+1F327 replaced by invalid UTF-8 (a Latin-1
                 byte, a cut 3-byte sequence, CESU-8 surrogates)

Profiles (tool sets): basic (py_server.py's), huge-tools (basic plus a tool whose description is
about 10 MB), long-stream (basic plus a tool streaming progress and log notifications for seconds),
utf8 (tools whose description and answers hold the characters the utf8 middleware breaks).

The non-MCP servers (aiohttp): bulk-rpc (JSON-RPC 2.0 bulk import taking a 10 MB request),
json-api (a REST document store and a JSON-RPC endpoint that receive nesting bombs) and feeds (SSE
feeds that never end: plain metrics events and JSON-RPC 2.0 eth_subscription notifications).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from typing import Any

# The SDK's Context class (1.x FastMCP or 2.x MCPServer) at module level: FastMCP resolves the
# tool signatures' string annotations against these globals.
from py_server import Context, register_basic

# --- MCP server profiles -------------------------------------------------------------------------

CATALOG_LINE = "- SKU-{n:06d}: stainless hex bolt M{d}x{l}, zinc plated, pack of {p}, aisle {a:02d}, bin {b:03d}\n"


def catalog_description(size: int) -> str:
    """A long, dull but plausible tool description: the product catalogue the tool can export."""
    head = "Export part of the product catalogue as CSV. Known SKUs:\n"
    lines, total, n = [head], len(head), 0
    while total < size:
        n += 1
        line = CATALOG_LINE.format(n=n, d=3 + n % 10, l=10 + n % 90, p=50 + n % 4 * 50, a=n % 40, b=n % 997)
        lines.append(line)
        total += len(line)
    return "".join(lines)


def register(mcp: Any, profile: str) -> None:
    if profile == "basic":
        register_basic(mcp)
    elif profile == "huge-tools":
        register_basic(mcp)

        @mcp.tool(description=catalog_description(10_000_000))
        def export_catalog(first_sku: int = 1, count: int = 100) -> str:
            return "sku,description\n" + "".join(f"SKU-{first_sku + i:06d},hex bolt\n" for i in range(count))

        @mcp.tool()
        def catalog_status() -> str:
            """Freshness of the product catalogue."""
            return "catalogue updated 2026-11-02T04:00:00Z"

    elif profile == "long-stream":
        register_long_stream(mcp)
    elif profile == "utf8":
        register_utf8(mcp)
    else:
        raise SystemExit(f"unknown profile {profile!r}")


def register_long_stream(mcp: Any) -> None:
    register_basic(mcp)

    @mcp.tool()
    async def tail_build_log(ctx: Context, build: str, lines: int = 200, interval: float = 0.04) -> str:
        """Follow the log of a CI build, streaming its lines as log messages and progress."""
        for i in range(1, lines + 1):
            step = f"[{build}] step {i:04d}/{lines}: compiling module_{i:04d}.c -> module_{i:04d}.o "
            await ctx.info(step + "cc -O2 -Wall -Wextra -fPIC -I include -I vendor/include " * 10)
            await ctx.report_progress(i, lines)
            await asyncio.sleep(interval)
        return f"build {build}: {lines} steps, finished"


def register_utf8(mcp: Any) -> None:
    @mcp.tool()
    def get_weather(city: str) -> str:
        """Current weather for a city: temperature in °C, umbrella rental price in €, an icon such as 🌧."""
        return f"Weather in {city}: 18 °C, light rain 🌧, umbrellas 3 € per day"

    @mcp.tool()
    def add_numbers(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @mcp.resource("config://app/settings")
    def settings() -> str:
        """Application settings (units: °C, €)."""
        return '{"unit": "°C", "currency": "€", "icon": "🌧"}'


# --- ASGI middlewares ------------------------------------------------------------------------------

# utf8 mode: valid UTF-8 -> invalid UTF-8 (Latin-1 byte, cut sequence, CESU-8 surrogate pair).
UTF8_BREAKS = [
    ("°".encode(), b"\xb0"),
    ("€".encode(), b"\xe2\x82"),
    ("\U0001f327".encode(), b"\xed\xa0\xbc\xed\xbc\xa7"),
]


def jsonrpc_method(body: bytes) -> str | None:
    try:
        msg = json.loads(body)
    except ValueError:
        return None
    return msg.get("method") if isinstance(msg, dict) else None


def set_length(headers: list[tuple[bytes, bytes]], n: int | None) -> list[tuple[bytes, bytes]]:
    out = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    return out if n is None else out + [(b"content-length", str(n).encode())]


class Breaker:
    """Reads the whole request (to learn its JSON-RPC method), runs the SDK app, and changes its answer."""

    def __init__(self, app: Any, mode: str) -> None:
        self.app, self.mode = app, mode
        self.tools_lists = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                print(f"client went away before the request body was complete ({sum(map(len, chunks))} bytes)",
                      flush=True)  # fmt: skip
                return
            chunks.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        method = jsonrpc_method(body)
        if method == "tools/list":
            self.tools_lists += 1
        if self.mode == "chunk-bytes":
            await self.app(scope, replay, self.byte_chunks(send))
        elif self.rewrites(method):
            await self.app(scope, replay, self.buffered(send, method))
        else:
            await self.app(scope, replay, send)

    def rewrites(self, method: str | None) -> bool:
        if self.mode == "utf8":
            return True
        if self.mode == "truncate":
            return method == "tools/call"
        if self.mode == "garble":
            return method in ("tools/call", "resources/read", "prompts/get") or (
                method == "tools/list" and self.tools_lists > 1
            )
        return False

    def byte_chunks(self, send: Any) -> Any:
        async def wrapped(msg: dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                msg = msg | {"headers": set_length(list(msg.get("headers", [])), None)}
                await send(msg)
            elif msg["type"] == "http.response.body":
                for i in range(len(msg.get("body", b""))):
                    await send({"type": "http.response.body", "body": msg["body"][i : i + 1], "more_body": True})
                if not msg.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await send(msg)

        return wrapped

    def buffered(self, send: Any, method: str | None) -> Any:
        start: dict[str, Any] = {}
        parts: list[bytes] = []
        streaming = False

        async def wrapped(msg: dict[str, Any]) -> None:
            nonlocal start, streaming
            if msg["type"] == "http.response.start":
                ctype = dict(msg.get("headers", [])).get(b"content-type", b"")
                if ctype.startswith(b"text/event-stream"):
                    streaming = True  # SSE answers pass unchanged
                    await send(msg)
                else:
                    start = msg
                return
            if streaming or msg["type"] != "http.response.body":
                await send(msg)
                return
            parts.append(msg.get("body", b""))
            if msg.get("more_body", False):
                return
            await self.emit(send, start, b"".join(parts), method)

        return wrapped

    async def emit(self, send: Any, start: dict[str, Any], body: bytes, method: str | None) -> None:
        headers = list(start.get("headers", []))
        if self.mode == "truncate":
            # Declared length of the whole answer, half of it on the wire; h11 refuses to end the
            # message and uvicorn closes the connection.
            await send(start | {"headers": set_length(headers, len(body))})
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": False})
            return
        if self.mode == "utf8":
            for good, bad in UTF8_BREAKS:
                body = body.replace(good, bad)
        elif self.mode == "garble":
            body = garble(body, method)
        await send(start | {"headers": set_length(headers, len(body))})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def garble(body: bytes, method: str | None) -> bytes:
    n = len(body)
    if method == "tools/call":  # line noise over the middle third
        noise = random.Random(7).randbytes(n // 3)
        return body[: n // 3] + noise + body[n // 3 + len(noise) :]
    if method == "resources/read":  # cut inside a string, nothing after
        return body[: n // 2]
    if method == "prompts/get":  # colons lost, brackets left over
        return body.replace(b'":', b'"', 4) + b"}}]]"
    return body[: n // 2] + body  # tools/list: an answer cut short, then the whole answer again


# --- MCP app -------------------------------------------------------------------------------------


def serve_mcp(args: argparse.Namespace) -> None:
    import py_server as ps
    import uvicorn

    net = argparse.Namespace(port=args.port, transport="streamable-http", path=args.path,
                             json_response=args.json_response, stateless=args.stateless)  # fmt: skip
    ctor, run = ps.server_kwargs(net, {})
    mcp = ps.ServerClass(args.name, **ctor)
    register(mcp, args.profile)
    if ps.SDK_MAJOR >= 2:
        app = mcp.streamable_http_app(**{k: v for k, v in run.items() if k != "port"})
    else:
        app = mcp.streamable_http_app()
    if args.break_mode == "gzip":
        from starlette.middleware.gzip import GZipMiddleware

        app = GZipMiddleware(app, minimum_size=0)
    elif args.break_mode != "none":
        app = Breaker(app, args.break_mode)
    uvicorn.run(app, host="127.0.0.1", port=args.port, http="h11", log_level="info")


# --- non-MCP servers (aiohttp) ---------------------------------------------------------------------


async def bulk_rpc(request: Any) -> Any:
    """JSON-RPC 2.0 catalogue service; catalog.bulkUpsert takes the whole catalogue in one request."""
    from aiohttp import web

    req = json.loads(await request.read())
    if req.get("method") == "catalog.bulkUpsert":
        items = req["params"]["items"]
        result: Any = {"upserted": len(items), "bytes": request.content_length}
    elif req.get("method") == "catalog.stats":
        result = {"items": 170000, "lastImport": "2026-11-02T04:00:00Z"}
    else:
        return web.json_response({"jsonrpc": "2.0", "id": req.get("id"),
                                  "error": {"code": -32601, "message": "Method not found"}})  # fmt: skip
    return web.json_response({"jsonrpc": "2.0", "id": req.get("id"), "result": result})


def parse_json(data: bytes) -> tuple[Any, str | None]:
    try:
        return json.loads(data), None
    except RecursionError:
        return None, "document nested too deeply"
    except ValueError as exc:
        return None, str(exc)


async def documents(request: Any) -> Any:
    from aiohttp import web

    _doc, err = parse_json(await request.read())
    if err:
        return web.json_response({"error": "invalid_document", "detail": err}, status=400)
    return web.json_response({"id": "doc-4711", "stored": True}, status=201)


async def docs_rpc(request: Any) -> Any:
    from aiohttp import web

    req, err = parse_json(await request.read())
    if err:
        return web.json_response(
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": f"Parse error: {err}"}}
        )
    if not isinstance(req, dict):
        return web.json_response(
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request"}}
        )
    return web.json_response({"jsonrpc": "2.0", "id": req.get("id"), "result": {"documents": 4711}})


async def feed(request: Any) -> Any:
    """An SSE feed that never ends: it stops only when the client goes away."""
    from aiohttp import web

    topic = request.query.get("topic", "metrics")
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    rnd = random.Random(topic)
    n = 0
    try:
        while True:
            n += 1
            if topic == "newHeads":
                head = {"number": hex(21_000_000 + n), "hash": f"0x{rnd.getrandbits(256):064x}",
                        "parentHash": f"0x{rnd.getrandbits(256):064x}", "gasUsed": hex(rnd.randrange(10**7)),
                        "timestamp": hex(1_793_000_000 + n * 12)}  # fmt: skip
                msg = {"jsonrpc": "2.0", "method": "eth_subscription",
                       "params": {"subscription": "0x9ce59a13059e417087c02d3236a0b1cc", "result": head}}  # fmt: skip
                await resp.write(f"data: {json.dumps(msg)}\n\n".encode())
            else:
                sample = {"host": f"web-{n % 8:02d}", "seq": n, "cpu": round(rnd.uniform(2, 97), 1),
                          "mem": round(rnd.uniform(20, 80), 1), "rps": rnd.randrange(50, 900)}  # fmt: skip
                await resp.write(f"id: {n}\ndata: {json.dumps(sample)}\n\n".encode())
            await asyncio.sleep(0.02)
    except ConnectionError:
        print(f"feed {topic}: client gone after {n} events", flush=True)
    return resp


async def serve_aiohttp(kind: str, port: int) -> None:
    from aiohttp import web

    app = web.Application(client_max_size=64 * 1024 * 1024)
    if kind == "bulk-rpc":
        app.router.add_post("/rpc", bulk_rpc)
    elif kind == "json-api":
        app.router.add_post("/api/v1/documents", documents)
        app.router.add_post("/rpc", docs_rpc)
    elif kind == "feeds":
        app.router.add_get("/stream", feed)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["mcp", "bulk-rpc", "json-api", "feeds"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--break", dest="break_mode", default="none",
                    choices=["none", "gzip", "chunk-bytes", "truncate", "garble", "utf8"])  # fmt: skip
    ap.add_argument("--profile", default="basic")
    ap.add_argument("--name", default="demo-server")
    ap.add_argument("--path", default="/mcp")
    ap.add_argument("--json-response", action="store_true")
    ap.add_argument("--stateless", action="store_true")
    args = ap.parse_args()
    if args.kind == "mcp":
        serve_mcp(args)
    else:
        asyncio.run(serve_aiohttp(args.kind, args.port))


if __name__ == "__main__":
    main()
