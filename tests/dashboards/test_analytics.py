"""`mcpeeker analytics …` on a real node over the seeded data: numbers checked against the seeded documents."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from mcpeeker import cli

from .seed import HOSTS, Seeded

pytestmark = pytest.mark.opensearch


def _run(seeded: Seeded, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    code = cli.main(
        ["analytics", *args, "--json", "--url", seeded.settings.url, "--index-prefix", seeded.settings.index_prefix]
    )
    assert code == 0
    return json.loads(capsys.readouterr().out)


def test_summary(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    result = _run(seeded, capsys, "summary")
    classes = Counter(f["classification"] for f in seeded.findings)
    assert result["findings"] == len(seeded.findings)
    assert result["by_classification"] == {c: classes.get(c, 0) for c in ("authorized", "suspect", "unauthorized")}
    assert result["unregistered"] == sum(1 for f in seeded.findings if not f["registry"]["match"])
    assert result["with_attack_evidence"] == sum(1 for f in seeded.findings if f["evidence"].get("attack"))
    assert result["hosts"] == len({f["host"]["id"] for f in seeded.findings if "id" in f.get("host", {})})
    attacks = Counter(a for f in seeded.findings for a in f.get("attack", {}).get("types", []))
    assert result["attack_types"] == dict(attacks) and attacks
    assert result["by_classification"]["authorized"] >= 2  # the two servers approved in the registry


def test_score_distribution(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    result = _run(seeded, capsys, "score-distribution")
    assert sum(b["count"] for b in result) == len(seeded.findings)
    expected = Counter(float(f["score"]) for f in seeded.findings)
    assert {b["score"]: b["count"] for b in result if b["count"]} == expected
    scores = [b["score"] for b in result]
    assert scores == sorted(scores) and scores[0] == min(expected) and scores[-1] == max(expected)


def _first_seen_since(seeded: Seeded, days: int) -> list[dict[str, Any]]:
    """Findings inside `--days N` (from midnight N days ago): replayed pcaps keep their capture time, so they age out."""
    since = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%d")
    return [f for f in seeded.findings if f["first_seen"][:10] >= since]


def test_trendlines_per_day(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    result = _run(seeded, capsys, "trendlines", "--interval", "1d")
    per_day = {b["date"][:10]: b["new_findings"] for b in result if b["new_findings"]}
    expected = Counter(f["first_seen"][:10] for f in _first_seen_since(seeded, days=30))
    assert per_day == expected
    assert len(result) >= 30  # empty days are present (extended bounds), so the line has no gaps
    hourly = _run(seeded, capsys, "trendlines", "--interval", "12h", "--days", "7")
    assert sum(b["new_findings"] for b in hourly) == len(_first_seen_since(seeded, days=7)) > 0


def test_trendlines_rejects_a_bad_interval(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        [
            "analytics",
            "trendlines",
            "--interval",
            "daily",
            "--url",
            seeded.settings.url,
            "--index-prefix",
            seeded.settings.index_prefix,
        ]
    )
    assert code == 2
    assert "--interval" in capsys.readouterr().err


def test_coverage(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    result = _run(seeded, capsys, "coverage")
    assert result["hosts_known"] == len(seeded.scans_by_host)
    assert result["hosts_reporting"] == len(seeded.scans_by_host)  # every host scanned within the day
    assert result["scans"] == sum(seeded.scans_by_host.values())
    assert result["scan_errors"] == 1
    by_host = {h["host_id"]: h for h in result["hosts"]}
    broken = by_host[HOSTS["ds-ws-07"]["id"]]
    assert broken["scan_errors"] == 1 and "permission denied" in broken["last_error"]
    assert {h: by_host[h]["scans"] for h in by_host} == seeded.scans_by_host
    assert all(h["reporting"] for h in result["hosts"])
    last = [datetime.fromisoformat(h["last_scan"].replace("Z", "+00:00")) for h in result["hosts"]]
    assert last == sorted(last)  # stalest first
    narrow = _run(seeded, capsys, "coverage", "--hours", "1")
    # alice-laptop (30 min ago) and the fixture home (scanned during seeding); the others are older
    assert narrow["hosts_reporting"] == 2


def test_tables_render(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    for analytic in ("summary", "score-distribution", "trendlines", "coverage"):
        assert (
            cli.main(
                ["analytics", analytic, "--url", seeded.settings.url, "--index-prefix", seeded.settings.index_prefix]
            )
            == 0
        )
    out = capsys.readouterr().out
    for title in ("MCPeeker summary", "Score distribution", "New findings", "Agent coverage"):
        assert title in out
