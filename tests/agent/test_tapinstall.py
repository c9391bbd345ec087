"""`mcpeeker-agent tap install|uninstall` on the fixture homes of every client and OS layout the agent supports."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from json5.tokenizer import JSONLexer

from mcpeeker_agent.clients import FileSpec, Layout, default_table
from mcpeeker_agent.parsers import parse
from mcpeeker_agent.servers import iter_definitions
from mcpeeker_agent.tapformats import command_target
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

from .conftest import configs, scan_home
from .homes import make_home

# Clients whose configs are JSON with comments, TOML or YAML: skipped by the tap installer before it kept comments.
COMMENTED_OR_NOT_JSON = {"cursor", "zed", "vscode", "codex", "goose", "continue"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpeeker_agent.cli", "tap", *args], capture_output=True, text=True, timeout=60
    )


def home_args(home) -> list[str]:
    return ["--home", str(home.home), "--root", str(home.root), "--os", home.os]


def config_files(home) -> dict[Path, bytes]:
    layout = Layout(home.os, home.home, home.root)
    return {path: path.read_bytes() for _spec, path in candidates(default_table(), layout, None)}


def read(spec: FileSpec, data: bytes):
    """The file as the scanner reads it."""
    return parse(data.decode("utf-8").removeprefix("\ufeff"), spec.format)


def comments(data: bytes, fmt: str) -> list[str]:
    text = data.decode("utf-8")
    if fmt in ("json", "jsonc"):
        found = [t.value for t in JSONLexer().tokenize(text) if t.type in ("LINE_COMMENT", "BLOCK_COMMENT")]
    else:  # TOML and YAML: `#` at a line start or after white space (no fixture string holds " #")
        found = re.findall(r"(?:^|(?<=\s))#[^\r\n]*", text, re.M)
    return sorted(c.strip() for c in found)


def _client_file(home, client: str, name: str) -> Path:
    layout = Layout(home.os, home.home, home.root)
    return next(p for s, p in candidates(default_table(), layout, {client}) if p.name == name)


def add_demanding_configs(home) -> None:
    """Configs as people hand-edit them: JSONC with CRLF line endings, a BOM, trailing commas and comments inside
    the args array (Cursor); TOML with inline tables, dotted keys, literal strings and a commented multi-line array
    (a Codex profile file); YAML with anchors, a merge key, an aliased args list and comments (Goose, Continue)."""
    cursor = _client_file(home, "cursor", "mcp.json")
    cursor.write_bytes(
        (
            "\ufeff// team servers\r\n{\r\n"
            '  "mcpServers": {\r\n'
            '    "playwright": {\r\n'
            '      "command": "npx", // the runner\r\n'
            '      "args": [\r\n'
            '        "@playwright/mcp@latest", // pinned later\r\n'
            '        /* headless */ "--headless",\r\n'
            "      ],\r\n"
            "    },\r\n"
            '    "bare": { "command": "bare-mcp" /* no args */ },\r\n'
            '    "oneline": { "command": "npx -y @acme/one-mcp" },\r\n'
            '    "empty": { "command": "uvx", "args": [ /* none yet */ ], "env": {}, },\r\n'
            '    "remote": { "url": "https://mcp.example.com/mcp", },\r\n'
            "  },\r\n"
            "}\r\n"
        ).encode()
    )
    (home.home / ".codex" / "team.config.toml").write_text(
        """# the team's Codex profile
model = "o4-mini"  # default model

[mcp_servers]
inline = { command = 'uvx', args = ['mcp-server-time', "--tz=UTC"] }  # inline table
remote = { url = "https://mcp.example.com/codex" }

[mcp_servers.plain]
command = "plain-mcp"

# the docs server
[mcp_servers.docs]
command = "docs-server"  # local build
args = [
  "--port", # the port
  "4000",
]
env = { "API_KEY" = "not-a-secret" }

[mcp_servers.sub.deep]
x = 1
""",
        encoding="utf-8",
    )
    (home.home / ".codex" / "dotted.config.toml").write_text(
        '# dotted keys\nmcp_servers.kv.command = "kv-mcp"\nmcp_servers.kv.args = ["--ro"] # read only\n',
        encoding="utf-8",
    )
    _client_file(home, "goose", "config.yaml").write_text(
        """# goose settings
GOOSE_PROVIDER: openai
x-stdio: &stdio
  enabled: true
  type: stdio
  timeout: 300
common-args: &common
  - --verbose  # loud
