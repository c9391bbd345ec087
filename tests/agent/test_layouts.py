"""Config discovery and server normalisation on fixture homes of all three OS layouts."""

from __future__ import annotations

import json

from .conftest import configs, scan_home
from .homes import FAKE_BEARER, FAKE_GITHUB_TOKEN, FAKE_OPENAI_KEY


def test_every_client_found_per_os(any_home):
    report = scan_home(any_home)
    assert set(configs(report)) == any_home.expected
    assert report["errors"] == []
    assert report["host"]["os"] == any_home.os


def test_no_secret_value_or_user_name_leaves_the_host(any_home):
    text = json.dumps(scan_home(any_home))
    for secret in (FAKE_GITHUB_TOKEN, FAKE_OPENAI_KEY, FAKE_BEARER.split()[1], "hunter2hunter2", "BSA_k3yV4lu3_n0t_r34l_77"):
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
    assert [(s["kind"], s["field"]) for s in gh["config"]["secrets"]] == [("github_token", "env.GITHUB_PERSONAL_ACCESS_TOKEN")]
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
    assert cfg[("claude_code", "db-tools@~/src/shop", "user")]["config"]["secrets"][0]["kind"] == "url_credentials"
    assert cfg[("cline", "weather-cursor", "user")]["config"]["disabled"] is True
    assert cfg[("claude_code", "company-wiki", "managed")]["file"]["path"] == "/etc/claude-code/managed-mcp.json"
    assert "unknown_package" in cfg[("junie", "jira", "user")]["risk"]
    assert "unknown_package" not in cfg[("roo", "memory", "user")]["risk"]
    assert cfg[("continue", "Browser", "project")]["file"]["path"] == "~/src/shop/.continue/mcpServers/browser.yaml"


def test_fingerprints_are_keyed(linux_home):
    a = configs(scan_home(linux_home))
    from mcpeeker_agent.scanner import ScanOptions, Scanner

    other = Scanner(ScanOptions(homes=[linux_home.home], os_name="linux", root=linux_home.root, processes=False,
                                listeners=False, machine_id="test-machine"), b"another-key").run()
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
