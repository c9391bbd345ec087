"""Posture risks the agent raises from client configurations: broad filesystem roots (MCP-POS-004), static keys
instead of OAuth (MCP-POS-005) and plain HTTP to another host (MCP-POS-006).

The fixture home holds the config files as the clients write them (Claude Desktop and Cursor JSON, VS Code's
`servers` mcp.json, Codex TOML, a project's .cursor/mcp.json), with servers that are risky and servers that
are not (a project sub-directory, a relative path, OAuth, a loopback URL).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpeeker_agent.patterns import load
from mcpeeker_agent.servers import broad_roots, canonical_path

from .conftest import configs, scan_home
from .homes import Home

FS = "@modelcontextprotocol/server-filesystem"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def posture_home(tmp_path: Path) -> Home:
    root = tmp_path / "root-linux"
    home = root / "home" / "alice"
    project = home / "projects" / "app"
    (home / ".ssh").mkdir(parents=True)
    project.mkdir(parents=True)
    _write(
        home / ".config" / "Claude" / "claude_desktop_config.json",
        json.dumps(
            {
                "mcpServers": {
                    "fs-root": {"command": "npx", "args": ["-y", FS, "/"]},
                    # the absolute home as Claude Desktop's settings UI writes it
                    "fs-home": {"command": "npx", "args": ["-y", FS, str(home)]},
                    "fs-project": {
                        "command": "npx",
                        "args": ["-y", FS, str(project), str(home / "Documents" / "notes")],
                    },
                    "fs-docker-ssh": {
                        "command": "docker",
                        "args": [
                            "run",
                            "-i",
                            "--rm",
                            "--mount",
                            f"type=bind,src={home / '.ssh'},dst=/projects/ssh",
                            "-v",
                            f"{project}:/projects/app",
                            "mcp/filesystem",
                            "/projects",
                        ],
                    },
                    "fs-docker-project": {
                        "command": "docker",
                        "args": [
                            "run",
                            "-i",
                            "--rm",
                            "-v",
                            f"{project}:/projects/app:ro",
                            "mcp/filesystem",
                            "/projects",
                        ],
                    },
                }
            },
            indent=2,
        ),
    )
    _write(
        home / ".cursor" / "mcp.json",
        json.dumps(
            {
                "mcpServers": {
                    "fs-cloud": {"command": "npx", "args": ["-y", FS, "~/Documents", "~/.aws"]},
                    "git": {"command": "uvx", "args": ["mcp-server-git", "--repository", str(project)]},
                }
            },
            indent=2,
        ),
    )
    _write(
        home / ".config" / "Code" / "User" / "mcp.json",
        """{
  // VS Code user configuration (servers key, JSONC)
  "inputs": [{"type": "promptString", "id": "issues-token", "password": true}],
  "servers": {
    "issues": {"type": "http", "url": "https://issues.example.com/mcp",
               "headers": {"Authorization": "Bearer ${input:issues-token}"}},
    "lan-http": {"type": "http", "url": "http://10.1.2.3:8080/mcp"},
    "oauth-remote": {"type": "http", "url": "https://mcp.example.com/mcp"},
    "local-http": {"type": "http", "url": "http://127.0.0.1:3000/mcp"},
    "fs-config": {"type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem",
                  "${userHome}/projects/app"]}
  }
}
""",
    )
    _write(
        home / ".codex" / "config.toml",
        """\
[mcp_servers.tickets]
url = "https://tickets.example.com/mcp"
bearer_token_env_var = "TICKETS_TOKEN"

[mcp_servers.etc-reader]
command = "node"
args = ["/opt/etc-reader/index.js", "--root=/etc"]

[mcp_servers.roots-env]
command = "python3"
args = ["-m", "files_mcp"]
env = { ALLOWED_DIRECTORIES = "/srv/data,/home/alice/.gnupg" }
""",
    )
    # A project's own configuration: relative paths are the project itself.
    _write(
        project / ".cursor" / "mcp.json",
        json.dumps(
            {
                "mcpServers": {
                    "workspace-fs": {"command": "npx", "args": ["-y", FS, ".", "./docs"]},
                }
            },
            indent=2,
        ),
    )
    return Home(root=root, home=home, os="linux")


def _by_name(report: dict) -> dict[str, dict]:
    return {name: e for (_client, name, _scope), e in configs(report).items()}


def test_broad_filesystem_roots_are_flagged(posture_home: Home) -> None:
    servers = _by_name(scan_home(posture_home))
    flagged = {name for name, e in servers.items() if "broad_filesystem" in e["risk"]}
    assert flagged == {"fs-root", "fs-home", "fs-docker-ssh", "fs-cloud", "etc-reader", "roots-env"}
    reasons = {name: servers[name]["reason"] for name in flagged}
    assert "/ (the whole filesystem)" in reasons["fs-root"]
    assert "~ (a whole home directory)" in reasons["fs-home"]
    assert "~/.ssh (the credential directory ~/.ssh)" in reasons["fs-docker-ssh"]
    assert "~/.aws (the credential directory ~/.aws)" in reasons["fs-cloud"]
    assert "~/Documents" not in reasons["fs-cloud"]  # only the broad root is named
    assert "/etc (the system directory /etc)" in reasons["etc-reader"]
    assert "~/.gnupg (the credential directory ~/.gnupg)" in reasons["roots-env"]
    # The reason never names the user: every home is ~.
    assert not any("alice" in r for r in reasons.values())


def test_project_directories_are_not_flagged(posture_home: Home) -> None:
    servers = _by_name(scan_home(posture_home))
    for name in ("fs-project", "fs-docker-project", "git", "workspace-fs", "fs-config"):
        assert "broad_filesystem" not in servers[name]["risk"], (name, servers[name]["reason"])


def test_static_credential_instead_of_oauth(posture_home: Home) -> None:
    servers = _by_name(scan_home(posture_home))
    flagged = {name for name, e in servers.items() if "static_credential" in e["risk"]}
    assert flagged == {"issues", "tickets"}
    assert "static credential header Authorization instead of OAuth" in servers["issues"]["reason"]
    # A reference to a secret store is still a static key, but never a committed secret.
    assert "committed_secret" not in servers["issues"]["risk"]


def test_cleartext_to_a_remote_host(posture_home: Home) -> None:
    servers = _by_name(scan_home(posture_home))
    flagged = {name for name, e in servers.items() if "cleartext_transport" in e["risk"]}
    assert flagged == {"lan-http"}
    assert "plain HTTP to a non-loopback host" in servers["lan-http"]["reason"]
    for name in ("oauth-remote", "local-http"):
        assert servers[name]["risk"] == [], (name, servers[name]["risk"])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "the whole filesystem"),
        ("C:\\", "the whole filesystem"),
        ("%USERPROFILE%", "a whole home directory"),
        ("/Users/bob", "a whole home directory"),
        ("C:\\Users\\bob\\.ssh", "the credential directory ~/.ssh"),
        ("file:///home/bob/.config", "a directory holding ~/.config/gcloud"),
        ("/home", "every home directory"),
        ("~/projects/../.aws/credentials", "the credential directory ~/.aws"),
        ("~/projects/app", None),
        ("/srv/data", None),
        ("/etc/nginx", None),
        ("./src", None),
    ],
)
def test_root_classification(path: str, expected: str | None) -> None:
    found = broad_roots([path], [], load().filesystem)
    assert [why for _, why in found] == ([expected] if expected else [])
    if expected:
        assert "bob" not in found[0][0] and found[0][0] == canonical_path(path)
