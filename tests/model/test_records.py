"""The typed Evidence and Finding records (mcpeeker.model.records) name the same fields as the index templates,
and the documents the agent normaliser and the correlation engine build carry only those fields."""

from __future__ import annotations

import json
from typing import Any, get_type_hints

from mcpeeker import resources
from mcpeeker.model import instance_key as keys
from mcpeeker.model import records

HOST = "ab" * 32

EVENTS = json.loads((resources.templates() / "mcp-events.json").read_text(encoding="utf-8"))["template"]["mappings"]
FINDINGS = json.loads((resources.templates() / "mcp-findings.json").read_text(encoding="utf-8"))["template"]["mappings"]


def _fields(record: Any) -> set[str]:
    return set(get_type_hints(record))


def _mapped(props: dict[str, Any], path: str) -> dict[str, Any]:
    for part in path.split("."):
        props = props["properties"][part]
    return props


def _check_typed(record: Any, mapping: dict[str, Any], where: str) -> None:
    """`record` has exactly the mapping's properties; nested TypedDicts are checked against their sub-mappings."""
    hints = get_type_hints(record)
    assert set(hints) == set(mapping["properties"]), f"{where}: {set(hints) ^ set(mapping['properties'])}"
    for name, hint in hints.items():
        inner = hint.__args__[0] if getattr(hint, "__origin__", None) is list else hint
        if isinstance(inner, type) and issubclass(inner, dict) and hasattr(inner, "__total__"):
            sub = mapping["properties"][name]
            if "properties" in sub:
                _check_typed(inner, sub, f"{where}.{name}")


def test_finding_matches_the_findings_template() -> None:
    _check_typed(records.Finding, FINDINGS, "mcp-findings")
    # the objects the template leaves unindexed stay free-form
    for name in ("suggested_entry", "scoring"):
        assert FINDINGS["properties"][name].get("enabled") is False


def test_evidence_matches_the_events_template() -> None:
    assert _fields(records.Evidence) == set(EVENTS["properties"])
    _check_typed(records.EvidenceMeta, _mapped(EVENTS, "mcpeeker"), "mcp-events mcpeeker")
    _check_typed(records.EventInfo, _mapped(EVENTS, "event"), "mcp-events event")
    # The scan summary's counters are stored, not mapped: the template must keep unknown fields unindexed.
    assert _fields(records.ScanSummaryMeta) - _fields(records.EvidenceMeta) == {"scan"}
    assert str(EVENTS["dynamic"]).lower() == "false" and "scan" not in _mapped(EVENTS, "mcpeeker")["properties"]


def _within(doc: dict[str, Any], record: Any, where: str) -> None:
    hints = get_type_hints(record)
    assert set(doc) <= set(hints), f"{where}: {set(doc) - set(hints)}"
    for name, value in doc.items():
        hint = hints[name]
        if isinstance(value, dict) and isinstance(hint, type) and hasattr(hint, "__total__"):
            _within(value, hint, f"{where}.{name}")


def test_agent_normaliser_builds_evidence_of_that_shape() -> None:
    from mcpeeker.ingest.normalise.agent import normalise_agent
    from mcpeeker.ingest.normalise.common import Context

    report = {
        "schema": "mcpeeker.agent/1",
        "timestamp": "2026-01-02T03:04:05Z",
        "host_id": HOST,
        "local_score": 0.9,
        "host": {"os": "linux", "ips": ["10.0.0.5"]},
        "agent": {"version": "0.1.0"},
        "errors": [],
        "evidence": [
            {
                "type": "file",
                "score": 0.9,
                "reason": "config",
                "risk": ["static_credential"],
                "file": {"path": "/home/a/.cursor/mcp.json"},
                "config": {
                    "client": "cursor",
                    "scope": "user",
                    "server_name": "a:b",
                    "url": "https://x.example/mcp",
                    "fingerprint": "f" * 16,
                },
            },
            {
                "type": "listener",
                "score": 0.4,
                "reason": "listens",
                "listener": {"ip": "127.0.0.1", "port": 7000, "transport": "tcp"},
            },
        ],
    }
    ctx = Context(index_prefix="", site_key=b"k" * 32)
    docs = [d for _i, _id, d, _e in normalise_agent("report", report, json.dumps(report).encode(), ctx, "t", 1)]
    assert len(docs) == 3
    for doc in docs[:2]:
        _within(doc, records.Evidence, "evidence")
    _within(docs[2]["mcpeeker"], records.ScanSummaryMeta, "scan summary mcpeeker")
    assert docs[1]["mcpeeker"]["instance"]["key"] == keys.host_port(HOST, 7000)
