"""Config discovery and server normalisation on fixture homes of all three OS layouts."""

from __future__ import annotations

import json

import pytest
from mcpeeker_agent.parsers import ParseError, jetbrains_xml
from mcpeeker_agent.scanner import Scanner, ScanOptions

from .conftest import configs, scan_home
from .homes import FAKE_BEARER, FAKE_GITHUB_TOKEN, FAKE_OPENAI_KEY, SITE_KEY


def test_every_client_found_per_os(any_home):
    report = scan_home(any_home)
    assert set(configs(report)) == any_home.expected
    assert report["errors"] == []
    assert report["host"]["os"] == any_home.os


def test_no_secret_value_or_user_name_leaves_the_host(any_home):
    text = json.dumps(scan_home(any_home))
    for secret in (
        FAKE_GITHUB_TOKEN,
        FAKE_OPENAI_KEY,
        FAKE_BEARER.split()[1],
        "hunter2hunter2",
        "BSA_k3yV4lu3_n0t_r34l_77",
    ):
        assert secret not in text
    assert "alice" not in text  # home directories are reported as ~
    assert len(text) < 64 * 1024


def test_server_fields(linux_home):
    cfg = configs(scan_home(linux_home))
    gh = cfg[("claude_desktop", "github", "user")]
    assert gh["config"]["transport"] == "stdio"
    assert gh["config"]["command"] == "npx"
    assert gh["config"]["args"] == ["-y", "@modelcontextprotocol/server-github"]
    assert gh["config"]["env_names"] == ["GITHUB_PERSONAL_ACCESS_TOKEN"]
    assert [(s["kind"], s["field"]) for s in gh["config"]["secrets"]] == [
        ("github_token", "env.GITHUB_PERSONAL_ACCESS_TOKEN")
    ]
    assert gh["risk"] == ["committed_secret"]
    assert gh["file"]["path"] == "~/.config/Claude/claude_desktop_config.json"
    assert gh["instance_key"].endswith(":cfg:claude_desktop:github")

    remote = cfg[("vscode", "remote-api", "user")]
    assert remote["config"]["transport"] == "streamable_http"
    assert remote["config"]["header_names"] == ["Authorization"]
    assert remote["config"]["secrets"][0]["kind"] == "bearer_token"
    assert remote["instance_key"] == "url:https://api.example.com:443/mcp"

    # references to secrets kept elsewhere are not committed secrets
    assert cfg[("vscode", "perplexity", "user")]["config"]["secrets"] == []
    assert cfg[("cursor", "context7", "user")]["config"]["secrets"] == []
    assert cfg[("gemini_cli", "docs", "user")]["config"]["secrets"] == []

    assert cfg[("windsurf", "linear", "user")]["config"]["transport"] == "sse"
    assert cfg[("gemini_cli", "docs", "user")]["config"]["transport"] == "streamable_http"
    assert cfg[("gemini_cli", "legacy-sse", "user")]["config"]["transport"] == "sse"
    assert cfg[("gemini_cli", "legacy-sse", "user")]["instance_key"].endswith(":port:8931")
    assert cfg[("zed", "git", "user")]["config"]["command"] == "uvx"
    assert cfg[("zed", "brave", "user")]["config"]["secrets"][0]["kind"] == "generic_secret"
    codex = cfg[("codex", "docs", "user")]["config"]
    assert codex["secrets"][0]["kind"] == "openai_api_key" and codex["env_names"] == ["API_KEY"]
    assert cfg[("codex", "figma", "user")]["config"]["header_names"] == ["Authorization"]
    assert cfg[("claude_code", "db-tools@~/src/shop", "project")]["config"]["secrets"][0]["kind"] == "url_credentials"
    assert cfg[("cline", "weather-cursor", "user")]["config"]["disabled"] is True
    assert cfg[("claude_code", "company-wiki", "managed")]["file"]["path"] == "/etc/claude-code/managed-mcp.json"
    assert "unknown_package" in cfg[("junie", "jira", "user")]["risk"]
    assert "unknown_package" not in cfg[("roo", "memory", "user")]["risk"]
    assert cfg[("continue", "Browser", "project")]["file"]["path"] == "~/src/shop/.continue/mcpServers/browser.yaml"


