#!/usr/bin/env python3
"""Generate the MCP test pcaps in tests/pcaps/ from real SDK traffic.

    sudo python tests/pcaps/generate.py [--only SCENARIO ...] [--list] [--keep-raw] [--out DIR]

Every scenario runs inside its own network namespace (loopback with a 1500-byte MTU, so
segments look like Ethernet LAN traffic and ports never clash with services on the host):
the server starts, tcpdump captures `lo`, the client runs, then tcpprep/tcprewrite map the
client side to 10.10.0.N and the server side to 10.20.0.N and fix the checksums.  The SDKs
live in a cache directory outside the repository (see README.md); they are installed on
first use with the pinned versions below.  labels.json is merged by file name: keys this
script does not own (e.g. suricata_sids, zeek_notices) are preserved.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCENARIO_DIR = HERE / "scenarios"
CACHE = Path(os.environ.get("MCPEEKER_PCAPGEN_CACHE", Path.home() / ".cache" / "mcpeeker" / "pcapgen"))

# Pinned SDK versions: bump deliberately and regenerate, the labels name them.
PY_ENVS: dict[str, list[str]] = {
    "mcp2": ["mcp==2.3.0", "aiohttp==3.14.5", "requests==2.34.2"],
    "mcp1": ["mcp==1.30.0"],
    "mcp0": ["mcp==1.2.1", "pydantic==2.10.6"],  # 1.2.1 breaks with pydantic >= 2.11
    # benign LSP over HTTP and over WebSocket (pygls' own start_ws transport needs websockets)
    "lsp": ["pygls==2.1.1", "lsprotocol==2025.0.0", "aiohttp==3.14.5", "requests==2.34.2", "websockets==16.0"],
    # Reference servers (stdio only) and the stdio-to-HTTP bridge from PyPI; each in its own venv as `uvx`
    # would run them (mcp-proxy and mcp-server-fetch pin conflicting dependencies).
    "mcpproxy": ["mcp-proxy==0.13.0"],
    "fetch": ["mcp-server-fetch==2026.10.24"],
    "git": ["mcp-server-git==2026.10.19"],
    "fastmcp2": ["fastmcp==2.14.7"],  # the standalone FastMCP 2.x package, its own HTTP/SSE transports
    # benign look-alikes: Agent2Agent (JSON-RPC message/send, agent card) and the Debug Adapter Protocol
    "a2a": ["a2a-sdk[http-server]==0.3.26", "uvicorn==0.55.0", "httpx==0.29.0"],
    "dap": ["debugpy==1.8.22"],
    # a server from another language's SDK that installs from PyPI: docling.rs' MCP server, Rust on the Rust SDK
    # (rmcp, vendored into the package's native module), with its own Streamable HTTP transport
    "rmcp": ["docling-rs-mcp==2.52.7"],
}
NPM_DEPS: dict[str, str] = {
    "@modelcontextprotocol/sdk": "1.32.2",
    "@modelcontextprotocol/server-everything": "2026.8.31",
    "@modelcontextprotocol/server": "2.4.0",
    "@modelcontextprotocol/client": "2.4.0",
    "@modelcontextprotocol/node": "2.1.2",
    # reference servers (stdio only) behind the supergateway stdio-to-HTTP bridge
    "@modelcontextprotocol/server-filesystem": "2026.8.31",
    "@modelcontextprotocol/server-memory": "2026.8.31",
    "supergateway": "4.0.0",
    # a real Debug Adapter Protocol client (the one VS Code's debug adapters are tested with)
    "@vscode/debugadapter-testsupport": "1.68.0",
}
OWNED_KEYS = (
    "file", "scenario", "description", "benign", "era", "protocol_version", "sdk", "client_sdk",
    "transport", "server", "client", "auth", "expected", "server_program", "bridge", "protocol",
    "dns_names", "tls_names", "proxy", "remote_services", "tls_version", "sni",
)  # fmt: skip


@dataclass
class RemoteSetup:
    """A public remote MCP service stood up under its real name in the namespace: dnsmasq answers `dns` names with
    the namespace address (nothing in /etc/hosts, so every lookup is on the wire), the servers listen on `ports`
    with a certificate for `tls` names from a throw-away CA the client trusts, and `proxy` puts Squid in between."""

    dns: list[str]
    ports: list[int]
    servers: list[list[str]]  # each started before the client; {certs} is the certificate directory
    tls: list[str] = field(default_factory=list)
    proxy: bool = False
    # what the label says the sensors see: service -> ways (dns, tls_sni, certificate, http_host, url); {} for a
    # negative
    seen: dict[str, list[str]] = field(default_factory=dict)
    # "1.2": the client caps TLS at 1.2 (ssl maximum_version), so the server certificate crosses the wire in clear;
    # otherwise both sides negotiate TLS 1.3 and the certificate is encrypted
    tls_max: str = ""
    # False: the client connects by address (https://127.0.0.1/...), so Python's ssl sends no SNI and verifies the
    # certificate's IP name; only the certificate (CN/SAN) names the service
    sni: bool = True


@dataclass
class Scenario:
    id: str
    description: str
    n: int  # client 10.10.0.n, server 10.20.0.n
    server_cmd: list[str]
    client_cmd: list[str]
    port: int
    path: str
    host: str
    era: str = "none"
    protocol_version: str = ""
    sdk: str = "none"  # key into sdk_versions(): the server's SDK
    client_sdk: str = ""
    transport: str = "none"
    auth: str = "none"
    expected: list[str] = field(default_factory=list)
    benign: bool = False
    node_cwd: bool = False  # run from the node cache dir (ESM resolution of node_modules)
    settle: float = 0.5
    server_program: str = ""  # the server package when it is not the SDK itself (reference servers)
    bridge: str = ""  # the stdio-to-HTTP bridge in front of a stdio-only server
    protocol: str = ""  # benign look-alikes: the protocol on the wire (lsp, dap, a2a)
    # "connect": probe the port with a TCP connect; "listen": look for the listening socket only
    # (debugpy's adapter takes the first connection as its client, so a probe would use it up)
    ready: str = "connect"
    # Remote MCP services (tests/pcaps/remote/, issue 18): a RemoteSetup instead of the one-port lab
    remote: RemoteSetup | None = None

    @property
    def file(self) -> str:
        return f"{self.id}.pcap"


def py(env: str, script: str) -> list[str]:
    return [str(CACHE / env / "bin" / "python"), str(SCENARIO_DIR / script)]


def node(script: str) -> list[str]:
    return ["node", script]


def pin(env: str, package: str) -> str:
    """The pinned version of a package: `pypi:name==version` from PY_ENVS, `npm:name@version` from NPM_DEPS."""
    if env == "node":
        return f"npm:{package}@{NPM_DEPS[package]}"
    for p in PY_ENVS[env]:
        name, _, version = p.partition("==")
        if name.split("[")[0] == package:
            return f"pypi:{package}=={version}"
    raise KeyError(package)


def ref_server(bridge: str, server: str, transport: str, port: int) -> list[str]:
    """A stdio-only reference server behind a bridge (scenarios/ref_servers.py), rooted in a scratch dir."""
    return py("mcpproxy", "ref_servers.py") + ["--cache", str(CACHE), "--bridge", bridge, "--server", server,
                                               "--transport", transport, "--port", str(port),
                                               "--root", f"/tmp/mcpgen-ref/{server}"]  # fmt: skip


def ref_client(plan: str, url: str, transport: str = "streamable-http") -> list[str]:
    return py("mcp1", "ref_client.py") + ["--plan", plan, "--url", url, "--transport", transport,
                                          "--root", f"/tmp/mcpgen-ref/{plan}"]  # fmt: skip


EVERYTHING = "node_modules/@modelcontextprotocol/server-everything/dist/index.js"
MCP_BASE = ["mcp_server", "mcp_client"]


def scenarios() -> list[Scenario]:  # noqa: PLR0915 - one table, read top to bottom
    s: list[Scenario] = []
    add = s.append

    # --- 2026-07-28 era (stateless, server/discover, Mcp-Method) -------------------------
    add(
        Scenario(
            "mcp2026_py_streamable_json",
            "Python mcp 2.x MCPServer on FastMCP defaults; 2.x Client negotiates "
            "2026-07-28 with server/discover, then tools/resources/prompts with _meta envelope and Mcp-Method/Mcp-Name",
            1,
            py("mcp2", "py_server.py") + ["--port", "8000"],
            py("mcp2", "py_client.py") + ["--url", "http://tools.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "tools.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="py2",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_2026", "unauthenticated"],
        )
    )
    add(
        Scenario(
            "mcp2026_ts_streamable_json",
            "TypeScript SDK 2.x createMcpHandler server; 2.x Client with "
            "versionNegotiation auto (server/discover, 2026-07-28)",
            2,
            node("ts_server.mjs") + ["--sdk", "v2", "--port", "3000"],
            node("ts_client.mjs") + ["--sdk", "v2", "--url", "http://assist.corp.example:3000/mcp"],
            3000,
            "/mcp",
            "assist.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="ts2",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_2026", "unauthenticated"],
            node_cwd=True,
        )
    )
    add(
        Scenario(
            "mcp2026_ts_streamable_sse",
            "TypeScript SDK 2.x createMcpHandler with responseMode 'sse': 2026-07-28 "
            "requests answered as SSE-framed JSON-RPC (no session); 2.x Client",
            23,
            node("ts_server.mjs")
            + ["--sdk", "v2", "--response-mode", "sse", "--port", "3000", "--name", "docs-search"],
            node("ts_client.mjs") + ["--sdk", "v2", "--url", "http://docs.corp.example:3000/mcp"],
            3000,
            "/mcp",
            "docs.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="ts2",
            transport="streamable_http_sse",
            expected=MCP_BASE + ["mcp_2026", "mcp_sse_response", "unauthenticated"],
            node_cwd=True,
        )
    )
    add(
        Scenario(
            "mcp2026_py_subscriptions_listen",
            "Python mcp 2.x (2026-07-28): the client opens a subscriptions/listen "
            "SSE stream, calls a tool that adds a tool, receives the tools list-changed event and re-lists",
            25,
            py("mcp2", "py_server.py") + ["--port", "8000", "--profile", "dynamic", "--name", "finance-tools"],
            py("mcp2", "py_client.py") + ["--url", "http://finance.corp.example:8000/mcp", "--plan", "listen"],
            8000,
            "/mcp",
            "finance.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="py2",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_2026", "mcp_subscriptions_listen", "mcp_sse_response", "unauthenticated"],
        )
    )
    add(
        Scenario(
            "mcp2026_py_sse_legacy",
            "Python mcp 2.x server and 2.x Client (mode auto) over the legacy HTTP+SSE "
            "transport: 2026-07-28 negotiated with server/discover, every POST /messages/ carries the _meta "
            "envelope but no Mcp-Method header (the SDK's SSE transport sends none)",
            27,
            py("mcp2", "py_server.py") + ["--port", "8000", "--transport", "sse", "--name", "kb-search"],
            py("mcp2", "py_client.py")
            + ["--url", "http://kb-legacy.corp.example:8000/sse", "--transport", "sse", "--mode", "auto"],
            8000,
            "/sse",
            "kb-legacy.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="py2",
            transport="sse",
            expected=MCP_BASE + ["mcp_2026", "mcp_legacy_sse", "unauthenticated"],
        )
    )
    # --- 2025 era (initialize handshake) ---------------------------------------------------
    add(
        Scenario(
            "mcp2025_py_streamable_sse",
            "Python mcp 1.x FastMCP defaults (stateful Streamable HTTP, SSE-framed "
            "responses, Mcp-Session-Id), 1.x ClientSession: initialize, tools, resources, prompts, DELETE",
            3,
            py("mcp1", "py_server.py") + ["--port", "8000"],
            py("mcp1", "py_client.py") + ["--url", "http://notes.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "notes.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            transport="streamable_http_sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated"],
        )
    )
    add(
        Scenario(
            "mcp2025_ts_streamable_sse",
            "server-everything (TypeScript SDK 1.x) streamableHttp, stateful with "
            "SSE-framed responses; TypeScript 1.x Client",
            4,
            node(EVERYTHING) + ["streamableHttp"],
            node("ts_client.mjs") + ["--sdk", "v1", "--url", "http://everything.corp.example:3001/mcp"],
            3001,
            "/mcp",
            "everything.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="ts1",
            transport="streamable_http_sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated"],
            node_cwd=True,
        )
    )
    add(
        Scenario(
            "mcp2025_py_sse_legacy",
            "Python mcp 1.x FastMCP legacy HTTP+SSE transport: GET /sse, event: endpoint, "
            "POST /messages/?session_id=, responses as SSE events",
            5,
            py("mcp1", "py_server.py") + ["--port", "8000", "--transport", "sse"],
            py("mcp1", "py_client.py") + ["--url", "http://wiki.corp.example:8000/sse", "--transport", "sse"],
            8000,
            "/sse",
            "wiki.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            transport="sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_legacy_sse", "unauthenticated"],
        )
    )
    # --- attacks ---------------------------------------------------------------------------
    add(
        Scenario(
            "attack_tool_poisoning_py",
            "Python mcp 1.x server whose tool 'add' hides <IMPORTANT> instructions "
            "(read ~/.ssh/id_rsa, pass as sidenote, do not tell the user) in its description",
            6,
            py("mcp1", "py_server.py") + ["--port", "8000", "--profile", "poisoned", "--name", "math-helper"],
            py("mcp1", "py_client.py") + ["--url", "http://math.corp.example:8000/mcp", "--plan", "poisoned"],
            8000,
            "/mcp",
            "math.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            transport="streamable_http_sse",
            expected=MCP_BASE
            + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated", "tool_poisoning"],
        )
    )
    add(
        Scenario(
            "attack_sensitive_files_py",
            "tools/call read_file with ~/.ssh/id_rsa, ~/.aws/credentials, /etc/shadow "
            "and .env (Python mcp 1.x, stateful Streamable HTTP)",
            7,
            py("mcp1", "py_server.py") + ["--port", "8000", "--profile", "files", "--name", "workspace-tools"],
            py("mcp1", "py_client.py") + ["--url", "http://workspace.corp.example:8000/mcp", "--plan", "sensitive"],
            8000,
            "/mcp",
            "workspace.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            transport="streamable_http_sse",
            expected=MCP_BASE
            + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated", "sensitive_file"],
        )
    )
    add(
        Scenario(
            "attack_command_injection_py2026",
            "tools/call run_command carrying '; curl ... | sh', $(...), backticks "
            "and '| nc' (Python mcp 2.x, 2026-07-28)",
            8,
            py("mcp2", "py_server.py") + ["--port", "8000", "--profile", "files", "--name", "devops-tools"],
            py("mcp2", "py_client.py") + ["--url", "http://devops.corp.example:8000/mcp", "--plan", "injection"],
            8000,
            "/mcp",
            "devops.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="py2",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_2026", "unauthenticated", "command_injection"],
        )
    )
    add(
        Scenario(
            "mcp2025_py_streamable_json_stateless",
            "Python mcp 1.x FastMCP with stateless_http and json_response: "
            "initialize handshake, plain JSON answers, no Mcp-Session-Id",
            9,
            py("mcp1", "py_server.py") + ["--port", "8000", "--stateless", "--json-response"],
            py("mcp1", "py_client.py") + ["--url", "http://reports.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "reports.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_initialize", "unauthenticated"],
        )
    )
    add(
        Scenario(
            "mcp2025_ts_streamable_json_stateless",
            "TypeScript SDK 1.x McpServer with a stateless Streamable HTTP "
            "transport (sessionIdGenerator undefined, enableJsonResponse); TypeScript 1.x Client",
            10,
            node("ts_server.mjs") + ["--sdk", "v1", "--mode", "stateless-json", "--port", "3000"],
            node("ts_client.mjs") + ["--sdk", "v1", "--url", "http://kb.corp.example:3000/mcp"],
            3000,
            "/mcp",
            "kb.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="ts1",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_initialize", "unauthenticated"],
            node_cwd=True,
        )
    )
    add(
        Scenario(
            "mcp2025_ts_sse_legacy",
            "server-everything (TypeScript SDK 1.x) legacy HTTP+SSE transport: GET /sse, "
            "event: endpoint, POST /message?sessionId=; TypeScript 1.x SSEClientTransport",
            11,
            node(EVERYTHING) + ["sse"],
            node("ts_client.mjs")
            + ["--sdk", "v1", "--transport", "sse", "--url", "http://everything-sse.corp.example:3001/sse"],
            3001,
            "/sse",
            "everything-sse.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="ts1",
            transport="sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_legacy_sse", "unauthenticated"],
            node_cwd=True,
        )
    )
    add(
        Scenario(
            "mcp2024_py_sse_legacy",
            "Python mcp 1.2.1 (2024-11-05 only) FastMCP over HTTP+SSE with its 1.2.1 client",
            12,
            py("mcp0", "py_server.py") + ["--port", "8000", "--transport", "sse"],
            py("mcp0", "py_client.py") + ["--url", "http://legacy.corp.example:8000/sse", "--transport", "sse"],
            8000,
            "/sse",
            "legacy.corp.example",
            era="2024-11-05",
            protocol_version="2024-11-05",
            sdk="py0",
            transport="sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_legacy_sse", "unauthenticated"],
        )
    )
    add(
        Scenario(
            "mcp2025_py2_legacy_handshake",
            "Python mcp 2.x server and 2.x Client forced to mode='legacy': the "
            "initialize handshake (2025-11-25) from the 2.x SDK, stateful with SSE-framed responses",
            13,
            py("mcp2", "py_server.py") + ["--port", "8000"],
            py("mcp2", "py_client.py") + ["--url", "http://calendar.corp.example:8000/mcp", "--mode", "legacy"],
            8000,
            "/mcp",
            "calendar.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py2",
            transport="streamable_http_sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated"],
        )
    )
    add(
        Scenario(
            "mcp2026_py_nondefault_port_path",
            "Python mcp 2.x server on a non-default port and path (18443, /api/v2/agent-tools), 2026-07-28 client",
            14,
            py("mcp2", "py_server.py") + ["--port", "18443", "--path", "/api/v2/agent-tools", "--name", "crm-agent"],
            py("mcp2", "py_client.py") + ["--url", "http://crm.corp.example:18443/api/v2/agent-tools"],
            18443,
            "/api/v2/agent-tools",
            "crm.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="py2",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_2026", "unauthenticated"],
        )
    )
    add(
        Scenario(
            "mcp2025_py_nondefault_port_path",
            "Python mcp 1.x FastMCP stateful on a non-default port and path "
            "(27124, /internal/assistant/rpc), 2025 handshake with SSE-framed responses",
            15,
            py("mcp1", "py_server.py") + ["--port", "27124", "--path", "/internal/assistant/rpc", "--name", "hr-bot"],
            py("mcp1", "py_client.py")
            + ["--url", "http://hr.corp.example:27124/internal/assistant/rpc", "--plan", "tools"],
            27124,
            "/internal/assistant/rpc",
            "hr.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            transport="streamable_http_sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated"],
        )
    )
    add(
        Scenario(
            "attack_tool_poisoning_ts2026",
            "TypeScript SDK 2.x server (2026-07-28) listing a tool whose description "
            "hides <IMPORTANT> instructions and a sidenote parameter",
            16,
            node("ts_server.mjs") + ["--sdk", "v2", "--profile", "poisoned", "--port", "3000", "--name", "calc"],
            node("ts_client.mjs") + ["--sdk", "v2", "--url", "http://calc.corp.example:3000/mcp", "--plan", "poisoned"],
            3000,
            "/mcp",
            "calc.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="ts2",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_2026", "unauthenticated", "tool_poisoning"],
            node_cwd=True,
        )
    )
    add(
        Scenario(
            "attack_rug_pull_py",
            "Python mcp 1.x server whose tool definition changes between two sessions of the "
            "same client: benign fact_of_the_day first, then a poisoned description with a sidenote parameter",
            17,
            py("mcp1", "py_server.py") + ["--port", "8000", "--profile", "rugpull", "--name", "daily-facts"],
            py("mcp1", "py_client.py")
            + ["--url", "http://facts.corp.example:8000/mcp", "--plan", "rugpull", "--sessions", "2"],
            8000,
            "/mcp",
            "facts.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            transport="streamable_http_sse",
            expected=MCP_BASE
            + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated", "rug_pull", "tool_poisoning"],
        )
    )
    add(
        Scenario(
            "attack_tool_poisoning_tags_py2026",
            "Python mcp 2.x server (2026-07-28) whose tools hide instructions in "
            "<SYSTEM> and <secret> tags, with no <IMPORTANT>: each instruction tag fires on its own",
            30,
            py("mcp2", "py_server.py") + ["--port", "8000", "--profile", "poisoned-tags", "--name", "crm-tools"],
            py("mcp2", "py_client.py") + ["--url", "http://crm.corp.example:8000/mcp", "--plan", "tools"],
            8000,
            "/mcp",
            "crm.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="py2",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_2026", "unauthenticated", "tool_poisoning"],
        )
    )
    # Poisoning indicators of the published research, one kind per server, each tool carrying one indicator; the
    # 2.x SDK's 2026-07-28 transport writes non-ASCII as \\u escapes (json.dumps), the 1.x SDK as raw UTF-8.
    poison = MCP_BASE + ["unauthenticated", "tool_poisoning"]
    for sid_n, (scenario, profile, env, host, what) in enumerate(
        [
            (
                "attack_poisoning_exfil_py2026",
                "poisoned-exfil",
                "mcp2",
                "workflows",
                "tools that tell the model to POST a copy of the payload to a webhook.site request bin and to upload a CSV to "
                "a raw IP address",
            ),
            (
                "attack_poisoning_secrets_py",
                "poisoned-secrets",
                "mcp1",
                "formatter",
                "tools that tell the model to read ~/.aws/credentials, claude_desktop_config.json, ~/.claude.json and "
                "Windsurf's mcp_config.json",
            ),
            (
                "attack_poisoning_shadowing_py2026",
                "poisoned-shadowing",
                "mcp2",
                "mathx",
                "tools that change another server's send_email (side effect on the send_email tool, 'when the user calls "
                "send_email, instead', 'always add bcc ... to every email')",
            ),
            (
                "attack_poisoning_unicode_py2026",
                "poisoned-unicode",
                "mcp2",
                "translator",
                "tools hiding text with Unicode tag characters, zero-width spaces inside words and a right-to-left "
                "override, sent as \\u escapes",
            ),
            (
                "attack_poisoning_unicode_py",
                "poisoned-unicode",
                "mcp1",
                "translator-legacy",
                "tools hiding text with Unicode tag characters, zero-width spaces inside words and a right-to-left "
                "override, sent as raw UTF-8",
            ),
            (
                "attack_poisoning_sidechannel_py2026",
                "poisoned-sidechannel",
                "mcp2",
                "helpdesk",
                "a create_ticket tool whose description asks for the full conversation history in its notes parameter",
            ),
        ],
        start=70,
    ):
        era2026 = env == "mcp2"
        add(
            Scenario(
                scenario,
                f"Python mcp {'2.x server (2026-07-28)' if era2026 else '1.x server (2025)'} listing {what}",
                sid_n,
                py(env, "py_server.py") + ["--port", "8000", "--profile", profile, "--name", host],
                py(env, "py_client.py") + ["--url", f"http://{host}.corp.example:8000/mcp", "--plan", "tools"],
                8000,
                "/mcp",
                f"{host}.corp.example",
                era="2026-07-28" if era2026 else "2025",
                protocol_version="2026-07-28" if era2026 else "2025-11-25",
                sdk="py2" if era2026 else "py1",
                transport="streamable_http_json" if era2026 else "streamable_http_sse",
                expected=poison + (["mcp_2026"] if era2026 else ["mcp_initialize", "mcp_session", "mcp_sse_response"]),
            )
        )
    for sid_n, env in ((76, "mcp2"), (77, "mcp1")):
        era2026 = env == "mcp2"
        add(
            Scenario(
                f"mcp{'2026' if era2026 else '2025'}_py_honest_tools",
                ("Python mcp 2.x (2026-07-28)" if era2026 else "Python mcp 1.x (2025)")
                + " server whose honest tools look like the poisoning indicators: a 6 KB description, a "
                "description quoting /srv/data, a notes parameter (and a tools/call filling it), docs and API URLs with "
                "'Sends the text to https://...', a tool describing itself ('when the user calls this tool'), emoji ZWJ "
                "sequences, a subdivision flag, Persian with a zero-width non-joiner and Hebrew",
                sid_n,
                py(env, "py_server.py") + ["--port", "8000", "--profile", "honest", "--name", "team-hub"],
                py(env, "py_client.py") + ["--url", "http://team-hub.corp.example:8000/mcp", "--plan", "honest"],
                8000,
                "/mcp",
                "team-hub.corp.example",
                era="2026-07-28" if era2026 else "2025",
                protocol_version="2026-07-28" if era2026 else "2025-11-25",
                sdk="py2" if era2026 else "py1",
                transport="streamable_http_json" if era2026 else "streamable_http_sse",
                expected=MCP_BASE
                + ["unauthenticated"]
                + (["mcp_2026"] if era2026 else ["mcp_initialize", "mcp_session", "mcp_sse_response"]),
            )
        )
    add(
        Scenario(
            "attack_rug_pull_py2026",
            "Python mcp 2.x server (2026-07-28): two client connections, the second "
            "tools/list returns a changed, poisoned fact_of_the_day definition",
            24,
            py("mcp2", "py_server.py") + ["--port", "8000", "--profile", "rugpull", "--name", "daily-facts"],
            py("mcp2", "py_client.py")
            + ["--url", "http://facts2.corp.example:8000/mcp", "--plan", "rugpull", "--sessions", "2"],
            8000,
            "/mcp",
            "facts2.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="py2",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_2026", "unauthenticated", "rug_pull", "tool_poisoning"],
        )
    )
    add(
        Scenario(
            "attack_sensitive_files_ts",
            "TypeScript SDK 1.x stateless JSON server; tools/call read_file with "
            "~/.ssh/id_rsa, ~/.aws/credentials, /etc/shadow, .env",
            18,
            node("ts_server.mjs") + ["--sdk", "v1", "--mode", "stateless-json", "--profile", "files", "--port", "3000"],
            node("ts_client.mjs")
            + ["--sdk", "v1", "--url", "http://files.corp.example:3000/mcp", "--plan", "sensitive"],
            3000,
            "/mcp",
            "files.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="ts1",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_initialize", "unauthenticated", "sensitive_file"],
            node_cwd=True,
        )
    )
    add(
        Scenario(
            "attack_sensitive_resources_py2026",
            "Python mcp 2.x server exposing a file:///{+path} resource template; "
            "the 2.x Client (2026-07-28) lists templates and calls resources/read on file:///home/dev/.ssh/id_rsa, "
            "~/.aws/credentials and /srv/app/.env",
            28,
            py("mcp2", "py_server.py")
            + ["--port", "8000", "--profile", "file-resources", "--name", "workstation-files"],
            py("mcp2", "py_client.py") + ["--url", "http://devbox.corp.example:8000/mcp", "--plan", "secret-resources"],
            8000,
            "/mcp",
            "devbox.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="py2",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_2026", "unauthenticated", "sensitive_file"],
        )
    )
    add(
        Scenario(
            "attack_command_injection_ts",
            "TypeScript SDK 1.x stateful server (SSE-framed responses); tools/call "
            "run_command with '; curl ... | sh', $(...), backticks and '| nc'",
            19,
            node("ts_server.mjs") + ["--sdk", "v1", "--mode", "stateful-sse", "--profile", "files", "--port", "3000"],
            node("ts_client.mjs") + ["--sdk", "v1", "--url", "http://ci.corp.example:3000/mcp", "--plan", "injection"],
            3000,
            "/mcp",
            "ci.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="ts1",
            transport="streamable_http_sse",
            expected=MCP_BASE
            + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated", "command_injection"],
            node_cwd=True,
        )
    )
    add(
        Scenario(
            "mcp2025_py_probe_errors",
            "A scanner-like requests client against Python mcp 1.x FastMCP: the SDK's "
            "406 Not Acceptable, missing-session 400 and 'Session not found' answers, then a valid handshake",
            22,
            py("mcp1", "py_server.py") + ["--port", "8000", "--name", "ticket-bot"],
            py("mcp2", "mcp_probe.py") + ["--url", "http://tickets.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "tickets.corp.example",
            era="2025",
            protocol_version="2025-06-18",
            sdk="py1",
            client_sdk="none",
            transport="streamable_http_sse",
            expected=MCP_BASE
            + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated", "mcp_error_fingerprint"],
        )
    )
    add(
        Scenario(
            "mcp2025_ts_batch",
            "A requests client negotiating 2025-03-26 with server-everything (TypeScript SDK "
            "1.x) and sending a JSON-RPC batch (tools/list, prompts/list, resources/list)",
            26,
            node(EVERYTHING) + ["streamableHttp"],
            py("mcp2", "mcp_probe.py") + ["--mode", "batch", "--url", "http://inventory-mcp.corp.example:3001/mcp"],
            3001,
            "/mcp",
            "inventory-mcp.corp.example",
            era="2025",
            protocol_version="2025-03-26",
            sdk="ts1",
            client_sdk="none",
            transport="streamable_http_sse",
            node_cwd=True,
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated", "mcp_batch"],
        )
    )
    add(
        Scenario(
            "mcp2025_ts_probe_missing_session",
            "A scanner-like requests client against a single-session TypeScript "
            "SDK 1.x server (one stateful transport): the SDK's 406, then after a valid handshake tools/list without "
            "Mcp-Session-Id (400 'Mcp-Session-Id header is required') and with an unknown one (404 'Session not found')",
            29,
            node("ts_server.mjs")
            + ["--sdk", "v1", "--mode", "single-session", "--port", "3000", "--name", "build-bot"],
            py("mcp2", "mcp_probe.py") + ["--mode", "session", "--url", "http://build.corp.example:3000/mcp"],
            3000,
            "/mcp",
            "build.corp.example",
            era="2025",
            protocol_version="2025-06-18",
            sdk="ts1",
            client_sdk="none",
            transport="streamable_http_sse",
            node_cwd=True,
            expected=MCP_BASE
            + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated", "mcp_error_fingerprint"],
        )
    )
    # --- authentication (the SDK only allows plain-http issuers on localhost) -------------------
    add(
        Scenario(
            "auth_bearer_py",
            "Python mcp 1.x FastMCP resource server with a token verifier; the client sends "
            "Authorization: Bearer on every request (no 401 on the wire)",
            20,
            py("mcp1", "py_server.py")
            + [
                "--port",
                "8000",
                "--profile",
                "bearer",
                "--public-url",
                "http://localhost:8000",
                "--token",
                "mcpeeker-test-token-0001",
            ],
            py("mcp1", "py_client.py") + ["--url", "http://localhost:8000/mcp", "--token", "mcpeeker-test-token-0001"],
            8000,
            "/mcp",
            "localhost",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            transport="streamable_http_sse",
            auth="bearer",
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "mcp_sse_response"],
        )
    )
    add(
        Scenario(
            "auth_oauth_discovery_py",
            "Python mcp 1.x FastMCP with the SDK's OAuth authorization server: 401 with "
            "WWW-Authenticate resource_metadata, GET /.well-known/oauth-protected-resource/mcp, AS metadata, "
            "dynamic registration, authorize, token, then MCP with Bearer (OAuthClientProvider)",
            21,
            py("mcp1", "py_server.py")
            + ["--port", "8000", "--profile", "oauth", "--public-url", "http://localhost:8000"],
            py("mcp1", "py_client.py") + ["--url", "http://localhost:8000/mcp", "--oauth", "--plan", "tools"],
            8000,
            "/mcp",
            "localhost",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            transport="streamable_http_sse",
            auth="oauth_discovery",
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "mcp_sse_response", "oauth_discovery"],
        )
    )
    # --- bad input (sensor robustness): SDK servers behind a middleware, tolerant clients ------
    bad_mcp = MCP_BASE + ["mcp_initialize", "unauthenticated"]
    add(
        Scenario(
            "badinput_mcp2026_py_gzip",
            "Python mcp 2.x server behind Starlette's GZipMiddleware (minimum_size 0): "
            "every JSON answer Content-Encoding: gzip; 2.x Client (2026-07-28, server/discover)",
            40,
            py("mcp2", "badinput_servers.py") + ["mcp", "--break", "gzip", "--port", "8000", "--name", "press-kit"],
            py("mcp2", "py_client.py") + ["--url", "http://press.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "press.corp.example",
            era="2026-07-28",
            protocol_version="2026-07-28",
            sdk="py2",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_2026", "unauthenticated"],
        )
    )
    add(
        Scenario(
            "badinput_mcp2025_py_chunked_bytes",
            "http.client sends every request body (initialize, "
            "notifications/initialized, tools/list, tools/call) Transfer-Encoding: chunked, one byte per chunk (one "
            "send() each, TCP_NODELAY); the Python mcp 1.x stateless JSON server's answers go out chunked one byte per "
            "chunk too",
            41,
            py("mcp1", "badinput_servers.py")
            + [
                "mcp",
                "--break",
                "chunk-bytes",
                "--stateless",
                "--json-response",
                "--port",
                "8000",
                "--name",
                "edge-tools",
            ],
            py("mcp2", "badinput_clients.py") + ["chunked", "--url", "http://edge.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "edge.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            client_sdk="none",
            transport="streamable_http_json",
            expected=bad_mcp,
        )
    )
    add(
        Scenario(
            "badinput_mcp2025_py_tools_list_10mb",
            "Python mcp 1.x stateless JSON server whose tools/list answer is "
            "about 10 MB (export_catalog's description lists the product catalogue, between get_weather/add_numbers "
            "and catalog_status); 1.x ClientSession lists and calls get_weather",
            42,
            py("mcp1", "badinput_servers.py")
            + [
                "mcp",
                "--profile",
                "huge-tools",
                "--stateless",
                "--json-response",
                "--port",
                "8000",
                "--name",
                "catalog",
            ],
            py("mcp1", "py_client.py") + ["--url", "http://catalog.corp.example:8000/mcp", "--plan", "tools"],
            8000,
            "/mcp",
            "catalog.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            transport="streamable_http_json",
            expected=bad_mcp,
        )
    )
    add(
        Scenario(
            "badinput_mcp2025_py_truncated",
            "Python mcp 1.x stateless JSON server that sends half of its tools/call "
            "answer under the full Content-Length and closes; then a requests/http.client client sends a tools/call "
            "whose Content-Length exceeds the body, stalls and gives up; a last tools/list is answered normally",
            43,
            py("mcp1", "badinput_servers.py")
            + [
                "mcp",
                "--break",
                "truncate",
                "--stateless",
                "--json-response",
                "--port",
                "8000",
                "--name",
                "report-hub",
            ],
            py("mcp2", "badinput_clients.py")
            + ["probe", "--mode", "truncated", "--url", "http://reports-hub.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "reports-hub.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            client_sdk="none",
            transport="streamable_http_json",
            expected=bad_mcp,
        )
    )
    add(
        Scenario(
            "badinput_mcp2025_py_garbled_json",
            "Python mcp 1.x stateless JSON server answering initialize and the "
            "first tools/list correctly, then invalid JSON made from its own answers: line noise (tools/call), JSON cut "
            "mid-string (resources/read), lost colons and stray brackets (prompts/get), two answers run together "
            "(tools/list); requests client",
            44,
            py("mcp1", "badinput_servers.py")
            + ["mcp", "--break", "garble", "--stateless", "--json-response", "--port", "8000", "--name", "kb-index"],
            py("mcp2", "badinput_clients.py")
            + ["probe", "--mode", "garbled", "--url", "http://kb-index.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "kb-index.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            client_sdk="none",
            transport="streamable_http_json",
            expected=bad_mcp,
        )
    )
    add(
        Scenario(
            "badinput_mcp2025_py_invalid_utf8",
            "Invalid UTF-8 inside JSON strings: a requests client sends an "
            "initialize and a tools/call encoded as Latin-1 (the 1.x SDK answers 500), and the Python mcp 1.x "
            "stateless JSON server's answers carry a Latin-1 degree sign, a cut euro sign and CESU-8 surrogates in "
            "tool descriptions, tool results and a resource",
            45,
            py("mcp1", "badinput_servers.py")
            + [
                "mcp",
                "--break",
                "utf8",
                "--profile",
                "utf8",
                "--stateless",
                "--json-response",
                "--port",
                "8000",
                "--name",
                "meteo",
            ],
            py("mcp2", "badinput_clients.py")
            + ["probe", "--mode", "utf8", "--url", "http://meteo.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "meteo.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            client_sdk="none",
            transport="streamable_http_json",
            expected=bad_mcp,
        )
    )
    add(
        Scenario(
            "badinput_mcp2025_py_json_bomb",
            "JSON nesting bombs in tools/call arguments (100,000 nested arrays: a "
            "200 KB body; 10,000 nested arrays; 5,000 nested objects) sent by a requests client to a Python mcp 1.x "
            "stateless JSON server (500 answers), then an ordinary tools/call",
            46,
            py("mcp1", "badinput_servers.py")
            + ["mcp", "--stateless", "--json-response", "--port", "8000", "--name", "fuzz-target"],
            py("mcp2", "badinput_clients.py")
            + ["probe", "--mode", "bomb", "--url", "http://fuzz.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "fuzz.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            client_sdk="none",
            transport="streamable_http_json",
            expected=bad_mcp,
        )
    )
    add(
        Scenario(
            "badinput_mcp2025_py_sse_long",
            "Python mcp 1.x stateful server (SSE-framed answers): tools/call "
            "tail_build_log streams 200 log messages (about 650 bytes each) and 200 progress notifications over "
            "about 10 s on the POST's event stream before its result; 1.x ClientSession",
            47,
            py("mcp1", "badinput_servers.py")
            + ["mcp", "--profile", "long-stream", "--port", "8000", "--name", "ci-runner"],
            py("mcp1", "badinput_clients.py") + ["sdk-long", "--url", "http://ci-runner.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "ci-runner.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="py1",
            transport="streamable_http_sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated"],
        )
    )
    add(
        Scenario(
            "benign_badinput_jsonrpc_10mb",
            "A 10 MB JSON-RPC 2.0 request (catalog.bulkUpsert of 90,000 items) "
            "from requests to an aiohttp JSON-RPC service, then a small call",
            110,
            py("mcp2", "badinput_servers.py") + ["bulk-rpc", "--port", "8081"],
            py("mcp2", "badinput_clients.py") + ["bulk-rpc", "--url", "http://catalog-api.corp.example:8081/rpc"],
            8081,
            "/rpc",
            "catalog-api.corp.example",
            benign=True,
        )
    )
    add(
        Scenario(
            "benign_badinput_json_bomb",
            "JSON nesting bombs posted with requests to an aiohttp document store: "
            "100,000 nested arrays to its REST endpoint (400), 30,000 nested arrays as the params of a JSON-RPC 2.0 "
            "request to its /rpc endpoint (-32700), then ordinary requests",
            111,
            py("mcp2", "badinput_servers.py") + ["json-api", "--port", "8082"],
            py("mcp2", "badinput_clients.py")
            + ["json-bomb", "--url", "http://docs-store.corp.example:8082/api/v1/documents"],
            8082,
            "/api/v1/documents",
            "docs-store.corp.example",
            benign=True,
        )
    )
    add(
        Scenario(
            "benign_badinput_sse_endless",
            "Two SSE feeds that never end (aiohttp): host metrics data: events and "
            "JSON-RPC 2.0 eth_subscription notifications, one every 20 ms each; the requests client gives up after "
            "6 s while the server is still streaming",
            112,
            py("mcp2", "badinput_servers.py") + ["feeds", "--port", "8090"],
            py("mcp2", "badinput_clients.py") + ["feeds", "--url", "http://telemetry.corp.example:8090/stream"],
            8090,
            "/stream",
            "telemetry.corp.example",
            benign=True,
        )
    )
    # --- benign look-alikes ------------------------------------------------------------------
    add(
        Scenario(
            "benign_eth_jsonrpc",
            "Ethereum-style JSON-RPC 2.0 node (eth_blockNumber, eth_getBalance, eth_call, "
            "net_version, a batch) served by python http.server, queried with urllib",
            101,
            py("mcp2", "benign_servers.py") + ["eth", "--port", "8545"],
            py("mcp2", "benign_clients.py") + ["eth", "--url", "http://eth-node.corp.example:8545/"],
            8545,
            "/",
            "eth-node.corp.example",
            benign=True,
        )
    )
    add(
        Scenario(
            "benign_llm_sse",
            'LLM chat completion streaming over SSE (OpenAI-style data: {"choices": ...} and '
            "data: [DONE]) from an aiohttp server, read with requests",
            102,
            py("mcp2", "benign_servers.py") + ["llm", "--port", "8080"],
            py("mcp2", "benign_clients.py") + ["llm", "--url", "http://llm-gw.corp.example:8080/v1/chat/completions"],
            8080,
            "/v1/chat/completions",
            "llm-gw.corp.example",
            benign=True,
        )
    )
    add(
        Scenario(
            "benign_jsonrpc_api",
            "Generic JSON-RPC 2.0 inventory API (aiohttp) with calls, a notification and a batch, from requests",
            103,
            py("mcp2", "benign_servers.py") + ["jsonrpc", "--port", "8081"],
            py("mcp2", "benign_clients.py") + ["jsonrpc", "--url", "http://inventory.corp.example:8081/api/rpc"],
            8081,
            "/api/rpc",
            "inventory.corp.example",
            benign=True,
        )
    )
    add(
        Scenario(
            "benign_notification_sse",
            "Notification feed over SSE (event: notification, id:, retry:, keep-alive "
            "comments) from a node:http server, read by a node:http client",
            104,
            node("benign_notify.mjs") + ["server", "--port", "8090"],
            node("benign_notify.mjs") + ["client", "--url", "http://notify.corp.example:8090/events"],
            8090,
            "/events",
            "notify.corp.example",
            benign=True,
        )
    )
    add(
        Scenario(
            "benign_web_forms",
            "Ordinary web pages, a search form (GET) and a contact form (POST "
            "application/x-www-form-urlencoded) from python http.server, fetched with urllib",
            105,
            py("mcp2", "benign_servers.py") + ["web", "--port", "8088"],
            py("mcp2", "benign_clients.py") + ["web", "--url", "http://portal.corp.example:8088/"],
            8088,
            "/",
            "portal.corp.example",
            benign=True,
        )
    )
    add(
        Scenario(
            "benign_rest_mentions",
            "JSON REST API (aiohttp) whose string values mention jsonrpc, tools/call and mcp "
            "(articles about MCP), read and written with requests",
            106,
            py("mcp2", "benign_servers.py") + ["rest", "--port", "8082"],
            py("mcp2", "benign_clients.py") + ["rest", "--url", "http://blog.corp.example:8082/api/articles"],
            8082,
            "/api/articles",
            "blog.corp.example",
            benign=True,
        )
    )
    add(
        Scenario(
            "benign_lsp_http",
            "Language Server Protocol over HTTP: a pygls LanguageServer behind an aiohttp "
            "endpoint, lsprotocol-typed client messages (initialize with capabilities and clientInfo, answered with "
            "serverInfo; initialized, didOpen, hover, completion, shutdown) posted with requests, no Authorization",
            107,
            py("lsp", "lsp_http.py") + ["server", "--port", "2087"],
            py("lsp", "lsp_http.py") + ["client", "--url", "http://lsp.corp.example:2087/lsp"],
            2087,
            "/lsp",
            "lsp.corp.example",
            benign=True,
            protocol="lsp-http",
        )
    )
    add(
        Scenario(
            "benign_lsp_websocket",
            "Language Server Protocol over WebSocket: a pygls LanguageServer on its start_ws "
            "transport, a pygls LanguageClient over websockets (no permessage-deflate) with lsprotocol-typed initialize (capabilities, clientInfo; "
            "answered with serverInfo), initialized, didOpen, hover, completion, shutdown, exit",
            122,
            py("lsp", "lsp_ws.py") + ["server", "--port", "2089"],
            py("lsp", "lsp_ws.py") + ["client", "--host", "lsp-ws.corp.example", "--port", "2089"],
            2089,
            "/",
            "lsp-ws.corp.example",
            benign=True,
            protocol="lsp-websocket",
        )
    )
    add(
        Scenario(
            "benign_a2a_jsonrpc",
            "Agent2Agent (A2A 0.3) over JSON-RPC: a2a-sdk A2AStarletteApplication agent "
            "under uvicorn; the SDK's A2ACardResolver reads /.well-known/agent-card.json (capabilities, skills), "
            "ClientFactory sends two message/send requests, no Authorization",
            121,
            py("a2a", "a2a_agent.py")
            + ["server", "--port", "9999", "--public-url", "http://agents.corp.example:9999/"],
            py("a2a", "a2a_agent.py") + ["client", "--url", "http://agents.corp.example:9999"],
            9999,
            "/",
            "agents.corp.example",
            benign=True,
            protocol="a2a-jsonrpc",
            server_program=pin("a2a", "a2a-sdk"),
        )
    )
    add(
        Scenario(
            "benign_a2a_streaming",
            "Agent2Agent (A2A 0.3) streaming: the a2a-sdk agent advertises streaming and "
            "the SDK client sends message/stream, answered as Server-Sent Events carrying JSON-RPC 2.0 results",
            123,
            py("a2a", "a2a_agent.py")
            + ["server", "--port", "9999", "--streaming", "--public-url", "http://agents-stream.corp.example:9999/"],
            py("a2a", "a2a_agent.py") + ["client", "--streaming", "--url", "http://agents-stream.corp.example:9999"],
            9999,
            "/",
            "agents-stream.corp.example",
            benign=True,
            protocol="a2a-jsonrpc",
            server_program=pin("a2a", "a2a-sdk"),
        )
    )
    add(
        Scenario(
            "benign_dap_debugpy",
            "Debug Adapter Protocol over TCP: `python -m debugpy --listen --wait-for-client` "
            "(remote attach) driven by @vscode/debugadapter-testsupport's DebugClient: initialize (capabilities), "
            "attach, setBreakpoints, configurationDone, stopped, stackTrace, scopes, variables, continue",
            120,
            [
                str(CACHE / "dap" / "bin" / "python"),
                "-Xfrozen_modules=off",
                "-m",
                "debugpy",
                "--listen",
                "127.0.0.1:5678",
                "--wait-for-client",
                str(SCENARIO_DIR / "dap_target.py"),
            ],
            [
                "node",
                str(CACHE / "node" / "dap_client.mjs"),
                "--port",
                "5678",
                "--program",
                str(SCENARIO_DIR / "dap_target.py"),
                "--line",
                "9",
            ],
            5678,
            "",
            "dap.corp.example",
            benign=True,
            protocol="dap",
            ready="listen",
            server_program=pin("dap", "debugpy"),
            settle=1.0,
        )
    )
    # --- reference servers and other server frameworks from the registries --------------------
    # server-everything (streamableHttp, sse) is above; the stdio-only reference servers run behind the
    # two common stdio-to-HTTP bridges, over the transports each bridge offers.
    add(
        Scenario(
            "mcp2025_ref_filesystem_supergateway",
            "Reference filesystem server (stdio) behind npm supergateway "
            "(stdio -> stateful Streamable HTTP), rooted in a scratch directory; Python 1.x ClientSession: "
            "initialize, tools/list, list_allowed_directories, list_directory, read_text_file of its README",
            50,
            ref_server("supergateway", "filesystem", "streamable-http", 8000),
            ref_client("filesystem", "http://files.corp.example:8000/mcp"),
            8000,
            "/mcp",
            "files.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="supergateway",
            client_sdk="py1",
            transport="streamable_http_sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated"],
            server_program=pin("node", "@modelcontextprotocol/server-filesystem"),
            bridge=pin("node", "supergateway"),
        )
    )
    add(
        Scenario(
            "mcp2025_ref_memory_supergateway_sse",
            "Reference memory (knowledge graph) server (stdio) behind npm "
            "supergateway's default stdio -> HTTP+SSE output; Python 1.x SSE client: initialize, tools/list, "
            "create_entities, search_nodes",
            51,
            ref_server("supergateway", "memory", "sse", 8000),
            ref_client("memory", "http://memory.corp.example:8000/sse", "sse"),
            8000,
            "/sse",
            "memory.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="supergateway",
            client_sdk="py1",
            transport="sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_legacy_sse", "unauthenticated"],
            server_program=pin("node", "@modelcontextprotocol/server-memory"),
            bridge=pin("node", "supergateway"),
        )
    )
    add(
        Scenario(
            "mcp2025_ref_fetch_mcpproxy",
            "Reference fetch server (stdio, --allow-private-ips for an intranet) behind "
            "PyPI mcp-proxy as named server 'fetch' (Streamable HTTP at /servers/fetch/mcp, stateful with plain JSON "
            "answers: Mcp-Session-Id, application/json); Python 1.x client: initialize, tools/list, fetch of an "
            "intranet status page (raw)",
            52,
            ref_server("mcp-proxy", "fetch", "streamable-http", 8096),
            ref_client("fetch", "http://mcp-gw.corp.example:8096/servers/fetch/mcp"),
            8096,
            "/servers/fetch/mcp",
            "mcp-gw.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="mcpproxy",
            client_sdk="py1",
            transport="streamable_http_json",
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "unauthenticated"],
            server_program=pin("fetch", "mcp-server-fetch"),
            bridge=pin("mcpproxy", "mcp-proxy"),
        )
    )
    add(
        Scenario(
            "mcp2025_ref_git_mcpproxy_sse",
            "Reference git server (stdio, --repository a scratch repo) behind PyPI "
            "mcp-proxy as named server 'git' over HTTP+SSE (/servers/git/sse); Python 1.x SSE client: initialize, "
            "tools/list, git_status, git_log",
            53,
            ref_server("mcp-proxy", "git", "sse", 8096),
            ref_client("git", "http://git-tools.corp.example:8096/servers/git/sse", "sse"),
            8096,
            "/servers/git/sse",
            "git-tools.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="mcpproxy",
            client_sdk="py1",
            transport="sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_legacy_sse", "unauthenticated"],
            server_program=pin("git", "mcp-server-git"),
            bridge=pin("mcpproxy", "mcp-proxy"),
        )
    )
    add(
        Scenario(
            "mcp2025_rust_rmcp_docling",
            "A server from another language's SDK: PyPI docling-rs-mcp, Rust on the "
            "Rust SDK (rmcp), on its own Streamable HTTP transport (--http), rooted in a scratch directory; Python 1.x "
            "client: initialize, tools/list, list_input_formats, convert_to_markdown of an HTML file in the root",
            56,
            ref_server("none", "docling", "streamable-http", 3001),
            ref_client("docling", "http://docs-convert.corp.example:3001/mcp"),
            3001,
            "/mcp",
            "docs-convert.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="rmcp",
            client_sdk="py1",
            transport="streamable_http_sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated"],
            server_program=pin("rmcp", "docling-rs-mcp"),
        )
    )
    add(
        Scenario(
            "mcp2025_fastmcp2_http",
            "Standalone FastMCP 2.x server on its own run(transport='http') (stateful "
            "Streamable HTTP, SSE-framed answers); fastmcp.Client: initialize, tools/list, two tools/call, "
            "resources/read",
            54,
            py("fastmcp2", "fastmcp2_app.py") + ["server", "--port", "8000"],
            py("fastmcp2", "fastmcp2_app.py") + ["client", "--url", "http://inventory.corp.example:8000/mcp"],
            8000,
            "/mcp",
            "inventory.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="fastmcp2",
            transport="streamable_http_sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_session", "mcp_sse_response", "unauthenticated"],
        )
    )
    add(
        Scenario(
            "mcp2025_fastmcp2_sse",
            "Standalone FastMCP 2.x server on run(transport='sse') (legacy HTTP+SSE); "
            "fastmcp.Client over SSE: initialize, tools/list, two tools/call, resources/read",
            55,
            py("fastmcp2", "fastmcp2_app.py") + ["server", "--port", "8000", "--transport", "sse"],
            py("fastmcp2", "fastmcp2_app.py") + ["client", "--url", "http://inventory-sse.corp.example:8000/sse"],
            8000,
            "/sse",
            "inventory-sse.corp.example",
            era="2025",
            protocol_version="2025-11-25",
            sdk="fastmcp2",
            transport="sse",
            expected=MCP_BASE + ["mcp_initialize", "mcp_legacy_sse", "unauthenticated"],
        )
    )
    s.extend(remote_scenarios())
    return s


def remote_scenarios() -> list[Scenario]:
    """Remote MCP services (issue 18), written to tests/pcaps/remote/: real names from the catalogue
    (detections/remote/endpoints.yaml), the official SDK's client and server over verified TLS, dnsmasq, Squid."""
    srv = py("mcp1", "remote_services.py") + ["server"]
    cli = py("mcp1", "remote_services.py") + ["client"]
    tls = ["--cert", "{certs}/server.pem", "--key", "{certs}/server.key"]
    return [
        Scenario(
            "remote_dedicated_tls_notion",
            "MCP Python SDK streamable-http client resolves mcp.notion.com (dnsmasq) and runs an MCP session over "
            "verified TLS (SNI mcp.notion.com) with the SDK's server: DNS and SNI of a dedicated MCP host",
            90,
            srv + ["--kind", "mcp", "--port", "443", *tls],
            cli + ["--mcp", "https://mcp.notion.com/mcp"],
            443, "/mcp", "mcp.notion.com", sdk="py1", transport="streamable_http_json",
            remote=RemoteSetup(dns=["mcp.notion.com"], ports=[443], servers=[], tls=["mcp.notion.com"],
                               seen={"notion": ["dns", "tls_sni"]}),
        ),
        Scenario(
            "remote_proxy_connect_linear",
            "The SDK client reaches mcp.linear.app through Squid (HTTP CONNECT, then verified TLS in the tunnel), "
            "then api.githubcopilot.com/mcp through the same proxy in clear (the proxy logs the URL); Squid resolves "
            "the names (dnsmasq) and logs both in its native, common and combined formats",
            91,
            srv + ["--kind", "mcp", "--port", "443", *tls],
            cli + ["--mcp", "https://mcp.linear.app/mcp", "http://api.githubcopilot.com/mcp",
                   "--proxy", "http://127.0.0.1:3128"],
            443, "/mcp", "mcp.linear.app", sdk="py1", transport="streamable_http_json",
            remote=RemoteSetup(dns=["mcp.linear.app", "api.githubcopilot.com"], ports=[443, 3128, 80],
                               servers=[srv + ["--kind", "mcp", "--port", "80", "--also-web"]],
                               tls=["mcp.linear.app"], proxy=True,
                               seen={"linear": ["dns", "http_host", "tls_sni"], "github": ["url"]}),
        ),
        Scenario(
            "remote_shared_url_github",
            "A shared host with its MCP path in clear (what a TLS-inspecting gateway sees): the SDK client runs an MCP "
            "session at http://api.githubcopilot.com/mcp after an ordinary GET /models; DNS of a shared host is no "
            "evidence, the URL path is",
            92,
            srv + ["--kind", "mcp", "--port", "80", "--also-web"],
            cli + ["--get", "http://api.githubcopilot.com/models", "--mcp", "http://api.githubcopilot.com/mcp"],
            80, "/mcp", "api.githubcopilot.com", sdk="py1", transport="streamable_http_json",
            remote=RemoteSetup(dns=["api.githubcopilot.com"], ports=[80], servers=[], seen={"github": ["url"]}),
        ),
        Scenario(
            "remote_dedicated_tls12_attio",
            "The SDK client resolves mcp.attio.com (dnsmasq) and runs an MCP session over verified TLS capped at 1.2 "
            "(ssl maximum_version TLSv1_2): DNS, SNI and the server certificate (CN/SAN mcp.attio.com) in clear",
            97,
            srv + ["--kind", "mcp", "--port", "443", *tls],
            cli + ["--mcp", "https://mcp.attio.com/mcp", "--tls-max", "1.2"],
            443, "/mcp", "mcp.attio.com", sdk="py1", transport="streamable_http_json",
            remote=RemoteSetup(dns=["mcp.attio.com"], ports=[443], servers=[], tls=["mcp.attio.com"], tls_max="1.2",
                               seen={"attio": ["certificate", "dns", "tls_sni"]}),
        ),
        Scenario(
            "remote_dedicated_tls12_nosni_buildkite",
            "The SDK client runs an MCP session with the mcp.buildkite.com service by address (https://127.0.0.1/mcp, "
            "no DNS lookup) over verified TLS capped at 1.2: Python's ssl sends no SNI for an address, so only the "
            "server certificate (CN/SAN mcp.buildkite.com, plus the address it is verified against) names the service",
            98,
            srv + ["--kind", "mcp", "--port", "443", *tls],
            cli + ["--mcp", "https://127.0.0.1/mcp", "--tls-max", "1.2"],
            443, "/mcp", "mcp.buildkite.com", sdk="py1", transport="streamable_http_json",
            remote=RemoteSetup(dns=[], ports=[443], servers=[], tls=["mcp.buildkite.com"], tls_max="1.2", sni=False,
                               seen={"buildkite": ["certificate"]}),
        ),
        Scenario(
            "benign_remote_tls12_multiname_cert",
            "Negative: the vendor's ordinary site over TLS 1.2 (SNI www.notion.so) whose certificate also names its MCP "
            "host (SAN www.notion.so, mcp.notion.com, as multi-name CDN certificates do): the client asked for another "
            "name, so the certificate is no sighting of the MCP service",
            99,
            srv + ["--kind", "web", "--port", "443", *tls],
            cli + ["--get", "https://www.notion.so/", "--tls-max", "1.2"],
            443, "/", "www.notion.so", benign=True,
            remote=RemoteSetup(dns=["www.notion.so"], ports=[443], servers=[], tls=["www.notion.so", "mcp.notion.com"],
                               tls_max="1.2"),
        ),
        Scenario(
            "benign_remote_vendor_sites",
            "Negatives: the same vendors' ordinary sites over verified TLS (www.notion.so, linear.app, sentry.io) "
            "and names that merely contain 'mcp' (mcp-news.example.org, docs.mcpserver.example)",
            93,
            srv + ["--kind", "web", "--port", "443", *tls],
            cli + ["--get", "https://www.notion.so/", "https://linear.app/", "https://sentry.io/",
                   "https://mcp-news.example.org/", "https://docs.mcpserver.example/"],
            443, "/", "www.notion.so", benign=True,
            remote=RemoteSetup(dns=["www.notion.so", "linear.app", "sentry.io", "mcp-news.example.org",
                                    "docs.mcpserver.example"], ports=[443], servers=[],
                               tls=["www.notion.so", "linear.app", "sentry.io", "mcp-news.example.org",
                                    "docs.mcpserver.example"]),
        ),
        Scenario(
            "benign_remote_shared_no_mcp_path",
            "Negatives: shared hosts without an MCP path, in clear (GET api.githubcopilot.com/models, "
            "/api/mcp-docs) and over TLS (SNI api.githubcopilot.com, hf.co)",
            94,
            srv + ["--kind", "mcp", "--port", "80", "--also-web"],
            cli + ["--get", "http://api.githubcopilot.com/models", "http://api.githubcopilot.com/api/mcp-docs",
                   "https://api.githubcopilot.com/models", "https://hf.co/models"],
            80, "/models", "api.githubcopilot.com", benign=True,
            remote=RemoteSetup(dns=["api.githubcopilot.com", "hf.co"], ports=[80, 443],
                               servers=[srv + ["--kind", "web", "--port", "443", *tls]],
                               tls=["api.githubcopilot.com", "hf.co"]),
        ),
    ]  # fmt: skip


