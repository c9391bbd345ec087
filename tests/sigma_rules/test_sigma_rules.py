"""Every Sigma rule: SigmaHQ-clean, converts for OpenSearch and Elasticsearch, and its converted query
matches every positive sample and no negative one in the real local OpenSearch node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .sigma_support import RULES, SIGMA, TEST_DATA, backend, convert, leaf_fields, load_rule, mapped_fields, samples

RULE_IDS = [p.stem for p in RULES]


def test_rules_and_test_data_pair_up():
    assert len(RULES) >= 11
    assert {p.stem for p in RULES} == {d.name for d in TEST_DATA.iterdir() if d.is_dir()}


def test_sigma_check_reports_nothing(tmp_path):
    """`sigma check` with the SigmaHQ validators, offline: pySigma's data cache is seeded from the repo."""
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run(
        [sys.executable, str(SIGMA / "tools" / "seed_pysigma_cache.py"), "--home", str(tmp_path)], check=True, env=env
    )
    sigma_cli = Path(sys.executable).with_name("sigma")
    res = subprocess.run(
        [str(sigma_cli), "check", "--fail-on-issues", str(SIGMA)], capture_output=True, text=True, env=env, timeout=300
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Found 0 errors, 0 condition errors and 0 issues." in res.stdout


def test_sigma_check_catches_a_bad_rule(tmp_path):
    """The check above can fail: a rule with a SigmaHQ naming problem is reported."""
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run(
        [sys.executable, str(SIGMA / "tools" / "seed_pysigma_cache.py"), "--home", str(tmp_path)], check=True, env=env
    )
    bad = tmp_path / "rules"
    bad.mkdir()
    text = RULES[0].read_text().replace("proc_creation", "x")
    (bad / "proc_creation_lin_wrong_prefix.yml").write_text(text)
    sigma_cli = Path(sys.executable).with_name("sigma")
    res = subprocess.run(
        [str(sigma_cli), "check", "--fail-on-issues", str(bad)], capture_output=True, text=True, env=env, timeout=300
    )
    assert res.returncode != 0
    assert "SigmahqFilenamePrefixIssue" in res.stdout


@pytest.mark.parametrize("target", ["opensearch_lucene", "lucene"])
@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_rule_converts(rule, target):
    query = convert(rule, target)
    assert query and ("event.dataset:" in query or "event.module:agent" in query)


@pytest.mark.parametrize("rule", [r for r in RULES if "_win_" in r.name or "_macos_" in r.name], ids=lambda r: r.stem)
def test_rule_converts_with_stock_ecs_pipelines(rule):
    """Users whose EDR data is ECS use the stock pipelines instead of ours."""
    from sigma.collection import SigmaCollection
    from sigma.plugins import InstalledSigmaPlugins

    plugins = InstalledSigmaPlugins.autodiscover()
    names = ["sysmon", "ecs_windows"] if "_win_" in rule.name else ["ecs_macos_esf"]
    resolver = plugins.get_pipeline_resolver()
    pipe = resolver.resolve(names)
    queries = backend("lucene", pipe).convert(SigmaCollection.from_yaml(rule.read_text()))
    assert queries and all(queries)
    assert "mcpeeker" not in queries[0] and "agent.process" not in queries[0]


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_samples_are_data_model_documents(rule):
    known = mapped_fields()
    pos, neg = samples(rule)
    assert pos and neg
    for doc in pos + neg:
        assert doc["event"]["module"] and doc["event"]["dataset"] and doc["@timestamp"]
        unmapped = leaf_fields(doc) - known
        assert not unmapped, f"{rule.stem}: fields not in the mcp-events template: {unmapped}"
    loaded = load_rule(rule)
    assert loaded.title and loaded.id


@pytest.mark.opensearch
@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_rule_matches_positives_not_negatives(rule, os_settings, os_client):
    pos, neg = samples(rule)
    index = os_settings.index("mcp-events-2026.11.23")
    for kind, docs in (("pos", pos), ("neg", neg)):
        for i, doc in enumerate(docs):
            os_client.index(index=index, id=f"{kind}-{i}", body=doc)
    os_client.indices.refresh(index=index)
    for target in ("opensearch_lucene", "lucene"):
        query = convert(rule, target)
        res = os_client.search(index=index, body={"size": 100, "query": {"query_string": {"query": query}}})
        hits = {h["_id"] for h in res["hits"]["hits"]}
        assert hits == {f"pos-{i}" for i in range(len(pos))}, f"{target}: {query}"