def test_fingerprints_are_keyed(linux_home):
    a = configs(scan_home(linux_home))
    from mcpeeker_agent.scanner import Scanner, ScanOptions

    other = Scanner(
        ScanOptions(
            homes=[linux_home.home],
            os_name="linux",
            root=linux_home.root,
            processes=False,
            listeners=False,
            machine_id="test-machine",
        ),
        b"another-key",
    ).run()
    b = configs(other)
    key = ("claude_desktop", "github", "user")
    assert a[key]["config"]["fingerprint"] != b[key]["config"]["fingerprint"]
    assert a[key]["config"]["secrets"][0]["fingerprint"] != b[key]["config"]["secrets"][0]["fingerprint"]
    assert len(other["host_id"]) == 64


def test_project_discovery_bounds(linux_home):
    deep = linux_home.home / "a" / "b" / "c" / "d" / "e" / "f" / "g"
    deep.mkdir(parents=True)
    (deep / ".mcp.json").write_text('{"mcpServers": {"deep": {"command": "x-mcp"}}}')
    names = {k[1] for k in configs(scan_home(linux_home))}
    assert "deep" not in names  # depth 7 > default bound 6
    assert "deep" in {k[1] for k in configs(scan_home(linux_home, max_depth=8))}
    assert "ignored" not in names  # node_modules is never searched
    bounded = scan_home(linux_home, max_files=5)
    assert any("entry bound" in e["error"] for e in bounded["errors"])


def test_user_config_scope_is_not_double_counted_as_project(linux_home):
    # ~/.cursor/mcp.json is both the user file and a "project" file of the home directory
    keys = [k for k in configs(scan_home(linux_home)) if k[0] == "cursor" and k[1] == "context7"]
    assert keys == [("cursor", "context7", "user")]


def test_project_scope_path_and_id(any_home):
    """Every project-scoped server carries its project: ~/... (or ~<keyed user hash>/... for a home that was not
    scanned), and a keyed project id that is the same for ~/.claude.json's projects.<dir> and <dir>/.mcp.json."""
    report = scan_home(any_home)
    cfg = configs(report)
    project_scoped = {(c, n) for c, n, scope in cfg if scope == "project"}
    assert project_scoped == set(any_home.projects)
    for (client, name), shown in any_home.projects.items():
        ev = cfg[(client, name, "project")]["config"]
        assert ev["project"] == shown, (client, name)
        assert len(ev["project_id"]) == 32
    shop = {
        cfg[(c, n, "project")]["config"]["project_id"]
        for (c, n), shown in any_home.projects.items()
        if shown == "~/src/shop"
    }
    assert len(shop) == 1  # the local-scope server in ~/.claude.json and the project's own files join
    api = cfg[("claude_code", "api-docs@/srv/work/api", "project")]["config"]["project_id"]
    assert api not in shop
    for (client, name, scope), ev in cfg.items():
        if scope != "project":
            assert "project" not in ev["config"] and "project_id" not in ev["config"]
    text = json.dumps(report)
    assert "bob" not in text  # another user's home: only a keyed hash of the name


def test_project_id_is_keyed_and_windows_paths_fold():
    def scanner(key: bytes, home: str, os_name: str) -> Scanner:
        return Scanner(
            ScanOptions(homes=[home], os_name=os_name, processes=False, listeners=False, machine_id="m"), key
        )

    win = scanner(SITE_KEY, "C:\\Users\\Alice", "windows")
    shown, pid = win._project("C:/Users/alice/src/Shop/")
    assert shown == "~/src/shop"
    assert win._project("c:\\users\\ALICE\\src\\shop") == (shown, pid)  # Claude Code writes C:/..., Explorer C:\\...
    other_shown, _ = win._project("D:/work/api")
    assert other_shown == "D:/work/api"
    masked, _ = win._project("C:/Users/bob/src")
    assert masked.startswith("~") and "bob" not in masked and masked.endswith("/src")
    assert scanner(b"another-key", "C:\\Users\\Alice", "windows")._project("C:/Users/alice/src/shop")[1] != pid
    lin = scanner(SITE_KEY, "/home/alice", "linux")
    assert lin._project("/home/alice/src/Shop")[0] == "~/src/Shop"  # case kept where paths are case-sensitive


