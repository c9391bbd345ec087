"""Remote-service sightings through the ingest normalisers: real Suricata eve over the remote pcaps becomes context
evidence tagged `mcpeeker.remote` (service, host, how seen), never an MCP server instance, and the records match
the events template (tests/model/test_records.py holds the field list)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from remote.sensors import MCP_RULES, REMOTE_PCAPS, REMOTE_RULES, ZEEK_ONLY_SEEN, labels, suricata

from mcpeeker.ingest.normalise import Context, normalise
from mcpeeker.ingest.readers import Record
from mcpeeker.remote_endpoints import default_matcher

CTX = Context(index_prefix="t-", site_key=os.urandom(32))
SEEN = {"dns", "tls_sni", "http_host", "url"}


@pytest.fixture(scope="module")
def suricata_bin() -> str:
    exe = shutil.which("suricata")
    if exe is None:
        pytest.skip("suricata not installed (make test installs Suricata 7)")
    return exe


def _docs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        raw = json.dumps(r).encode()
        for _index, _id, doc, _epoch in normalise(Record("suricata", r["event_type"], r, raw, "eve.json", 1, 0), CTX):
            out.append(doc)
    return out


@pytest.mark.suricata
@pytest.mark.parametrize("entry", labels(), ids=[e["scenario"] for e in labels()])
def test_remote_alerts_become_tagged_context(entry: dict[str, Any], suricata_bin: str, tmp_path: Path) -> None:
    records = [
        r
        for r in suricata(REMOTE_PCAPS / entry["file"], tmp_path, [MCP_RULES, REMOTE_RULES], suricata_bin)
        if r.get("event_type") == "alert" and 9_400_300 <= r["alert"]["signature_id"] < 9_400_400
    ]
    docs = _docs(records)
    assert len(docs) == sum(entry["suricata_sids"].values())
    seen: dict[str, set[str]] = {}
    for doc in docs:
        ours = doc["mcpeeker"]
        assert ours["evidence"]["type"] == "context" and ours["evidence"]["reason"] == "remote_mcp_service"
        assert "instance" not in ours, "a remote sighting is no MCP server instance"  # the resolver, the proxy
        remote = ours["remote"]
        assert remote["seen"] in SEEN and remote["host"] in entry["dns_names"]
        seen.setdefault(remote["service"], set()).add(remote["seen"])
        assert remote["dedicated"] == (remote["seen"] != "url")
        assert doc["source"]["ip"] == entry["client"]["ip"]
    # Zeek-only ways (the certificate) are ingested from mcp_remote.log: tests/remote/test_findings.py.
    wanted = {s: set(w) - ZEEK_ONLY_SEEN for s, w in entry["remote_services"].items()}
    assert seen == {s: w for s, w in wanted.items() if w}


def test_matcher_tells_dedicated_from_shared() -> None:
    m = default_matcher()
    dedicated = m.host("MCP.Notion.com.")
    assert dedicated is not None and dedicated.service == "notion"
    assert m.host("mcp.notion.com:443") == dedicated
    assert m.host("api.githubcopilot.com") is None  # a shared name alone says nothing
    assert m.host("www.notion.so") is None and m.host("mcp.notion.com.evil.example") is None
    shared = m.url("api.githubcopilot.com:443", "/mcp?readonly=1")
    assert shared is not None and shared.service == "github"
    assert m.url("api.githubcopilot.com", "/mcp/x/tools") == shared
    assert m.url("api.githubcopilot.com", "/models") is None
    assert m.url("api.githubcopilot.com", "/api/mcp-docs") is None
    assert m.url("mcp.linear.app", "/anything") is not None  # any path of a dedicated host
    assert m.host("[2001:db8::1]:443") is None
