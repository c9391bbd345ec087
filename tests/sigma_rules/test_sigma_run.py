"""`mcpeeker sigma run` over the real local node: sample events and real agent evidence in, sigma.match
evidence out, idempotent across runs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from paths import SITE_KEY

from .sigma_support import RULES, samples

from mcpeeker.cli import main as mcpeeker_main

pytestmark = pytest.mark.opensearch


def _conn(settings) -> list[str]:
    return ["--url", settings.url, "--index-prefix", settings.index_prefix]


def _matches(client, settings) -> list[dict]:
    client.indices.refresh(index=settings.index("mcp-events-*"))
    res = client.search(
        index=settings.index("mcp-events-*"), body={"size": 1000, "query": {"term": {"event.dataset": "sigma.match"}}}
    )
    return res["hits"]["hits"]


def test_sigma_run_writes_match_evidence(os_settings, os_client):
    now = datetime.now(timezone.utc)
    index = os_settings.index(f"mcp-events-{now:%Y.%m.%d}")
    expected: dict[str, int] = {}
    for rule in RULES:
        pos, neg = samples(rule)
        expected[rule.stem] = len(pos)
        for kind, docs in (("pos", pos), ("neg", neg)):
            for i, doc in enumerate(docs):
                doc = {**doc, "@timestamp": now.isoformat()}
                os_client.index(index=index, id=f"{rule.stem}-{kind}-{i}", body=doc)
    os_client.indices.refresh(index=index)
    assert mcpeeker_main(["sigma", "run", "--since", "1h"] + _conn(os_settings)) == 0
    hits = _matches(os_client, os_settings)
    by_rule: dict[str, set[str]] = {}
    for h in hits:
        src = h["_source"]
        assert src["event"]["kind"] == "alert" and src["event"]["module"] == "sigma"
        assert h["_id"] == src["event"]["id"]
        by_rule.setdefault(src["rule"]["category"], set()).add(src["mcpeeker"]["source"]["file"].rsplit("/", 1)[1])
    for stem, n in expected.items():
        own = {m for m in by_rule.get(stem, set()) if m.startswith(f"{stem}-")}
        assert own == {f"{stem}-pos-{i}" for i in range(n)}, stem
        assert not {m for m in by_rule.get(stem, set()) if "-neg-" in m and m.startswith(f"{stem}-")}
    secret = [
        h["_source"]
        for h in hits
        if h["_source"]["rule"]["category"] == "mcpeeker_agent_committed_secret_in_mcp_config"
    ]
    assert secret[0]["mcpeeker"]["evidence"]["type"] == "attack"
    assert secret[0]["mcpeeker"]["attack"]["type"] == "committed_secret"
    # a second run overwrites the same documents instead of adding new ones
    assert mcpeeker_main(["sigma", "run", "--since", "1h"] + _conn(os_settings)) == 0
    assert len(_matches(os_client, os_settings)) == len(hits)


def test_rules_fire_on_real_agent_evidence(linux_home, os_settings, os_client):
    """Agent scan -> --ship (through the ingest normaliser) -> sigma run: the data model agrees end to end."""
    env = {
        **os.environ,
        "MCPEEKER_SITE_KEY": SITE_KEY,
        "MCPEEKER_URL": os_settings.url,
        "MCPEEKER_INDEX_PREFIX": os_settings.index_prefix,
    }
    res = subprocess.run(
        [
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
            "--ship-cluster",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert mcpeeker_main(["sigma", "run", "--since", "1h"] + _conn(os_settings)) == 0
    fired: dict[str, set[str]] = {}
    for h in _matches(os_client, os_settings):
        src = h["_source"]
        fired.setdefault(src["rule"]["category"], set()).add(src["mcp"]["config"]["server_name"])
    assert fired["mcpeeker_agent_committed_secret_in_mcp_config"] == {
        "github",
        "db-tools@~/src/shop",
        "remote-api",
        "brave",
        "docs",
    }
    assert fired["mcpeeker_agent_unknown_mcp_server_package"] == {
        "perplexity",
        "db-tools@~/src/shop",
        "brave",
        "jira",
        "Browser",
    }
    assert {"github", "shop-api", "company-wiki", "docs"} <= fired["file_event_lnx_mcp_client_config_write"]


def test_sigma_rerun_after_a_rollover_overwrites_instead_of_duplicating(os_settings, os_client):
    from mcpeeker import lifecycle

    now = datetime.now(timezone.utc)
    rule = RULES[0]
    pos, _neg = samples(rule)
    for i, doc in enumerate(pos):
        os_client.index(
            index=os_settings.index("mcp-events"),
            id=f"{rule.stem}-pos-{i}",
            body={**doc, "@timestamp": now.isoformat()},
        )
    os_client.indices.refresh(index=os_settings.index("mcp-events-*"))
    assert mcpeeker_main(["sigma", "run", "--since", "1h"] + _conn(os_settings)) == 0
    first = {h["_id"]: h["_index"] for h in _matches(os_client, os_settings)}
    assert first
    rolled = lifecycle.rollover(os_client, os_settings, force=True)
    assert rolled.rolled_over
    assert mcpeeker_main(["sigma", "run", "--since", "1h"] + _conn(os_settings)) == 0
    again = _matches(os_client, os_settings)
    assert {h["_id"]: h["_index"] for h in again} == first and len(again) == len(first)
