"""The trust score (docs/scoring.md) end to end on the real local node: evidence in, correlation, the finding's
`trust.score` and `trust.penalties`, the report.

Endpoint evidence is a report of the real agent (mcpeeker_agent.Scanner) over a fixture home whose client
configurations hold the risks, plus one listener item as correlate/test_engine.py writes it (a real listener needs a
real server process); network evidence is real Suricata over the project's SDK pcaps, and real Zeek over the
rug-pull capture (rug pulls are Zeek's alone). All are ingested with the real `mcpeeker ingest`. The expected penalties name detections; their points come from the catalogue, so a
changed weight changes the expectation, not the test.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.correlate import trust
from mcpeeker.correlate.engine import Correlator
from mcpeeker.errors import ConfigError
from mcpeeker.report import write_report
from mcpeeker.roles import Actor
from mcpeeker.sensors.suricata import run_suricata
from mcpeeker.sensors.zeek import run_zeek
from mcpeeker.settings import Settings
from mcpeeker.timeutil import utcnow
from mcpeeker_agent.scanner import ScanOptions, Scanner

from cluster import drop_prefix, findings_by_key
from paths import PCAP_DIR, REPO_ROOT, SITE_KEY, require_zeek

RULES = REPO_ROOT / "suricata" / "mcp.rules"
FS = "@modelcontextprotocol/server-filesystem"
# Assembled at run time so no secret-shaped literal sits in the repository.
FAKE_GITHUB_TOKEN = "ghp_" + "Tr7Qw3" * 6
LISTENER_PORT = 8123

# pcap -> (server address, the detections whose penalties its finding must carry)
NETWORK = {
    "attack_rug_pull_py.pcap": ("net:10.20.0.17:8000", {"MCP-ATK-001", "MCP-ATK-002", "MCP-POS-001"}),
    "attack_tool_poisoning_py.pcap": ("net:10.20.0.6:8000", {"MCP-ATK-001", "MCP-POS-001"}),
    "mcp2025_py_streamable_sse.pcap": ("net:10.20.0.3:8000", {"MCP-POS-001"}),
    "auth_oauth_discovery_py.pcap": ("net:10.20.0.21:8000", set()),
}
# config server name -> the detections whose penalties its finding must carry
CONFIGS = {
    "clean-memory": set(),
    "risky-fs": {"MCP-POS-004", "MCP-END-004", "MCP-POS-002"},
    "issues": {"MCP-POS-005"},
    "lan-notes": {"MCP-POS-006"},
    "project-fs": set(),
    "evil<b>fs</b>": {"MCP-POS-004"},
}


def _points(detections: set[str]) -> int:
    table = {p.detection: p.points for p in trust.penalties()}
    return sum(table[d] for d in detections)


def _fixture_home(base: Path) -> tuple[Path, Path]:
    root = base / "root-linux"
    home = root / "home" / "carol"
    project = home / "src" / "app"
    project.mkdir(parents=True)
    claude = home / ".config" / "Claude" / "claude_desktop_config.json"
    claude.parent.mkdir(parents=True)
    claude.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "clean-memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]},
                    # an unknown publisher's filesystem server, given /, with a literal token
                    "risky-fs": {
                        "command": "npx",
                        "args": ["-y", "@acme/filesystem-mcp", "/"],
                        "env": {"GITHUB_TOKEN": FAKE_GITHUB_TOKEN},
                    },
                    "project-fs": {"command": "npx", "args": ["-y", FS, str(project)]},
                    # attacker-chosen server name: must reach the report escaped
                    "evil<b>fs</b>": {"command": "npx", "args": ["-y", FS, str(home)]},
                }
            },
            indent=2,
        )
    )
    vscode = home / ".config" / "Code" / "User" / "mcp.json"
    vscode.parent.mkdir(parents=True)
    vscode.write_text(
        json.dumps(
            {
                "servers": {
                    "issues": {
                        "type": "http",
                        "url": "https://issues.example.com/mcp",
                        "headers": {"X-API-Key": "${input:issues-key}"},
                    },
                    "lan-notes": {"type": "http", "url": "http://10.9.8.7:8080/mcp"},
                }
            },
            indent=2,
        )
    )
    return root, home


def _agent_report(base: Path) -> dict[str, Any]:
    root, home = _fixture_home(base)
    report = Scanner(
        ScanOptions(
            homes=[home], os_name="linux", root=root, processes=False, listeners=False, machine_id="trust-test-machine"
        ),
        SITE_KEY.encode(),
    ).run()
    # A listener on 0.0.0.0 as the agent reports one (MCP-POS-003).
    report["evidence"].append(
        {
            "type": "listener",
            "score": 0.6,
            "instance_key": f"host:{report['host_id']}:port:{LISTENER_PORT}",
            "reason": "MCP server process 4242 listens on 0.0.0.0:8123",
            "risk": ["exposed_listener"],
            "listener": {"ip": "0.0.0.0", "port": LISTENER_PORT, "pid": 4242, "transport": "tcp"},
        }
    )
    return report


def _cli(*args: str, settings: Settings) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mcpeeker.cli", *args, "--url", settings.url, "--index-prefix", settings.index_prefix],
        capture_output=True,
        text=True,
        env={"MCPEEKER_SITE_KEY": SITE_KEY, "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )


@pytest.fixture(scope="module")
def world(os_url: str, tmp_path_factory) -> Iterator[tuple[Settings, dict[str, Any]]]:
    work = tmp_path_factory.mktemp("trust")
    eve = [run_suricata(PCAP_DIR / name, RULES, work / f"suricata-{i}") for i, name in enumerate(NETWORK)]
    report = _agent_report(work)
    # Rug pulls are Zeek's alone (MCP-ATK-002): Zeek reads the rug-pull capture too.
    zeek_logs = run_zeek(PCAP_DIR / "attack_rug_pull_py.pcap", work / "zeek", binary=require_zeek())
    settings = Settings(
        url=os_url,
        index_prefix=f"trust-{hashlib.sha1(str(work).encode()).hexdigest()[:8]}-",
        site_key=SITE_KEY,
        identity="admin",
    )
    client = make_client(settings)
    indices.install(settings, client)
    path = work / "report.ndjson"
    path.write_text(json.dumps(report) + "\n")
    for source, paths in (("suricata", eve), ("zeek", zeek_logs), ("agent", [path])):
        result = _cli(
            "ingest",
            source,
            *map(str, paths),
            "--no-progress",
            "--dead-letter",
            str(work / "dead.log"),
            settings=settings,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    client.indices.refresh(index=settings.index("mcp-events-*"))
    Correlator(settings, client).run_once(Actor("admin", "admin"))
    yield settings, report
    drop_prefix(client, settings.index_prefix)


def _check(finding: dict[str, Any], expected: set[str], where: str) -> None:
    penalties = finding["trust"].get("penalties", [])
    assert {p["detection"] for p in penalties} == expected, (where, penalties)
    assert finding["trust"]["score"] == max(0, 100 - _points(expected)), (where, finding["trust"])
    by_id = {p.detection: p for p in trust.penalties()}
    for p in penalties:
        assert p["penalty"] == by_id[p["detection"]].points and p["reason"] == by_id[p["detection"]].reason
        assert p["evidence"], where


def test_network_findings_carry_their_penalties(world) -> None:
    settings, _ = world
    findings = findings_by_key(settings)
    for pcap, (key, expected) in NETWORK.items():
        assert key in findings, (pcap, sorted(findings))
        _check(findings[key], expected, pcap)
    assert findings["net:10.20.0.21:8000"]["trust"] == {"score": 100}  # OAuth-protected, nothing else: no penalty
    rug = {p["detection"]: p["evidence"] for p in findings["net:10.20.0.17:8000"]["trust"]["penalties"]}
    assert rug["MCP-ATK-002"] == "attack type rug_pull"


def test_agent_findings_carry_their_penalties(world) -> None:
    settings, report = world
    findings = findings_by_key(settings)
    keys = {e["config"]["server_name"]: e["instance_key"] for e in report["evidence"] if e["type"] == "file"}
    assert set(keys) == set(CONFIGS)
    for name, expected in CONFIGS.items():
        assert keys[name] in findings, (name, keys[name], sorted(findings))
        _check(findings[keys[name]], expected, name)
    assert findings[keys["clean-memory"]]["trust"] == {"score": 100}
    risky = {p["detection"]: p["evidence"] for p in findings[keys["risky-fs"]]["trust"]["penalties"]}
    assert risky == {
        "MCP-POS-004": "attack type filesystem_exposure, agent risk broad_filesystem",
        "MCP-END-004": "agent risk unknown_package",
        "MCP-POS-002": "attack type committed_secret, agent risk committed_secret",
    }
    listener = findings[f"host:{report['host_id']}:port:{LISTENER_PORT}"]
    _check(listener, {"MCP-POS-003"}, "listener")


def test_a_rerun_and_a_registry_rescore_keep_the_trust_score(world) -> None:
    settings, report = world
    before = {k: f["trust"] for k, f in findings_by_key(settings).items()}
    result = Correlator(settings, make_client(settings)).run_once(Actor("admin", "admin"))
    assert result.written == 0
    # A re-score from stored facts (what a registry change does) computes the same trust.
    correlator = Correlator(settings, make_client(settings))
    for key, finding in findings_by_key(settings).items():
        assert correlator.rescore_stored(finding, [], utcnow())["trust"] == before[key], key


def test_report_shows_trust_and_escapes_evidence(world, tmp_path: Path) -> None:
    settings, report = world
    out = tmp_path / "report.html"
    write_report(settings, out)
    page = out.read_text(encoding="utf-8")
    risky = next(e for e in report["evidence"] if e["type"] == "file" and e["config"]["server_name"] == "risky-fs")
    score = 100 - _points(CONFIGS["risky-fs"])
    assert f"{score}/100" in page
    assert "<b>MCP-POS-004</b> &minus;25: " + "It may read and write a whole filesystem" in page
    assert "Server trust scores" in page
    assert "evil<b>fs</b>" not in page and "evil&lt;b&gt;fs&lt;/b&gt;" in page
    assert risky["instance_key"]


def test_two_entries_cannot_penalise_the_same_evidence(monkeypatch, tmp_path: Path) -> None:
    """One piece of evidence costs a server once: a second entry with a penalty for the same attack type is a
    catalogue error, named."""
    from mcpeeker import catalogue

    entries = list(catalogue.entries())
    twin = dict(next(e for e in entries if e["id"] == "MCP-ATK-001"), id="MCP-ATK-999")
    monkeypatch.setattr(catalogue, "entries", lambda: (*entries, twin))
    trust.penalties.cache_clear()
    try:
        with pytest.raises(ConfigError, match="MCP-ATK-999 and MCP-ATK-001|MCP-ATK-001 and MCP-ATK-999"):
            trust.penalties()
    finally:
        monkeypatch.undo()
        trust.penalties.cache_clear()


def test_penalties_are_catalogue_data() -> None:
    """Every penalty is a `trust` block of a catalogue entry; the score formula takes nothing else."""
    blocks = {}
    for path in sorted((REPO_ROOT / "detections").glob("MCP-*.yaml")):
        entry = yaml.safe_load(path.read_text())
        if entry.get("trust"):
            blocks[entry["id"]] = entry["trust"]["penalty"]
    assert {p.detection: p.points for p in trust.penalties()} == blocks
    assert {
        "MCP-POS-001",
        "MCP-POS-002",
        "MCP-POS-003",
        "MCP-POS-004",
        "MCP-POS-005",
        "MCP-POS-006",
        "MCP-ATK-001",
        "MCP-ATK-002",
        "MCP-END-004",
    } <= set(blocks)
    everything = trust.trust(
        {p.attack_type for p in trust.penalties() if p.attack_type}, set().union(*(p.risks for p in trust.penalties()))
    )
    assert everything["score"] == 0  # floored, never negative
    assert trust.trust(set(), set()) == {"score": 100, "penalties": []}
