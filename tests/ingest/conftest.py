"""Fixtures of real sensor output for the ingest tests: Zeek 7 logs of public traces (tests/data/zeek-logs), the
logs Zeek writes with our package over the project pcaps, eve.json written by Suricata over the project pcaps, and
reports written by the mcpeeker-agent over a fixture home."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mcpeeker.ingest.normalise import Context

from paths import DATA_DIR, PCAP_DIR as PCAPS, REPO_ROOT, SITE_KEY, ZEEK_SCRIPTS, require_zeek

# Zeek 7.0.11's own output of 19 public traces, both writers (a copy of shared/zeek-logs, README inside).
ZEEK_LOGS = DATA_DIR / "zeek-logs"
RULES = REPO_ROOT / "suricata" / "mcp.rules"
ZEEK_WRITERS = ("json", "tsv")


@pytest.fixture(scope="session")
def zeek_logs() -> Path:
    assert (ZEEK_LOGS / "json").is_dir() and (ZEEK_LOGS / "tsv").is_dir(), f"{ZEEK_LOGS}: real Zeek logs missing"
    return ZEEK_LOGS


@pytest.fixture(scope="session")
def zeek_mcp_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """writer ("json", "tsv") -> pcap name -> the directory of logs Zeek wrote with our package over that pcap.

    `zeek -D -C -r PCAP zeek/scripts` (and again with LogAscii::use_json=T) for every labelled pcap; -D seeds
    Zeek's random numbers with zero, so both runs give each connection the same uid."""
    from mcpeeker.sensors.zeek import run_zeek

    zeek = require_zeek()
    base = tmp_path_factory.mktemp("zeek-mcp")
    entries = json.loads((PCAPS / "labels.json").read_text())["pcaps"]
    jobs = [(writer, entry["file"]) for writer in ZEEK_WRITERS for entry in entries]

    def run(job: tuple[str, str]) -> Path:
        writer, name = job
        out = base / writer / Path(name).stem
        run_zeek(PCAPS / name, out, binary=zeek, json=writer == "json", scripts=ZEEK_SCRIPTS, options=("-D",))
        return out

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        dirs = list(pool.map(run, jobs))
    runs: dict[str, dict[str, Path]] = {writer: {} for writer in ZEEK_WRITERS}
    for (writer, name), out in zip(jobs, dirs):
        runs[writer][name] = out
    return runs


@pytest.fixture(scope="session")
def ctx() -> Context:
    return Context(index_prefix="t-", site_key=SITE_KEY.encode())


@pytest.fixture(scope="session")
def labels() -> dict:
    return json.loads((PCAPS / "labels.json").read_text())


def _suricata_eves(out: Path, rules: Path) -> dict[str, Path]:
    if shutil.which("suricata") is None:
        pytest.fail("suricata is not installed: run scripts/install-suricata.sh (Suricata 7 is required in CI)")
    from mcpeeker.sensors.suricata import run_suricata

    eves = {}
    for pcap in sorted(PCAPS.glob("*.pcap")):
        eves[pcap.name] = run_suricata(pcap, rules, out / pcap.stem)
    if not eves:
        pytest.fail(f"no pcaps in {PCAPS}")
    return eves


@pytest.fixture(scope="session")
def eve_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """pcap name -> eve.json Suricata wrote for it with our rules."""
    return _suricata_eves(tmp_path_factory.mktemp("eve"), RULES)


@pytest.fixture(scope="session")
def eve_foreign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """eve.json with alerts of a rule that is not ours (a plain 'any HTTP POST' signature)."""
    out = tmp_path_factory.mktemp("eve-foreign")
    rules = out / "foreign.rules"
    rules.write_text(
        'alert http any any -> any any (msg:"ET TEST any HTTP POST"; flow:established,to_server; '
        'http.method; content:"POST"; classtype:misc-activity; sid:1000001; rev:1;)\n'
    )
    return _suricata_eves(out, rules)


@pytest.fixture(scope="session")
def agent_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """NDJSON written by the real `mcpeeker-agent scan` over a home with two configured servers."""
    base = tmp_path_factory.mktemp("agent")
    home = base / "home"
    (home / ".cursor").mkdir(parents=True)
    (home / ".cursor" / "mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "gh": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-github", "--token", "ghp_" + "a1" * 18],
                        "env": {"GITHUB_TOKEN": "ghp_" + "b2" * 18},
                    },
                    "remote": {"url": "https://mcp.example.com/mcp?api_key=supersecret123"},
                }
            }
        )
    )
    out = base / "report.ndjson"
    with open(out, "wb") as fh:
        for _ in range(2):  # two scans: the second sees the same configs unchanged
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mcpeeker_agent.cli",
                    "scan",
                    "--home",
                    str(home),
                    "--no-processes",
                    "--no-listeners",
                    "--site-key",
                    SITE_KEY,
                    "--state",
                    str(base / "state.json"),
                ],
                stdout=fh,
                check=True,
                timeout=120,
            )
    return out
