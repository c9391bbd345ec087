"""`mcpeeker replay` prints its 'MCP servers seen' table with the column picker `finding list` uses
(cli/_columns.py): at 80 columns instance, server, host and attacks stay whole (wrapped, never cut), at 200 every
column shows on one line. Real Suricata and Zeek over five captures of tests/pcaps, nothing indexed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from paths import REPO_ROOT, SITE_KEY, missing, require_zeek

PCAPS = (
    "attack_command_injection_py2026.pcap",
    "attack_tool_poisoning_ts2026.pcap",
    "mcp2024_py_sse_legacy.pcap",
    "mcp2025_ref_fetch_mcpproxy.pcap",
    "mcp2025_rust_rmcp_docling.pcap",
)
ATTACKS = ("command_injection", "tool_poisoning", "unauthenticated")  # the attack types labels.json can name
EVERY = ["instance", "server", "host", "attacks", "seen by", "transport", "era", "evidence"]


@dataclass
class Printed:
    lines: list[str]  # the table, title to bottom border
    headers: list[str]
    cells: dict[str, dict[str, list[str]]]  # instance -> header -> the cell's lines

    def text(self, instance: str, header: str) -> str:
        """A cell's value without its spaces (lines break after a space or after punctuation)."""
        return "".join(self.cells[instance][header]).replace(" ", "")


def labels() -> dict[str, tuple[str, list[str]]]:
    """instance key -> (host name, expected attack types) as the captures' generator recorded them."""
    found = {}
    for pcap in json.loads((REPO_ROOT / "tests" / "pcaps" / "labels.json").read_text())["pcaps"]:
        if pcap["file"] in PCAPS:
            server = pcap["server"]
            attacks = sorted(a for a in pcap["expected"] if a in ATTACKS)
            found[f"net:{server['ip']}:{server['port']}"] = (str(server["host"]), attacks)
    return found


def replay(columns: int, work: Path) -> Printed:
    """`mcpeeker replay --no-index` in a terminal `columns` wide: its 'MCP servers seen' table, parsed."""
    zeek = require_zeek()
    if not Path("/usr/bin/suricata").exists():
        missing("/usr/bin/suricata not found: scripts/install-debs.sh installs Suricata 7")
    env = {
        **os.environ,
        "PATH": f"{zeek.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": str(columns),
        "MCPEEKER_SITE_KEY": SITE_KEY,
        "MCPEEKER_STATE_DIR": str(work / "state"),
    }
    pcaps = [str(REPO_ROOT / "tests" / "pcaps" / p) for p in PCAPS]
    run = subprocess.run(
        [sys.executable, "-m", "mcpeeker.cli", "replay", *pcaps, "--no-index", "--keep", str(work / f"out-{columns}")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("MCP servers seen"))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("└"))
    block = lines[start : end + 1]
    headers = [c.strip() for c in block[2].strip("┃").split("┃")]
    rows: list[list[list[str]]] = []
    for line in block[4:-1]:
        parts = [c.strip() for c in line.strip("│").split("│")]
        if parts[0]:
            rows.append([[p] if p else [] for p in parts])
        else:  # the same row goes on: its cells' next lines
            for cell, part in zip(rows[-1], parts):
                cell.extend([part] if part else [])
    cells = {row[0][0]: dict(zip(headers, row)) for row in rows}
    return Printed(block, headers, cells)


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Printed]:
    work = tmp_path_factory.mktemp("replay")
    return {columns: replay(columns, work) for columns in (80, 200)}


def test_80_columns_keep_instance_server_host_and_attacks_whole(printed: dict[int, Printed]) -> None:
    narrow, wide = printed[80], printed[200]
    assert max(len(line) for line in narrow.lines) <= 80
    assert narrow.headers == ["instance", "server", "host", "attacks"]
    assert not any("…" in line for line in narrow.lines), "nothing is cut"
    expected = labels()
    assert set(narrow.cells) == set(expected), "one row per server, each instance key whole on its line"
    for instance, (host, attacks) in expected.items():
        assert narrow.cells[instance]["instance"] == [instance]
        assert narrow.text(instance, "host") == host
        shown = narrow.text(instance, "attacks").split(",")
        assert sorted(shown) == attacks, (instance, shown)
        for header in ("server", "host", "attacks"):  # the same value as on a wide terminal, wrapped
            assert narrow.text(instance, header) == wide.text(instance, header), (instance, header)
    assert any(len(cell) > 1 for row in narrow.cells.values() for cell in row.values()), "long values wrapped"


def test_200_columns_show_every_column_on_one_line(printed: dict[int, Printed]) -> None:
    wide = printed[200]
    assert wide.headers == EVERY
    assert max(len(line) for line in wide.lines) <= 200
    for instance, row in wide.cells.items():
        assert all(len(cell) == 1 for cell in row.values()), (instance, row)
        assert set(row["seen by"][0].split(", ")) == {"suricata", "zeek"}
        assert row["attacks"][0] == ", ".join(labels()[instance][1])
