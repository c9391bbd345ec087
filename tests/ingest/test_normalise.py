"""Normalisers on real sensor output: Zeek 7 logs, eve.json of our rules over the project pcaps, agent reports."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections import Counter
from pathlib import Path

import orjson
import pytest

from mcpeeker.ingest.normalise import Context, Unsupported, normalise
from mcpeeker.ingest.normalise.common import get
from mcpeeker.ingest.readers import BadLine, Record, read_file

from .conftest import REPO_ROOT, SHARED, SITE_KEY

EVIDENCE_TYPES = {"endpoint", "network", "attack", "judge", "context"}
ATTACK_TYPES = {"tool_poisoning", "rug_pull", "sensitive_file", "command_injection", "unauthenticated",
                "committed_secret", "exposed_listener"}
MAPPED_EVENT_DATASETS = {"zeek.mcp", "zeek.http", "zeek.conn", "zeek.ssl", "zeek.dns", "zeek.notice", "suricata.alert",
                         "suricata.http", "suricata.tls", "suricata.flow", "suricata.fileinfo", "suricata.anomaly",
                         "agent.config", "agent.process", "agent.listener", "agent.probe", "agent.scan"}


def _docs(source: str, path: Path, ctx: Context) -> list[dict]:
    out = []
    for item in read_file(source, str(path)):
        assert not isinstance(item, BadLine), item
        try:
            out.extend(normalise(item, ctx))
        except Unsupported:
            continue
    return out


def _check_common(index: str, doc_id: str, doc: dict, ctx: Context) -> None:
    assert index.startswith(f"{ctx.index_prefix}mcp-events-")
    assert index.endswith(doc["@timestamp"][:10].replace("-", "."))  # daily index of the observation's UTC day
    assert doc["event"]["id"] == doc_id and len(doc_id) == 32
    assert doc["event"]["dataset"] in MAPPED_EVENT_DATASETS
    assert doc["event"]["module"] == doc["event"]["dataset"].split(".")[0]
    ev = doc["mcpeeker"]["evidence"]
    assert ev["type"] in EVIDENCE_TYPES and ev["kind"]
    for side in ("source", "destination"):
        if "ip" in doc.get(side, {}):
            ipaddress.ip_address(doc[side]["ip"])
    if ev["type"] == "attack":
        assert doc["mcpeeker"]["attack"]["type"] in ATTACK_TYPES
    snippet = get(doc, ("mcpeeker", "snippet"))
    if snippet is not None:
        assert len(snippet.encode()) <= 1024


def test_zeek_logs_normalise(zeek_logs: Path, ctx: Context) -> None:
    datasets: Counter = Counter()
    for log in sorted(zeek_logs.glob("*/*/*.log")):
        for index, doc_id, doc, epoch in _docs("zeek", log, ctx):
            _check_common(index, doc_id, doc, ctx)
            datasets[doc["event"]["dataset"]] += 1
            assert doc["mcpeeker"]["evidence"]["type"] == "context"  # plain traffic never scores
            assert doc["zeek"]["uid"].startswith("C")
    assert set(datasets) == {"zeek.conn", "zeek.http", "zeek.ssl", "zeek.dns"}


def test_zeek_http_fields_and_keyed_user(zeek_logs: Path, ctx: Context) -> None:
    (_, _, doc, _), = _docs("zeek", zeek_logs / "json" / "http_basic-auth-with-colon" / "http.log", ctx)
    assert doc["http"]["request"]["method"] == "GET" and doc["http"]["response"]["status_code"] == 200
    assert doc["url"]["path"] == "/" and doc["user_agent"]["original"].startswith("python-requests")
    # The basic-auth user name is stored only as HMAC-SHA256 with the site key, never bare or plain SHA-256.
    expected = hmac.new(SITE_KEY, b"test", hashlib.sha256).hexdigest()
    assert doc["user"]["id"] == expected
    assert doc["user"]["id"] != hashlib.sha256(b"test").hexdigest()
    assert b'"test"' not in orjson.dumps(doc)


def test_zeek_ssl_and_dns(zeek_logs: Path, ctx: Context) -> None:
    ssl = [d for _, _, d, _ in _docs("zeek", zeek_logs / "json" / "tls_chrome-34-google" / "ssl.log", ctx)]
    assert ssl and all(d["network"]["protocol"] == "tls" for d in ssl)
    assert any(get(d, ("tls", "client", "server_name")) for d in ssl)
    dns = [d for _, _, d, _ in _docs("zeek", zeek_logs / "json" / "dns53" / "dns.log", ctx)]
    assert dns and all(get(d, ("dns", "question", "name")) for d in dns)


def test_same_record_same_id_different_record_different_id(zeek_logs: Path, ctx: Context) -> None:
    log = zeek_logs / "json" / "http_bro.org" / "http.log"
    first = [i for _, i, _, _ in _docs("zeek", log, ctx)]
    again = [i for _, i, _, _ in _docs("zeek", log, ctx)]
    assert first == again and len(set(first)) == len(first)


# ------------------------------------------------------------------------------------------ suricata

def test_suricata_eve_of_project_pcaps(eve_files: dict[str, Path], labels: dict, ctx: Context) -> None:
    by_pcap = {entry["file"]: entry for entry in labels["pcaps"]}
    seen_datasets: Counter = Counter()
    checked = 0
    for pcap, eve in eve_files.items():
        docs = _docs("suricata", eve, ctx)
        for index, doc_id, doc, _ in docs:
            _check_common(index, doc_id, doc, ctx)
            seen_datasets[doc["event"]["dataset"]] += 1
        label = by_pcap.get(pcap)
        if label is None:  # a capture being added, not labelled yet
            continue
        checked += 1
        ours = [d for _, _, d, _ in docs if d["event"]["dataset"] == "suricata.alert"]
        if label["benign"]:
            assert ours == [], f"{pcap}: benign pcap produced alerts"
            continue
        server = label["server"]
        key = f"net:{server['ip']}:{server['port']}"
        assert ours, f"{pcap}: no alerts"
        for doc in ours:
            assert doc["rule"]["ruleset"] == "mcpeeker"
            assert doc["mcpeeker"]["evidence"]["type"] in ("network", "attack")
            # The server is the responder whatever the direction of the packet that alerted.
            assert doc["mcpeeker"]["instance"]["key"] == key, (pcap, doc["rule"]["name"])
        attacks = {d["mcpeeker"]["attack"]["type"] for d in ours if d["mcpeeker"]["evidence"]["type"] == "attack"}
        assert attacks <= set(label["expected"]), (pcap, attacks)
        # Which attacks the rules catch is the rules' own test; here: attack pcaps give attack evidence.
        if ATTACK_TYPES & set(label["expected"]):
            assert attacks, pcap
    assert checked >= 5
    assert {"suricata.alert", "suricata.http", "suricata.flow", "suricata.fileinfo"} <= set(seen_datasets)


def test_foreign_signatures_are_context(eve_foreign: dict[str, Path], ctx: Context) -> None:
    alerts = [d for eve in eve_foreign.values() for _, _, d, _ in _docs("suricata", eve, ctx)
              if d["event"]["dataset"] == "suricata.alert"]
    assert alerts
    for doc in alerts:
        assert doc["rule"]["name"] == "ET TEST any HTTP POST" and doc["rule"]["ruleset"] == "suricata"
        assert doc["mcpeeker"]["evidence"]["type"] == "context"
        assert "instance" not in doc["mcpeeker"] and "attack" not in doc["mcpeeker"]


def test_unhandled_eve_type_is_unsupported(ctx: Context) -> None:
    rec = Record("suricata", "stats", {"event_type": "stats", "timestamp": "2024-01-01T00:00:00+0000"}, b"{}", "eve.json", 1, 3)
    with pytest.raises(Unsupported):
        normalise(rec, ctx)


# ------------------------------------------------------------------------------------------ agent

def test_agent_report_one_doc_per_evidence_plus_summary(agent_report: Path, ctx: Context) -> None:
    reports = [orjson.loads(line) for line in agent_report.read_bytes().splitlines()]
    docs = _docs("agent", agent_report, ctx)
    assert len(docs) == sum(len(r["evidence"]) + 1 for r in reports)
    for index, doc_id, doc, _ in docs:
        _check_common(index, doc_id, doc, ctx)
        assert doc["host"]["id"] == reports[0]["host_id"]
    evidence = [d for _, _, d, _ in docs if d["event"]["dataset"] != "agent.scan"]
    summaries = [d for _, _, d, _ in docs if d["event"]["dataset"] == "agent.scan"]
    assert len(summaries) == len(reports)
    assert all(s["mcpeeker"]["evidence"]["kind"] == "scan_summary" for s in summaries)
    assert {d["mcpeeker"]["evidence"]["type"] for d in evidence} == {"endpoint"}
    keys = {d["mcpeeker"]["instance"]["key"] for d in evidence}
    assert f"host:{reports[0]['host_id']}:cfg:cursor:gh" in keys
    blob = orjson.dumps([d for _, _, d, _ in docs])
    for secret in (b"supersecret123", b"ghp_a1a1", b"ghp_b2b2"):
        assert secret not in blob
    assert len({i for _, i, _, _ in docs}) == len(docs)  # per-evidence ids are distinct


def test_agent_report_failing_the_schema_names_the_field(ctx: Context) -> None:
    from mcpeeker.ingest.normalise import NormaliseError

    rec = Record("agent", "report", {"schema": "mcpeeker.agent/1", "host_id": "not-hex", "timestamp": "2024-01-01T00:00:00Z",
                                     "evidence": [], "local_score": 0}, b"{}", "r.ndjson", 7, 10)
    with pytest.raises(NormaliseError, match="host_id"):
        normalise(rec, ctx)


# ------------------------------------------------------------------------------------------ zeek MCP

def _zeek_mcp_logs() -> list[Path]:
    roots = [SHARED / "zeek-runs", REPO_ROOT / "zeek" / "tests" / "Baseline"]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*") if p.name in ("mcp.log", "notice.log"))


def test_zeek_mcp_and_notice_logs(ctx: Context) -> None:
    logs = _zeek_mcp_logs()
    if not logs:
        pytest.skip("no Zeek mcp.log/notice.log yet (zeek not installed here; none in shared/zeek-runs or zeek baselines)")
    from mcpeeker.ingest.normalise import NormaliseError

    mcp_docs = 0
    for log in logs:
        docs = []
        for item in read_file("zeek", str(log)):
            assert not isinstance(item, BadLine), item
            try:
                docs.extend(normalise(item, ctx))
            except NormaliseError as exc:
                # btest baselines may canonify timestamps (XXXXXXXXXX.XXXXXX); nothing else may fail.
                assert "'ts'" in str(exc) and "Baseline" in str(log), (log, item.line, exc)
        for index, doc_id, doc, _ in docs:
            _check_common(index, doc_id, doc, ctx)
            if doc["event"]["dataset"] == "zeek.mcp":
                mcp_docs += 1
                assert doc["mcpeeker"]["evidence"]["type"] == "network"
                assert doc["mcpeeker"]["instance"]["key"] == f"net:{doc['destination']['ip']}:{doc['destination']['port']}"
            elif doc["zeek"]["notice"]["note"].startswith("MCP::"):
                assert doc["mcpeeker"]["evidence"]["type"] in ("network", "attack")
    assert mcp_docs > 0
