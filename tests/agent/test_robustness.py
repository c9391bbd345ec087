"""Bad files and a moving system become per-item errors, never a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from mcpeeker_agent import jsonc
from mcpeeker_agent.parsers import ParseError, parse, read_text
from mcpeeker_agent.scanner import ScanOptions, Scanner

from .conftest import scan_home, validate_report

CURSOR = (".cursor", "mcp.json")


def _errors_for(report: dict, suffix: str) -> list[str]:
    return [e["error"] for e in report["errors"] if e["where"].endswith(suffix)]


def _cursor(home):
    return home.home.joinpath(*CURSOR)


def test_huge_file_is_capped(linux_home):
    _cursor(linux_home).write_text('{"mcpServers": {}, "pad": "' + "x" * 5000 + '"}')
    report = scan_home(linux_home, max_bytes=1000)
    assert any("too large" in e for e in _errors_for(report, ".cursor/mcp.json"))
    assert ("claude_desktop", "github", "user") in {
        (e["config"]["client"], e["config"]["server_name"], e["config"]["scope"])
        for e in report["evidence"]
        if e["type"] == "file"
    }


def test_binary_garbage(linux_home):
    _cursor(linux_home).write_bytes(os.urandom(2048) + b"\x00\xff")
    (linux_home.home / ".kiro" / "settings" / "mcp.json").write_bytes(b"\xff\xfe{\x81\x82 not utf8")
    report = scan_home(linux_home)
    assert "binary content (NUL bytes)" in _errors_for(report, ".cursor/mcp.json")
    assert any("not UTF-8" in e for e in _errors_for(report, ".kiro/settings/mcp.json"))


def test_deep_nesting(linux_home):
    _cursor(linux_home).write_text("[" * 200_000 + "]" * 200_000)
    deep = {"mcpServers": {"x": {"command": "a"}}}
    node = deep
    for _ in range(100):
        node["n"] = {}
        node = node["n"]
    (linux_home.home / ".kiro" / "settings" / "mcp.json").write_text(json.dumps(deep))
    report = scan_home(linux_home)
    assert any("nesting" in e or "deep" in e for e in _errors_for(report, ".cursor/mcp.json"))
    assert any("nesting deeper than the cap" in e for e in _errors_for(report, ".kiro/settings/mcp.json"))


def test_yaml_alias_bomb():
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
        for i in range(8)
    )
    with pytest.raises(ParseError, match="too large"):
        parse(bomb, "yaml")


def test_syntax_errors_name_the_line(linux_home):
    (linux_home.home / ".codex" / "config.toml").write_text("[mcp_servers.x]\ncommand = \n")
    (linux_home.home / ".continue" / "config.yaml").write_text("mcpServers:\n  - name: [unclosed\n")
    (linux_home.home / ".claude.json").write_text('{\n  "mcpServers": {\n    "a": }\n}')
    report = scan_home(linux_home)
    assert any("invalid TOML" in e for e in _errors_for(report, ".codex/config.toml"))
    assert any("invalid YAML at line" in e for e in _errors_for(report, ".continue/config.yaml"))
    assert any("invalid JSON at line 3" in e for e in _errors_for(report, ".claude.json"))


def test_symlink_loop_and_dangling_link(linux_home):
    target = _cursor(linux_home)
    target.unlink()
    target.symlink_to(target)  # points at itself
    kiro = linux_home.home / ".kiro" / "settings" / "mcp.json"
    kiro.unlink()
    kiro.symlink_to(linux_home.home / "gone.json")  # vanished target
    loop_dir = linux_home.home / "src" / "shop" / "loop"
    loop_dir.symlink_to(linux_home.home / "src")  # directory loop in the project tree
    report = scan_home(linux_home)
    assert "symlink loop" in _errors_for(report, ".cursor/mcp.json")
    assert "file vanished during scan" in _errors_for(report, ".kiro/settings/mcp.json")


def test_permission_denied(linux_home):
    """Run the scan as an unprivileged user (fork + setuid when we are root) on an unreadable file."""
    path = _cursor(linux_home)
    path.chmod(0o000)
    for parent in [linux_home.home, *linux_home.home.parents]:
        if str(parent) in ("/", "/tmp"):
            break
        parent.chmod(0o755)
    os.chmod(linux_home.home / ".cursor", 0o755)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            report = Scanner(
                ScanOptions(
                    homes=[linux_home.home],
                    os_name="linux",
                    root=linux_home.root,
                    processes=False,
                    listeners=False,
                    state_path=None,
                    machine_id="m",
                ),
                b"k",
            ).run()
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.waitpid(pid, 0)
    report = json.loads(data)
    validate_report(report)
    assert "permission denied" in _errors_for(report, ".cursor/mcp.json")


def test_file_rewritten_while_scanning(linux_home):
    """A writer replaces a config in a loop: every scan still returns a valid report."""
    path = _cursor(linux_home)
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            if i % 3 == 0:
                path.unlink(missing_ok=True)
            else:
                path.write_text(json.dumps({"mcpServers": {f"s{i}": {"command": "npx", "args": ["x" * (i % 500)]}}}))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(30):
            report = scan_home(linux_home)
            for err in _errors_for(report, ".cursor/mcp.json"):
                assert err in {"file vanished during scan", "file changed while it was read (twice)"} or err.startswith(
                    "invalid JSON"
                )
    finally:
        stop.set()
        thread.join()


def test_processes_exiting_mid_scan(linux_home):
    """Short-lived MCP-looking processes start and exit during process scans."""
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            procs = [subprocess.Popen([sys.executable, "-c", "pass", "mcp-server-churn"]) for _ in range(5)]
            for p in procs:
                p.wait()

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            scan_home(linux_home, processes=True, listeners=True)
    finally:
        stop.set()
        thread.join()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_jsonc_is_a_superset_of_json(value):
    text = json.dumps(value, indent=1)
    assert jsonc.loads(text) == value


def test_jsonc_comments_and_trailing_commas():
    text = '{"url": "http://x//y", "s": "a,}/*b*/", // c\n "l": [1, 2, /* x */], /* end */}'
    assert jsonc.loads(text) == {"url": "http://x//y", "s": "a,}/*b*/", "l": [1, 2]}
    with pytest.raises(json.JSONDecodeError):
        jsonc.loads('{"a": 1 /* never closed')


def test_read_text_refuses_growing_file(tmp_path):
    path = tmp_path / "f.json"
    path.write_text("{}")
    text, info = read_text(str(path))
    assert text == "{}" and info.size == 2
