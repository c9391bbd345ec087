"""`mcpeeker finding list` filters and the case commands on the real node, through the real CLI where it matters:
each filter keeps what it names, and status changes and suppressions need the analyst role (approval stays admin)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from mcpeeker.cases import suppressions as sup
from mcpeeker.cases.lifecycle import set_status
from mcpeeker.cases.queries import FindingFilter, search_findings
from mcpeeker.client import make_client
from mcpeeker.correlate.instances import finding_id
from mcpeeker.roles import PermissionDenied, authorize
from mcpeeker.sensors.suricata import run_suricata
from mcpeeker.settings import Settings
from mcpeeker.timeutil import utcnow

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
    cli,
    correlate,
    finding,
    ingest,
    ingest_report,
    key_of,
)

KEY_A, KEY_B = key_of(HOST_A, ATTACK_PORT), key_of(HOST_B, B_PORT)
FID_A, FID_B = finding_id(KEY_A), finding_id(KEY_B)


@pytest.fixture(scope="module")
def attack_eve(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_suricata(ATTACK_PCAP, RULES, tmp_path_factory.mktemp("suricata"))


@pytest.fixture
def world(os_settings: Settings, attack_eve: Path, tmp_path: Path) -> Settings:
    ingest_report(os_settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT), "a")
    ingest_report(os_settings, tmp_path, agent_report(HOST_B, B_IP, B_PORT), "b")
    ingest(os_settings, "suricata", attack_eve, tmp_path)
    correlate(os_settings)
    return os_settings


def _ids(settings: Settings, **where: object) -> set[str]:
    found = search_findings(settings, make_client(settings), FindingFilter(**where))  # type: ignore[arg-type]
    return {f["finding"]["id"] for f in found}


def test_every_filter_keeps_what_it_names(world: Settings) -> None:
    settings, client = world, make_client(world)
    a, b = finding(settings, KEY_A), finding(settings, KEY_B)
    assert a["severity"] == "critical" and b["severity"] != "critical"
    assert _ids(settings) == {FID_A, FID_B}
    assert _ids(settings, severity=("critical",)) == {FID_A}
    assert _ids(settings, severity=(b["severity"],)) == {FID_B}
    assert _ids(settings, classification=(a["classification"],)) >= {FID_A}
    assert _ids(settings, classification=("authorized",)) == set()
    set_status(settings, client, FID_B, "resolved", ANALYST, "decommissioned")
    assert _ids(settings, status=("resolved",)) == {FID_B}
    assert _ids(settings, status=("open", "acknowledged")) == {FID_A}
    assert _ids(settings, host=HOST_A) == {FID_A} and _ids(settings, host=B_IP) == {FID_B}
    assert _ids(settings, host="10.99.0.1") == set()
    assert _ids(settings, since=utcnow() - timedelta(hours=1)) == {FID_A, FID_B}
    assert _ids(settings, since=utcnow() + timedelta(hours=1)) == set()
    assert _ids(settings, until=utcnow() - timedelta(days=1)) == set()
    # Free text: case-insensitive, in the summary, attack types, status reason ...
    assert _ids(settings, text="COMMAND_INJECTION") == {FID_A}
    assert _ids(settings, text="decommission") == {FID_B}
    assert _ids(settings, text="*") == set(), "wildcards in the text are literal"
    sup.add(settings, client, ANALYST, sup.Match(host=HOST_B), "soc", "lab", utcnow() + timedelta(days=1))
    correlate(settings)
    assert _ids(settings, suppressed=True) == {FID_B} and _ids(settings, suppressed=False) == {FID_A}
    assert _ids(settings, suppressed=True, status=("open",)) == set()


def test_cli_filters_status_and_suppress_commands(world: Settings) -> None:
    settings = world
    listed = cli(settings, "finding", "list", "--json", "--severity", "critical", "--no-suppressed")
    assert listed.returncode == 0, listed.stderr
    assert [f["finding"]["id"] for f in json.loads(listed.stdout)] == [FID_A]

    changed = cli(settings, "finding", "status", FID_A, "acknowledged", "--reason", "on it", identity="analyst")
    assert changed.returncode == 0, changed.stderr
    assert "open -> acknowledged by analyst" in changed.stdout
    listed = cli(settings, "finding", "list", "--json", "--status", "acknowledged", "--text", "Command_Injection")
    assert [f["finding"]["id"] for f in json.loads(listed.stdout)] == [FID_A]
    table = cli(settings, "finding", "list", "--status", "acknowledged")
    assert table.returncode == 0 and "acknowledged" in table.stdout and FID_B not in table.stdout
    shown = cli(settings, "finding", "show", FID_A)
    assert "status acknowledged (by analyst" in shown.stdout and "open -> acknowledged: on it" in shown.stdout

    # acknowledged -> false_positive is allowed; false_positive -> resolved is not.
    moved = cli(settings, "finding", "status", FID_A, "false_positive", "--reason", "x", identity="analyst")
    assert moved.returncode == 0, moved.stderr
    refused = cli(settings, "finding", "status", FID_A, "resolved", "--reason", "x", identity="analyst")
    assert refused.returncode == 2 and "is false_positive: it may become open, not resolved" in refused.stderr

    added = cli(
        settings,
        "suppress",
        "add",
        "--network",
        "10.30.0.0/16",
        "--reason",
        "lab",
        "--expires",
        "7d",
        identity="analyst",
    )
    assert added.returncode == 0, added.stderr
    rule_id = added.stdout.split()[1].rstrip(":")
    listed = cli(settings, "suppress", "list", "--json", identity="analyst")
    rules = json.loads(listed.stdout)
    assert [(r["suppression_id"], r["owner"], r["match"], r["active"]) for r in rules] == [
        (rule_id, "analyst", {"network": "10.30.0.0/16"}, True)
    ]
    too_long = cli(
        settings, "suppress", "add", "--host", HOST_A, "--reason", "x", "--expires", "400d", identity="analyst"
    )
    assert too_long.returncode == 2 and "more than 90 days" in too_long.stderr
    cycle = cli(settings, "correlate", "--once")
    assert cycle.returncode == 0 and ", 1 suppressed, 0 reopened" in cycle.stderr, cycle.stderr
    muted = cli(settings, "finding", "list", "--json", "--suppressed")
    assert [f["finding"]["id"] for f in json.loads(muted.stdout)] == [FID_B]
    removed = cli(settings, "suppress", "remove", rule_id, "--note", "lab gone", identity="analyst")
    assert removed.returncode == 0, removed.stderr
    correlate(settings)
    assert finding(settings, KEY_B)["finding"]["suppressed"] is False

    # false_positive verdict + suppression in one step.
    fp = cli(
        settings,
        "feedback",
        FID_B,
        "--verdict",
        "false_positive",
        "--note",
        "replayed traffic",
        "--suppress",
        "--expires",
        "14d",
        identity="analyst",
    )
    assert fp.returncode == 0, fp.stderr
    assert "status open -> false_positive" in fp.stdout and "suppression sup-" in fp.stdout
    correlate(settings)
    head = finding(settings, KEY_B)["finding"]
    assert head["status"] == "false_positive" and head["suppressed"] is True


def test_roles_status_and_suppressions_need_an_analyst(world: Settings) -> None:
    settings = world
    for args in (
        ("finding", "status", FID_A, "resolved", "--reason", "x"),
        ("suppress", "add", "--host", HOST_A, "--reason", "x", "--expires", "1d"),
        ("suppress", "list"),
        ("suppress", "remove", "sup-000000000000"),
    ):
        refused = cli(settings, *args, identity="developer")
        action = "finding.status" if args[0] == "finding" else f"suppress.{args[1]}"
        assert refused.returncode == 2 and f"may not {action}" in refused.stderr, (args, refused.stderr)
    assert finding(settings, KEY_A)["finding"]["status"] == "open"
    assert sup.load(settings, make_client(settings)) == []
    analyst = replace(settings, identity="analyst")
    for action in ("finding.status", "suppress.add", "suppress.remove"):
        assert authorize(analyst, action).role == "analyst"
    with pytest.raises(PermissionDenied, match="may not registry.approve"):
        authorize(analyst, "registry.approve")
    approve = cli(settings, "registry", "approve", "reg-nope", identity="analyst")
    assert approve.returncode == 2 and "may not registry.approve" in approve.stderr