# --- environment ------------------------------------------------------------------------------


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, **kw)


def ensure_tools() -> None:
    missing = [t for t in ("tcpdump", "tcpprep", "tcprewrite", "ip", "node", "npm") if not shutil.which(t)]
    if missing:
        sys.exit(f"generate.py: missing tools: {', '.join(missing)} (see tests/pcaps/README.md)")
    if os.geteuid() != 0:
        sys.exit("generate.py: needs root (network namespaces and tcpdump)")
    node_major = int(run(["node", "--version"], capture_output=True).stdout.strip().lstrip("v").split(".")[0])
    if node_major < 20:
        sys.exit(f"generate.py: Node.js >= 20 needed (the TypeScript SDK 2.x packages), found {node_major}")


def ensure_envs(needed: set[str]) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    for env, pins in PY_ENVS.items():
        if env not in needed:
            continue
        vdir = CACHE / env
        stamp = vdir / ".pins"
        if stamp.exists() and stamp.read_text() == "\n".join(pins):
            continue
        print(f"[env] creating {vdir} with {' '.join(pins)}", flush=True)
        if not (vdir / "bin" / "python").exists():
            run([sys.executable, "-m", "venv", str(vdir)])
        run([str(vdir / "bin" / "pip"), "install", "-q", *pins])
        stamp.write_text("\n".join(pins))
    if needed & {"ts1", "ts2"}:
        ndir = CACHE / "node"
        ndir.mkdir(exist_ok=True)
        pkg = {"name": "mcpeeker-pcapgen", "private": True, "dependencies": NPM_DEPS}
        stamp = ndir / ".pins"
        if not (stamp.exists() and stamp.read_text() == json.dumps(NPM_DEPS, sort_keys=True)):
            print(f"[env] npm install in {ndir}", flush=True)
            (ndir / "package.json").write_text(json.dumps(pkg, indent=2))
            run(["npm", "install", "--no-audit", "--no-fund", "--save-exact"], cwd=ndir)
            stamp.write_text(json.dumps(NPM_DEPS, sort_keys=True))
        for f in SCENARIO_DIR.glob("*.mjs"):  # ESM resolves node_modules next to the script
            shutil.copy2(f, ndir / f.name)


