"""Benign look-alike servers for the silent part of the corpus (no MCP anywhere).

    benign_servers.py {eth,jsonrpc,llm,web,rest} --port N

eth and web use the standard library's http.server; jsonrpc, llm and rest use aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# --- eth: Ethereum-style JSON-RPC 2.0 node ---------------------------------------------------

ETH_RESULTS: dict[str, Any] = {
    "web3_clientVersion": "Geth/v1.14.8-stable/linux-amd64/go1.22.6",
    "net_version": "1",
    "eth_chainId": "0x1",
    "eth_blockNumber": "0x13a1f2c",
    "eth_gasPrice": "0x3b9aca00",
    "eth_getBalance": "0x1bc16d674ec80000",
    "eth_call": "0x0000000000000000000000000000000000000000000000000de0b6b3a7640000",
    "eth_getTransactionCount": "0x2a",
}


def eth_answer(req: dict[str, Any]) -> dict[str, Any]:
    method = req.get("method")
    if method in ETH_RESULTS:
        return {"jsonrpc": "2.0", "id": req.get("id"), "result": ETH_RESULTS[method]}
    return {"jsonrpc": "2.0", "id": req.get("id"), "error": {"code": -32601, "message": "the method does not exist"}}


class EthHandler(BaseHTTPRequestHandler):
    server_version = "Geth/1.14.8"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = [eth_answer(r) for r in body] if isinstance(body, list) else eth_answer(body)
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# --- web: ordinary pages and a form ----------------------------------------------------------

PAGES = {
    "/": "<h1>Intranet</h1><p>Welcome to the team portal.</p><a href='/contact'>Contact</a>",
    "/contact": (
        "<h1>Contact</h1><form method='post' action='/contact'>"
        "<input name='name'><input name='email'><textarea name='message'></textarea>"
        "<button>Send</button></form>"
    ),
    "/search": "<h1>Search</h1><form method='get' action='/search'><input name='q'></form>",
}


class WebHandler(BaseHTTPRequestHandler):
    server_version = "nginx/1.24.0"

    def _page(self, code: int, html: str) -> None:
        data = f"<!doctype html><html><head><title>Portal</title></head><body>{html}</body></html>".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/search" and url.query:
            q = urllib.parse.parse_qs(url.query).get("q", [""])[0]
            self._page(200, f"<p>No results for {q!s:.40}</p>")
        elif url.path in PAGES:
            self._page(200, PAGES[url.path])
        else:
            self._page(404, "<h1>Not found</h1>")

    def do_POST(self) -> None:
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self._page(200, f"<p>Thanks {form.get('name', ['?'])[0]}, we will get back to you.</p>")


# --- aiohttp servers ----------------------------------------------------------------------------


async def serve_aiohttp(kind: str, port: int) -> None:
    from aiohttp import web

    app = web.Application()
    if kind == "jsonrpc":
        app.router.add_post("/api/rpc", jsonrpc_handler)
    elif kind == "llm":
        app.router.add_post("/v1/chat/completions", llm_handler)
        app.router.add_get("/v1/models", models_handler)
    elif kind == "rest":
        app.router.add_get("/api/articles", articles_handler)
        app.router.add_get("/api/articles/{id}", article_handler)
        app.router.add_post("/api/articles", create_article_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def jsonrpc_handler(request: Any) -> Any:
    from aiohttp import web

    body = await request.json()

    def one(req: dict[str, Any]) -> dict[str, Any] | None:
        p = req.get("params") or {}
        table = {
            "inventory.getItem": lambda: {"sku": p.get("sku"), "stock": 12, "warehouse": "FRA-2"},
            "inventory.listItems": lambda: [{"sku": "A-100", "stock": 3}, {"sku": "B-220", "stock": 0}],
            "orders.create": lambda: {"orderId": 9912, "status": "pending"},
            "system.describe": lambda: {"name": "inventory-api", "version": "3.2.1"},
        }
        if "id" not in req:
            return None  # notification
        if req.get("method") in table:
            return {"jsonrpc": "2.0", "id": req["id"], "result": table[req["method"]]()}
        return {"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32601, "message": "Method not found"}}

    if isinstance(body, list):
        return web.json_response([a for a in map(one, body) if a is not None])
    answer = one(body)
    return web.json_response(answer) if answer is not None else web.Response(status=204)


LLM_WORDS = ["Sure", "!", " Here", " is", " a", " short", " summary", " of", " the", " quarterly", " report", "."]


async def llm_handler(request: Any) -> Any:
    from aiohttp import web

    req = await request.json()
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    base = {"id": "chatcmpl-8xYz", "object": "chat.completion.chunk", "created": 1763900000, "model": req["model"]}
    first = base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
    await resp.write(f"data: {json.dumps(first)}\n\n".encode())
    for word in LLM_WORDS:
        chunk = base | {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
        await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await asyncio.sleep(0.01)
    last = base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    await resp.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
    await resp.write_eof()
    return resp


async def models_handler(request: Any) -> Any:
    from aiohttp import web

    return web.json_response({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})


ARTICLES = [
    {"id": 1, "title": "What is MCP?", "tags": ["mcp", "ai"],
     "summary": "MCP clients send jsonrpc messages such as tools/call and tools/list to servers."},
    {"id": 2, "title": "Debugging jsonrpc", "tags": ["jsonrpc"],
     "summary": "A request looks like {\"jsonrpc\": \"2.0\", \"method\": \"tools/call\"}; see the mcp docs."},
    {"id": 3, "title": "Release notes 4.2", "tags": ["release"],
     "summary": "The mcp integration page now explains initialize, tools/call and resources/read."},
]  # fmt: skip


async def articles_handler(request: Any) -> Any:
    from aiohttp import web

    return web.json_response({"count": len(ARTICLES), "items": ARTICLES})


async def article_handler(request: Any) -> Any:
    from aiohttp import web

    aid = int(request.match_info["id"])
    for a in ARTICLES:
        if a["id"] == aid:
            return web.json_response(a | {"body": f"{a['summary']} Read more about mcp and jsonrpc in the wiki."})
    return web.json_response({"error": "not found"}, status=404)


async def create_article_handler(request: Any) -> Any:
    from aiohttp import web

    data = await request.json()
    return web.json_response({"id": 4, **data, "status": "draft"}, status=201)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["eth", "web", "jsonrpc", "llm", "rest"])
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    if args.kind in ("eth", "web"):
        handler = EthHandler if args.kind == "eth" else WebHandler
        ThreadingHTTPServer(("127.0.0.1", args.port), handler).serve_forever()
    else:
        asyncio.run(serve_aiohttp(args.kind, args.port))


if __name__ == "__main__":
    main()
