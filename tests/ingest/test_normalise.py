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

from paths import SITE_KEY

EVIDENCE_TYPES = {"endpoint", "network", "attack", "judge", "context"}
ATTACK_TYPES = {
    "tool_poisoning",
    "rug_pull",
    "sensitive_file",
    "command_injection",
    "unauthenticated",
    "committed_secret",
    "exposed_listener",
}
MAPPED_EVENT_DATASETS = {
    "zeek.mcp",
    "zeek.http",
    "zeek.conn",
    "zeek.ssl",
    "zeek.dns",
    "zeek.notice",
    "suricata.alert",
    "suricata.http",
    "suricata.tls",
    "suricata.flow",
    "suricata.fileinfo",
    "suricata.anomaly",
    "agent.config",
    "agent.process",
    "agent.listener",
    "agent.probe",
    "agent.scan",
}


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
    # The write alias, whatever the event's time: an old or forged @timestamp never creates an index (rollover).
    assert index == f"{ctx.index_prefix}mcp-events"
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
    ((_, _, doc, _),) = _docs("zeek", zeek_logs / "json" / "http_basic-auth-with-colon" / "http.log", ctx)
    assert doc["http"]["request"]["method"] == "GET" and doc["http"]["response"]["status_code"] == 200
    assert doc["url"]["path"] == "/" and doc["user_agent"]["original"].startswith("python-requests")
    # The basic-auth user name is stored only as HMAC-SHA256 with the site key, never bare or plain SHA-256.
    expected = hmac.new(SITE_KEY.encode(), b"test", hashlib.sha256).hexdigest()
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
    alerts = [
        d
        for eve in eve_foreign.values()
        for _, _, d, _ in _docs("suricata", eve, ctx)
        if d["event"]["dataset"] == "suricata.alert"
    ]
    assert alerts
    for doc in alerts:
        assert doc["rule"]["name"] == "ET TEST any HTTP POST" and doc["rule"]["ruleset"] == "suricata"
        assert doc["mcpeeker"]["evidence"]["type"] == "context"
        assert "instance" not in doc["mcpeeker"] and "attack" not in doc["mcpeeker"]


def test_unhandled_eve_type_is_unsupported(ctx: Context) -> None:
    rec = Record(
        "suricata", "stats", {"event_type": "stats", "timestamp": "2024-01-01T00:00:00+0000"}, b"{}", "eve.json", 1, 3
    )
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

    rec = Record(
        "agent",
        "report",
        {
            "schema": "mcpeeker.agent/1",
            "host_id": "not-hex",
            "timestamp": "2024-01-01T00:00:00Z",
            "evidence": [],
            "local_score": 0,
        },
        b"{}",
        "r.ndjson",
        7,
        10,
    )
    with pytest.raises(NormaliseError, match="host_id"):
        normalise(rec, ctx)


# ------------------------------------------------------------------------------------------ zeek MCP
# Real Zeek output of the labelled pcaps with our package (conftest.zeek_mcp_runs), in both writers.

# mcp.log field (zeek/scripts/mcp/main.zeek, MCP::Info) -> document path (docs/data-model.md).
MCP_LOG_FIELDS = {
    "uid": "zeek.uid",
    "id.orig_h": "source.ip",
    "id.orig_p": "source.port",
    "id.resp_h": "destination.ip",
    "id.resp_p": "destination.port",
    "direction": "mcp.direction",
    "sender": "mcp.sender",
    "transport": "mcp.transport",
    "spec_era": "mcp.spec_era",
    "method": "mcp.method.name",
    "mcp_name": "mcp.name",
    "jsonrpc_id": "jsonrpc.request.id",
    "session_id": "mcp.session.id",
    "protocol_version": "mcp.protocol.version",
    "client_name": "mcp.client.name",
    "client_version": "mcp.client.version",
    "server_name": "mcp.server.name",
    "server_version": "mcp.server.version",
    "tool_names": "mcp.tools.names",
    "tools_count": "mcp.tools.count",
    "tools_hash": "mcp.tools.hash",
    "long_descriptions": "mcp.tools.long_descriptions",
    "resource_uri": "mcp.resource.uri",
    "http_method": "http.request.method",
    "path": "url.path",
    "status_code": "http.response.status_code",
    "error_code": "mcp.error.code",
    "error_message": "mcp.error.message",
    "auth_present": "mcp.auth.present",
    "auth_scheme": "mcp.auth.scheme",
    "batch": "mcp.batch",
}
# Copied through redaction of secret-looking values: equal unless they carry one.
MCP_LOG_REDACTED = {"resource_uri", "path", "error_message"}
# Zeek notice -> (evidence type, attack type), as docs/data-model.md and scoring expect them.
MCP_NOTICE_MAPPING = {
    "MCP::Server_Detected": ("network", None),
    "MCP::Tool_Poisoning": ("attack", "tool_poisoning"),
    "MCP::Tool_Definitions_Changed": ("attack", "rug_pull"),
    "MCP::Sensitive_File_Access": ("attack", "sensitive_file"),
    "MCP::Command_Injection": ("attack", "command_injection"),
    "MCP::Unauthenticated_Server": ("attack", "unauthenticated"),
    "MCP::OAuth_Discovery": ("network", None),
}
ZEEK_WRITERS = ("json", "tsv")