def sdk_versions() -> dict[str, str]:
    def pyver(env: str, package: str = "mcp") -> str:
        if not (CACHE / env).exists():
            return "unknown"
        out = subprocess.run([str(CACHE / env / "bin" / "python"), "-c",
                              f"import importlib.metadata as m; print(m.version({package!r}))"],
                             capture_output=True, text=True)  # fmt: skip
        return out.stdout.strip() or "unknown"

    def npmver(pkg: str) -> str:
        p = CACHE / "node" / "node_modules" / pkg / "package.json"
        return json.loads(p.read_text())["version"] if p.exists() else "unknown"

    return {
        "py2": f"python-mcp-{pyver('mcp2')}" if (CACHE / "mcp2").exists() else "python-mcp-unknown",
        "py1": f"python-mcp-{pyver('mcp1')}" if (CACHE / "mcp1").exists() else "python-mcp-unknown",
        "py0": f"python-mcp-{pyver('mcp0')}" if (CACHE / "mcp0").exists() else "python-mcp-unknown",
        "ts1": f"typescript-sdk-{npmver('@modelcontextprotocol/sdk')}",
        "ts2": f"typescript-sdk-{npmver('@modelcontextprotocol/server')}",
        # the bridges' HTTP side is an SDK server: supergateway's own (nested) TypeScript SDK, mcp-proxy's mcp
        "supergateway": f"typescript-sdk-{npmver('supergateway/node_modules/@modelcontextprotocol/sdk')}",
        "mcpproxy": f"python-mcp-{pyver('mcpproxy')}",
        "fastmcp2": f"fastmcp-{pyver('fastmcp2', 'fastmcp')}",
        "rmcp": "rust-rmcp",  # vendored into docling-rs' native module; the binary does not record its version
        "none": "none",
    }


