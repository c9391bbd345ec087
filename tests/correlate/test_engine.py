"""Correlation, scoring, registry lifecycle and audit, end to end on the real local node.

Network evidence comes from real Suricata over the project's SDK pcaps, ingested by the real
`mcpeeker ingest`; endpoint evidence is an agent report (`agent_report` below) ingested the same way.
With Zeek, `mcpeeker replay` runs both sensors over the same pcaps and each server is one finding.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from mcpeeker import audit
from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.correlate import aggregate
from mcpeeker.correlate.engine import Correlator
from mcpeeker.correlate.instances import finding_id
from mcpeeker.feedback import add_feedback, timeline
from mcpeeker.registry.store import Registry
from mcpeeker.roles import Actor, PermissionDenied, authorize
from mcpeeker.sensors.suricata import run_suricata
from mcpeeker.settings import Settings
from mcpeeker.timeutil import iso, utcnow

from cluster import drop_prefix, findings_by_key
from paths import AUDIT_KEY, LABELS, PCAP_DIR, REPO_ROOT, SITE_KEY, require_zeek

RULES = REPO_ROOT / "suricata" / "mcp.rules"
ADMIN = Actor("admin", "admin")

# The agent on the host behind 10.20.0.3 (the notes server of mcp2025_py_streamable_sse.pcap).
AGENT_HOST_IP = "10.20.0.3"
AGENT_PORT = 8000


def host_id_for(machine_id: str) -> str:
    return hmac.new(SITE_KEY.encode(), machine_id.encode(), hashlib.sha256).hexdigest()


HOST_ID = host_id_for("notes-server-machine-id")


def agent_report(host_id: str, ip: str, port: int) -> dict[str, Any]:
    """A scan report as mcpeeker-agent writes it (schemas/agent-event.schema.json)."""
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
                    "pid": 4242,
                    "ppid": 1,
                    "name": "python3",
                    "cmdline": "python3 -m notes_server --port 8000",
                    "matched": "fastmcp",
                },
            },
            {
                "type": "listener",
                "score": 11,
                "reason": "listener owned by an MCP server process",
                "listener": {"ip": "0.0.0.0", "port": port, "pid": 4242, "transport": "tcp"},
            },
        ],
    }


def _cli(*args: str, settings: Settings, identity: str | None = None) -> subprocess.CompletedProcess:
    # The CLI's identity comes from the settings (MCPEEKER_IDENTITY); `--as` is for the demo- prefixes only.
    return subprocess.run(
        [sys.executable, "-m", "mcpeeker.cli", *args, "--url", settings.url, "--index-prefix", settings.index_prefix],
        capture_output=True,
        text=True,
        env={
            "MCPEEKER_SITE_KEY": SITE_KEY,
            "MCPEEKER_AUDIT_KEY": AUDIT_KEY,
            "PATH": "/usr/bin:/bin",
            "HOME": str(Path.home()),
            **({"MCPEEKER_IDENTITY": identity} if identity else {}),
        },
    )


@pytest.fixture(scope="module")
def eve(tmp_path_factory) -> list[Path]:
    # One Suricata run per pcap, as `mcpeeker replay` does: in directory mode Suricata orders files by mtime,
    # and these captures were made at different times, so one run over all of them is order-dependent.
    labels = json.loads(LABELS.read_text())["pcaps"]
    base = tmp_path_factory.mktemp("suricata")
    return [run_suricata(PCAP_DIR / entry["file"], RULES, base / f"{i:02d}") for i, entry in enumerate(labels)]


@pytest.fixture(scope="module")
def world(os_url: str, eve: list[Path], tmp_path_factory) -> Iterator[Settings]:
    """Evidence of the whole pcap corpus plus one agent report, ingested with the real CLI."""
    settings = Settings(
        url=os_url,
        index_prefix=f"corr-{hashlib.sha1(str(eve[0]).encode()).hexdigest()[:8]}-",
        site_key=SITE_KEY,
        audit_key=AUDIT_KEY,
        identity="admin",
    )
    client = make_client(settings)
    indices.install(settings, client)
    work = tmp_path_factory.mktemp("agent")
    report = work / "report.ndjson"
    report.write_text(json.dumps(agent_report(HOST_ID, AGENT_HOST_IP, AGENT_PORT)) + "\n")
    for source, paths in (("suricata", eve), ("agent", [report])):
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
    yield settings
    drop_prefix(client, settings.index_prefix)


def _correlate(settings: Settings):
    return Correlator(settings, make_client(settings)).run_once(ADMIN)


def _assert_full_rescore_agrees(settings: Settings) -> None:
    """A registry change re-scores only the findings it can alter: forgetting which entries the last cycle saw
    re-scores every finding, and that must change nothing."""
    correlator = Correlator(settings, make_client(settings))
    state = correlator.read_state()
    assert state.get("registry_entries"), "the cycle keeps one fingerprint per registry entry"
    correlator.write_state({k: v for k, v in state.items() if k != "registry_entries"})
    result = correlator.run_once(ADMIN)
    assert result.written == 0 and result.deleted == 0


def test_findings_per_instance_with_expected_classification(world: Settings) -> None:
    _correlate(world)
    findings = findings_by_key(world)
    labels = json.loads(LABELS.read_text())["pcaps"]

    # The notes server: agent (process + listener) joined with network evidence through the host's address.
    joined = findings[f"host:{HOST_ID}:port:{AGENT_PORT}"]
    assert joined["classification"] == "unauthorized" and joined["score"] == 14
    assert set(joined["evidence"]["types"]) >= {"endpoint", "network"}
    assert f"net:{AGENT_HOST_IP}:{AGENT_PORT}" in joined["instance"]["raw_keys"]
    assert f"net:{AGENT_HOST_IP}:{AGENT_PORT}" not in findings, "network-only instance must merge into the host"
    assert (
        "Unregistered MCP server" in joined["finding"]["summary"]
        and "agent and network" in joined["finding"]["summary"]
    )
    assert joined["suggested_entry"]["host"]["id"] == HOST_ID

    # Every other MCP server of the corpus is a network-only instance: unregistered -> suspect.
    for entry in labels:
        server = entry["server"]
        key = f"net:{server['ip']}:{server['port']}"
        if entry["benign"]:
            assert key not in findings, f"benign {entry['file']} produced a finding"
        elif server["ip"] != AGENT_HOST_IP:
            assert findings[key]["classification"] == "suspect", (entry["file"], findings[key])
            assert findings[key]["finding"]["id"] == finding_id(key)

    # Attack evidence raises severity on its own.
    poisoned = findings["net:10.20.0.6:8000"]
    assert "tool_poisoning" in poisoned["attack"]["types"] and poisoned["severity"] in {"high", "critical"}
    injected = findings["net:10.20.0.8:8000"]
    assert "command_injection" in injected["attack"]["types"] and injected["severity"] == "critical"


def test_rerun_changes_nothing(world: Settings) -> None:
    _correlate(world)
    before = findings_by_key(world)
    result = _correlate(world)
    assert result.written == 0 and result.deleted == 0
    assert findings_by_key(world) == before


def test_registry_approval_expiry_and_attacks(world: Settings) -> None:
    _correlate(world)
    client = make_client(world)
    registry = Registry(world, client, ADMIN)
    key = f"host:{HOST_ID}:port:{AGENT_PORT}"

    entry = registry.add(
        {
            "owner": "alice",
            "team": "docs",
            "purpose": "team notes assistant",
            "host": {"id": HOST_ID},
            "server": {"port": AGENT_PORT},
        }
    )
    _correlate(world)
    assert findings_by_key(world)[key]["classification"] == "unauthorized", "a pending entry must not lower the score"

    registry.apply(entry["entry_id"], "approve")
    _correlate(world)
    _assert_full_rescore_agrees(world)
    approved = findings_by_key(world)[key]
    assert approved["classification"] == "authorized" and approved["registry"]["match"] is True
    assert approved["score"] == 14 - 6 and approved["registry"]["owner"] == "alice"

    # Expire it (as if 90 days passed): the next run stops lowering the score and persists the expiry.
    stored = registry.get(entry["entry_id"])
    stored["expires"] = iso(utcnow() - timedelta(minutes=1))
    client.index(index=world.index("mcp-registry"), id=entry["entry_id"], body=stored, refresh="wait_for")
    result = _correlate(world)
    assert entry["entry_id"] in result.expired_entries
    _assert_full_rescore_agrees(world)
    after = findings_by_key(world)[key]
    assert after["classification"] == "unauthorized" and after["registry"]["match"] is False
    assert registry.get(entry["entry_id"])["status"] == "expired"

    # Renewed, then revoked: revocation takes effect at the next run too.
    registry.apply(entry["entry_id"], "renew")
    _correlate(world)
    assert findings_by_key(world)[key]["classification"] == "authorized"
    registry.apply(entry["entry_id"], "revoke", note="owner left")
    _correlate(world)
    _assert_full_rescore_agrees(world)
    assert findings_by_key(world)[key]["classification"] == "unauthorized"

    # A registered server that carries attack evidence keeps its severity.
    poisoned = registry.add({"owner": "bob", "purpose": "math tools", "server": {"ip": "10.20.0.6", "port": 8000}})
    registry.apply(poisoned["entry_id"], "approve")
    _correlate(world)
    _assert_full_rescore_agrees(world)
    finding = findings_by_key(world)["net:10.20.0.6:8000"]
    assert finding["classification"] == "authorized" and finding["severity"] in {"high", "critical"}

    # A narrow entry approves its own server only: the other servers on port 8000 stay suspect.
    for other in ("net:10.20.0.5:8000", "net:10.20.0.9:8000"):
        assert findings_by_key(world)[other]["classification"] == "suspect"

    # Illegal transitions are refused with the entry and the states named.
    with pytest.raises(Exception, match="cannot approve an entry that is revoked"):
        registry.apply(entry["entry_id"], "approve")


def test_claim_feedback_timeline_and_audit(world: Settings) -> None:
    _correlate(world)
    key = "net:10.20.0.9:8000"
    fid = finding_id(key)
    claimed = _cli(
        "registry", "claim", fid, "--owner", "carol", "--purpose", "reporting", settings=world, identity="developer"
    )
    assert claimed.returncode == 0, claimed.stderr
    pending = [e for e in Registry(world, make_client(world), ADMIN).all() if e.get("source_finding") == fid]
    assert len(pending) == 1 and pending[0]["status"] == "pending"
    assert pending[0]["server"] == {"ip": "10.20.0.9", "port": 8000}

    client = make_client(world)
    add_feedback(world, client, Actor("analyst", "analyst"), fid, "true_positive", "confirmed with the team")
    rows = timeline(world, client, fid)
    kinds = [row["kind"] for row in rows]
    assert "verdict" in kinds and any(k.startswith("evidence/") for k in kinds)
    assert [row["at"] for row in rows] == sorted(row["at"] for row in rows)

    # A developer may not give verdicts; the CLI says who and what.
    refused = _cli("feedback", fid, "--verdict", "benign", settings=world, identity="developer")
    assert refused.returncode != 0 and "may not feedback.add" in refused.stderr
    with pytest.raises(PermissionDenied):
        authorize(replace(world, identity="developer"), "registry.approve")

    count, problems = audit.verify(world, client)
    assert count >= 2 and problems == []


def test_approval_without_new_evidence_and_rerun_after_it(world: Settings) -> None:
    """Approving a claimed entry takes effect from stored facts alone, and the next run writes nothing."""
    client = make_client(world)
    _correlate(world)
    key = "net:10.20.0.10:3000"
    registry = Registry(world, client, ADMIN)
    claimed = registry.add(
        {
            "owner": "dora",
            "purpose": "kb",
            "source_finding": finding_id(key),
            **{k: v for k, v in findings_by_key(world)[key]["suggested_entry"].items() if k in ("host", "server")},
        }
    )
    # Move the watermark past the overlap so the instance has no "new" evidence at the next cycle.
    correlator = Correlator(world, client)
    state = correlator.read_state()
    state["at"] = iso(utcnow() + timedelta(hours=1))
    correlator.write_state(state)
    registry.apply(claimed["entry_id"], "approve")
    result = correlator.run_once(ADMIN)
    assert result.touched == 0, "no instance has new evidence: the approval must work from stored facts"
    assert findings_by_key(world)[key]["classification"] == "authorized"
    assert correlator.run_once(ADMIN).written == 0


def _audit_world(os_settings: Settings, os_client) -> list[dict[str, Any]]:
    actor = Actor("admin", "admin")
    for n in range(5):
        audit.append(os_settings, os_client, actor, "registry.add", "registry_entry", f"reg-{n}", {"n": n})
    os_client.indices.refresh(index=os_settings.index("mcp-audit"))
    hits = os_client.search(index=os_settings.index("mcp-audit"), body={"size": 10, "sort": [{"seq": "asc"}]})
    return [h["_source"] for h in hits["hits"]["hits"]]


def _evidence_view(settings: Settings) -> tuple[Any, ...]:
    evidence = aggregate.EvidenceAggregator(make_client(settings), settings.index("mcp-events-*"), refs_per_type=3)
    keys = evidence.keys([])
    stats = evidence.stats(keys)
    facts, refs = evidence.facts_and_refs(keys)
    return keys, stats, facts, refs


def test_partitioned_aggregation_agrees_with_key_lookups(world: Settings, monkeypatch) -> None:
    """The two ways of selecting keys (a terms query by name; hash partitions of every key, retried with
    more partitions when one overflows) must give the same stats, facts and references."""
    by_name = _evidence_view(world)
    keys, stats, facts, refs = by_name
    assert len(keys) >= 10 and any(k.startswith("net:") for k in keys) and any(k.startswith("host:") for k in keys)
    assert {"module", "dst_ip", "host_id"} <= {name for f in facts.values() for name in f}, facts
    assert any(r for r in refs.values())
    monkeypatch.setattr(aggregate, "KEY_FILTER_MAX", 0)
    monkeypatch.setattr(aggregate, "SIZE_SLACK", 0)
    # An estimate far below the truth: the first partitions overflow and must be split until they fit.
    monkeypatch.setattr(aggregate.EvidenceAggregator, "_cardinality", lambda self, filters: 2)
    monkeypatch.setattr(aggregate, "BUCKET_BUDGET", 16)
    partitions: list[int] = []
    search = aggregate.EvidenceAggregator._search

    def counting(self, passes, filters, scopes):
        partitions.append(len(scopes))
        return search(self, passes, filters, scopes)

    monkeypatch.setattr(aggregate.EvidenceAggregator, "_search", counting)
    assert _evidence_view(world) == by_name
    assert partitions[0] == 1 and max(partitions) >= 4, partitions


def test_audit_detects_edit(os_settings: Settings, os_client) -> None:
    records = _audit_world(os_settings, os_client)
    assert audit.verify(os_settings, os_client)[1] == []
    edited = dict(records[2], content_json=json.dumps({"n": 99}))
    os_client.index(index=os_settings.index("mcp-audit"), id="3", body=edited, refresh="wait_for")
    problems = audit.verify(os_settings, os_client)[1]
    assert [(p.seq, "edited" in p.reason) for p in problems] == [(3, True)]


def test_audit_detects_delete(os_settings: Settings, os_client) -> None:
    _audit_world(os_settings, os_client)
    os_client.delete(index=os_settings.index("mcp-audit"), id="2", refresh="wait_for")
    problems = audit.verify(os_settings, os_client)[1]
    assert problems and problems[0].seq == 3 and "2 missing" in problems[0].reason


def test_audit_detects_deleting_the_newest_records(os_settings: Settings, os_client) -> None:
    _audit_world(os_settings, os_client)
    os_client.delete(index=os_settings.index("mcp-audit"), id="5", refresh="wait_for")
    problems = audit.verify(os_settings, os_client)[1]
    assert [(p.seq, "missing at the end" in p.reason) for p in problems] == [(5, True)]


def test_audit_detects_swapped_documents(os_settings: Settings, os_client) -> None:
    records = _audit_world(os_settings, os_client)
    # Whole documents moved: each keeps its own seq and MAC but sits under the other's id.
    index = os_settings.index("mcp-audit")
    os_client.index(index=index, id="2", body=records[3], refresh="wait_for")
    os_client.index(index=index, id="4", body=records[1], refresh="wait_for")
    problems = audit.verify(os_settings, os_client)[1]
    assert any("moved or reordered" in p.reason for p in problems)


def test_audit_detects_reorder(os_settings: Settings, os_client) -> None:
    records = _audit_world(os_settings, os_client)
    # Swap the contents of records 2 and 4 while each keeps its own seq and document id.
    index = os_settings.index("mcp-audit")
    os_client.index(index=index, id="2", body=dict(records[3], seq=2), refresh="wait_for")
    os_client.index(index=index, id="4", body=dict(records[1], seq=4), refresh="wait_for")
    problems = audit.verify(os_settings, os_client)[1]
    assert {p.seq for p in problems} >= {2, 4}


def test_audit_verify_cli_names_the_record(os_settings: Settings, os_client) -> None:
    _audit_world(os_settings, os_client)
    os_client.delete(index=os_settings.index("mcp-audit"), id="4", refresh="wait_for")
    result = _cli("audit", "verify", settings=replace(os_settings))
    assert result.returncode == 1 and "seq 5" in result.stdout and "missing" in result.stdout


# ------------------------------------------------------------------------------------ Zeek and Suricata together


@pytest.fixture(scope="module")
def both_sensors(os_url: str, tmp_path_factory) -> Iterator[Settings]:
    """`mcpeeker replay` of every labelled pcap through Suricata and Zeek, plus the agent report, correlated."""
    zeek = require_zeek()
    settings = Settings(
        url=os_url,
        index_prefix=f"both-{uuid.uuid4().hex[:8]}-",
        site_key=SITE_KEY,
        audit_key=AUDIT_KEY,
        identity="admin",
    )
    client = make_client(settings)
    indices.install(settings, client)
    work = tmp_path_factory.mktemp("both")
    labels = json.loads(LABELS.read_text())["pcaps"]
    env = {
        "MCPEEKER_SITE_KEY": SITE_KEY,
        "MCPEEKER_AUDIT_KEY": AUDIT_KEY,
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
        "COLUMNS": "250",
        "MCPEEKER_ZEEK": str(zeek),
        "MCPEEKER_STATE_DIR": str(work / "state"),
    }
    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpeeker.cli",
            "replay",
            *(str(PCAP_DIR / e["file"]) for e in labels),
            "--keep",
            str(work / "out"),
            "--url",
            settings.url,
            "--index-prefix",
            settings.index_prefix,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert replay.returncode == 0, replay.stdout[-3000:] + replay.stderr[-3000:]
    assert "sensors: suricata 7." in replay.stderr and ", zeek " in replay.stderr, replay.stderr
    report = work / "report.ndjson"
    report.write_text(json.dumps(agent_report(HOST_ID, AGENT_HOST_IP, AGENT_PORT)) + "\n")
    result = _cli(
        "ingest", "agent", str(report), "--no-progress", "--dead-letter", str(work / "dead.log"), settings=settings
    )
    assert result.returncode == 0, result.stdout + result.stderr
    client.indices.refresh(index=settings.index("mcp-events-*"))
    _correlate(settings)
    yield settings
    drop_prefix(client, settings.index_prefix)


@pytest.mark.zeek
@pytest.mark.slow
def test_a_server_seen_by_zeek_and_suricata_is_one_finding(both_sensors: Settings) -> None:
    findings = findings_by_key(both_sensors)
    labels = json.loads(LABELS.read_text())["pcaps"]
    servers = {f"net:{e['server']['ip']}:{e['server']['port']}": e for e in labels if not e["benign"]}
    for net_key, entry in servers.items():
        holders = [key for key, f in findings.items() if net_key in f["instance"]["raw_keys"]]
        assert len(holders) == 1, f"{entry['file']}: {net_key} is in findings {holders}"
        finding = findings[holders[0]]
        sources = set(finding["evidence"]["sources"])
        assert {"zeek", "suricata"} <= sources, (entry["file"], finding["evidence"])
        assert "network" in finding["evidence"]["types"], entry["file"]
        # Zeek alone sees a rug pull (tool definitions changing across sessions): it lands on the same finding.
        attacks = set(finding.get("attack", {}).get("types", []))
        for tag in ("rug_pull", "tool_poisoning", "sensitive_file", "command_injection", "unauthenticated"):
            assert (tag in attacks) == (tag in entry["expected"]), (entry["file"], tag, attacks)
    # Nothing else: no finding keyed on a client, a second address form or a benign server.
    assert len(findings) == len(servers), sorted(set(findings) - set(servers))

    joined = findings[f"host:{HOST_ID}:port:{AGENT_PORT}"]
    assert set(joined["evidence"]["sources"]) == {"agent", "suricata", "zeek"}
    assert joined["instance"]["raw_keys"] == [f"host:{HOST_ID}:port:{AGENT_PORT}", f"net:{AGENT_HOST_IP}:{AGENT_PORT}"]
    assert set(joined["evidence"]["types"]) >= {"endpoint", "network", "attack"}


@pytest.mark.zeek
@pytest.mark.slow
def test_both_sensors_rerun_changes_nothing(both_sensors: Settings) -> None:
    before = findings_by_key(both_sensors)
    result = _correlate(both_sensors)
    assert result.written == 0 and result.deleted == 0
    assert findings_by_key(both_sensors) == before
