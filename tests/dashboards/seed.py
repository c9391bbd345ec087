"""Realistic MCPeeker data for the dashboard, analytics and report tests.

Everything goes through the real pipeline: `mcpeeker replay tests/pcaps` (the SDK captures through the
real Suricata, and Zeek when installed); a real `mcpeeker-agent scan` of the agent tests' fixture home; plus
a small site of four hosts written the way Zeek (mcp.log / notice.log, JSON), Suricata (eve.json) and the
agent (NDJSON reports, schemas/agent-event.schema.json) write it, ingested with `mcpeeker ingest`, so every
panel (both spec eras, Zeek notices, scan errors, several hosts over several days) has data without Zeek; registry entries through the registry's lifecycle (add/approve/reject/revoke, audited);
findings from one real correlation cycle; analyst verdicts through `add_feedback` (audited).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mcpeeker import cli
from mcpeeker.cases.lifecycle import set_status
from mcpeeker.client import make_client
from mcpeeker.correlate.engine import Correlator
from mcpeeker.feedback import add_feedback
from mcpeeker.registry.store import Registry
from mcpeeker.roles import Actor
from mcpeeker.settings import Settings
from mcpeeker_agent import cli as agent_cli

from agent.homes import make_home
from paths import PCAP_DIR, SITE_KEY


def _host_id(machine: str) -> str:
    return hmac.new(SITE_KEY.encode(), machine.encode(), hashlib.sha256).hexdigest()


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


HOSTS = {
    "alice-laptop": {"id": _host_id("machine-alice-laptop"), "ip": "10.10.1.21", "os": "macos"},
    "build-01": {"id": _host_id("machine-build-01"), "ip": "10.10.2.5", "os": "linux"},
    "bob-laptop": {"id": _host_id("machine-bob-laptop"), "ip": "10.10.1.33", "os": "windows"},
    "ds-ws-07": {"id": _host_id("machine-ds-ws-07"), "ip": "10.10.3.7", "os": "linux"},
}

# (server ip, port, spec era, transport, protocol version, server name, client host, tools)
SERVERS = [
    (
        "10.10.2.5",
        8931,
        "2025",
        "streamable_http",
        "2025-06-18",
        "internal-docs-mcp",
        "bob-laptop",
        ["search_docs", "get_page"],
    ),
    (
        "10.10.3.7",
        3000,
        "2024-11-05",
        "sse",
        "2024-11-05",
        "notebook-tools",
        "alice-laptop",
        ["run_cell", "list_notebooks"],
    ),
    (
        "203.0.113.40",
        443,
        "2026-07-28",
        "streamable_http",
        "2026-07-28",
        "weather-mcp",
        "alice-laptop",
        ["get_forecast"],
    ),
    (
        "10.10.9.9",
        8080,
        "2025",
        "streamable_http",
        "2025-03-26",
        "helpful-tools",
        "bob-laptop",
        ["add_numbers", "read_file"],
    ),
]


@dataclass
class Seeded:
    settings: Settings
    now: datetime
    findings: list[dict[str, Any]] = field(default_factory=list)
    registry: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    scans_by_host: dict[str, int] = field(default_factory=dict)  # agent scan reports indexed, per host id


# ------------------------------------------------------------------------------------------- sensors


def _zeek_mcp_lines(now: datetime) -> list[dict[str, Any]]:
    lines = []
    for n, (ip, port, era, transport, version, name, client, tools) in enumerate(SERVERS):
        base = (now - timedelta(hours=18 - n * 3)).timestamp()
        conn = {
            "uid": f"C{n}mcp{port}",
            "id.orig_h": HOSTS[client]["ip"],
            "id.orig_p": 51000 + n,
            "id.resp_h": ip,
            "id.resp_p": port,
        }
        common = {
            **conn,
            "transport": transport,
            "spec_era": era,
            "protocol_version": version,
            "http_method": "POST",
            "path": "/mcp" if transport == "streamable_http" else "/messages",
            "status_code": 200,
        }
        if era != "2026-07-28":
            common["session_id"] = f"sess-{n:04d}"
        method_first = "server/discover" if era == "2026-07-28" else "initialize"
        lines.append(
            {
                **common,
                "ts": base,
                "direction": "request",
                "sender": "client",
                "method": method_first,
                "jsonrpc_id": "1",
                "client_name": "claude-code",
                "client_version": "2.1.0",
            }
        )
        lines.append(
            {
                **common,
                "ts": base + 0.05,
                "direction": "response",
                "sender": "server",
                "method": method_first,
                "jsonrpc_id": "1",
                "server_name": name,
                "server_version": "1.4.2",
            }
        )
        if era != "2026-07-28":
            lines.append(
                {
                    **common,
                    "ts": base + 0.1,
                    "direction": "notification",
                    "sender": "client",
                    "method": "notifications/initialized",
                }
            )
        lines.append(
            {
                **common,
                "ts": base + 0.2,
                "direction": "response",
                "sender": "server",
                "method": "tools/list",
                "jsonrpc_id": "2",
                "tool_names": tools,
                "tools_hash": hashlib.sha256(",".join(tools).encode()).hexdigest()[:32],
            }
        )
        for k, tool in enumerate(tools * 2):
            lines.append(
                {
                    **common,
                    "ts": base + 1 + k,
                    "direction": "request",
                    "sender": "client",
                    "method": "tools/call",
                    "mcp_name": tool,
                    "jsonrpc_id": str(3 + k),
                }
            )
    return lines


def _zeek_notices(now: datetime) -> list[dict[str, Any]]:
    out = []
    for n, (ip, port, _era, _t, _v, name, client, _tools) in enumerate(SERVERS):
        out.append(
            {
                "ts": (now - timedelta(hours=17 - n * 3)).timestamp(),
                "uid": f"C{n}mcp{port}",
                "id.orig_h": HOSTS[client]["ip"],
                "id.orig_p": 51000 + n,
                "id.resp_h": ip,
                "id.resp_p": port,
                "note": "MCP::Server_Detected",
                "msg": f"MCP server {name} at {ip}:{port}",
                "src": HOSTS[client]["ip"],
                "dst": ip,
                "p": port,
                "proto": "tcp",
                "actions": ["Notice::ACTION_LOG"],
            }
        )
    out.append(
        {
            "ts": (now - timedelta(hours=8)).timestamp(),
            "uid": "C3mcp8080",
            "id.orig_h": "10.10.1.33",
            "id.orig_p": 51003,
            "id.resp_h": "10.10.9.9",
            "id.resp_p": 8080,
            "note": "MCP::Tool_Poisoning",
            "msg": "tool description of read_file hides instructions from the user",
            "sub": "read_file",
            "src": "10.10.1.33",
            "dst": "10.10.9.9",
            "p": 8080,
            "proto": "tcp",
            "actions": ["Notice::ACTION_LOG"],
        }
    )
    out.append(
        {
            "ts": (now - timedelta(hours=6)).timestamp(),
            "uid": "C1mcp3000",
            "id.orig_h": "10.10.1.21",
            "id.orig_p": 51001,
            "id.resp_h": "10.10.3.7",
            "id.resp_p": 3000,
            "note": "MCP::Tool_Definitions_Changed",
            "msg": "tool definitions of notebook-tools changed mid-session",
            "src": "10.10.1.21",
            "dst": "10.10.3.7",
            "p": 3000,
            "proto": "tcp",
            "actions": ["Notice::ACTION_LOG"],
        }
    )
    return out


def _eve_alert(
    now: datetime,
    hours_ago: float,
    sid: int,
    msg: str,
    evidence: str,
    detection: str,
    era: str,
    client: str,
    ip: str,
    port: int,
) -> dict[str, Any]:
    return {
        "timestamp": iso(now - timedelta(hours=hours_ago)).replace("Z", "+0000"),
        "flow_id": 1_000_000 + sid,
        "event_type": "alert",
        "src_ip": HOSTS[client]["ip"],
        "src_port": 51000,
        "dest_ip": ip,
        "dest_port": port,
        "proto": "TCP",
        "app_proto": "http",
        "direction": "to_server",
        "alert": {
            "action": "allowed",
            "gid": 1,
            "signature_id": sid,
            "rev": 1,
            "signature": msg,
            "category": "Potentially Bad Traffic" if evidence == "attack" else "Misc activity",
            "severity": 2 if evidence == "attack" else 3,
            "metadata": {
                "mcpeeker_evidence": [evidence],
                "mcpeeker_detection": [detection],
                "mcp_era": [era],
                "confidence": ["High"],
            },
        },
        "http": {
            "hostname": ip,
            "url": "/mcp",
            "http_method": "POST",
            "status": 200,
            "http_user_agent": "node",
            "http_content_type": "application/json",
            "request_headers": [{"name": "Mcp-Protocol-Version", "value": "2025-06-18"}],
        },
    }


def _eve_lines(now: datetime) -> list[dict[str, Any]]:
    return [
        _eve_alert(
            now,
            18,
            9400001,
            "MCPEEKER MCP initialize request (2025-era handshake)",
            "network",
            "mcp_server",
            "2025",
            "bob-laptop",
            "10.10.2.5",
            8931,
        ),
        _eve_alert(
            now,
            15,
            9400007,
            "MCPEEKER MCP legacy HTTP+SSE endpoint event (2024-11-05 transport)",
            "network",
            "mcp_server",
            "2024",
            "alice-laptop",
            "10.10.3.7",
            3000,
        ),
        _eve_alert(
            now,
            12,
            9400008,
            "MCPEEKER MCP request with Mcp-Method header (2026-era)",
            "network",
            "mcp_server",
            "2026",
            "alice-laptop",
            "203.0.113.40",
            443,
        ),
        _eve_alert(
            now,
            9,
            9400101,
            "MCPEEKER MCP tool poisoning - tool description tells the model to hide actions from the user",
            "attack",
            "tool_poisoning",
            "any",
            "bob-laptop",
            "10.10.9.9",
            8080,
        ),
        _eve_alert(
            now,
            8.5,
            9400110,
            "MCPEEKER MCP tools/call arguments name a sensitive file",
            "attack",
            "sensitive_file",
            "any",
            "bob-laptop",
            "10.10.9.9",
            8080,
        ),
    ]


def _agent_item(kind: str, score: float, **parts: Any) -> dict[str, Any]:
    return {"type": kind, "score": score, **parts}


def _agent_reports(now: datetime) -> list[dict[str, Any]]:
    items = {
        "alice-laptop": [
            _agent_item(
                "file",
                0.9,
                reason="MCP server configured in claude_desktop",
                file={"path": "~/Library/Application Support/Claude/claude_desktop_config.json", "size": 612},
                config={
                    "client": "claude_desktop",
                    "scope": "user",
                    "server_name": "filesystem",
                    "transport": "stdio",
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-filesystem", "~/work"],
                    "fingerprint": "f1e2d3c4b5a69788",
                    "change": "unchanged",
                },
            ),
            _agent_item(
                "file",
                0.95,
                reason="MCP server configured in cursor with a committed token",
                risk=["committed_secret"],
                file={"path": "~/src/app/.cursor/mcp.json", "size": 301},
                config={
                    "client": "cursor",
                    "scope": "project",
                    "server_name": "github",
                    "transport": "stdio",
                    "command": "docker",
                    "env_names": ["GITHUB_TOKEN"],
                    "secrets": [{"kind": "github_pat", "fingerprint": "9a8b7c6d5e4f3a2b", "field": "env.GITHUB_TOKEN"}],
                    "fingerprint": "0a1b2c3d4e5f6071",
                    "change": "added",
                },
            ),
        ],
        "build-01": [
            _agent_item(
                "listener",
                0.8,
                reason="process listens and answers MCP initialize",
                listener={"ip": "0.0.0.0", "port": 8931, "pid": 4242, "transport": "tcp"},
            ),
            _agent_item(
                "process",
                0.7,
                reason="node process runs an MCP server package",
                instance_key=f"host:{HOSTS['build-01']['id']}:port:8931",
                process={
                    "pid": 4242,
                    "ppid": 1,
                    "name": "node",
                    "exe": "/usr/bin/node",
                    "cmdline": "node /opt/docs-mcp/dist/index.js --port 8931",
                    "parent_name": "systemd",
                    "matched": "mcp-server package",
                },
            ),
            _agent_item(
                "probe",
                1.0,
                reason="MCP initialize answered",
                instance_key=f"host:{HOSTS['build-01']['id']}:port:8931",
                probe={
                    "ok": True,
                    "server_name": "internal-docs-mcp",
                    "server_version": "1.4.2",
                    "protocol_version": "2025-06-18",
                    "url": "http://127.0.0.1:8931/mcp",
                },
            ),
        ],
        "bob-laptop": [
            _agent_item(
                "file",
                0.85,
                reason="remote MCP server configured in vscode",
                file={"path": "C:/Users/bob/AppData/Roaming/Code/User/mcp.json", "size": 188},
                config={
                    "client": "vscode",
                    "scope": "user",
                    "server_name": "internal-docs",
                    "transport": "streamable_http",
                    "url": "http://10.10.2.5:8931/mcp",
                    "fingerprint": "5566778899aabbcc",
                    "change": "unchanged",
                },
            ),
        ],
        "ds-ws-07": [
            _agent_item(
                "listener",
                0.9,
                reason="MCP SSE server listening on all interfaces",
                risk=["exposed_listener"],
                listener={"ip": "0.0.0.0", "port": 3000, "pid": 777, "transport": "tcp"},
            ),
            _agent_item(
                "process",
                0.6,
                reason="python process runs an MCP server",
                instance_key=f"host:{HOSTS['ds-ws-07']['id']}:port:3000",
                process={
                    "pid": 777,
                    "ppid": 700,
                    "name": "python3",
                    "exe": "/usr/bin/python3",
                    "cmdline": "python3 -m notebook_tools --sse --port 3000",
                    "parent_name": "bash",
                    "matched": "mcp module",
                },
            ),
        ],
    }
    reports = []
    for name, host in HOSTS.items():
        position = list(HOSTS).index(name)
        for scan, hours_ago in enumerate((24 * (1 + 1.5 * position), 0.5 + 1.5 * position)):
            report: dict[str, Any] = {
                "schema": "mcpeeker.agent/1",
                "scan_id": f"{name}-{scan}",
                "host_id": host["id"],
                "timestamp": iso(now - timedelta(hours=hours_ago)),
                "agent": {"version": "0.1.0"},
                "host": {"os": host["os"], "ips": [host["ip"]]},
                "local_score": 11.0,
                "duration_ms": 850 + 40 * scan,
                "evidence": items[name],
            }
            if name == "ds-ws-07" and scan == 1:
                report["errors"] = [{"where": "processes", "error": "permission denied reading /proc/812/cmdline"}]
            reports.append(report)
    return reports


def _write_lines(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _ingest(settings: Settings, source: str, path: Path, workdir: Path) -> None:
    code = cli.main(
        [
            "ingest",
            source,
            str(path),
            "--url",
            settings.url,
            "--index-prefix",
            settings.index_prefix,
            "--no-progress",
            "--no-setup",
            "--dead-letter",
            str(workdir / f"dead-{source}.log"),
            "--drain-timeout",
            "5",
        ]
    )
    if code != 0:
        raise RuntimeError(f"mcpeeker ingest {source} {path} exited {code}")
    dead = workdir / f"dead-{source}.log"
    if dead.exists() and dead.read_text().strip():
        raise RuntimeError(f"ingest rejected records: {dead.read_text()[:2000]}")


def _replay(settings: Settings, workdir: Path) -> None:
    if shutil.which("suricata") is None:
        raise RuntimeError("suricata not installed: `make suricata` (scripts/install-suricata.sh) installs it")
    code = cli.main(
        [
            "replay",
            str(PCAP_DIR),
            "--url",
            settings.url,
            "--index-prefix",
            settings.index_prefix,
            "--keep",
            str(workdir / "replay"),
            "--dead-letter",
            str(workdir / "dead-replay.log"),
        ]
    )
    if code != 0:
        raise RuntimeError(f"mcpeeker replay {PCAP_DIR} exited {code}")


def _agent_fixture_scan(settings: Settings, workdir: Path) -> str:
    """The real agent over the agent tests' fixture home (configs of every supported MCP client)."""
    home = make_home(workdir / "agent-home", "linux")
    report = workdir / "agent-fixture.ndjson"
    code = agent_cli.main(
        [
            "scan",
            "--home",
            str(home.home),
            "--root",
            str(home.root),
            "--no-state",
            "--no-processes",
            "--no-listeners",
            "-o",
            str(report),
        ]
    )
    if code != 0:
        raise RuntimeError(f"mcpeeker-agent scan exited {code}")
    _ingest(settings, "agent", report, workdir)
    return json.loads(report.read_text().splitlines()[0])["host_id"]


