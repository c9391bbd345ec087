"""Real processes, listeners and the MCP initialize probe against a real server from the `mcp` SDK."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mcpeeker_agent.scanner import ScanOptions, Scanner

from .conftest import validate_report

HERE = Path(__file__).resolve().parent


def _scan(**kw) -> dict:
    opts = dict(homes=[kw.pop("home")], os_name="linux", machine_id="m", state_path=None)
    opts.update(kw)
    report = Scanner(ScanOptions(**opts), b"k").run()
    validate_report(report)
    return report


def _by_pid(report: dict, kind: str = "process") -> dict[int, dict]:
    return {e["process"]["pid"]: e for e in report["evidence"] if e["type"] == kind}


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []

    def spawn(argv: list[str], **kw) -> subprocess.Popen:
        p = subprocess.Popen(argv, **kw)
        started.append(p)
        return p

    yield spawn
    for p in started:
        p.kill()
        p.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_command_line_patterns(procs, tmp_path):
    sleeper = "import time; time.sleep(60)"
    hits = {
        "pattern:official_server_package": procs(
            [sys.executable, "-c", sleeper, "@modelcontextprotocol/server-filesystem", "/tmp"]
        ),
        "pattern:mcp_server_name": procs([sys.executable, "-c", sleeper, "mcp-server-fetch"]),
        "pattern:fastmcp_run": procs([sys.executable, "-c", sleeper, "fastmcp", "run", "server.py"]),
    }
    benign = procs([sys.executable, "-c", sleeper, "--serve", "webapp"])
    time.sleep(0.3)
    report = _scan(home=tmp_path, listeners=False)
    found = _by_pid(report)
    for matched, proc in hits.items():
        assert found[proc.pid]["process"]["matched"] == matched
        assert found[proc.pid]["process"]["user_id"] and len(found[proc.pid]["process"]["user_id"]) == 64
    assert benign.pid not in found
    assert os.getpid() not in found


def test_renamed_configured_server_and_client_child(procs, tmp_path):
    tool = tmp_path / "tools" / "weird_helper.py"
    tool.parent.mkdir()
    tool.write_text("import time\ntime.sleep(60)\n")
    home = tmp_path / "home"
    (home / ".cursor").mkdir(parents=True)
    (home / ".cursor" / "mcp.json").write_text(
        '{"mcpServers": {"renamed": {"command": "python3", "args": ["%s"]}}}' % tool
    )
    renamed = procs([sys.executable, str(tool)])
    # a fake GenAI client named "cursor" that runs a stdio child with an unremarkable command line
    client = tmp_path / "cursor"
    client.write_text(
        textwrap.dedent(f"""\
        #!{sys.executable}
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(child.pid, flush=True)
        time.sleep(60)
        """)
    )
    client.chmod(0o755)
    parent = procs([str(client)], stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    try:
        report = _scan(home=home, listeners=False)
        found = _by_pid(report)
        assert found[renamed.pid]["process"]["matched"] == "config:cursor:renamed"
        assert found[renamed.pid]["instance_key"].endswith(":cfg:cursor:renamed")
        assert found[child_pid]["process"]["matched"] == "child_of:cursor"
        assert found[child_pid]["process"]["parent_name"] == "cursor"
    finally:
        os.kill(child_pid, 9)


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
def test_listener_and_probe_with_real_mcp_server(procs, tmp_path, bind):
    port = _free_port()
    server = procs(
        [sys.executable, str(HERE / "mcp_server_demo.py"), bind, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        pytest.fail("demo MCP server did not start")

    plain = _scan(home=tmp_path)
    assert port in plain["host"]["listening_ports"]
    assert not [e for e in plain["evidence"] if e["type"] == "probe"]  # probing is opt-in
    listeners = [e for e in plain["evidence"] if e["type"] == "listener" and e["listener"]["port"] == port]
    assert listeners and listeners[0]["listener"]["pid"] == server.pid
    assert listeners[0]["risk"] == ([] if bind == "127.0.0.1" else ["exposed_listener"])
    assert server.pid in _by_pid(plain)

    probed = _scan(home=tmp_path, probe=True, probe_max=4)
    probes = [e for e in probed["evidence"] if e["type"] == "probe" and e["probe"]["url"].endswith(f":{port}/mcp")]
    assert probes, probed["evidence"]
    assert probes[0]["probe"]["ok"] is True
    assert probes[0]["probe"]["server_name"] == "mcpeeker-demo-server"
    assert probes[0]["probe"]["protocol_version"]
    assert probes[0]["instance_key"].endswith(f":port:{port}")
