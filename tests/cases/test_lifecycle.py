"""A finding's status on the real node: every transition with its timeline row and audit record, verdicts that move
it, reopening on new attack evidence (and not on plain evidence), the status kept across re-scoring cycles and
across a status change made while a cycle runs, and what an approved registry entry does to an attacked server."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mcpeeker import audit
from mcpeeker.cases import lifecycle
from mcpeeker.cases.lifecycle import LifecycleError, set_status
from mcpeeker.client import make_client
from mcpeeker.correlate.engine import Correlator
from mcpeeker.correlate.instances import finding_id
from mcpeeker.feedback import SuppressRequest, give_verdict, timeline
from mcpeeker.registry.store import Registry
from mcpeeker.sensors.suricata import run_suricata
from mcpeeker.settings import Settings
from mcpeeker.timeutil import parse_iso, utcnow

from cases.world import (
    ADMIN,
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
    last_audit,
)

KEY = key_of(HOST_A, ATTACK_PORT)
FID = finding_id(KEY)


@pytest.fixture
def one_finding(os_settings: Settings, tmp_path: Path) -> Settings:
    """One unregistered server seen by its host's agent only (plain evidence, no attack)."""
    ingest_report(os_settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT), "first")
    correlate(os_settings)
    assert finding(os_settings, KEY)["finding"]["status"] == "open"
    return os_settings


