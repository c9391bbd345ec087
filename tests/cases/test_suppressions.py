"""Suppressions on the real node: each matcher mutes the finding it names and not the other one, a muted finding
stays stored and counted, an expired or removed rule stops applying at the next cycle, and bad rules are refused
with the field named."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mcpeeker import audit
from mcpeeker.cases import suppressions as sup
from mcpeeker.cases.queries import FindingFilter, count_findings
from mcpeeker.client import make_client
from mcpeeker.sensors.suricata import run_suricata
from mcpeeker.sensors.zeek import run_zeek
from mcpeeker.settings import Settings
from mcpeeker.timeutil import iso, utcnow

from paths import require_zeek

from cases.world import (
    ANALYST,
    ATTACK_IP,
    ATTACK_PCAP,
    ATTACK_PORT,
    B_IP,
    B_PORT,
    HOST_A,
    HOST_B,
    RULES,
    agent_report,
    correlate,
    finding,
    ingest,
    ingest_report,
    key_of,
)

KEY_A, KEY_B = key_of(HOST_A, ATTACK_PORT), key_of(HOST_B, B_PORT)


@pytest.fixture(scope="module")
def attack_eve(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_suricata(ATTACK_PCAP, RULES, tmp_path_factory.mktemp("suricata"))


@pytest.fixture
def two_findings(os_settings: Settings, attack_eve: Path, tmp_path: Path) -> Settings:
    """A: the command-injection server (agent + Suricata: tools, attack); B: a plain listener on another network."""
    ingest_report(os_settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT), "a")
    ingest_report(os_settings, tmp_path, agent_report(HOST_B, B_IP, B_PORT), "b")
    ingest(os_settings, "suricata", attack_eve, tmp_path)
    cycle = correlate(os_settings)
    assert cycle.findings_total == 2 and cycle.suppressed == 0
    a = finding(os_settings, KEY_A)
    assert "command_injection" in a["attack"]["types"]
    assert finding(os_settings, KEY_B)["finding"]["suppressed"] is False
    return os_settings


def _muted(settings: Settings) -> dict[str, list[str]]:
    out = {}
    for key in (KEY_A, KEY_B):
        head = finding(settings, key)["finding"]
        if head["suppressed"]:
            out[key] = head["suppression_ids"]
    return out


def _in_a_week() -> datetime:
    return utcnow() + timedelta(days=7)


def test_each_matcher_mutes_what_it_names_only(two_findings: Settings) -> None:
    settings, client = two_findings, make_client(two_findings)
    cases = [
        (sup.Match(host=HOST_A), sup.Match(host="c3" * 32)),
        (sup.Match(instance=KEY_A), sup.Match(instance=key_of(HOST_A, 9999))),
        (sup.Match(detection="MCP-ATK-004"), sup.Match(detection="MCP-ATK-001")),
        (sup.Match(network="10.20.0.0/24"), sup.Match(network="192.168.0.0/16")),
        (sup.Match(host=HOST_A, detection="MCP-ATK-004"), sup.Match(host=HOST_B, detection="MCP-ATK-004")),
    ]
    for positive, negative in cases:
        miss = sup.add(settings, client, ANALYST, negative, "soc", "does not match", _in_a_week())
        cycle = correlate(settings)
        assert _muted(settings) == {} and cycle.suppressed == 0, negative
        hit = sup.add(settings, client, ANALYST, positive, "soc", "known lab server", _in_a_week())
        cycle = correlate(settings)
        assert _muted(settings) == {KEY_A: [hit.suppression_id]}, positive
        # Muted, still stored and counted.
        assert cycle.suppressed == 1 and cycle.findings_total == 2
        assert count_findings(settings, client, FindingFilter(suppressed=True)) == 1
        assert count_findings(settings, client, FindingFilter()) == 2
        for rule in (hit, miss):
            sup.remove(settings, client, ANALYST, rule.suppression_id, "next case")
        correlate(settings)
        assert _muted(settings) == {}, f"removed {positive} still applies"
    # B's address range mutes B alone; two rules on one finding are both named.
    b_rule = sup.add(settings, client, ANALYST, sup.Match(network="10.30.0.0/16"), "soc", "lab net", _in_a_week())
    host_rule = sup.add(settings, client, ANALYST, sup.Match(host=HOST_B), "soc", "lab host", _in_a_week())
    correlate(settings)
    assert _muted(settings) == {KEY_B: sorted([b_rule.suppression_id, host_rule.suppression_id])}
    assert audit.verify(settings, client)[1] == []


def test_tool_matcher_on_zeek_tool_names(two_findings: Settings, tmp_path: Path) -> None:
    """Tool names come from Zeek's MCP analyzer (Suricata has none): Zeek over the same capture, ingested."""
    settings, client = two_findings, make_client(two_findings)
    logs = run_zeek(ATTACK_PCAP, tmp_path / "zeek", binary=require_zeek())
    for log in logs:
        ingest(settings, "zeek", log, tmp_path)
    correlate(settings)
    tools = finding(settings, KEY_A)["mcp"]["tools"]["names"]
    assert tools, "zeek saw the tool catalogue"
    miss = sup.add(settings, client, ANALYST, sup.Match(tool="no_such_tool"), "soc", "r", _in_a_week())
    assert correlate(settings).suppressed == 0 and _muted(settings) == {}
    hit = sup.add(settings, client, ANALYST, sup.Match(tool=tools[0]), "soc", "r", _in_a_week())
    assert correlate(settings).suppressed == 1 and _muted(settings) == {KEY_A: [hit.suppression_id]}
    combined = sup.add(settings, client, ANALYST, sup.Match(host=HOST_B, tool=tools[0]), "soc", "r", _in_a_week())
    correlate(settings)
    assert _muted(settings) == {KEY_A: [hit.suppression_id]}, f"{combined} needs both host B and the tool"
    assert miss.suppression_id not in str(_muted(settings))


