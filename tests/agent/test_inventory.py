"""`mcpeeker-agent inventory`: the configured stdio servers are started (real SDK servers), listed with the official
SDK client, never called; the config's env reaches them only when allowed; a changed tool is a rug pull."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from paths import SITE_KEY

from .conftest import validate_report

HERE = Path(__file__).parent
PY = sys.executable
CHANGED = "Add two integers and return their sum (changed wording)."


def make_config(tmp_path: Path, servers: dict) -> tuple[Path, Path]:
    root = tmp_path / "root"
    home = root / "home" / "alice"
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"mcpServers": servers}, indent=2))
    return root, home


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.key"
    path.write_text(SITE_KEY)
    path.chmod(0o600)
    return path


def inventory(tmp_path: Path, key_file: Path, root: Path, home: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = [PY, "-m", "mcpeeker_agent.cli", "inventory", "--home", str(home), "--root", str(root), "--os", "linux"]
    argv += ["--client", "claude_desktop", "--site-key-file", str(key_file), "--machine-id", "inventory-test"]
    argv += ["-o", str(tmp_path / "evidence.ndjson"), "--tools-state", str(tmp_path / "tools.json"), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180)


def evidence(tmp_path: Path) -> list[tuple[dict, dict]]:
    out = []
    for line in (tmp_path / "evidence.ndjson").read_text().splitlines():
        report = json.loads(line)
        validate_report(report)
        out += [(report, e) for e in report["evidence"]]
    return out


def test_env_only_when_allowed_rug_pull_and_no_tool_called(tmp_path: Path, key_file: Path) -> None:
    record = str(tmp_path / "wire")
    server = {
        "command": PY,
        "args": [str(HERE / "byte_recorder.py"), record, "--", PY, str(HERE / "mcp_stdio_server.py"), "rugpull"],
        "env": {"DEMO_ADD_DESCRIPTION": CHANGED},
    }
    root, home = make_config(tmp_path, {"demo": server})
    first = inventory(tmp_path, key_file, root, home)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("claude_desktop\tdemo\t3 tool(s)\t")
    wire = Path(record + ".c2s").read_bytes()
    assert b'"tools/list"' in wire and b'"tools/call"' not in wire  # listed, never called
    second = inventory(tmp_path, key_file, root, home, "--allow-env")
    assert second.returncode == 0, second.stderr
    items = [e for _r, e in evidence(tmp_path)]
    assert [e["risk"] for e in items] == [[], ["rug_pull"]]  # the env (the new description) only when allowed
    assert items[1]["tools"]["changed_tools"] == ["add"] and items[1]["tools"]["source"] == "inventory"
    assert items[0]["tools"]["server_info_name"] == "mcpeeker-stdio-demo"
    # issue #19: the changed description itself goes along, for the judge to score
    assert items[1]["tools"]["tool_descriptions"]["add"] == CHANGED


def test_poisoned_server_and_a_silent_one(tmp_path: Path, key_file: Path) -> None:
    servers = {
        "poison": {"command": PY, "args": [str(HERE / "mcp_stdio_server.py"), "poisoned"]},
        "silent": {"command": PY, "args": ["-c", "import time; time.sleep(60)"]},
        "remote": {"url": "https://mcp.example.invalid/mcp"},
    }
    root, home = make_config(tmp_path, servers)
    done = inventory(tmp_path, key_file, root, home, "--timeout", "12")
    assert done.returncode == 1  # one server did not answer
    assert "silent\tnot listed: no tools/list answer within 12 s" in done.stderr
    assert "remote" in done.stderr and "needs --remote" in done.stderr
    ((report, item),) = evidence(tmp_path)
    assert item["risk"] == ["tool_poisoning"] and item["tools"]["poisoned_tools"] == ["add"]
    assert report["errors"] == [
        {"where": "inventory:claude_desktop:silent", "error": "no tools/list answer within 12 s"}
    ]
