"""`--ship-cluster` (the non-default direct path) indexes the evidence into the real local OpenSearch node."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.opensearch


def test_ship_indexes_every_evidence(linux_home, os_settings, os_client):
    env = {
        **os.environ,
        "MCPEEKER_SITE_KEY": "ship-test-key",
        "MCPEEKER_URL": os_settings.url,
        "MCPEEKER_INDEX_PREFIX": os_settings.index_prefix,
    }
    base = [
        sys.executable,
        "-m",
        "mcpeeker_agent.cli",
        "scan",
        "--home",
        str(linux_home.home),
        "--root",
        str(linux_home.root),
        "--os",
        "linux",
        "--no-processes",
        "--no-listeners",
        "--no-state",
        "--machine-id",
        "m",
    ]
    report = json.loads(subprocess.run(base, capture_output=True, text=True, check=True, env=env).stdout)
    res = subprocess.run(base + ["--ship-cluster"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    index = os_settings.index("mcp-events-*")
    os_client.indices.refresh(index=index)
    hits = os_client.search(index=index, body={"size": 100, "query": {"term": {"event.module": "agent"}}})["hits"][
        "hits"
    ]
    assert len(hits) == len(report["evidence"]) + 1  # one document per evidence + the scan summary
    docs = [h["_source"] for h in hits]
    assert {d["event"]["dataset"] for d in docs} == {"agent.config", "agent.scan"}
    assert {d["host"]["id"] for d in docs} == {report["host_id"]}
    secret = [d for d in docs if d.get("mcp", {}).get("config", {}).get("server_name") == "github"]
    assert secret[0]["mcp"]["config"]["secret_kinds"] == ["github_token"]
    assert all(h["_id"] == h["_source"]["event"]["id"] for h in hits)
