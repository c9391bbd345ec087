"""Python SDK 1.x client (PyPI `mcp`, `ClientSession`) for the reference servers behind a bridge.

    ref_client.py --url URL --transport streamable-http|sse --plan filesystem|memory|fetch|git|docling --root DIR

Each plan is a short, harmless session a user's assistant would run: initialize, tools/list, then one
or two tools/call against the scratch directory the server was started with (--root) or, for fetch,
against a page served on 127.0.0.1 inside the same network namespace (not captured: tcpdump watches
the bridge's port only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import threading
from typing import Any

from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamablehttp_client

PAGE = b"""<!doctype html><html><head><title>Build status</title></head>
<body><h1>Nightly build</h1><p>All 214 jobs passed. Next run at 02:00.</p></body></html>
"""


class PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *_args: Any) -> None:
        pass


def steps(plan: str, root: str, page_url: str) -> list[tuple[str, dict[str, Any]]]:
    if plan == "filesystem":
        return [
            ("list_allowed_directories", {}),
            ("list_directory", {"path": root}),
            ("read_text_file", {"path": f"{root}/README.md"}),
        ]
    if plan == "memory":
        return [
            (
                "create_entities",
                {
                    "entities": [
                        {
                            "name": "Nightly build",
                            "entityType": "project",
                            "observations": ["runs at 02:00", "214 jobs"],
                        }
                    ]
                },
            ),
            ("search_nodes", {"query": "nightly"}),
        ]
    if plan == "fetch":
        return [("fetch", {"url": page_url, "raw": True, "max_length": 2000})]
    if plan == "docling":
        return [
            ("list_input_formats", {}),
            ("convert_to_markdown", {"uri": f"file://{root}/plan.html"}),
        ]
    if plan == "git":
        return [
            ("git_status", {"repo_path": root}),
            ("git_log", {"repo_path": root, "max_count": 5}),
        ]
    raise SystemExit(f"unknown plan {plan!r}")


async def session(url: str, transport: str, plan: str, root: str, page_url: str) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if transport == "sse":
            read, write = await stack.enter_async_context(sse_client(url))
        else:
            read, write, _ = await stack.enter_async_context(streamablehttp_client(url))
        s = await stack.enter_async_context(ClientSession(read, write))
        init = await s.initialize()
        print(
            "server",
            init.serverInfo.name,
            init.serverInfo.version,
            init.protocolVersion,
        )
        tools = await s.list_tools()
        print("tools", [t.name for t in tools.tools])
        for name, arguments in steps(plan, root, page_url):
            result = await s.call_tool(name, arguments)
            text = " ".join(getattr(c, "text", "") for c in result.content)
            print(name, "error" if result.isError else "ok", text[:120].replace("\n", " "))
            if result.isError:
                raise SystemExit(f"{name} failed: {text[:500]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--transport", choices=["streamable-http", "sse"], default="streamable-http")
    ap.add_argument(
        "--plan",
        choices=["filesystem", "memory", "fetch", "git", "docling"],
        required=True,
    )
    ap.add_argument("--root", default="")
    ap.add_argument("--page-port", type=int, default=8099)
    args = ap.parse_args()
    page = http.server.ThreadingHTTPServer(("127.0.0.1", args.page_port), PageHandler)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    try:
        asyncio.run(
            session(
                args.url,
                args.transport,
                args.plan,
                args.root,
                f"http://127.0.0.1:{args.page_port}/status/nightly.html",
            )
        )
    finally:
        page.shutdown()


if __name__ == "__main__":
    main()