# ------------------------------------------------------------------------------------ SIEM pipeline

ADMIN = Actor("secops-lead", "admin")
ANALYST = Actor("analyst-1", "analyst")


LAPSE_SECONDS = 8


def _registry(settings: Settings, client: Any, now: datetime) -> datetime:
    """Entries in every state the Registry dashboard shows, through the registry's own lifecycle."""
    registry = Registry(settings, client, ADMIN)
    lapse = datetime.now(timezone.utc) + timedelta(seconds=LAPSE_SECONDS)

    def add(owner: str, team: str, purpose: str, *actions: str, expires: datetime | None = None, **subject: Any) -> str:
        fields: dict[str, Any] = {"owner": owner, "team": team, "purpose": purpose, **subject}
        if expires is not None:
            fields["expires"] = iso(expires)
        entry_id = registry.add(fields)["entry_id"]
        for action in actions:
            registry.apply(entry_id, action, note=f"{action} during the demo review")
        return entry_id

    # Approved with an expiry a moment away (first, so the approval happens before it): once it has passed,
    # the correlation cycle persists the entry as expired.
    add("frank", "research", "SQL exploration", "approve", expires=lapse, server={"name": "sql-mcp", "port": 5005})
    add(
        "carol",
        "platform",
        "internal documentation search for engineers",
        "approve",
        host={"id": HOSTS["build-01"]["id"]},
        server={"port": 8931, "name": "internal-docs-mcp"},
    )
    add(
        "dave",
        "data",
        "weather data for the forecasting team",
        "approve",
        expires=now + timedelta(days=5),
        server={"ip": "203.0.113.40", "port": 443},
    )
    add(
        "judy",
        "platform",
        "CI status for release managers",
        "approve",
        expires=now + timedelta(days=12),
        server={"name": "ci-status-mcp", "port": 8200},
    )
    add(
        "erin",
        "product",
        "docs lookup from VS Code",
        host={"id": HOSTS["bob-laptop"]["id"]},
        server={"name": "internal-docs"},
    )
    add("heidi", "secops", "shell access for incident response", "reject", server={"name": "shell-mcp", "port": 7000})
    add("ivan", "platform", "ticket triage", "approve", "revoke", server={"name": "jira-mcp", "port": 9100})
    return lapse