@pytest.fixture(scope="module")
def attack_eve(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_suricata(ATTACK_PCAP, RULES, tmp_path_factory.mktemp("suricata"))


def _goto(settings: Settings, status: str) -> None:
    client = make_client(settings)
    current = finding(settings, KEY)["finding"]["status"]
    if current == status:
        return
    if current != "open" and status != "open":
        set_status(settings, client, FID, "open", ANALYST, "back to triage")
    set_status(settings, client, FID, status, ANALYST, f"to {status}")


def test_every_transition_is_written_with_timeline_and_audit(one_finding: Settings) -> None:
    settings, client = one_finding, make_client(one_finding)
    done = 0
    for old, targets in lifecycle.TRANSITIONS.items():
        for new in sorted(targets):
            _goto(settings, old)
            reason = f"case {old}->{new}"
            before = utcnow()
            change = set_status(settings, client, FID, new, ANALYST, reason)
            assert (change.old, change.new, change.by, change.reason) == (old, new, "analyst", reason)
            head = finding(settings, KEY)["finding"]
            assert head["status"] == new and head["status_changed_by"] == "analyst"
            assert head["status_reason"] == reason and parse_iso(head["status_changed_at"]) >= before.replace(
                microsecond=0
            )
            record = last_audit(settings)
            assert record["action"] == "finding.status" and record["object"] == {"type": "finding", "id": FID}
            assert record["actor"]["name"] == "analyst"
            assert json.loads(record["content_json"]) == {"from": old, "to": new, "reason": reason}
            rows = [r for r in timeline(settings, client, FID) if r["kind"] == "status"]
            assert rows[-1]["detail"] == f"{old} -> {new}: {reason}" and rows[-1]["source"] == "analyst"
            done += 1
    assert done == sum(len(t) for t in lifecycle.TRANSITIONS.values()) == 13

    # Every other pair is refused, naming the finding and what it may become, and changes nothing.
    for old in lifecycle.STATUSES:
        _goto(settings, old)
        for new in lifecycle.STATUSES:
            if new in lifecycle.TRANSITIONS[old]:
                continue
            seq = last_audit(settings)["seq"]
            with pytest.raises(LifecycleError, match=FID):
                set_status(settings, client, FID, new, ANALYST, "not allowed")
            assert finding(settings, KEY)["finding"]["status"] == old and last_audit(settings)["seq"] == seq
    with pytest.raises(LifecycleError, match="status must be one of"):
        set_status(settings, client, FID, "closed", ANALYST, "no such status")
    with pytest.raises(LifecycleError, match="needs a reason"):
        set_status(settings, client, FID, "open" if old != "open" else "resolved", ANALYST, "  ")
    with pytest.raises(LifecycleError, match="no finding"):
        set_status(settings, client, "f-nope", "resolved", ANALYST, "x")
    count, problems = audit.verify(settings, client)
    assert problems == [] and count >= 13


def test_verdicts_move_the_status_and_false_positive_suppresses(one_finding: Settings) -> None:
    settings, client = one_finding, make_client(one_finding)
    result = give_verdict(settings, client, ANALYST, FID, "needs_info", "asked the owner")
    assert result.status is None and finding(settings, KEY)["finding"]["status"] == "open"
    result = give_verdict(settings, client, ANALYST, FID, "true_positive", "real server")
    assert result.status is not None and result.status.new == "acknowledged"
    result = give_verdict(settings, client, ANALYST, FID, "benign", "lab box")
    assert result.status is not None and (result.status.old, result.status.new) == ("acknowledged", "accepted_risk")
    # accepted_risk may not become false_positive directly: the verdict is stored, the status stays.
    result = give_verdict(settings, client, ANALYST, FID, "false_positive", "it is a test double")
    assert result.status is None and finding(settings, KEY)["finding"]["status"] == "accepted_risk"
    set_status(settings, client, FID, "open", ANALYST, "second look")

    expires = utcnow().replace(microsecond=0)
    result = give_verdict(
        settings, client, ANALYST, FID, "false_positive", "scanner replay", SuppressRequest(expires + timedelta(days=7))
    )
    assert result.status is not None and result.status.new == "false_positive"
    assert result.suppression is not None and result.suppression.match.instance == KEY
    assert result.suppression.source_finding == FID and result.suppression.reason == "scanner replay"
    cycle = correlate(settings)
    head = finding(settings, KEY)["finding"]
    assert head["status"] == "false_positive" and head["suppressed"] is True
    assert head["suppression_ids"] == [result.suppression.suppression_id] and cycle.suppressed == 1
    kinds = [r["kind"] for r in timeline(settings, client, FID)]
    assert kinds.count("verdict") == 5 and kinds.count("status") == 4
    with pytest.raises(Exception, match="only a false_positive verdict"):
        give_verdict(settings, client, ANALYST, FID, "benign", "x", SuppressRequest(expires + timedelta(days=1)))
    assert audit.verify(settings, client)[1] == []


def test_reopen_on_new_attack_evidence_not_on_plain_evidence(
    one_finding: Settings, attack_eve: Path, tmp_path: Path
) -> None:
    settings, client = one_finding, make_client(one_finding)
    set_status(settings, client, FID, "resolved", ANALYST, "server shut down")
    seen = finding(settings, KEY)["evidence"]["endpoint"]

    # More plain evidence (another scan of the same listener): the finding is rebuilt but stays resolved.
    ingest_report(settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT, pid=5000), "plain")
    cycle = correlate(settings)
    after = finding(settings, KEY)
    assert cycle.written >= 1 and after["evidence"]["endpoint"] > seen and cycle.reopened == ()
    assert after["finding"]["status"] == "resolved" and after["finding"]["status_changed_by"] == "analyst"
    assert "reopened_at" not in after["finding"]

    # Network attack evidence (real Suricata over the command-injection capture, joined through the host's address).
    ingest(settings, "suricata", attack_eve, tmp_path)
    cycle = correlate(settings)
    reopened = finding(settings, KEY)
    head = reopened["finding"]
    assert cycle.reopened == (FID,)
    assert "command_injection" in reopened["attack"]["types"]
    assert head["status"] == "open" and head["status_changed_by"] == "admin" and head["reopened_at"]
    assert "new attack evidence" in head["reopen_reason"] and "command_injection" in head["reopen_reason"]
    assert head["status_reason"] == head["reopen_reason"]
    record = last_audit(settings)
    assert record["action"] == "finding.reopen" and json.loads(record["content_json"])["from"] == "resolved"
    rows = [r for r in timeline(settings, client, FID) if r["kind"] == "reopened"]
    assert len(rows) == 1 and "command_injection" in rows[0]["detail"]

    # Accepted as a risk; the next cycles re-score (registry change, full rescore) and keep it.
    set_status(settings, client, FID, "accepted_risk", ANALYST, "lab server, isolated")
    assert correlate(settings).written == 0
    correlator = Correlator(settings, client)
    state = correlator.read_state()
    correlator.write_state({k: v for k, v in state.items() if k not in ("registry_entries", "suppressions_fp")})
    correlator.run_once(ADMIN)
    assert finding(settings, KEY)["finding"]["status"] == "accepted_risk"

    # New attack evidence of a kind it had not seen (the agent flags the listener as exposed) reopens it again.
    report = agent_report(HOST_A, ATTACK_IP, ATTACK_PORT, risks=("exposed_listener",), pid=6000)
    ingest_report(settings, tmp_path, report, "exposed")
    cycle = correlate(settings)
    head = finding(settings, KEY)["finding"]
    assert cycle.reopened == (FID,) and head["status"] == "open"
    assert "exposed_listener" in head["reopen_reason"] and "attack types not seen before" in head["reopen_reason"]
    assert audit.verify(settings, client)[1] == []