def envs_for(sc: Scenario) -> set[str]:
    words = " ".join(sc.server_cmd + sc.client_cmd)
    need = {e for e in PY_ENVS if f"/{e}/" in words}
    if sc.sdk == "supergateway" and "--bridge" in words:  # ref_servers.py runs node packages
        need |= {"ts1"}
    if "ref_servers.py" in words:  # the reference servers run from their own venvs
        need |= {"mcpproxy"} | {e for e in ("fetch", "git") if f"--server {e}" in words}
        need |= {"rmcp"} if "--server docling" in words else set()
    if sc.node_cwd or f"{CACHE / 'node'}/" in words:
        need |= {"ts1", "ts2"}
    return need


# --- capture ------------------------------------------------------------------------------------


class Netns:
    """A throw-away network namespace with an Ethernet-like lo and an /etc/hosts for the lab names."""

    def __init__(self, name: str, hosts: list[str]) -> None:
        self.name = name
        self.etc = Path("/etc/netns") / name
        self.etc.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1 localhost"] + [f"127.0.0.1 {h}" for h in hosts]
        (self.etc / "hosts").write_text("\n".join(lines) + "\n")
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        run(["ip", "netns", "add", name])
        # MTU 1500 and no segmentation offload: tcpdump on lo would otherwise see 64 KB
        # super-segments instead of the Ethernet-sized frames a LAN sensor sees.
        run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up", "mtu", "1500",
             "gso_max_size", "1500", "gso_max_segs", "1"])  # fmt: skip

    def cmd(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        shutil.rmtree(self.etc, ignore_errors=True)


def wait_listen(ns: Netns, port: int, timeout: float = 30.0) -> None:
    """Wait for a listening socket without connecting to it (`ss` reads the kernel's socket table)."""
    end = time.time() + timeout
    while time.time() < end:
        out = subprocess.run(
            ns.cmd(["ss", "-Hltn", f"sport = :{port}"]), capture_output=True, text=True, check=False
        ).stdout
        if out.strip():
            return
        time.sleep(0.2)
    raise RuntimeError(f"server did not listen on port {port} within {timeout}s")


def wait_port(ns: Netns, port: int, timeout: float = 30.0) -> None:
    probe = (
        "import socket,sys,time\n"
        f"end=time.time()+{timeout}\n"
        "while time.time()<end:\n"
        "    try:\n"
        f"        socket.create_connection(('127.0.0.1',{port}),1).close(); sys.exit(0)\n"
        "    except OSError: time.sleep(0.2)\n"
        "sys.exit(1)\n"
    )
    if subprocess.run(ns.cmd([sys.executable, "-c", probe])).returncode != 0:
        raise RuntimeError(f"server did not listen on port {port} within {timeout}s")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 8.0) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def capture(sc: Scenario, raw: Path, logdir: Path) -> None:
    ns = Netns(f"mcpgen-{os.getpid()}", [sc.host])
    cwd = CACHE / "node" if sc.node_cwd else SCENARIO_DIR
    env = dict(os.environ, PORT=str(sc.port), PYTHONUNBUFFERED="1")
    slog = open(logdir / f"{sc.id}.server.log", "wb")  # noqa: SIM115 - closed in finally
    server = tcpdump = None
    try:
        server = subprocess.Popen(ns.cmd(sc.server_cmd), cwd=cwd, env=env, stdout=slog, stderr=slog)
        (wait_listen if sc.ready == "listen" else wait_port)(ns, sc.port)
        # The readiness probe above is not captured: tcpdump starts after it.
        # -B: a 64 MiB kernel buffer, so the 10 MB bad-input bodies are captured without drops.
        tcpdump = subprocess.Popen(
            ns.cmd(["tcpdump", "-i", "lo", "-U", "-s", "0", "-B", "65536", "-w", str(raw), f"tcp port {sc.port}"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert tcpdump.stderr is not None
        tcpdump.stderr.readline()  # "listening on lo ..." once the capture is armed
        time.sleep(0.2)
        client = subprocess.run(ns.cmd(sc.client_cmd), cwd=cwd, env=env, capture_output=True, timeout=120)
        (logdir / f"{sc.id}.client.log").write_bytes(client.stdout + b"\n--- stderr ---\n" + client.stderr)
        if client.returncode != 0:
            raise RuntimeError(f"client failed ({client.returncode}), see {logdir}/{sc.id}.client.log:\n"
                               + client.stderr.decode(errors="replace")[-2000:])  # fmt: skip
        time.sleep(sc.settle)
        stop(server)  # before tcpdump, so lingering streams close on the wire
        time.sleep(0.5)
    finally:
        if tcpdump is not None:
            stop(tcpdump, signal.SIGINT)
        if server is not None:
            stop(server)
        slog.close()
        ns.close()
    assert tcpdump is not None and tcpdump.stderr is not None
    stats = tcpdump.stderr.read().decode(errors="replace")
    dropped = re.search(r"(\d+) packets? dropped by kernel", stats)
    if dropped and int(dropped.group(1)):
        raise RuntimeError(f"tcpdump dropped packets: {stats.strip()}")


def rewrite(sc: Scenario, raw: Path, out: Path, work: Path) -> None:
    """Client side -> 10.10.0.n, server side -> 10.20.0.n, distinct MACs, fixed checksums."""
    services = work / f"{sc.id}.services"
    services.write_text(f"mcp-test {sc.port}/tcp\n")
    cache = work / f"{sc.id}.cache"
    run(["tcpprep", "--port", f"--services={services}", "-i", str(raw), "-o", str(cache)], capture_output=True)
    cli, srv = f"10.10.0.{sc.n}", f"10.20.0.{sc.n}"
    cmac, smac = f"02:00:0a:0a:00:{sc.n:02x}", f"02:00:0a:14:00:{sc.n:02x}"
    run([
        "tcprewrite", f"--cachefile={cache}", f"--endpoints={cli}:{srv}", "--fixcsum",
        f"--enet-smac={cmac},{smac}", f"--enet-dmac={smac},{cmac}",
        "-i", str(raw), "-o", str(out),
    ], capture_output=True)  # fmt: skip


# --- remote MCP services (tests/pcaps/remote/) ---------------------------------------------------

SQUID_CONF = """\
http_port 127.0.0.1:3128
acl CONNECT method CONNECT
http_access allow localhost
http_access deny all
cache deny all
dns_nameservers 127.0.0.1
hosts_file none
access_log stdio:{dir}/access.log squid
access_log stdio:{dir}/access-common.log common
access_log stdio:{dir}/access-combined.log combined
cache_log {dir}/cache.log
pid_filename {dir}/squid.pid
coredump_dir {dir}
shutdown_lifetime 1 seconds
"""


def make_certs(d: Path, names: list[str], ips: tuple[str, ...] = ()) -> Path:
    """A throw-away CA and one server certificate for `names` (and `ips`) (openssl) in `d`; the client trusts the CA
    only."""
    d.mkdir(exist_ok=True)
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", "/CN=MCPeeker test CA", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem")],
        capture_output=True)  # fmt: skip
    san = ",".join([f"DNS:{n}" for n in names] + [f"IP:{a}" for a in ips])
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", f"/CN={names[0]}", "-keyout", str(d / "server.key"), "-out", str(d / "server.csr")],
        capture_output=True)  # fmt: skip
    (d / "ext.cnf").write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
    run(["openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"),
         "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2", "-extfile", str(d / "ext.cnf"),
         "-out", str(d / "server.pem")], capture_output=True)  # fmt: skip
    return d