def _path(doc: dict, dotted: str):
    return get(doc, tuple(dotted.split(".")))


def _records_and_docs(log: Path, ctx: Context) -> list[tuple[Record, list[dict]]]:
    """Each record of a log with its documents (checked against what every document must carry)."""
    out = []
    for item in read_file("zeek", str(log)):
        assert not isinstance(item, BadLine), item
        docs = []
        for index, doc_id, doc, _ in normalise(item, ctx):
            _check_common(index, doc_id, doc, ctx)
            docs.append(doc)
        out.append((item, docs))
    return out


def _label_entries(labels: dict) -> list[dict]:
    return labels["pcaps"]


@pytest.mark.zeek
@pytest.mark.parametrize("writer", ZEEK_WRITERS)
def test_zeek_mcp_log_lines_become_mcp_documents(writer: str, zeek_mcp_runs: dict, labels: dict, ctx: Context) -> None:
    total = 0
    for entry in _label_entries(labels):
        log = zeek_mcp_runs[writer][entry["file"]] / "mcp.log"
        if entry["benign"]:
            assert not log.exists(), f"{entry['file']}: Zeek wrote mcp.log for a benign pcap"
            continue
        assert log.is_file(), f"{entry['file']}: Zeek wrote no mcp.log"
        server_key = f"net:{entry['server']['ip']}:{entry['server']['port']}"
        pairs = _records_and_docs(log, ctx)
        assert pairs, f"{log}: empty"
        for record, docs in pairs:
            where = f"{entry['file']} mcp.log:{record.line}"
            assert len(docs) == 1, where
            doc = docs[0]
            unmapped = set(record.data) - set(MCP_LOG_FIELDS) - {"ts"}
            assert not unmapped, f"{where}: mcp.log fields {sorted(unmapped)} have no mapping in normalise/zeek.py MCP"
            assert doc["event"]["dataset"] == "zeek.mcp" and doc["event"]["kind"] == "event", where
            assert doc["mcpeeker"]["evidence"] == {"type": "network", "kind": "mcp_message"}, where
            assert doc["mcpeeker"]["instance"]["key"] == server_key, where
            assert doc["network"]["protocol"] == "mcp", where
            for field, target in MCP_LOG_FIELDS.items():
                value = record.data.get(field)
                if value is None or value == []:
                    assert _path(doc, target) is None, f"{where}: {target} set from an unset {field}"
                    continue
                got = _path(doc, target)
                assert got is not None, f"{where}: {field}={value!r} not mapped to {target}"
                if field in MCP_LOG_REDACTED:
                    assert got == value or "REDACTED" in got, f"{where}: {target}={got!r} from {value!r}"
                else:
                    assert got == value, f"{where}: {target}={got!r}, mcp.log {field}={value!r}"
            if record.data.get("method") == "tools/call" and record.data.get("mcp_name"):
                assert doc["gen_ai"]["tool"]["name"] == record.data["mcp_name"], where
            total += 1
    assert total > 100, f"only {total} mcp.log lines over the corpus"