def test_status_survives_rescoring_and_a_change_made_while_the_cycle_runs(
    one_finding: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, client = one_finding, make_client(one_finding)
    set_status(settings, client, FID, "acknowledged", ANALYST, "looking")
    ingest_report(settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT, pid=5001), "more")
    assert correlate(settings).written == 1
    assert finding(settings, KEY)["finding"]["status"] == "acknowledged"

    # An analyst resolves the finding after the cycle read it and before it writes: the cycle keeps the change.
    ingest_report(settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT, pid=5002), "again")
    seen = finding(settings, KEY)["evidence"]["endpoint"]
    write = Correlator.write

    def analyst_meanwhile(self: Correlator, *args: Any, **kwargs: Any) -> None:
        set_status(settings, client, FID, "resolved", ANALYST, "fixed meanwhile")
        write(self, *args, **kwargs)

    monkeypatch.setattr(Correlator, "write", analyst_meanwhile)
    correlate(settings)
    stored = finding(settings, KEY)
    assert stored["evidence"]["endpoint"] > seen, "the cycle's evidence was written"
    assert stored["finding"]["status"] == "resolved" and stored["finding"]["status_reason"] == "fixed meanwhile"


def test_approved_entry_resolves_unregistered_but_keeps_attack_evidence(
    one_finding: Settings, attack_eve: Path, tmp_path: Path
) -> None:
    settings, client = one_finding, make_client(one_finding)
    ingest(settings, "suricata", attack_eve, tmp_path)
    correlate(settings)
    before = finding(settings, KEY)
    assert before["classification"] == "unauthorized" and before["severity"] == "critical"
    set_status(settings, client, FID, "acknowledged", ANALYST, "asking the owner")

    registry = Registry(settings, client, ADMIN)
    entry = registry.add(
        {"owner": "alice", "purpose": "devops helper", "host": {"id": HOST_A}, "server": {"port": ATTACK_PORT}}
    )
    registry.apply(entry["entry_id"], "approve")
    correlate(settings)
    after = finding(settings, KEY)
    # The "unregistered" part is resolved: authorized, matched to the approved entry ...
    assert after["classification"] == "authorized" and after["registry"]["match"] is True
    assert after["registry"]["entry_id"] == entry["entry_id"] and "suggested_entry" not in after
    # ... the attack part is not: its evidence, severity and summary stay, and so does the analyst's status.
    assert "command_injection" in after["attack"]["types"] and after["severity"] == "critical"
    assert after["evidence"]["attack"] == before["evidence"]["attack"] > 0
    assert after["evidence"]["refs_by_type"]["attack"] == before["evidence"]["refs_by_type"]["attack"]
    assert "attacks: " in after["finding"]["summary"] and "command_injection" in after["finding"]["summary"]
    assert after["finding"]["status"] == "acknowledged" and after["trust"]["score"] < 100


def test_a_network_finding_merging_into_its_host_hands_over_its_status(
    os_settings: Settings, attack_eve: Path, tmp_path: Path
) -> None:
    """Seen on the wire first, then by the host's agent: the host finding keeps the analyst's status."""
    settings, client = os_settings, make_client(os_settings)
    ingest(settings, "suricata", attack_eve, tmp_path)
    correlate(settings)
    net_key = f"net:{ATTACK_IP}:{ATTACK_PORT}"
    net_id = finding_id(net_key)
    set_status(settings, client, net_id, "accepted_risk", ANALYST, "known pentest target")

    ingest_report(settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT), "agent")
    cycle = correlate(settings)
    assert cycle.deleted == 1 and cycle.reopened == ()
    assert not client.exists(index=settings.index("mcp-findings"), id=net_id)
    merged = finding(settings, KEY)
    assert net_key in merged["instance"]["raw_keys"]
    head = merged["finding"]
    assert head["status"] == "accepted_risk" and head["status_reason"] == "known pentest target"
    assert head["status_changed_by"] == "analyst"
