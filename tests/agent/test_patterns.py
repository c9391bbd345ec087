"""Process command-line patterns, secret detection, redaction and package extraction on real-world inputs."""

from __future__ import annotations

import pytest

from mcpeeker_agent.privacy import REDACTED, redact_args, redact_url, secret_kind
from mcpeeker_agent.processes import Proc, classify, configured_command
from mcpeeker_agent.servers import package_of

from .homes import FAKE_GITHUB_TOKEN, FAKE_OPENAI_KEY


def _match(argv: list[str], parent: str = "bash") -> str | None:
    procs = {
        1: Proc(1, None, parent, f"/usr/bin/{parent}", [parent], "u", None),
        2: Proc(2, 1, argv[0].rsplit("/", 1)[-1], argv[0], argv, "u", None),
    }
    found = {m.proc.pid: m.matched for m in classify(procs, [], set())}
    return found.get(2)


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["npm", "exec", "@modelcontextprotocol/server-github"], "pattern:official_server_package"),
        (["node", "/home/u/.npm/_npx/1/node_modules/.bin/mcp-server-filesystem", "/tmp"], "pattern:mcp_server_name"),
        (["/home/u/.local/bin/uvx", "mcp-server-fetch"], "pattern:mcp_server_name"),
        (["python3", "-m", "mcp_server_git", "--repository", "."], "pattern:mcp_server_name"),
        (["/opt/venv/bin/python", "/opt/venv/bin/fastmcp", "run", "server.py"], "pattern:fastmcp_run"),
        (["docker", "run", "-i", "--rm", "-e", "GITHUB_TOKEN", "mcp/github"], "pattern:docker_mcp_image"),
        (["github-mcp-server", "stdio"], "pattern:mcp_server_name"),
        (["npx", "-y", "@upstash/context7-mcp"], "pattern:mcp_server_name"),
        (["python", "-m", "mcp", "run", "server.py"], "pattern:python_module_mcp"),
        (["bunx", "some-tool-mcp@latest"], "pattern:mcp_server_name"),
    ],
)
def test_mcp_command_lines(argv, expected):
    assert _match(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["npm", "run", "dev"],
        ["python3", "-m", "http.server"],
        ["/work/main/.venv/bin/mcpeeker-agent", "scan", "--probe"],
        ["/usr/bin/python3", "-m", "mcpeeker_agent.cli", "scan"],
        ["/usr/bin/mcpeeker", "sigma", "run", "--every", "60s"],
        ["vim", "notes.txt"],
        ["node", "/usr/lib/code/out/server.js"],
    ],
)
def test_benign_command_lines(argv):
    assert _match(argv) is None


def test_client_children_need_a_runner_and_no_electron_type():
    assert _match(["node", "/opt/tools/helper.js"], parent="cursor") == "child_of:cursor"
    assert _match(["/usr/share/cursor/cursor", "--type=renderer"], parent="cursor") is None
    assert _match(["/usr/bin/git", "status"], parent="cursor") is None


def test_configured_command_matching_by_package_or_script():
    procs = {
        5: Proc(5, None, "node", "/usr/bin/node", ["node", "/srv/tools/renamed.js", "--stdio"], "u", None),
        6: Proc(6, None, "node", "/usr/bin/node", ["node", "/srv/tools/other.js"], "u", None),
    }
    cc = configured_command("cursor:x", "key", "node", ["/srv/tools/renamed.js"])
    found = {m.proc.pid: m for m in classify(procs, [cc], set())}
    assert set(found) == {5} and found[5].instance_key == "key"
    assert configured_command("c:x", "k", "node", []) is None  # "node" alone would match everything


@pytest.mark.parametrize(
    "value,key,kind",
    [
        (FAKE_GITHUB_TOKEN, None, "github_token"),
        (FAKE_OPENAI_KEY, None, "openai_api_key"),
        ("AKIA" + "IOSFODNN7EXAMPLE", None, "aws_access_key_id"),
        ("xoxb-" + "1234567890-abcdefghij", None, "slack_token"),
        ("postgres://u:" + "s3cretpw@db:5432/x", None, "url_credentials"),
        ("Bearer " + "abcdefghijklmnop1234", None, "bearer_token"),
        ("Zq8" + "_vL2x9pQ", "MY_SERVICE_TOKEN", "generic_secret"),
        ("${GITHUB_TOKEN}", "GITHUB_TOKEN", None),
        ("${input:api-key}", "API_KEY", None),
        ("${env:CONTEXT7_API_KEY}", "X_API_KEY", None),
        ("$DOCS_KEY", "X-Api-Key", None),
        ("your-api-key", "API_KEY", None),
        ("/home/u/data", "DATA_PASSWORD_FILE", None),
        ("production", "NODE_ENV", None),
        ("https://api.example.com", "API_URL", None),
    ],
)
def test_secret_kinds(value, key, kind):
    assert secret_kind(value, key) == kind


def test_redaction():
    args, found = redact_args(
        ["--api-key", FAKE_OPENAI_KEY, "--port", "8080", f"--token={FAKE_GITHUB_TOKEN}", "-p", "3000"]
    )
    assert args == ["--api-key", REDACTED, "--port", "8080", f"--token={REDACTED}", "-p", "3000"]
    assert [k for k, _ in found] == ["openai_api_key", "github_token"]
    assert (
        redact_url("https://u:pw@h.example/mcp?api_key=abc&x=1")
        == f"https://{REDACTED}@h.example/mcp?api_key={REDACTED}&x=1"
    )


@pytest.mark.parametrize(
    "command,args,package",
    [
        ("npx", ["-y", "@modelcontextprotocol/server-github@1.2.3"], "@modelcontextprotocol/server-github"),
        ("uvx", ["--from", "git-mcp==1.0", "git-mcp-server"], "git-mcp"),
        ("uvx", ["mcp-server-fetch"], "mcp-server-fetch"),
        (
            "docker",
            ["run", "-i", "--rm", "-e", "TOKEN", "-v", "/a:/b", "ghcr.io/github/github-mcp-server:latest"],
            "ghcr.io/github/github-mcp-server",
        ),
        ("pnpm", ["dlx", "some-mcp"], "some-mcp"),
        ("C:\\Program Files\\nodejs\\npx.cmd", ["-y", "x-mcp@latest"], "x-mcp"),
        ("node", ["server.js"], None),
        ("npm", ["run", "start"], None),
    ],
)
def test_package_of(command, args, package):
    assert package_of(command, args) == package
