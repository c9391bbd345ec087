"""FastMCP 2.x (the standalone PyPI `fastmcp` package, not the SDK's bundled FastMCP 1.0).

    fastmcp2_app.py server --port N [--transport http|sse]
    fastmcp2_app.py client --url URL

server: a small inventory-lookup server run with FastMCP's own `run(transport="http")` (Streamable
HTTP, stateful, SSE-framed answers) or `transport="sse"`.  client: `fastmcp.Client`, which picks
its transport from the URL: initialize, tools/list, two tools/call, resources/read, then it closes.
"""

from __future__ import annotations

import argparse
import asyncio


def server(port: int, transport: str) -> None:
    from fastmcp import FastMCP

    mcp = FastMCP("inventory-lookup", instructions="Look up stock levels of warehouse items.")
    stock = {"SKU-1042": 17, "SKU-2210": 0, "SKU-3307": 128}

    @mcp.tool
    def stock_level(sku: str) -> dict:
        """Current stock level of one item, by SKU."""
        return {"sku": sku, "on_hand": stock.get(sku, 0)}

    @mcp.tool
    def list_skus(prefix: str = "SKU-") -> list[str]:
        """SKUs known to the warehouse, optionally filtered by prefix."""
        return sorted(s for s in stock if s.startswith(prefix))

    @mcp.resource("inventory://warehouses")
    def warehouses() -> str:
        """Warehouse codes."""
        return "BER-1, HAM-2"

    mcp.run(transport=transport, host="127.0.0.1", port=port, show_banner=False)


async def client(url: str) -> None:
    from fastmcp import Client

    async with Client(url) as c:
        info = c.initialize_result
        print(
            "server",
            info.serverInfo.name,
            info.serverInfo.version,
            info.protocolVersion,
        )
        print("tools", [t.name for t in await c.list_tools()])
        print("list_skus", (await c.call_tool("list_skus", {})).data)
        print("stock_level", (await c.call_tool("stock_level", {"sku": "SKU-1042"})).data)
        print("resource", await c.read_resource("inventory://warehouses"))


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--transport", choices=["http", "sse"], default="http")
    c = sub.add_parser("client")
    c.add_argument("--url", required=True)
    args = ap.parse_args()
    if args.role == "server":
        server(args.port, args.transport)
    else:
        asyncio.run(client(args.url))


if __name__ == "__main__":
    main()
