"""Custom MCP servers found without --probe: a listening process whose code uses an MCP SDK (sdk.py).

Real processes: the repo's demo server from the `mcp` SDK under an unremarkable file name, a Node server
importing @modelcontextprotocol/sdk (a stand-in package in node_modules), and listening processes that must
not count: a plain http.server, a script that only mentions MCP in comments and strings, an MCP client.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mcpeeker_agent import sdk
from mcpeeker_agent.scanner import Scanner, ScanOptions

from .conftest import validate_report

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited early with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing listens on {port}")


@pytest.fixture
def spawn():
    started: list[subprocess.Popen] = []

    def run(argv: list[str], cwd: Path, port: int) -> subprocess.Popen:
        p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(p)
        _wait_listening(port, p)
        return p

    yield run
    for p in started:
        p.kill()
        p.wait()


def _scan(home: Path) -> dict:
    report = Scanner(ScanOptions(homes=[home], os_name="linux", machine_id="m", state_path=None), b"k").run()
    validate_report(report)
    return report


def _process(report: dict, pid: int) -> dict | None:
    return next((e for e in report["evidence"] if e["type"] == "process" and e["process"]["pid"] == pid), None)


PLAIN_HTTP = """\
import http.server, sys
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


def test_python_sdk_server_found_without_probe(spawn, tmp_path):
    """The demo server from the official SDK, renamed so no command-line pattern matches it."""
    script = tmp_path / "calc_service.py"
    shutil.copy(HERE / "mcp_server_demo.py", script)
    port = _free_port()
    server = spawn([sys.executable, str(script), "127.0.0.1", str(port)], tmp_path, port)
    report = _scan(tmp_path)
    ev = _process(report, server.pid)
    assert ev is not None, [e["process"] for e in report["evidence"] if e["type"] == "process"]
    assert ev["process"]["matched"] == "sdk:python"
    found = ev["process"]["sdk"]
    assert found["language"] == "python" and found["script"] == "~/calc_service.py"
    assert any(i.startswith("import:mcp.server.") for i in found["indicators"])
    assert any(i.startswith("construct:") for i in found["indicators"])
    assert "env:python:mcp" in found["indicators"]  # the venv the interpreter belongs to holds mcp
    assert found["confidence"] == "high" and ev["score"] == found["score"] == 0.8
    listeners = [e for e in report["evidence"] if e["type"] == "listener" and e["listener"]["port"] == port]
    assert listeners and listeners[0]["listener"]["pid"] == server.pid
    assert not [e for e in report["evidence"] if e["type"] == "probe"]  # found without probing
    assert "Add two numbers" not in json.dumps(report)  # the script's content is never sent


def test_python_sdk_server_through_a_local_module(spawn, tmp_path):
    """The entry script only calls into the project's own module, which builds a FastMCP / MCPServer."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "tools.py").write_text(
        textwrap.dedent("""\
        try:
            from mcp.server.fastmcp import FastMCP as Server
        except ModuleNotFoundError:
            from mcp.server.mcpserver import MCPServer as Server
        server = Server("local-module-server")
        """)
    )
    (tmp_path / "run_service.py").write_text(
        textwrap.dedent("""\
        import sys
        from app.tools import server
        host, port = "127.0.0.1", int(sys.argv[1])
        try:
            server.run("streamable-http", host=host, port=port)
        except TypeError:
            server.settings.host, server.settings.port = host, port
            server.run("streamable-http")
        """)
    )
    port = _free_port()
    proc = spawn([sys.executable, "run_service.py", str(port)], tmp_path, port)  # relative: resolved from the cwd
    ev = _process(_scan(tmp_path), proc.pid)
    assert ev is not None and ev["process"]["matched"] == "sdk:python"
    assert "via:local_module" in ev["process"]["sdk"]["indicators"]
    assert ev["process"]["sdk"]["confidence"] == "high"


@pytest.mark.parametrize(
    "name,source",
    [
        ("web_helper.py", PLAIN_HTTP),
        (
            "notes_service.py",
            "# An MCP-ish helper: from mcp.server.fastmcp import FastMCP (not used)\n"
            "BANNER = 'import mcp; FastMCP(\"x\") lives elsewhere; @modelcontextprotocol/sdk too'\n" + PLAIN_HTTP,
        ),
        (
            "agent_ui.py",
            "try:\n    from mcp import ClientSession\n    from mcp.client.stdio import stdio_client\n"
            "except ImportError:\n    pass\n" + PLAIN_HTTP,
        ),
    ],
)
def test_listening_processes_that_are_not_mcp_servers(spawn, tmp_path, name, source):
    """Run by the same interpreter, whose venv holds mcp: the environment alone never makes a server."""
    (tmp_path / name).write_text(source)
    port = _free_port()
    proc = spawn([sys.executable, str(tmp_path / name), str(port)], tmp_path, port)
    report = _scan(tmp_path)
    assert port in report["host"]["listening_ports"]
    assert _process(report, proc.pid) is None


NODE_SERVER = """\
// A custom server on the official TypeScript SDK.
import http from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
const server = new McpServer({ name: "node-custom", version: "1.0.0" });
http.createServer((req, res) => res.end("ok")).listen(Number(process.argv[2]), "127.0.0.1");
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_sdk_server_found_without_probe(spawn, tmp_path):
    pkg = tmp_path / "node_modules" / "@modelcontextprotocol" / "sdk"
    (pkg / "dist" / "server").mkdir(parents=True)
    (pkg / "package.json").write_text(
        json.dumps(
            {
                "name": "@modelcontextprotocol/sdk",
                "version": "1.0.0",
                "type": "module",
                "exports": {"./server/mcp.js": "./dist/server/mcp.js"},
            }
        )
    )
    (pkg / "dist" / "server" / "mcp.js").write_text(
        "export class McpServer { constructor(info) { this.info = info; } }\n"
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "server.mjs").write_text(NODE_SERVER)
    mention = tmp_path / "src" / "web.mjs"
    mention.write_text(
        "// uses @modelcontextprotocol/sdk? no.\nconst note = \"import x from '@modelcontextprotocol/sdk'\";\n"
        "import http from 'node:http';\nhttp.createServer((q, r) => r.end(note)).listen(Number(process.argv[2]), '127.0.0.1');\n"
    )
    port, other = _free_port(), _free_port()
    server = spawn(["node", "--no-warnings", "src/server.mjs", str(port)], tmp_path, port)
    plain = spawn(["node", str(mention), str(other)], tmp_path, other)
    report = _scan(tmp_path)
    ev = _process(report, server.pid)
    assert ev is not None and ev["process"]["matched"] == "sdk:node"
    found = ev["process"]["sdk"]
    assert found["indicators"] == [
        "import:@modelcontextprotocol/sdk/server/mcp",
        "construct:McpServer",
        "env:node:@modelcontextprotocol/sdk",
    ]
    assert found["confidence"] == "high" and found["script"] == "~/src/server.mjs"
    assert _process(report, plain.pid) is None


