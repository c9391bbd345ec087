"""Evidence for the case-workflow tests, made the way production makes it: agent reports and Suricata's eve output
over the project's SDK pcaps, ingested by the real `mcpeeker ingest`, correlated by the real engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mcpeeker.client import make_client
from mcpeeker.correlate.engine import Correlator, CycleResult
from mcpeeker.correlate.instances import finding_id
from mcpeeker.roles import Actor
from mcpeeker.settings import Settings
from mcpeeker.timeutil import iso, utcnow

from paths import PCAP_DIR, REPO_ROOT

ANALYST = Actor("analyst", "analyst")
ADMIN = Actor("admin", "admin")
RULES = REPO_ROOT / "suricata" / "mcp.rules"
# The command-injection server of attack_command_injection_py2026.pcap; an agent on its host joins the two.
ATTACK_IP, ATTACK_PORT = "10.20.0.8", 8000
ATTACK_PCAP = PCAP_DIR / "attack_command_injection_py2026.pcap"
HOST_A = "a1" * 32  # agent host ids are keyed hashes already
HOST_B = "b2" * 32
B_IP, B_PORT = "10.30.0.5", 9000


def agent_report(host_id: str, ip: str, port: int, risks: tuple[str, ...] = (), pid: int = 4242) -> dict[str, Any]:
    """A scan report as mcpeeker-agent writes it (schemas/agent-event.schema.json); `risks` on the listener make
    it attack evidence (an exposed listener, ...), as the agent flags them."""
    listener: dict[str, Any] = {
        "type": "listener",
        "score": 11,
        "reason": "listener owned by an MCP server process",
        "listener": {"ip": "0.0.0.0", "port": port, "pid": pid, "transport": "tcp"},
    }
    if risks:
        listener["risk"] = list(risks)
    return {
        "schema": "mcpeeker.agent/1",
        "host_id": host_id,
        "timestamp": iso(utcnow()),
        "local_score": 22,
        "agent": {"version": "0.1.0"},
        "host": {"os": "linux", "ips": ["127.0.0.1", ip], "listening_ports": [22, port]},
        "evidence": [
            {
                "type": "process",
                "score": 11,
                "reason": "FastMCP server by command line",
                "process": {
                    "pid": pid,
                    "ppid": 1,
                    "name": "python3",
                    "cmdline": f"python3 -m notes_server --port {port}",
                    "matched": "fastmcp",
                },
            },
            listener,
        ],
    }


def cli(
    settings: Settings, *args: str, identity: str = "admin", columns: int = 250
) -> subprocess.CompletedProcess[str]:
    env = {
        "MCPEEKER_SITE_KEY": settings.site_key or "",
        "MCPEEKER_AUDIT_KEY": settings.audit_key or "",
        "MCPEEKER_IDENTITY": identity,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(Path.home()),
        "COLUMNS": str(columns),
        "MCPEEKER_STATE_DIR": _state_dir(settings),
    }
    return subprocess.run(
        [sys.executable, "-m", "mcpeeker.cli", *args, "--url", settings.url, "--index-prefix", settings.index_prefix],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _state_dir(settings: Settings) -> str:
    """Checkpoints per index prefix, so sessions sharing the node never share ingest state."""
    path = Path(tempfile.gettempdir()) / "mcpeeker-cases-state" / settings.index_prefix.rstrip("-")
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def ingest(settings: Settings, source: str, path: Path, work: Path) -> None:
    # Own spool and dead-letter file: other pytest sessions ingest into the same node at the same time.
    result = cli(
        settings,
        "ingest",
        source,
        str(path),
        "--no-progress",
        "--dead-letter",
        str(work / "dead.log"),
        "--spool-dir",
        str(work / "spool"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    make_client(settings).indices.refresh(index=settings.index("mcp-events-*"))


def ingest_report(settings: Settings, work: Path, report: dict[str, Any], name: str) -> None:
    path = work / f"{name}.ndjson"
    path.write_text(json.dumps(report) + "\n")
    ingest(settings, "agent", path, work)


def correlate(settings: Settings) -> CycleResult:
    return Correlator(settings, make_client(settings)).run_once(ADMIN)


def finding(settings: Settings, key: str) -> dict[str, Any]:
    client = make_client(settings)
    got = client.get(index=settings.index("mcp-findings"), id=finding_id(key))
    source: dict[str, Any] = got["_source"]
    return source


def key_of(host_id: str, port: int) -> str:
    return f"host:{host_id}:port:{port}"


def last_audit(settings: Settings) -> dict[str, Any]:
    client = make_client(settings)
    client.indices.refresh(index=settings.index("mcp-audit"))
    hits = client.search(index=settings.index("mcp-audit"), body={"size": 1, "sort": [{"seq": "desc"}]})
    record: dict[str, Any] = hits["hits"]["hits"][0]["_source"]
    return record
