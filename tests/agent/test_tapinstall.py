"""`mcpeeker-agent tap install|uninstall` on the fixture homes of every client and OS layout the agent supports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcpeeker_agent.clients import Layout, default_table
from mcpeeker_agent.servers import iter_definitions
from mcpeeker_agent.tapinstall import (
    BACKUP_SUFFIX,
    Changed,
    candidates,
    install_file,
    is_wrapped,
    replace_if_unchanged,
    snapshot,
    uninstall_file,
)

from .homes import make_home


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpeeker_agent.cli", "tap", *args], capture_output=True, text=True, timeout=60
    )


def home_args(home) -> list[str]:
    return ["--home", str(home.home), "--root", str(home.root), "--os", home.os]


def config_files(home) -> dict[Path, bytes]:
    layout = Layout(home.os, home.home, home.root)
    return {path: path.read_bytes() for _spec, path in candidates(default_table(), layout, None)}


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_install_uninstall_round_trip_every_client(tmp_path: Path, os_name: str) -> None:
    home = make_home(tmp_path, os_name, extended=True)
    before = config_files(home)
    assert len(before) >= 5
    dry = cli("install", "--all", "--dry-run", *home_args(home))
    assert dry.returncode == 0, dry.stderr
    assert config_files(home) == before  # a dry run writes nothing
    done = cli("install", "--all", *home_args(home))
    assert done.returncode == 0, done.stderr
    table = default_table()
    layout = Layout(home.os, home.home, home.root)
    wrapped_clients: set[str] = set()
    for spec, path in candidates(table, layout, None):
        now = path.read_bytes()
        if now == before[path]:
            continue  # no stdio server, or JSONC with comments (skipped)
        original = json.loads(before[path])
        assert path.with_name(path.name + BACKUP_SUFFIX).read_bytes() == before[path]
        wrapped_clients.add(spec.client)
        new_defs = {name: d for name, _l, d in iter_definitions(json.loads(now), spec.all_keys())}
        for name, _label, old in iter_definitions(original, spec.all_keys()):
            new = new_defs[name]
            # Every other field stays; stdio entries start the tap with the original command after `--`.
            assert {k: v for k, v in new.items() if k not in ("command", "args")} == {
                k: v for k, v in old.items() if k not in ("command", "args")
            }
            if isinstance(old.get("command"), str) and not old.get("url"):
                assert is_wrapped(new)
                args = new["args"]
                assert args[args.index("--") + 1 :] == [old["command"], *old.get("args", [])]
                assert args[args.index("--client") + 1] == spec.client
            else:
                assert new == old
    assert len(wrapped_clients) >= 4, wrapped_clients
    installed = config_files(home)
    again = cli("install", "--all", *home_args(home))
    assert again.returncode == 0 and "wrapped" not in again.stdout.replace("unchanged", "")
    assert config_files(home) == installed  # a second install never wraps twice
    undo = cli("uninstall", "--all", *home_args(home))
    assert undo.returncode == 0, undo.stderr
    assert config_files(home) == before  # byte-identical
    assert not list(home.root.rglob("*" + BACKUP_SUFFIX))


def test_uninstall_after_an_edit_unwraps_and_keeps_the_edit(tmp_path: Path) -> None:
    home = make_home(tmp_path, "linux")
    assert cli("install", "--client", "claude_desktop", *home_args(home)).returncode == 0
    layout = Layout(home.os, home.home, home.root)
    spec, path = next((s, p) for s, p in candidates(default_table(), layout, {"claude_desktop"}))
    doc = json.loads(path.read_text())
    doc["theme"] = "dark"  # the user changed something else meanwhile
    path.write_text(json.dumps(doc, indent=2))
    result = uninstall_file(spec, path)
    assert result.action == "unwrapped" and result.servers
    after = json.loads(path.read_text())
    assert after["theme"] == "dark"
    assert not any(is_wrapped(d) for _n, _l, d in iter_definitions(after, spec.all_keys()))


def test_refuses_a_file_changed_since_it_was_read(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"a": {"command": "x"}}}\n')
    before = snapshot(path)
    path.write_text('{"mcpServers": {"a": {"command": "y"}}}\n')  # another writer got there first
    with pytest.raises(Changed):
        replace_if_unchanged(path, before, b"{}")
    assert path.read_text() == '{"mcpServers": {"a": {"command": "y"}}}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["mcp.json"]  # no temporary file left


def test_install_refuses_when_installed_already_and_skips_commented_jsonc(tmp_path: Path) -> None:
    home = make_home(tmp_path, "linux")
    layout = Layout(home.os, home.home, home.root)
    spec, path = next((s, p) for s, p in candidates(default_table(), layout, {"claude_desktop"}))
    prefix = ["/usr/bin/mcpeeker-agent"]
    assert install_file(spec, path, prefix).action == "wrapped"
    assert install_file(spec, path, prefix).action == "unchanged"  # already wrapped: nothing to do
    commented = tmp_path / "settings.json"
    commented.write_text('{\n  // a comment\n  "mcpServers": {"a": {"command": "x"}}\n}\n')
    assert install_file(spec, commented, prefix).action == "skipped"
