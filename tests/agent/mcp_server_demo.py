"""A real MCP server from the official Python SDK (`mcp`), served over streamable HTTP for probe tests.

Usage: python mcp_server_demo.py HOST PORT
"""

from __future__ import annotations

import sys

try:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server
except ModuleNotFoundError:  # mcp 2.x renamed FastMCP to MCPServer
    from mcp.server.mcpserver import MCPServer as Server

server = Server("mcpeeker-demo-server")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        server.run("streamable-http", host=host, port=port)
    except TypeError:  # mcp 1.x takes host/port from settings
        server.settings.host, server.settings.port = host, port
        server.run("streamable-http")