def seed(settings: Settings, workdir: Path) -> Seeded:
    """Sensor output -> `mcpeeker ingest` -> registry lifecycle -> one real correlation cycle -> feedback."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    client = make_client(settings)
    _replay(settings, workdir)
    fixture_host = _agent_fixture_scan(settings, workdir)
    _ingest(settings, "zeek", _write_lines(workdir / "zeek" / "mcp.log", _zeek_mcp_lines(now)), workdir)
    _ingest(settings, "zeek", _write_lines(workdir / "zeek" / "notice.log", _zeek_notices(now)), workdir)
    _ingest(settings, "suricata", _write_lines(workdir / "eve.json", _eve_lines(now)), workdir)
    _ingest(settings, "agent", _write_lines(workdir / "agent.ndjson", _agent_reports(now)), workdir)
    client.indices.refresh(index=settings.index("mcp-events-*"))
    client.indices.refresh(index=settings.index("mcp-events-*"))

    lapse = _registry(settings, client, now)
    time.sleep(max(0.0, (lapse - datetime.now(timezone.utc)).total_seconds()) + 0.5)
    Correlator(settings, client).run_once()
    client.indices.refresh(index=settings.index("mcp-findings"))
    findings = [
        h["_source"]
        for h in client.search(
            index=settings.index("mcp-findings"), body={"size": 1000, "sort": [{"last_seen": "desc"}]}
        )["hits"]["hits"]
    ]
    verdicts = {
        "unauthorized": ("true_positive", "escalated to the owner"),
        "suspect": ("needs_info", "asked the team"),
        "authorized": ("benign", "approved in the registry"),
    }
    for finding in findings[:4]:
        verdict, note = verdicts[finding["classification"]]
        add_feedback(settings, client, ANALYST, finding["finding"]["id"], verdict, note)
    # One acknowledged, then resolved, so the triage panels have a time to acknowledge and a time to resolve.
    worked = findings[4]["finding"]["id"]
    set_status(settings, client, worked, "acknowledged", ANALYST, "asked the owner")
    set_status(settings, client, worked, "resolved", ANALYST, "server removed")
    for name in ("mcp-registry", "mcp-findings", "mcp-feedback", "mcp-audit"):
        client.indices.refresh(index=settings.index(name))
    registry = [
        h["_source"] for h in client.search(index=settings.index("mcp-registry"), body={"size": 100})["hits"]["hits"]
    ]
    events = client.count(index=settings.index("mcp-events-*"))["count"]
    scans = {host["id"]: 2 for host in HOSTS.values()}
    scans[fixture_host] = 1
    return Seeded(settings=settings, now=now, findings=findings, registry=registry, events=events, scans_by_host=scans)