def capture_remote(sc: Scenario, raw: Path, work: Path) -> None:
    """dnsmasq (+ Squid) + the servers + the client in one namespace; DNS, the proxy and the servers captured."""
    assert sc.remote is not None
    rs = sc.remote
    ns = Netns(f"mcpgen-{os.getpid()}", [])  # no lab names in /etc/hosts: every lookup goes to dnsmasq
    (ns.etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    # A client without SNI connects by address: the certificate must also name 127.0.0.1 for it to verify.
    ips = () if rs.sni else ("127.0.0.1",)
    certs = make_certs(work / f"{sc.id}.certs", rs.tls, ips) if rs.tls else work
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if rs.tls:
        env["SSL_CERT_FILE"] = str(certs / "ca.pem")  # httpx verifies against the throw-away CA only

    def fill(argv: list[str]) -> list[str]:
        return [a.replace("{certs}", str(certs)) for a in argv]

    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    tcpdump = None

    def start(name: str, argv: list[str]) -> None:
        log = open(work / f"{sc.id}.{name}.log", "wb")  # noqa: SIM115 - closed in finally
        logs.append(log)
        procs.append(subprocess.Popen(ns.cmd(argv), cwd=SCENARIO_DIR, env=env, stdout=log, stderr=log))

    try:
        start("dnsmasq", ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
                          "--listen-address=127.0.0.1", "--port=53", "--user=root", "--pid-file=", "--log-queries",
                          "--log-facility=-", *(f"--address=/{n}/127.0.0.1" for n in rs.dns)])  # fmt: skip
        if rs.proxy:
            sq = work / f"{sc.id}.squid"
            sq.mkdir(exist_ok=True)
            os.chmod(work, 0o711)  # squid drops to its own user: it must reach its log directory
            os.chmod(sq, 0o777)
            (sq / "squid.conf").write_text(SQUID_CONF.format(dir=sq))
            start("squid", ["squid", "-N", "-f", str(sq / "squid.conf")])
        for i, argv in enumerate([sc.server_cmd, *rs.servers]):
            start(f"server{i}", fill(argv))
        time.sleep(0.5)  # dnsmasq answers on UDP (no TCP port to probe); it is up well within this
        for port in rs.ports:
            wait_port(ns, port)
        ports = " or ".join(f"tcp port {p}" for p in rs.ports)
        tcpdump = subprocess.Popen(
            ns.cmd(["tcpdump", "-i", "lo", "-U", "-s", "0", "-B", "65536", "-w", str(raw), f"udp port 53 or {ports}"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert tcpdump.stderr is not None
        tcpdump.stderr.readline()
        time.sleep(0.2)
        client = subprocess.run(ns.cmd(fill(sc.client_cmd)), cwd=SCENARIO_DIR, env=env, capture_output=True,
                                timeout=120)  # fmt: skip
        (work / f"{sc.id}.client.log").write_bytes(client.stdout + b"\n--- stderr ---\n" + client.stderr)
        if client.returncode != 0:
            raise RuntimeError(f"client failed ({client.returncode}), see {work}/{sc.id}.client.log:\n"
                               + client.stderr.decode(errors="replace")[-2000:])  # fmt: skip
        time.sleep(sc.settle)
        for proc in reversed(procs):  # servers and the proxy close their connections on the wire
            stop(proc)
        time.sleep(0.5)
    finally:
        if tcpdump is not None:
            stop(tcpdump, signal.SIGINT)
        for proc in procs:
            stop(proc)
        for log in logs:
            log.close()
        ns.close()


def rewrite_remote(sc: Scenario, raw: Path, out: Path, work: Path) -> None:
    """Like rewrite(): the server side of DNS, the proxy and the services -> 10.20.0.n, the clients -> 10.10.0.n."""
    assert sc.remote is not None
    services = work / f"{sc.id}.services"
    services.write_text("domain 53/udp\n" + "".join(f"svc{p} {p}/tcp\n" for p in sc.remote.ports))
    cache = work / f"{sc.id}.cache"
    run(["tcpprep", "--port", f"--services={services}", "-i", str(raw), "-o", str(cache)], capture_output=True)
    cli, srv = f"10.10.0.{sc.n}", f"10.20.0.{sc.n}"
    cmac, smac = f"02:00:0a:0a:00:{sc.n:02x}", f"02:00:0a:14:00:{sc.n:02x}"
    run([
        "tcprewrite", f"--cachefile={cache}", f"--endpoints={cli}:{srv}", "--fixcsum",
        f"--enet-smac={cmac},{smac}", f"--enet-dmac={smac},{cmac}",
        "-i", str(raw), "-o", str(out),
    ], capture_output=True)  # fmt: skip


def label_remote(sc: Scenario) -> dict[str, Any]:
    assert sc.remote is not None
    return {
        "file": sc.file,
        "scenario": sc.id,
        "description": sc.description,
        "benign": sc.benign,
        "client": {"ip": f"10.10.0.{sc.n}"},
        "server": {"ip": f"10.20.0.{sc.n}", "ports": sc.remote.ports, "host": sc.host},
        "dns_names": sc.remote.dns,
        "tls_names": sc.remote.tls,
        "proxy": "squid" if sc.remote.proxy else None,
        "remote_services": sc.remote.seen,
        # the TLS version the sessions negotiated (None: no TLS) and whether the client sent SNI
        "tls_version": (sc.remote.tls_max or "1.3") if sc.remote.tls else None,
        "sni": sc.remote.sni if sc.remote.tls else None,
    }


# --- labels -------------------------------------------------------------------------------------


def label(sc: Scenario, versions: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "file": sc.file,
        "scenario": sc.id,
        "description": sc.description,
        "benign": sc.benign,
        "era": sc.era,
        "protocol_version": sc.protocol_version or None,
        "sdk": versions[sc.sdk],
        "client_sdk": versions[sc.client_sdk or sc.sdk],
        "transport": sc.transport,
        # path is null for a protocol that is not HTTP (DAP over TCP)
        "server": {"ip": f"10.20.0.{sc.n}", "port": sc.port, "path": sc.path or None, "host": sc.host},
        "client": {"ip": f"10.10.0.{sc.n}"},
        "auth": sc.auth,
        "expected": sorted(set(sc.expected)),
    }
    for key in ("server_program", "bridge", "protocol"):
        if getattr(sc, key):
            entry[key] = getattr(sc, key)
    return entry


def merge_labels(path: Path, new: list[dict[str, Any]]) -> None:
    doc: dict[str, Any] = {"version": 1, "pcaps": []}
    if path.exists():
        doc = json.loads(path.read_text())
    by_file = {e["file"]: e for e in doc.get("pcaps", [])}
    for entry in new:
        old = by_file.get(entry["file"], {})
        kept = {k: v for k, v in old.items() if k not in OWNED_KEYS}
        by_file[entry["file"]] = entry | kept
    doc["version"] = 1
    doc["pcaps"] = sorted(by_file.values(), key=lambda e: e["file"])
    path.write_text(json.dumps(doc, indent=2) + "\n")


# --- main ---------------------------------------------------------------------------------------


def check_unique(all_sc: list[Scenario]) -> None:
    ids = [sc.id for sc in all_sc]
    ns = [sc.n for sc in all_sc]
    if len(set(ids)) != len(ids) or len(set(ns)) != len(ns):
        sys.exit("generate.py: scenario ids and address numbers must be unique")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", metavar="SCENARIO", help="generate only these scenarios")
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("--keep-raw", action="store_true", help="keep the raw loopback captures and logs")
    ap.add_argument(
        "--out",
        type=Path,
        default=HERE,
        help="output directory for pcaps and labels.json "
        "(default: tests/pcaps; use another one to try a regeneration without touching the corpus)",
    )
    args = ap.parse_args()

    all_sc = scenarios()
    check_unique(all_sc)
    if args.list:
        for sc in all_sc:
            print(f"{sc.id:40} {sc.description}")
        return
    chosen = all_sc
    if args.only:
        unknown = set(args.only) - {sc.id for sc in all_sc}
        if unknown:
            sys.exit(f"generate.py: unknown scenario(s): {', '.join(sorted(unknown))} (try --list)")
        chosen = [sc for sc in all_sc if sc.id in args.only]

    args.out.mkdir(parents=True, exist_ok=True)
    ensure_tools()
    ensure_envs(set().union(*(envs_for(sc) for sc in chosen)))
    versions = sdk_versions()
    work = Path(tempfile.mkdtemp(prefix="mcpeeker-pcapgen-"))
    entries, remote_entries, failed = [], [], []
    for sc in chosen:
        raw = work / f"{sc.id}.raw.pcap"
        out = args.out / sc.file
        print(f"[{sc.id}] capturing", flush=True)
        if sc.remote is not None:
            out = args.out / "remote" / sc.file
            out.parent.mkdir(exist_ok=True)
        try:
            if sc.remote is not None:
                capture_remote(sc, raw, work)
                rewrite_remote(sc, raw, out, work)
                for fmt in ("", "-common", "-combined"):  # Squid's own logs of the session (namespace addresses)
                    access = work / f"{sc.id}.squid" / f"access{fmt}.log"
                    if access.is_file():
                        shutil.copy(access, out.with_suffix(f".squid-access{fmt}.log"))
            else:
                capture(sc, raw, work)
                rewrite(sc, raw, out, work)
        except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            print(f"[{sc.id}] FAILED: {exc}", file=sys.stderr, flush=True)
            failed.append(sc.id)
            continue
        size = out.stat().st_size
        print(f"[{sc.id}] wrote {out.name} ({size} bytes)", flush=True)
        if size > 200_000:
            print(f"[{sc.id}] warning: larger than 200 KB", file=sys.stderr)
        if sc.remote is not None:
            remote_entries.append(label_remote(sc))
        else:
            entries.append(label(sc, versions))
    if entries:
        merge_labels(args.out / "labels.json", entries)
    if remote_entries:
        merge_labels(args.out / "remote" / "labels.json", remote_entries)
    if args.keep_raw or failed:
        print(f"raw captures and logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        sys.exit(f"generate.py: failed scenarios: {', '.join(failed)}")


if __name__ == "__main__":
    main()
