"""The judge in the correlation loop, on the real node: real Suricata over the project's captures, ingested with
the real CLI, correlated, judged, correlated again."""

from __future__ import annotations

import uuid
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pytest

from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.correlate.engine import Correlator
from mcpeeker.feedback import timeline
from mcpeeker.judge.config import JudgeConfig
from mcpeeker.judge.run import Judge
from mcpeeker.roles import Actor
from mcpeeker.settings import Settings

from cluster import drop_prefix, findings_by_key
from paths import AUDIT_KEY, PCAP_DIR, SITE_KEY, require_zeek

ADMIN = Actor("admin", "admin")
PCAPS = ("attack_tool_poisoning_py.pcap", "mcp2025_py_streamable_json_stateless.pcap")
POISONED = "net:10.20.0.6:8000"  # attack_tool_poisoning_py.pcap's server


@pytest.fixture(scope="module")
def world(os_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """`mcpeeker replay` of two captures through Suricata and Zeek (Zeek's mcp.log carries methods and tools)."""
    zeek = require_zeek()
    base = tmp_path_factory.mktemp("judge")
    settings = Settings(
        url=os_url,
        index_prefix=f"judge-{uuid.uuid4().hex[:8]}-",
        site_key=SITE_KEY,
        audit_key=AUDIT_KEY,
        identity="admin",
    )
    client = make_client(settings)
    indices.install(settings, client)
    env = {
        "MCPEEKER_SITE_KEY": SITE_KEY,
        "MCPEEKER_AUDIT_KEY": AUDIT_KEY,
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
        "MCPEEKER_ZEEK": str(zeek),
        "MCPEEKER_STATE_DIR": str(base / "state"),
    }
    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcpeeker.cli",
            "replay",
            *(str(PCAP_DIR / name) for name in PCAPS),
            "--keep",
            str(base / "out"),
            "--url",
            settings.url,
            "--index-prefix",
            settings.index_prefix,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert replay.returncode == 0, replay.stdout[-3000:] + replay.stderr[-3000:]
    client.indices.refresh(index=settings.index("mcp-events-*"))
    yield settings
    drop_prefix(client, settings.index_prefix)


def _judge_docs(settings: Settings) -> list[dict[str, Any]]:
    client = make_client(settings)
    client.indices.refresh(index=settings.index("mcp-events-*"))
    hits = client.search(
        index=settings.index("mcp-events-*"), body={"size": 100, "query": {"term": {"event.module": "judge"}}}
    )
    return [h["_source"] for h in hits["hits"]["hits"]]


def test_only_a_confident_mcp_verdict_scores(world: Settings) -> None:
    client = make_client(world)
    Correlator(world, client).run_once(ADMIN)
    before = findings_by_key(world)
    assert before[POISONED]["classification"] == "suspect" and "judge" not in before[POISONED]["evidence"]["types"]

    # A threshold no verdict reaches: judge evidence is written (context) and scores nothing.
    strict = Judge(world, client, JudgeConfig(min_confidence=1.0))
    run = strict.run_once()
    assert run.selected == len(before) and run.judged == len(before) and run.scoring == 0
    Correlator(world, client).run_once(ADMIN)
    assert findings_by_key(world)[POISONED]["score"] == before[POISONED]["score"]

    # The same evidence is judged once: the default threshold over the same inputs writes nothing new.
    again = Judge(world, client, JudgeConfig())
    assert again.run_once().cached == len(before)

    drop = {"query": {"term": {"event.module": "judge"}}}
    client.delete_by_query(index=world.index("mcp-events-*"), body=drop, refresh=True)
    run = Judge(world, client, JudgeConfig()).run_once()
    assert run.judged == len(before) and run.scoring == len(before), run
    Correlator(world, client).run_once(ADMIN)
    after = findings_by_key(world)
    finding = after[POISONED]
    assert finding["evidence"]["judge"] == 1 and "judge" in finding["evidence"]["types"]
    assert finding["score"] == before[POISONED]["score"] + 5 and finding["scoring"]["contributions"]["judge"] == 5.0

    docs = [d for d in _judge_docs(world) if d["mcpeeker"]["instance"]["key"] == POISONED]
    judged = docs[0]["mcpeeker"]["judge"]
    assert judged["verdict"] == "mcp" and judged["model"]["id"] == "mcpeeker-judge-local"
    assert judged["model"]["version"] and judged["input_hash"]
    # the timeline lists the judge evidence with its reasons
    rows = timeline(world, client, finding["finding"]["id"])
    judge_rows = [r for r in rows if r["kind"] == "evidence/judge"]
    assert judge_rows and "judge: mcp" in judge_rows[0]["detail"] and "saw " in judge_rows[0]["detail"]


def test_budget_and_changed_tool_definitions(world: Settings) -> None:
    client = make_client(world)
    Correlator(world, client).run_once(ADMIN)
    findings = findings_by_key(world)
    config = replace(JudgeConfig(), min_confidence=0.5, budget=1)
    # A new tool definition for one instance (the ingest writes the same fields from an agent's or Zeek's report)
    doc = {
        "@timestamp": "2026-01-01T00:00:00Z",
        "event": {"module": "zeek", "dataset": "zeek.mcp", "id": "judge-test-new-tools"},
        "mcpeeker": {"evidence": {"type": "network", "kind": "mcp"}, "instance": {"key": POISONED}},
        "mcp": {"tools": {"names": ["add", "export_all"], "hash": ["changed-definitions"]}},
    }
    client.index(index=world.index("mcp-events-write"), body=doc, refresh=True)
    run = Judge(world, client, config).run_once()
    assert run.judged == 1 and run.over_budget == 0 and run.cached == len(findings) - 1, run
    assert any("export_all" in json.dumps(d["mcpeeker"]["judge"]["tools"]) for d in _judge_docs(world))


def test_analyst_verdicts_become_examples(world: Settings) -> None:
    from mcpeeker.feedback import add_feedback
    from mcpeeker.judge.learn import feedback_examples

    client = make_client(world)
    Correlator(world, client).run_once(ADMIN)
    finding = findings_by_key(world)[POISONED]
    stored = add_feedback(world, client, ADMIN, finding["finding"]["id"], "true_positive", "the math server")
    client.indices.refresh(index=world.index("mcp-feedback"))
    rows = feedback_examples(world, client, Judge(world, client, JudgeConfig()))
    assert [r["id"] for r in rows] == [f"feedback:{stored['feedback_id']}"]
    assert rows[0]["label"] == "mcp" and stored["feedback_id"] in rows[0]["source"]
    assert "tools/list" in rows[0]["input"]["methods"]
