"""The triage timings on the real node (mcpeeker.cases.lifecycle.timings): acknowledged_at / resolved_at and the
seconds to them from the finding's opening, kept across correlation cycles, cleared and restarted by a reopening
(an analyst's, or the cycle's on new attack evidence)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpeeker.cases.lifecycle import TIMING_FIELDS, set_status
from mcpeeker.client import make_client
from mcpeeker.correlate.instances import finding_id
from mcpeeker.sensors.suricata import run_suricata
from mcpeeker.settings import Settings
from mcpeeker.timeutil import parse_iso

from cases.world import (
    ANALYST,
    ATTACK_IP,
    ATTACK_PCAP,
    ATTACK_PORT,
    HOST_A,
    RULES,
    agent_report,
    correlate,
    finding,
    ingest,
    ingest_report,
    key_of,
)

KEY = key_of(HOST_A, ATTACK_PORT)
FID = finding_id(KEY)


def _seconds(start: str, end: str) -> int:
    return round((parse_iso(end) - parse_iso(start)).total_seconds())


@pytest.fixture(scope="module")
def attack_eve(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_suricata(ATTACK_PCAP, RULES, tmp_path_factory.mktemp("suricata"))


def test_timings_follow_the_rounds(os_settings: Settings, attack_eve: Path, tmp_path: Path) -> None:
    settings, client = os_settings, make_client(os_settings)
    ingest_report(settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT), "first")
    correlate(settings)
    fresh = finding(settings, KEY)
    assert not any(name in fresh["finding"] for name in TIMING_FIELDS)  # nobody has looked at it yet

    acked = set_status(settings, client, FID, "acknowledged", ANALYST, "looking")
    head = finding(settings, KEY)["finding"]
    assert head["acknowledged_at"] == acked.at and "resolved_at" not in head
    assert head["time_to_acknowledge"] == _seconds(fresh["first_seen"], acked.at) >= 0

    resolved = set_status(settings, client, FID, "resolved", ANALYST, "removed")
    head = finding(settings, KEY)["finding"]
    assert head["acknowledged_at"] == acked.at, "the first acknowledgement stays"
    assert head["resolved_at"] == resolved.at
    assert head["time_to_resolve"] == _seconds(fresh["first_seen"], resolved.at) >= head["time_to_acknowledge"]
    # Closed -> closed (resolved -> false_positive) keeps the first resolution.
    set_status(settings, client, FID, "false_positive", ANALYST, "it was the lab")
    assert finding(settings, KEY)["finding"]["resolved_at"] == resolved.at

    # A correlation cycle with new plain evidence rebuilds the finding and keeps every timing.
    ingest_report(settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT, pid=5000), "plain")
    correlate(settings)
    kept = finding(settings, KEY)["finding"]
    assert {n: kept.get(n) for n in TIMING_FIELDS} == {n: head.get(n) for n in TIMING_FIELDS}

    # An analyst reopens: a new round, counted from the reopening.
    reopened = set_status(settings, client, FID, "open", ANALYST, "came back")
    head = finding(settings, KEY)["finding"]
    assert head["opened_at"] == reopened.at
    assert not any(head.get(n) for n in ("acknowledged_at", "resolved_at", "time_to_acknowledge", "time_to_resolve"))
    closed = set_status(settings, client, FID, "accepted_risk", ANALYST, "isolated lab")
    head = finding(settings, KEY)["finding"]
    # Straight from open to a closed status: acknowledged and resolved at once, from the reopening.
    assert head["acknowledged_at"] == head["resolved_at"] == closed.at
    assert head["time_to_acknowledge"] == head["time_to_resolve"] == _seconds(reopened.at, closed.at)

    # New attack evidence reopens it in the cycle: the cycle starts the next round the same way.
    ingest(settings, "suricata", attack_eve, tmp_path)
    cycle = correlate(settings)
    head = finding(settings, KEY)["finding"]
    assert cycle.reopened == (FID,) and head["status"] == "open"
    assert head["opened_at"] == head["reopened_at"]
    assert not any(head.get(n) for n in ("acknowledged_at", "resolved_at", "time_to_acknowledge", "time_to_resolve"))
    again = set_status(settings, client, FID, "acknowledged", ANALYST, "on it")
    head = finding(settings, KEY)["finding"]
    assert head["time_to_acknowledge"] == _seconds(head["reopened_at"], again.at)