def test_entry_scripts_from_command_lines():
    assert sdk.python_entry(["python3", "-u", "-W", "ignore", "srv.py", "--port", "1"]).script == "srv.py"
    assert sdk.python_entry(["python", "-m", "uvicorn", "--host", "0.0.0.0", "app.main:app"]).module == "app.main"
    assert sdk.python_entry(["/v/bin/python", "/v/bin/uvicorn", "--proxy-headers", "pkg.api:app"]).module == "pkg.api"
    assert sdk.python_entry(["python", "-m", "fastmcp", "run", "server.py"]).script == "server.py"
    assert sdk.python_entry(["python", "-c", "import mcp"]).code == "import mcp"
    assert sdk.python_entry(["python", "-m", "my_server"]).module == "my_server"
    assert (
        sdk.node_entry(["node", "--enable-source-maps", "-r", "dotenv/config", "dist/index.js"]).script
        == "dist/index.js"
    )
    assert sdk.node_entry(["node", "/p/node_modules/tsx/dist/cli.mjs", "src/server.ts"]).script == "src/server.ts"
    assert sdk.node_entry(["deno", "run", "--allow-net", "main.ts"]).script == "main.ts"
    assert sdk.language_of(["/usr/bin/python3.12", "x.py"], "") == "python"
    assert sdk.language_of(["nginx: master process"], "/usr/sbin/nginx") is None


def test_what_counts_as_an_import():
    facts = sdk.python_facts("from mcp.server.mcpserver import MCPServer as Server\ns = Server('x')\n")
    assert facts.server_import == {"mcp.server.mcpserver"} and facts.construct == {"MCPServer"}
    mention = sdk.python_facts("# from mcp.server.fastmcp import FastMCP\nX = 'import mcp; FastMCP(1)'\n")
    assert not (mention.server_import or mention.other_import or mention.construct)
    client = sdk.python_facts("from mcp import ClientSession\nfrom mcp.client.stdio import stdio_client\n")
    assert not (client.server_import or client.other_import)
    cut = sdk.python_facts("from fastmcp import FastMCP\napp = FastMCP('x')\ndef broken(:\n")  # ast fails: tokens
    assert cut.server_import == {"fastmcp"} and cut.construct == {"FastMCP"}
    server, _other, construct, local = sdk.js_facts(
        "const { Server } = require('@modelcontextprotocol/sdk/server/index.js');\nnew Server({});\nimport('./tools.js');\n"
    )
    assert server == {"@modelcontextprotocol/sdk/server/index"} and construct == {"Server"} and local == ["./tools.js"]
    assert sdk.js_facts("import { Client } from '@modelcontextprotocol/sdk/client/index.js';") == (
        set(),
        set(),
        set(),
        [],
    )
    assert sdk.js_facts("const s = `import { McpServer } from '@modelcontextprotocol/sdk'`; /* import 'fastmcp' */")[
        :2
    ] == (set(), set())


def test_scripts_are_read_bounded(tmp_path):
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * 100_000)
    assert len(sdk.read_bounded(str(big))) == sdk.MAX_SCRIPT_BYTES
    fifo = tmp_path / "fifo.py"
    os.mkfifo(fifo)
    assert sdk.read_bounded(str(fifo)) is None  # never blocks on a FIFO
    assert sdk.read_bounded(str(tmp_path / "missing.py")) is None
