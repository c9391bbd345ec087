"""`mcpeeker analytics fp-rate` on the real node: verdicts given through `mcpeeker feedback` on findings the real
pipeline made, counted per catalogue detection (newest judging verdict per finding), beside the < 10 % target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpeeker.analytics import FP_RATE_TARGET, NO_DETECTION
from mcpeeker.cases.queries import FindingFilter, search_findings
from mcpeeker.cases.suppressions import detections_of
from mcpeeker.client import make_client
from mcpeeker.correlate.instances import finding_id
from mcpeeker.sensors.suricata import run_suricata
from mcpeeker.settings import Settings

from cases.world import (
    ATTACK_IP,
    ATTACK_PCAP,
    ATTACK_PORT,
    B_IP,
    B_PORT,
    HOST_A,
    HOST_B,
    RULES,
    agent_report,
    cli,
    correlate,
    ingest,
    ingest_report,
    key_of,
)

pytestmark = pytest.mark.opensearch
FID_A, FID_B = finding_id(key_of(HOST_A, ATTACK_PORT)), finding_id(key_of(HOST_B, B_PORT))


@pytest.fixture
def judged(os_settings: Settings, tmp_path: Path) -> Settings:
    """A: attacked (command injection, MCP-ATK-004). B: an exposed listener (MCP-POS-003). Verdicts through the CLI:
    A true_positive then false_positive (the newest counts), B true_positive then needs_info (judges nothing)."""
    eve = run_suricata(ATTACK_PCAP, RULES, tmp_path / "suricata")
    ingest_report(os_settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT), "a")
    ingest_report(os_settings, tmp_path, agent_report(HOST_B, B_IP, B_PORT, risks=("exposed_listener",)), "b")
    ingest(os_settings, "suricata", eve, tmp_path)
    correlate(os_settings)
    for fid, verdict in (
        (FID_A, "true_positive"),
        (FID_B, "true_positive"),
        (FID_A, "false_positive"),
        (FID_B, "needs_info"),
    ):
        given = cli(os_settings, "feedback", fid, "--verdict", verdict, "--note", "test", identity="analyst")
        assert given.returncode == 0, given.stderr
    return os_settings


def test_fp_rate_per_detection_from_cli_verdicts(judged: Settings) -> None:
    settings = judged
    result = cli(settings, "analytics", "fp-rate", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {r["detection"]: r for r in report["detections"]}
    assert report["target"] == FP_RATE_TARGET == 0.10
    # Command injection was judged once, and its newest verdict says false positive: 100 %, target missed.
    assert rows["MCP-ATK-004"] == {
        "detection": "MCP-ATK-004",
        "judged": 1,
        "false_positive": 1,
        "rate": 1.0,
        "target": 0.1,
        "meets_target": False,
    }
    # The exposed listener: judged once (needs_info judges nothing), true positive: 0 %, target met.
    assert (rows["MCP-POS-003"]["judged"], rows["MCP-POS-003"]["false_positive"]) == (1, 0)
    assert rows["MCP-POS-003"]["rate"] == 0.0 and rows["MCP-POS-003"]["meets_target"] is True
    # Every row agrees with the findings as stored; unjudged findings (and their detections) are not counted.
    findings = {f["finding"]["id"]: f for f in search_findings(settings, make_client(settings), FindingFilter())}
    newest = {FID_A: "false_positive", FID_B: "true_positive"}
    expected: dict[str, tuple[int, int]] = {}
    for fid, verdict in newest.items():
        for det in sorted(detections_of(findings[fid])) or [NO_DETECTION]:
            judged_n, false_n = expected.get(det, (0, 0))
            expected[det] = (judged_n + 1, false_n + (verdict == "false_positive"))
    assert {d: (r["judged"], r["false_positive"]) for d, r in rows.items()} == expected
    assert report["all"]["judged"] == 2 and report["all"]["false_positive"] == 1 and report["all"]["rate"] == 0.5
    assert report["verdicts_on_missing_findings"] == 0

    table = cli(settings, "analytics", "fp-rate")
    assert table.returncode == 0, table.stderr
    assert "False-positive rate per detection" in table.stdout
    line = next(line for line in table.stdout.splitlines() if "MCP-ATK-004" in line)
    assert "100.0%" in line and "< 10%" in line and "NO" in line
