"""Added / removed / changed servers between scans, via the state file."""

from __future__ import annotations

import json

from .conftest import scan_home


def _changes(report):
    return {
        (e["config"]["client"], e["config"]["server_name"]): e["config"]["change"]
        for e in report["evidence"]
        if e["type"] == "file"
    }


def test_change_tracking(linux_home, tmp_path):
    state = tmp_path / "state" / "state.json"
    first = _changes(scan_home(linux_home, state_path=state))
    assert set(first.values()) == {"added"}
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    assert set(_changes(scan_home(linux_home, state_path=state)).values()) == {"unchanged"}

    desktop = linux_home.home / ".config" / "Claude" / "claude_desktop_config.json"
    data = json.loads(desktop.read_text())
    data["mcpServers"]["filesystem"]["args"].append("/srv")
    del data["mcpServers"]["github"]
    data["mcpServers"]["new-one"] = {"command": "uvx", "args": ["mcp-server-time"]}
    desktop.write_text(json.dumps(data))
    third = scan_home(linux_home, state_path=state)
    changes = _changes(third)
    assert changes[("claude_desktop", "filesystem")] == "changed"
    assert changes[("claude_desktop", "github")] == "removed"
    assert changes[("claude_desktop", "new-one")] == "added"
    assert changes[("cursor", "playwright")] == "unchanged"
    removed = [e for e in third["evidence"] if e["config"].get("change") == "removed"]
    assert removed[0]["score"] == 0.0 and removed[0]["instance_key"].endswith(":cfg:claude_desktop:github")


def test_unreadable_file_does_not_remove_its_servers(linux_home, tmp_path):
    state = tmp_path / "state.json"
    scan_home(linux_home, state_path=state)
    (linux_home.home / ".cursor" / "mcp.json").write_text("{ broken")
    changes = _changes(scan_home(linux_home, state_path=state))
    assert ("cursor", "playwright") not in changes  # neither reported nor removed
    (linux_home.home / ".cursor" / "mcp.json").unlink()
    changes = _changes(scan_home(linux_home, state_path=state))
    assert changes[("cursor", "playwright")] == "removed"  # it existed before the broken scan


def test_corrupt_state_file_starts_fresh(linux_home, tmp_path):
    state = tmp_path / "state.json"
    state.write_bytes(b"\x00garbage")
    report = scan_home(linux_home, state_path=state)
    assert any(e["where"] == "state" for e in report["errors"])
    assert set(_changes(report).values()) == {"added"}
