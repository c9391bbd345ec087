"""Remote MCP services for the remote pcaps (tests/pcaps/remote/): a public MCP service, or an ordinary site of the
same vendor, stood up under its real host name inside the capture namespace.

    remote_services.py server --kind mcp --port 443 --cert C --key K      # the MCP Python SDK's Streamable HTTP app
    remote_services.py server --kind web --port 443 --cert C --key K      # an ordinary HTTPS site (no MCP)
    remote_services.py server --kind mcp --port 80                        # cleartext: what a TLS-inspecting gateway sees
    remote_services.py client --mcp URL ... [--proxy URL] [--get URL ...] [--tls-max 1.2]

The client is the SDK's streamable-http client over httpx; TLS is verified against the scenario's CA (SSL_CERT_FILE,
which httpx honours), names resolve through the namespace's DNS server (generate.py starts dnsmasq), and --proxy
sends everything through a forward proxy (CONNECT for https). --tls-max 1.2 caps the client's TLS at 1.2 (the server
certificate then crosses the wire in clear; TLS 1.3 encrypts it); an https://<address>/ URL makes Python's ssl send no
SNI (it never sends one for an IP address), so only the certificate names the service.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
from typing import Any


def mcp_app() -> Any:
    from mcp.server.fastmcp import FastMCP
    from mcp.server.transport_security import TransportSecuritySettings

    # The service answers to its public name (Host: mcp.<vendor>), not to localhost.
    mcp = FastMCP(
        "remote-service",
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )

    @mcp.tool()
    def search(query: str) -> str:
        """Search the workspace pages."""
        return f"3 pages match {query!r}"

    return mcp.streamable_http_app()


def web_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(f"<html><body><h1>{request.url.hostname}</h1><p>Ordinary page.</p></body></html>")

    async def api(request: Request) -> JSONResponse:
        return JSONResponse({"data": [{"id": "gpt-4o"}, {"id": "claude"}], "path": request.url.path})

    return Starlette(routes=[Route("/", page), Route("/models", api), Route("/api/{rest:path}", api)])


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    app = mcp_app() if args.kind == "mcp" else web_app()
    if args.kind == "mcp" and args.also_web:  # a shared host: MCP at /mcp, the ordinary API beside it
        # Routes added to the SDK's app, so its lifespan (the session manager) still runs.
        app.router.routes.extend(web_app().router.routes)
    ssl: dict[str, Any] = {"ssl_certfile": args.cert, "ssl_keyfile": args.key} if args.cert else {}
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info", **ssl)


def tls_context(tls_max: str) -> ssl.SSLContext | bool:
    """True (httpx's default verification, SSL_CERT_FILE honoured) or a verifying context capped at `tls_max`."""
    if not tls_max:
        return True
    # Still verified (hostname and chain) against the scenario's CA only; just no TLS 1.3.
    ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    ctx.maximum_version = {"1.2": ssl.TLSVersion.TLSv1_2}[tls_max]
    return ctx


async def run_client(args: argparse.Namespace) -> None:
    import httpx
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    verify = tls_context(args.tls_max)
    for url in args.get:
        async with httpx.AsyncClient(proxy=args.proxy, timeout=30, verify=verify) as hc:
            resp = await hc.get(url)
            print("GET", url, resp.status_code, flush=True)

    def factory(headers: Any = None, timeout: Any = None, auth: Any = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(headers=headers, timeout=timeout, auth=auth, proxy=args.proxy, verify=verify)

    for url in args.mcp:
        async with (
            streamablehttp_client(url, httpx_client_factory=factory) as (read, write, _sid),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool("search", {"query": "roadmap"})
            print(url, "tools", [t.name for t in tools.tools], "result", result.content[0], flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    s = sub.add_parser("server")
    s.add_argument("--kind", choices=["mcp", "web"], required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--cert", default="")
    s.add_argument("--key", default="")
    s.add_argument("--also-web", action="store_true", help="mcp: serve the ordinary API routes beside /mcp")
    c = sub.add_parser("client")
    c.add_argument("--mcp", nargs="*", default=[], help="MCP endpoint URLs, one session each")
    c.add_argument("--proxy", default=None)
    c.add_argument("--get", nargs="*", default=[], help="ordinary GETs before the MCP session")
    c.add_argument("--tls-max", choices=["1.2"], default="", help="cap the client's TLS version (default: 1.3)")
    args = ap.parse_args()
    if args.role == "server":
        serve(args)
    else:
        asyncio.run(run_client(args))


if __name__ == "__main__":
    main()