def test_large_claude_json_is_streamed(linux_home):
    """~/.claude.json grows with every prompt (users report 15-240 MB): servers are still found, memory bounded."""
    path = linux_home.home / ".claude.json"
    doc = json.loads(path.read_text())
    history = [
        {"display": 'paste with "quotes" and {braces} [' + "x" * 500, "pastedContents": {"1": {"content": "y" * 4000}}}
        for _ in range(1200)
    ]
    for project in doc["projects"].values():
        project["history"] = history
    path.write_text(json.dumps(doc))
    assert path.stat().st_size > 5 * 1024 * 1024  # over the default 4 MiB config cap
    report = scan_home(linux_home)
    assert report["errors"] == []
    cfg = configs(report)
    for key in [
        ("claude_code", "sentry", "user"),
        ("claude_code", "db-tools@~/src/shop", "project"),
        ("claude_code", "api-docs@/srv/work/api", "project"),
    ]:
        assert key in cfg
    assert cfg[("claude_code", "db-tools@~/src/shop", "project")]["config"]["secrets"][0]["kind"] == "url_credentials"
    assert cfg[("claude_code", "sentry", "user")]["file"]["size"] == path.stat().st_size
    # over the streaming cap it is an error like any other too-large file
    capped = scan_home(linux_home, max_stream_bytes=1024 * 1024)
    assert any("too large" in e["error"] for e in capped["errors"] if e["where"].endswith(".claude.json"))
    # the streamed reader refuses a broken file as the whole-file parser does
    path.write_text(json.dumps(doc)[:-3000])
    broken = scan_home(linux_home)
    assert any(
        "invalid JSON" in e["error"] or "unterminated" in e["error"]
        for e in broken["errors"]
        if e["where"].endswith(".claude.json")
    )


def test_extension_plugin_and_jetbrains_fields(any_home):
    cfg = configs(scan_home(any_home))
    ext = cfg[("claude_desktop", "weather-ext", "user")]
    assert ext["config"]["command"] == "node" and ext["config"]["args"] == ["${__dirname}/server/index.js"]
    assert ext["config"]["env_names"] == ["API_KEY"] and ext["config"]["secrets"] == []
    assert ext["file"]["path"].endswith("Claude Extensions/ant.dir.acme.weather/manifest.json")
    assert cfg[("claude_code", "deploy-status", "user")]["config"]["transport"] == "streamable_http"
    jb = cfg[("jetbrains_ai", "jb-xml", "user")]
    assert jb["config"]["command"] == "npx" and jb["config"]["args"] == ["-y", "mcp-jb-helper", "--verbose"]
    assert jb["risk"][0] == "committed_secret" and jb["config"]["secrets"][0]["kind"] == "github_token"
    assert "format" not in jb["config"]  # the report schema names json, jsonc, toml and yaml only
    assert cfg[("jetbrains_ai", "jb-remote", "user")]["config"]["transport"] == "sse"
    assert not [
        k for k in cfg if k[1] == "state-only"
    ]  # 2025.3 XML keeps only state: the server is in .ai/mcp/mcp.json
    assert cfg[("vscode", "dc-srv", "project")]["config"]["format"] == "jsonc"
    assert cfg[("vscode", "ws-srv", "project")]["file"]["path"] == "~/src/shop/shop.code-workspace"


def test_jetbrains_xml_refuses_entities():
    with pytest.raises(ParseError, match="DOCTYPE"):
        jetbrains_xml('<!DOCTYPE a [<!ENTITY x "y">]><application>&x;</application>')
    with pytest.raises(ParseError, match="invalid XML at line 2"):
        jetbrains_xml("<application>\n<component></application>")
    assert jetbrains_xml("<application/>") == {"mcpServers": {}}
