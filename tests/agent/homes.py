"""Fixture home directories with realistic MCP client configs for the linux, macos and windows layouts.

Used by the agent tests and bench/agent_scan.py. Fake credentials are assembled at run time so no
secret-shaped literal sits in the repository.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

FAKE_GITHUB_TOKEN = "ghp_" + "Zx81Qw" * 6
FAKE_OPENAI_KEY = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5q" * 2
FAKE_BEARER = "Bearer " + "eyZ0aGlzaXNub3RhcmVhbHRva2Vu" + "Q2x3"
FAKE_DB_URL = "postgres://svc:" + "hunter2hunter2" + "@db.internal:5432/app"


@dataclass
class Home:
    root: Path
    home: Path
    os: str
    expected: set[tuple[str, str, str]] = field(default_factory=set)  # (client, server name, scope)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _json(path: Path, data: object) -> None:
    _write(path, json.dumps(data, indent=2))


def _appdata(home: Path, os_name: str) -> Path:
    return {"linux": home / ".config", "macos": home / "Library" / "Application Support",
            "windows": home / "AppData" / "Roaming"}[os_name]


def make_home(base: Path, os_name: str = "linux", user: str = "alice") -> Home:
    root = base / f"root-{os_name}"
    home = root / {"linux": "home", "macos": "Users", "windows": "Users"}[os_name] / user
    h = Home(root=root, home=home, os=os_name)
    app = _appdata(home, os_name)

    # Claude Desktop
    claude_dir = {"linux": home / ".config" / "Claude", "macos": app / "Claude", "windows": app / "Claude"}[os_name]
    _json(claude_dir / "claude_desktop_config.json", {"mcpServers": {
        "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", str(home / "Documents")]},
        "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
                   "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": FAKE_GITHUB_TOKEN}},
    }, "globalShortcut": "Ctrl+Space"})
    h.expected |= {("claude_desktop", "filesystem", "user"), ("claude_desktop", "github", "user")}

    # Claude Code: top level and per project
    _json(home / ".claude.json", {"numStartups": 12, "mcpServers": {
        "sentry": {"type": "http", "url": "https://mcp.sentry.dev/mcp"}},
        "projects": {str(home / "src" / "shop"): {"mcpServers": {
            "db-tools": {"command": "uvx", "args": ["postgres-mcp-pro", "--access-mode=restricted"],
                         "env": {"DATABASE_URI": FAKE_DB_URL}}}}}})
    h.expected |= {("claude_code", "sentry", "user"), ("claude_code", "db-tools@~/src/shop", "user")}

    # Cursor (JSONC: comments and a trailing comma)
    _write(home / ".cursor" / "mcp.json", """{
  // team servers
  "mcpServers": {
    "context7": { "url": "https://mcp.context7.com/mcp", "headers": { "CONTEXT7_API_KEY": "${env:CONTEXT7_API_KEY}" } },
    /* local helper */
    "playwright": { "command": "npx", "args": ["@playwright/mcp@latest"], },
  },
}
""")
    h.expected |= {("cursor", "context7", "user"), ("cursor", "playwright", "user")}

    # VS Code user mcp.json (servers + inputs) and legacy settings.json
    vs_user = (home / ".config" / "Code" / "User") if os_name == "linux" else (app / "Code" / "User")
    _write(vs_user / "mcp.json", """{
  "inputs": [{ "type": "promptString", "id": "perplexity-key", "password": true }],
  "servers": {
    "perplexity": { "type": "stdio", "command": "npx", "args": ["-y", "server-perplexity-ask"],
                    "env": { "PERPLEXITY_API_KEY": "${input:perplexity-key}" } },
    "remote-api": { "type": "http", "url": "https://api.example.com/mcp",
                    "headers": { "Authorization": \"""" + FAKE_BEARER + """\" } }
  }
}
""")
    _write(vs_user / "settings.json", '{\n  "editor.fontSize": 13,\n  // old style\n  "mcp": { "servers": { "time": { "command": "uvx", "args": ["mcp-server-time"] } } }\n}\n')
    h.expected |= {("vscode", "perplexity", "user"), ("vscode", "remote-api", "user"), ("vscode", "time", "user")}

    # Windsurf remote serverUrl
    _json(home / ".codeium" / "windsurf" / "mcp_config.json", {"mcpServers": {
        "linear": {"serverUrl": "https://mcp.linear.app/sse"}}})
    h.expected.add(("windsurf", "linear", "user"))

    # Cline under VS Code's and Cursor's storage
    for editor in ("Code", "Cursor"):
        base_dir = (home / ".config" / editor) if os_name == "linux" else (app / editor)
        _json(base_dir / "User" / "globalStorage" / "saoudrizwan.claude-dev" / "settings" / "cline_mcp_settings.json",
              {"mcpServers": {f"weather-{editor.lower()}": {"command": "node", "args": [str(home / "tools" / "weather" / "index.js")],
                                                             "disabled": editor == "Cursor", "autoApprove": []}}})
        h.expected.add(("cline", f"weather-{editor.lower()}", "user"))

    # Continue (YAML list)
    _write(home / ".continue" / "config.yaml", """name: my assistant
version: 0.0.1
models: []
mcpServers:
  - name: SQLite
    command: uvx
    args: ["mcp-server-sqlite", "--db-path", "/tmp/test.db"]
""")
    h.expected.add(("continue", "SQLite", "user"))

    # Zed (JSONC, context_servers, both command styles)
    zed = (app / "Zed" / "settings.json") if os_name == "windows" else (home / ".config" / "zed" / "settings.json")
    _write(zed, """// Zed settings
{
  "theme": "One Dark",
  "context_servers": {
    "git": { "command": { "path": "uvx", "args": ["mcp-server-git"], "env": {} } },
    "brave": { "command": "npx", "args": ["-y", "@brave/brave-search-mcp-server"], "env": { "BRAVE_API_KEY": "BSA_k3yV4lu3_n0t_r34l_77" } },
  },
}
""")
    h.expected |= {("zed", "git", "user"), ("zed", "brave", "user")}

    # Gemini CLI
    _json(home / ".gemini" / "settings.json", {"theme": "GitHub", "mcpServers": {
        "docs": {"httpUrl": "https://docs.example.org/mcp", "headers": {"X-Api-Key": "$DOCS_KEY"}},
        "legacy-sse": {"url": "http://127.0.0.1:8931/sse"}}})
    h.expected |= {("gemini_cli", "docs", "user"), ("gemini_cli", "legacy-sse", "user")}

    # Codex (TOML)
    _write(home / ".codex" / "config.toml", f"""model = "o4-mini"

[mcp_servers.docs]
command = "docs-server"
args = ["--port", "4000"]
env = {{ "API_KEY" = "{FAKE_OPENAI_KEY}" }}

[mcp_servers.figma]
url = "https://mcp.figma.com/mcp"
bearer_token_env_var = "FIGMA_OAUTH_TOKEN"
""")
    h.expected |= {("codex", "docs", "user"), ("codex", "figma", "user")}

    # Goose (YAML extensions, builtins are part of goose itself)
    goose = (app / "Block" / "goose" / "config" / "config.yaml") if os_name == "windows" else (home / ".config" / "goose" / "config.yaml")
    _write(goose, """GOOSE_PROVIDER: openai
extensions:
  developer:
    enabled: true
    name: developer
    type: builtin
  fetch:
    enabled: true
    name: fetch
    cmd: uvx
    args: [mcp-server-fetch]
    envs: {}
    type: stdio
    timeout: 300
""")
    h.expected.add(("goose", "fetch", "user"))

    # Junie, LM Studio, Kiro, Antigravity, Copilot CLI
    _json(home / ".junie" / "mcp" / "mcp.json", {"mcpServers": {"jira": {"command": "npx", "args": ["-y", "mcp-jira-helper"]}}})
    _json(home / ".lmstudio" / "mcp.json", {"mcpServers": {"hf": {"url": "https://huggingface.co/mcp"}}})
    _json(home / ".kiro" / "settings" / "mcp.json", {"mcpServers": {"aws-docs": {"command": "uvx", "args": ["awslabs.aws-documentation-mcp-server@latest"]}}})
    _json(home / ".gemini" / "antigravity" / "mcp_config.json", {"mcpServers": {"notion": {"command": "npx", "args": ["-y", "@notionhq/notion-mcp-server"]}}})
    _json(home / ".copilot" / "mcp-config.json", {"mcpServers": {"gh": {"type": "http", "url": "https://api.githubcopilot.com/mcp/"}}})
    h.expected |= {("junie", "jira", "user"), ("lmstudio", "hf", "user"), ("kiro", "aws-docs", "user"),
                   ("antigravity", "notion", "user"), ("copilot", "gh", "user")}

    # Roo under VS Code storage
    roo_base = (home / ".config" / "Code") if os_name == "linux" else (app / "Code")
    _json(roo_base / "User" / "globalStorage" / "rooveterinaryinc.roo-cline" / "settings" / "mcp_settings.json",
          {"mcpServers": {"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}}})
    h.expected.add(("roo", "memory", "user"))

    # Managed (system-wide) Claude Code file
    managed = {"linux": root / "etc" / "claude-code" / "managed-mcp.json",
               "macos": root / "Library" / "Application Support" / "ClaudeCode" / "managed-mcp.json",
               "windows": root / "ProgramData" / "ClaudeCode" / "managed-mcp.json"}[os_name]
    _json(managed, {"mcpServers": {"company-wiki": {"type": "sse", "url": "https://wiki.corp.example/mcp/sse"}}})
    h.expected.add(("claude_code", "company-wiki", "managed"))

    # A project with project-level files of several clients
    proj = home / "src" / "shop"
    _json(proj / ".mcp.json", {"mcpServers": {"shop-api": {"command": "python", "args": ["-m", "shop_mcp"]}}})
    _json(proj / ".vscode" / "mcp.json", {"servers": {"shop-api-vscode": {"command": "python", "args": ["-m", "shop_mcp"]}}})
    _write(proj / ".cursor" / "mcp.json", '{"mcpServers": {"stripe": {"command": "npx", "args": ["-y", "@stripe/mcp", "--tools=all"]}}}')
    _write(proj / ".continue" / "mcpServers" / "browser.yaml", "name: browser\nversion: 0.0.1\nschema: v1\nmcpServers:\n  - name: Browser\n    command: npx\n    args: [\"-y\", \"@browsermcp/mcp\"]\n")
    _write(proj / ".codex" / "config.toml", '[mcp_servers.shop]\ncommand = "shop-mcp"\n')
    _write(proj / "README.md", "# shop\n")
    h.expected |= {("claude_code", "shop-api", "project"), ("vscode", "shop-api-vscode", "project"),
                   ("cursor", "stripe", "project"), ("continue", "Browser", "project"), ("codex", "shop", "project")}
    # node_modules must not be searched
    _json(proj / "node_modules" / "pkg" / ".mcp.json", {"mcpServers": {"ignored": {"command": "x"}}})
    return h