def test_expired_rule_stops_applying_next_cycle(two_findings: Settings) -> None:
    settings, client = two_findings, make_client(two_findings)
    rule = sup.add(settings, client, ANALYST, sup.Match(host=HOST_A), "soc", "maintenance window", _in_a_week())
    correlate(settings)
    assert _muted(settings) == {KEY_A: [rule.suppression_id]}
    assert correlate(settings).written == 0, "an unchanged rule set writes nothing"
    # A week passes: the stored rule's expiry is behind us (as Registry tests age entries).
    doc = {**rule.to_doc(), "expires": iso(utcnow() - timedelta(seconds=1))}
    client.index(index=settings.index("mcp-suppressions"), id=rule.suppression_id, body=doc, refresh="wait_for")
    cycle = correlate(settings)
    assert _muted(settings) == {} and cycle.suppressed == 0 and cycle.written == 1
    stored = sup.load(settings, client)
    assert [r.suppression_id for r in stored] == [rule.suppression_id], "an expired rule is kept, not applied"
    assert sup.active(stored, utcnow()) == []


def test_bad_rules_are_refused_naming_the_field(two_findings: Settings) -> None:
    settings, client = two_findings, make_client(two_findings)
    week = _in_a_week()
    for match, owner, reason, expires, message in [
        (sup.Match(), "soc", "r", week, "at least one of"),
        (sup.Match(network="10.0.0.0/33"), "soc", "r", week, "network: '10.0.0.0/33'"),
        (sup.Match(detection="MCP-NOPE-1"), "soc", "r", week, "detection: 'MCP-NOPE-1'"),
        (sup.Match(host=HOST_A), "", "r", week, "needs an owner"),
        (sup.Match(host=HOST_A), "soc", " ", week, "needs a reason"),
        (sup.Match(host=HOST_A), "soc", "r", utcnow() - timedelta(minutes=1), "in the past"),
        (sup.Match(host=HOST_A), "soc", "r", utcnow() + timedelta(days=91), "more than 90 days"),
    ]:
        with pytest.raises(sup.SuppressionError, match=message):
            sup.add(settings, client, ANALYST, match, owner, reason, expires)
    assert sup.load(settings, client) == []
    now = utcnow()
    assert sup.parse_expiry("30d", now) == now + timedelta(days=30)
    assert sup.parse_expiry("2031-01-02", now).isoformat().startswith("2031-01-02T00:00")
    with pytest.raises(sup.SuppressionError, match="expires: 'soon'"):
        sup.parse_expiry("soon", now)