@pytest.mark.zeek
@pytest.mark.parametrize("writer", ZEEK_WRITERS)
def test_zeek_mcp_notices_map_to_evidence_and_attack_types(
    writer: str, zeek_mcp_runs: dict, labels: dict, ctx: Context
) -> None:
    seen: set[str] = set()
    for entry in _label_entries(labels):
        log = zeek_mcp_runs[writer][entry["file"]] / "notice.log"
        server_key = f"net:{entry['server']['ip']}:{entry['server']['port']}"
        notes = set()
        for record, docs in _records_and_docs(log, ctx) if log.exists() else []:
            note = record.data["note"]
            where = f"{entry['file']} notice.log:{record.line} {note}"
            (doc,) = docs
            assert doc["event"]["dataset"] == "zeek.notice" and doc["event"]["kind"] == "alert", where
            assert doc["rule"] == {"name": note, "ruleset": "zeek-notice"}, where
            assert doc["zeek"]["notice"]["note"] == note, where
            if not note.startswith("MCP::"):
                assert doc["mcpeeker"]["evidence"]["type"] == "context", where
                continue
            notes.add(note)
            ev_type, attack = MCP_NOTICE_MAPPING[note]
            assert doc["mcpeeker"]["evidence"]["type"] == ev_type, where
            assert doc["mcpeeker"]["evidence"]["kind"] == "notice", where
            assert get(doc, ("mcpeeker", "attack", "type")) == attack, where
            assert doc["mcpeeker"]["instance"]["key"] == server_key, where
            assert (doc["destination"]["ip"], doc["destination"]["port"]) == (
                entry["server"]["ip"],
                entry["server"]["port"],
            ), where
            assert doc["zeek"]["notice"]["msg"] and doc["mcpeeker"]["snippet"], where
            if attack:
                assert attack in entry["expected"], f"{where}: {attack} is not among the label's {entry['expected']}"
        assert notes == set(entry["zeek_notices"]), (
            f"{entry['file']}: MCP notices {sorted(notes)}, label {entry['zeek_notices']}"
        )
        seen |= notes
    assert seen == set(MCP_NOTICE_MAPPING), f"the corpus raises {sorted(seen)}"


_BOOKKEEPING = (("event", "id"), ("mcpeeker", "source"))


def _microseconds(value):
    """Zeek's TSV writer prints intervals with 6 decimals, its JSON writer with all of them."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _microseconds(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_microseconds(v) for v in value]
    return value


def _comparable(log: Path, ctx: Context) -> list[dict]:
    """The documents of a log without bookkeeping, in a canonical order (Zeek may order a log's lines differently
    from run to run)."""
    docs = []
    for item in read_file("zeek", str(log)):
        assert not isinstance(item, BadLine), item
        try:
            outputs = normalise(item, ctx)
        except Unsupported:
            continue
        for _, _, doc, _ in outputs:
            doc = orjson.loads(orjson.dumps(doc))
            for path in _BOOKKEEPING:  # the document id hashes the raw line; file/line say where it was read
                parent = get(doc, path[:-1]) if len(path) > 1 else doc
                parent.pop(path[-1], None)
            docs.append(_microseconds(doc))
    return sorted(docs, key=lambda d: orjson.dumps(d, option=orjson.OPT_SORT_KEYS))


@pytest.mark.zeek
def test_zeek_json_and_tsv_give_the_same_documents(zeek_mcp_runs: dict, labels: dict, ctx: Context) -> None:
    compared = Counter()
    for entry in _label_entries(labels):
        json_dir, tsv_dir = (zeek_mcp_runs[w][entry["file"]] for w in ZEEK_WRITERS)
        names = sorted(p.name for p in json_dir.glob("*.log"))
        assert names == sorted(p.name for p in tsv_dir.glob("*.log")), entry["file"]
        for name in names:
            json_docs, tsv_docs = _comparable(json_dir / name, ctx), _comparable(tsv_dir / name, ctx)
            assert len(json_docs) == len(tsv_docs), f"{entry['file']} {name}"
            for n, (j, t) in enumerate(zip(json_docs, tsv_docs), 1):
                assert j == t, f"{entry['file']} {name} document {n}: JSON and TSV differ"
            compared[name] += len(json_docs)
    assert compared["mcp.log"] > 100 and compared["notice.log"] > 30 and compared["http.log"] > 100, compared