extensions:
  developer:
    enabled: true
    name: developer
    type: builtin
  fetch:
    <<: *stdio
    name: fetch
    cmd: uvx  # via uv
    args:
      - mcp-server-fetch  # the server
      - --ignore-robots-txt
    envs: {}
  shared:
    <<: *stdio
    name: shared
    cmd: shared-mcp
    args: *common
  plain:
    cmd: plain-mcp  # no args
    # how long it may take
    timeout: 60
""",
        encoding="utf-8",
    )
    _client_file(home, "continue", "config.yaml").write_text(
        """name: my assistant  # shown in the sidebar
version: 0.0.1
models: []
mcpServers:
  # local tools
  - name: SQLite
    command: uvx
    args:
      - mcp-server-sqlite  # the package
      - --db-path
      - /tmp/test.db
  - name: Remote
    type: streamable-http
    url: https://mcp.example.com/continue
""",
        encoding="utf-8",
    )


@pytest.mark.parametrize("variant", ["fixture", "demanding"])
@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_install_uninstall_round_trip_every_client(tmp_path: Path, os_name: str, variant: str) -> None:
    home = make_home(tmp_path, os_name, extended=True)
    if variant == "demanding":
        add_demanding_configs(home)
    before = config_files(home)
    assert len(before) >= 5
    seen_before = set(configs(scan_home(home)))
    dry = cli("install", "--all", "--dry-run", *home_args(home))
    assert dry.returncode == 0, dry.stderr
    assert config_files(home) == before  # a dry run writes nothing
    done = cli("install", "--all", *home_args(home))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refused" not in done.stdout, done.stdout
    table = default_table()
    layout = Layout(home.os, home.home, home.root)
    wrapped_clients: set[str] = set()
    for spec, path in candidates(table, layout, None):
        now = path.read_bytes()
        old_defs = {name: d for name, _l, d in iter_definitions(read(spec, before[path]), spec.all_keys())}
        stdio = {n for n, d in old_defs.items() if command_target(d) and not d.get("url")}
        if now == before[path]:
            assert not stdio, f"{path}: stdio servers {stdio} not wrapped"
            continue
        assert path.with_name(path.name + BACKUP_SUFFIX).read_bytes() == before[path]
        assert comments(now, spec.format) == comments(before[path], spec.format), path  # every comment stays
        assert now.endswith(b"\r\n") == before[path].endswith(b"\r\n")
        assert now.count(b"\r\n") == 0 or now.count(b"\n") == now.count(b"\r\n")  # no mixed line endings
        assert now.startswith(b"\xef\xbb\xbf") == before[path].startswith(b"\xef\xbb\xbf")
        wrapped_clients.add(spec.client)
        new_defs = {name: d for name, _l, d in iter_definitions(read(spec, now), spec.all_keys())}
        assert set(new_defs) == set(old_defs)
        for name, old in old_defs.items():
            new = new_defs[name]
            if name not in stdio:
                assert new == old
                continue
            # Every other field stays; stdio entries start the tap with the original command after `--`.
            old_target, key = command_target(old)  # type: ignore[misc]
            new_target, new_key = command_target(new)  # type: ignore[misc]
            assert key == new_key
            assert {k: v for k, v in new.items() if k not in ("command", "cmd", "args")} == {
                k: v for k, v in old.items() if k not in ("command", "cmd", "args")
            }
            assert is_wrapped(new)
            args, old_args = new_target["args"], old_target.get("args", [])
            # "npx -y pkg" in one string runs as the scanner reads it: program and arguments split
            one_string = not old_args and " " in old_target[key].strip()
            expected = shlex.split(old_target[key]) if one_string else [old_target[key], *old_args]
            assert args[args.index("--") + 1 :] == expected
            assert args[args.index("--client") + 1] == spec.client
            assert args[args.index("--server") + 1] == name
    assert len(wrapped_clients) >= 10, wrapped_clients
    assert COMMENTED_OR_NOT_JSON <= wrapped_clients
    # The scanner still reports every server, the wrapped ones as started through the tap.
    seen_after = configs(scan_home(home))
    assert set(seen_after) == seen_before
    for client, name in [("cursor", "playwright"), ("codex", "docs"), ("goose", "fetch"), ("continue", "SQLite")]:
        assert "tap" in seen_after[(client, name, "user")]["config"]["args"]
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


def test_install_refuses_when_installed_already(tmp_path: Path) -> None:
    home = make_home(tmp_path, "linux")
    layout = Layout(home.os, home.home, home.root)
    spec, path = next((s, p) for s, p in candidates(default_table(), layout, {"claude_desktop"}))
    prefix = ["/usr/bin/mcpeeker-agent"]
    assert install_file(spec, path, prefix).action == "wrapped"
    assert install_file(spec, path, prefix).action == "unchanged"  # already wrapped: nothing to do
    path.write_bytes(path.with_name(path.name + BACKUP_SUFFIX).read_bytes())  # put back by hand, backup left
    result = install_file(spec, path, prefix)
    assert result.action == "refused" and "already exists" in result.detail


CURSOR = FileSpec("cursor", "user", "jsonc", (("mcpServers",),))
JSONC = (
    '{\r\n  // team servers\r\n  "mcpServers": {\r\n    "a": {\r\n      "command": "npx", // runner\r\n'
    '      "args": [\r\n        "-y", /* pinned */ "pkg@1",\r\n      ],\r\n    },\r\n  },\r\n}\r\n'
)


def test_jsonc_install_splices_only_command_and_args(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_bytes(JSONC.encode())
    result = install_file(CURSOR, path, ["/opt/tap"])
    assert (result.action, result.servers) == ("wrapped", ["a"])
    expected = JSONC.replace('"command": "npx"', '"command": "/opt/tap"').replace(
        '"args": [\r\n', '"args": ["tap", "--client", "cursor", "--server", "a", "--", "npx",\r\n'
    )
    assert path.read_bytes() == expected.encode()  # the rest of the file, CRLF and comments included, as it was


def test_uninstall_unwraps_an_edited_jsonc_file_back_to_its_original_text(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_bytes(JSONC.encode())
    assert install_file(CURSOR, path, ["/opt/tap"]).action == "wrapped"
    path.write_bytes(b"// edited since\r\n" + path.read_bytes())  # the backup no longer applies
    result = uninstall_file(CURSOR, path)
    assert (result.action, result.servers) == ("unwrapped", ["a"])
    assert path.read_bytes() == b"// edited since\r\n" + JSONC.encode()


@pytest.mark.parametrize(
    ("fmt", "keys", "text", "edit"),
    [
        (
            "toml",
            (("mcp_servers",),),
            '[mcp_servers]\nt = { command = "uvx", args = ["mcp-server-time"] }  # inline\n\n'
            '[mcp_servers.docs]\ncommand = "docs"  # local\nargs = [\n  "--port", # the port\n  "4000",\n]\n'
            '[mcp_servers.last]  # no args, at the end of the file\ncommand = "last-mcp"\n',
            ("# edited\n", ""),
        ),
        (
            "yaml",
            (("extensions",),),
            "extensions:\n  base: &base\n    type: stdio\n  fetch:\n    <<: *base\n    cmd: uvx  # via uv\n"
            "    args:\n      - mcp-server-fetch  # the server\n",
            ("# edited\n", ""),
        ),
    ],
)
def test_uninstall_unwraps_edited_toml_and_yaml(tmp_path: Path, fmt: str, keys, text: str, edit) -> None:
    spec = FileSpec("codex" if fmt == "toml" else "goose", "user", fmt, keys)
    path = tmp_path / f"config.{fmt}"
    path.write_text(text, encoding="utf-8")

    def servers(data: bytes) -> dict[str, dict]:  # an args list install added comes back empty: the same server
        return {n: {k: v for k, v in d.items() if v != []} for n, _l, d in iter_definitions(read(spec, data), keys)}

    original = servers(text.encode())
    assert install_file(spec, path, ["/opt/tap"]).action == "wrapped"
    path.write_text(edit[0] + path.read_text(encoding="utf-8"), encoding="utf-8")
    result = uninstall_file(spec, path)
    assert result.action == "unwrapped" and result.servers
    after = path.read_bytes()
    assert servers(after) == original
    assert comments(after, fmt) == sorted(["# edited", *comments(text.encode(), fmt)])


def test_yaml_that_cannot_be_written_back_unchanged_is_refused(tmp_path: Path) -> None:
    spec = FileSpec("goose", "user", "yaml", (("extensions",),))
    path = tmp_path / "config.yaml"
    path.write_text("extensions:\n  fetch:\n    cmd: uvx\n    args: [ mcp-server-fetch ]\n", encoding="utf-8")
    before = path.read_bytes()
    result = install_file(spec, path, ["/opt/tap"])
    assert result.action == "refused" and "unchanged" in result.detail
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_a_missing_library_refuses_the_file_with_the_package_to_install(tmp_path: Path) -> None:
    home = make_home(tmp_path, "linux")
    before = config_files(home)
    # A None entry in sys.modules makes `import tomlkit` raise ImportError, as on a Python without it.
    code = "import sys; sys.modules['tomlkit'] = None; from mcpeeker_agent.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", code, "tap", "install", "--client", "codex", *home_args(home)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "refused" in done.stdout and "pip install tomlkit" in done.stdout
    assert config_files(home) == before
