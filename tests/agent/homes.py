"""Fixture home directories with realistic MCP client configs for the linux, macos and windows layouts.

Used by the agent tests and bench/agent_scan.py. Fake credentials are assembled at run time so no
secret-shaped literal sits in the repository.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mcpeeker_agent.privacy import Hasher

FAKE_GITHUB_TOKEN = "ghp_" + "Zx81Qw" * 6
FAKE_OPENAI_KEY = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5q" * 2
FAKE_BEARER = "Bearer " + "eyZ0aGlzaXNub3RhcmVhbHRva2Vu" + "Q2x3"
FAKE_DB_URL = "postgres://svc:" + "hunter2hunter2" + "@db.internal:5432/app"
SITE_KEY = b"test-site-key"
# How another user's home (/home/bob, not scanned) is reported: ~ and the keyed hash of the user name.
BOB = "~" + Hasher(SITE_KEY).user_id("bob")[:12]


@dataclass
class Home:
    root: Path
    home: Path
    os: str
    expected: set[tuple[str, str, str]] = field(default_factory=set)  # (client, server name, scope)
    # (client, server name) -> the project directory as reported (~/..., or ~<keyed user hash>/... for a home
    # that was not scanned) for every project-scoped server
    projects: dict[tuple[str, str], str] = field(default_factory=dict)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _json(path: Path, data: object) -> None:
    _write(path, json.dumps(data, indent=2))


def _appdata(home: Path, os_name: str) -> Path:
    return {
        "linux": home / ".config",
        "macos": home / "Library" / "Application Support",
        "windows": home / "AppData" / "Roaming",
    }[os_name]


def make_home(base: Path, os_name: str = "linux", user: str = "alice", extended: bool = False) -> Home:
    """The fixture home. `extended` adds every further client location the agent reads (the agent's own
    tests use it); without it the home is the one other suites (Sigma, dashboards, benches) count on."""
    root = base / f"root-{os_name}"
    home = root / {"linux": "home", "macos": "Users", "windows": "Users"}[os_name] / user
    h = Home(root=root, home=home, os=os_name)
    app = _appdata(home, os_name)

    # Claude Desktop
    claude_dir = {"linux": home / ".config" / "Claude", "macos": app / "Claude", "windows": app / "Claude"}[os_name]
    _json(
        claude_dir / "claude_desktop_config.json",
        {
            "mcpServers": {
                "filesystem": {
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-filesystem", str(home / "Documents")],
                },
                "github": {
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-github"],
                    "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": FAKE_GITHUB_TOKEN},
                },
            },
            "globalShortcut": "Ctrl+Space",
        },
    )
    h.expected |= {("claude_desktop", "filesystem", "user"), ("claude_desktop", "github", "user")}

    # Claude Code: top level and per project
    _json(
        home / ".claude.json",
        {
            "numStartups": 12,
            "mcpServers": {"sentry": {"type": "http", "url": "https://mcp.sentry.dev/mcp"}},
            "projects": {
                str(home / "src" / "shop"): {
                    "mcpServers": {
                        "db-tools": {
                            "command": "uvx",
                            "args": ["postgres-mcp-pro", "--access-mode=restricted"],
                            "env": {"DATABASE_URI": FAKE_DB_URL},
                        }
                    }
                }
            },
        },
    )
    h.expected |= {("claude_code", "sentry", "user"), ("claude_code", "db-tools@~/src/shop", "project")}
    h.projects[("claude_code", "db-tools@~/src/shop")] = "~/src/shop"

    # Cursor (JSONC: comments and a trailing comma)
    _write(
        home / ".cursor" / "mcp.json",
        """{
  // team servers
  "mcpServers": {
    "context7": { "url": "https://mcp.context7.com/mcp", "headers": { "CONTEXT7_API_KEY": "${env:CONTEXT7_API_KEY}" } },
    /* local helper */
    "playwright": { "command": "npx", "args": ["@playwright/mcp@latest"], },
  },
}
""",
    )
    h.expected |= {("cursor", "context7", "user"), ("cursor", "playwright", "user")}

    # VS Code user mcp.json (servers + inputs) and legacy settings.json
    vs_user = (home / ".config" / "Code" / "User") if os_name == "linux" else (app / "Code" / "User")
    _write(
        vs_user / "mcp.json",
        """{
  "inputs": [{ "type": "promptString", "id": "perplexity-key", "password": true }],
  "servers": {
    "perplexity": { "type": "stdio", "command": "npx", "args": ["-y", "server-perplexity-ask"],
                    "env": { "PERPLEXITY_API_KEY": "${input:perplexity-key}" } },
    "remote-api": { "type": "http", "url": "https://api.example.com/mcp",
                    "headers": { "Authorization": \""""
        + FAKE_BEARER
        + """\" } }
  }
}
""",
    )
    _write(
        vs_user / "settings.json",
        '{\n  "editor.fontSize": 13,\n  // old style\n  "mcp": { "servers": { "time": { "command": "uvx", "args": ["mcp-server-time"] } } }\n}\n',
    )
    h.expected |= {("vscode", "perplexity", "user"), ("vscode", "remote-api", "user"), ("vscode", "time", "user")}

    # Windsurf remote serverUrl
    _json(
        home / ".codeium" / "windsurf" / "mcp_config.json",
        {"mcpServers": {"linear": {"serverUrl": "https://mcp.linear.app/sse"}}},
    )
    h.expected.add(("windsurf", "linear", "user"))

    # Cline under VS Code's and Cursor's storage
    for editor in ("Code", "Cursor"):
        base_dir = (home / ".config" / editor) if os_name == "linux" else (app / editor)
        _json(
            base_dir / "User" / "globalStorage" / "saoudrizwan.claude-dev" / "settings" / "cline_mcp_settings.json",
            {
                "mcpServers": {
                    f"weather-{editor.lower()}": {
                        "command": "node",
                        "args": [str(home / "tools" / "weather" / "index.js")],
                        "disabled": editor == "Cursor",
                        "autoApprove": [],
                    }
                }
            },
        )
        h.expected.add(("cline", f"weather-{editor.lower()}", "user"))

    # Continue (YAML list)
    _write(
        home / ".continue" / "config.yaml",
        """name: my assistant
version: 0.0.1
models: []
mcpServers:
  - name: SQLite
    command: uvx
    args: ["mcp-server-sqlite", "--db-path", "/tmp/test.db"]
""",
    )
    h.expected.add(("continue", "SQLite", "user"))

    # Zed (JSONC, context_servers, both command styles)
    zed = (app / "Zed" / "settings.json") if os_name == "windows" else (home / ".config" / "zed" / "settings.json")
    _write(
        zed,
        """// Zed settings
{
  "theme": "One Dark",
  "context_servers": {
    "git": { "command": { "path": "uvx", "args": ["mcp-server-git"], "env": {} } },
    "brave": { "command": "npx", "args": ["-y", "@brave/brave-search-mcp-server"], "env": { "BRAVE_API_KEY": "BSA_k3yV4lu3_n0t_r34l_77" } },
  },
}
""",
    )
    h.expected |= {("zed", "git", "user"), ("zed", "brave", "user")}

    # Gemini CLI
    _json(
        home / ".gemini" / "settings.json",
        {
            "theme": "GitHub",
            "mcpServers": {
                "docs": {"httpUrl": "https://docs.example.org/mcp", "headers": {"X-Api-Key": "$DOCS_KEY"}},
                "legacy-sse": {"url": "http://127.0.0.1:8931/sse"},
            },
        },
    )
    h.expected |= {("gemini_cli", "docs", "user"), ("gemini_cli", "legacy-sse", "user")}

    # Codex (TOML)
    _write(
        home / ".codex" / "config.toml",
        f"""model = "o4-mini"

[mcp_servers.docs]
command = "docs-server"
args = ["--port", "4000"]
env = {{ "API_KEY" = "{FAKE_OPENAI_KEY}" }}

[mcp_servers.figma]
url = "https://mcp.figma.com/mcp"
bearer_token_env_var = "FIGMA_OAUTH_TOKEN"
""",
    )
    h.expected |= {("codex", "docs", "user"), ("codex", "figma", "user")}

    # Goose (YAML extensions, builtins are part of goose itself)
    goose = (
        (app / "Block" / "goose" / "config" / "config.yaml")
        if os_name == "windows"
        else (home / ".config" / "goose" / "config.yaml")
    )
    _write(
        goose,
        """GOOSE_PROVIDER: openai
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
""",
    )
    h.expected.add(("goose", "fetch", "user"))

    # Junie, LM Studio, Kiro, Antigravity, Copilot CLI
    _json(
        home / ".junie" / "mcp" / "mcp.json",
        {"mcpServers": {"jira": {"command": "npx", "args": ["-y", "mcp-jira-helper"]}}},
    )
    _json(home / ".lmstudio" / "mcp.json", {"mcpServers": {"hf": {"url": "https://huggingface.co/mcp"}}})
    _json(
        home / ".kiro" / "settings" / "mcp.json",
        {"mcpServers": {"aws-docs": {"command": "uvx", "args": ["awslabs.aws-documentation-mcp-server@latest"]}}},
    )
    _json(
        home / ".gemini" / "antigravity" / "mcp_config.json",
        {"mcpServers": {"notion": {"command": "npx", "args": ["-y", "@notionhq/notion-mcp-server"]}}},
    )
    _json(
        home / ".copilot" / "mcp-config.json",
        {"mcpServers": {"gh": {"type": "http", "url": "https://api.githubcopilot.com/mcp/"}}},
    )
    h.expected |= {
        ("junie", "jira", "user"),
        ("lmstudio", "hf", "user"),
        ("kiro", "aws-docs", "user"),
        ("antigravity", "notion", "user"),
        ("copilot", "gh", "user"),
    }

    # Roo under VS Code storage
    roo_base = (home / ".config" / "Code") if os_name == "linux" else (app / "Code")
    _json(
        roo_base / "User" / "globalStorage" / "rooveterinaryinc.roo-cline" / "settings" / "mcp_settings.json",
        {"mcpServers": {"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}}},
    )
    h.expected.add(("roo", "memory", "user"))

    # Managed (system-wide) Claude Code file
    managed = {
        "linux": root / "etc" / "claude-code" / "managed-mcp.json",
        "macos": root / "Library" / "Application Support" / "ClaudeCode" / "managed-mcp.json",
        "windows": root / "Program Files" / "ClaudeCode" / "managed-mcp.json",
    }[os_name]
    _json(managed, {"mcpServers": {"company-wiki": {"type": "sse", "url": "https://wiki.corp.example/mcp/sse"}}})
    h.expected.add(("claude_code", "company-wiki", "managed"))

    # A project with project-level files of several clients
    proj = home / "src" / "shop"
    _json(proj / ".mcp.json", {"mcpServers": {"shop-api": {"command": "python", "args": ["-m", "shop_mcp"]}}})
    _json(
        proj / ".vscode" / "mcp.json",
        {"servers": {"shop-api-vscode": {"command": "python", "args": ["-m", "shop_mcp"]}}},
    )
    _write(
        proj / ".cursor" / "mcp.json",
        '{"mcpServers": {"stripe": {"command": "npx", "args": ["-y", "@stripe/mcp", "--tools=all"]}}}',
    )
    _write(
        proj / ".continue" / "mcpServers" / "browser.yaml",
        'name: browser\nversion: 0.0.1\nschema: v1\nmcpServers:\n  - name: Browser\n    command: npx\n    args: ["-y", "@browsermcp/mcp"]\n',
    )
    _write(proj / ".codex" / "config.toml", '[mcp_servers.shop]\ncommand = "shop-mcp"\n')
    _write(proj / "README.md", "# shop\n")
    h.expected |= {
        ("claude_code", "shop-api", "project"),
        ("vscode", "shop-api-vscode", "project"),
        ("cursor", "stripe", "project"),
        ("continue", "Browser", "project"),
        ("codex", "shop", "project"),
    }
    for client, name in [
        ("claude_code", "shop-api"),
        ("vscode", "shop-api-vscode"),
        ("cursor", "stripe"),
        ("continue", "Browser"),
        ("codex", "shop"),
    ]:
        h.projects[(client, name)] = "~/src/shop"
    # node_modules must not be searched
    _json(proj / "node_modules" / "pkg" / ".mcp.json", {"mcpServers": {"ignored": {"command": "x"}}})
    if extended:
        _more_locations(h, app, claude_dir, vs_user, proj)
    return h


def _more_locations(h: Home, app: Path, claude_dir: Path, vs_user: Path, proj: Path) -> None:
    """Every further location: extensions, plugins, profiles, remote and managed files, more project files."""
    root, home, os_name = h.root, h.home, h.os
    # Claude Desktop extensions (.dxt / .mcpb unpacked): one server per manifest
    _json(
        claude_dir / "Claude Extensions" / "ant.dir.acme.weather" / "manifest.json",
        {
            "manifest_version": "0.2",
            "name": "weather-ext",
            "version": "1.0.0",
            "server": {
                "type": "node",
                "entry_point": "server/index.js",
                "mcp_config": {
                    "command": "node",
                    "args": ["${__dirname}/server/index.js"],
                    "env": {"API_KEY": "${user_config.api_key}"},
                },
            },
            "user_config": {"api_key": {"type": "string", "sensitive": True}},
        },
    )
    h.expected.add(("claude_desktop", "weather-ext", "user"))
    if os_name == "windows":  # the Microsoft Store (MSIX) build
        _json(
            home
            / "AppData"
            / "Local"
            / "Packages"
            / "Claude_pzs8sxrjxfjjc"
            / "LocalCache"
            / "Roaming"
            / "Claude"
            / "claude_desktop_config.json",
            {"mcpServers": {"store-notes": {"command": "npx", "args": ["-y", "notes-mcp"]}}},
        )
        h.expected.add(("claude_desktop", "store-notes", "user"))

    # Claude Code: user scope (top level) and local scope (projects.<dir>.mcpServers): a project in the home,
    # one outside every home, and one in another user's home (that user name must not be sent)
    _json(
        home / ".claude.json",
        {
            "numStartups": 12,
            "mcpServers": {"sentry": {"type": "http", "url": "https://mcp.sentry.dev/mcp"}},
            "projects": {
                str(home / "src" / "shop"): {
                    "history": [{"display": "hello"}],
                    "mcpServers": {
                        "db-tools": {
                            "command": "uvx",
                            "args": ["postgres-mcp-pro", "--access-mode=restricted"],
                            "env": {"DATABASE_URI": FAKE_DB_URL},
                        }
                    },
                },
                "/srv/work/api": {"mcpServers": {"api-docs": {"type": "http", "url": "https://docs.api.example/mcp"}}},
                "/home/bob/lab": {"mcpServers": {"lab-tools": {"command": "node", "args": ["/home/bob/lab/mcp.js"]}}},
                str(home / "empty"): {"mcpServers": {}},
            },
        },
    )
    h.expected |= {
        ("claude_code", "sentry", "user"),
        ("claude_code", "db-tools@~/src/shop", "project"),
        ("claude_code", "api-docs@/srv/work/api", "project"),
        ("claude_code", f"lab-tools@{BOB}/lab", "project"),
    }
    h.projects |= {
        ("claude_code", "db-tools@~/src/shop"): "~/src/shop",
        ("claude_code", "api-docs@/srv/work/api"): "/srv/work/api",
        ("claude_code", f"lab-tools@{BOB}/lab"): f"{BOB}/lab",
    }
    # Claude Code plugins (installed copies under the plugin cache): .mcp.json and plugin.json mcpServers
    plugin = home / ".claude" / "plugins" / "cache" / "acme-market" / "deploy-tools" / "1.2.0"
    _json(
        plugin / ".mcp.json",
        {"mcpServers": {"deployer": {"command": "${CLAUDE_PLUGIN_ROOT}/bin/deployer", "args": ["--stdio"]}}},
    )
    _json(
        plugin / ".claude-plugin" / "plugin.json",
        {
            "name": "deploy-tools",
            "version": "1.2.0",
            "mcpServers": {"deploy-status": {"type": "http", "url": "https://deploy.example.com/mcp"}},
        },
    )
    h.expected |= {("claude_code", "deployer", "user"), ("claude_code", "deploy-status", "user")}
    # VS Code profiles, Insiders, VSCodium, and the remote (VS Code Server) user configuration
    vs_data = vs_user.parent.parent
    _json(
        vs_user / "profiles" / "5a1b2c3d" / "mcp.json",
        {"servers": {"profile-srv": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]}}},
    )
    _json(
        vs_data / "Code - Insiders" / "User" / "mcp.json",
        {"servers": {"insiders-srv": {"type": "sse", "url": "http://127.0.0.1:7301/sse"}}},
    )
    _json(
        vs_data / "VSCodium" / "User" / "mcp.json",
        {"servers": {"codium-srv": {"command": "uvx", "args": ["mcp-server-git"]}}},
    )
    _json(
        home / ".vscode-server" / "data" / "User" / "mcp.json",
        {"servers": {"remote-srv": {"command": "docker", "args": ["run", "-i", "--rm", "mcp/fetch"]}}},
    )
    h.expected |= {
        ("vscode", "profile-srv", "user"),
        ("vscode", "insiders-srv", "user"),
        ("vscode", "codium-srv", "user"),
        ("vscode", "remote-srv", "user"),
    }

    # Copilot in JetBrains IDEs
    copilot_ide = (
        (home / "AppData" / "Local" / "github-copilot")
        if os_name == "windows"
        else (home / ".config" / "github-copilot")
    )
    _write(
        copilot_ide / "intellij" / "mcp.json",
        '{"servers": {"sonar": {"command": "docker", "args": ["run", "-i", "--rm", "mcp/sonarqube"]}}}',
    )
    h.expected.add(("copilot", "sonar", "user"))
    _json(
        home / ".codeium" / "windsurf-next" / "mcp_config.json",
        {"mcpServers": {"next-srv": {"command": "npx", "args": ["-y", "next-mcp"]}}},
    )
    h.expected.add(("windsurf", "next-srv", "user"))
    _json(
        home / ".gemini" / "extensions" / "cloudsql" / "gemini-extension.json",
        {
            "name": "cloudsql",
            "version": "1.0.0",
            "mcpServers": {
                "cloud-sql": {
                    "httpUrl": "https://sqladmin.googleapis.com/mcp",
                    "authProviderType": "google_credentials",
                }
            },
        },
    )
    h.expected.add(("gemini_cli", "cloud-sql", "user"))
    _write(
        home / ".codex" / "work.config.toml",
        '[mcp_servers.work-tracker]\ncommand = "npx"\nargs = ["-y", "tracker-mcp"]\n',
    )
    h.expected.add(("codex", "work-tracker", "user"))
    # JetBrains AI Assistant: 2025.3+ JSON, and the 2025.1-2025.2 settings XML (a state-only entry is skipped)
    _json(
        home / ".ai" / "mcp" / "mcp.json",
        {"mcpServers": {"ai-user": {"command": "npx", "args": ["-y", "@upstash/context7-mcp"]}}},
    )
    jb_config = {"linux": home / ".config" / "JetBrains", "macos": app / "JetBrains", "windows": app / "JetBrains"}[
        os_name
    ]
    _write(
        jb_config / "PyCharm2025.1" / "options" / "llm.mcpServers.xml",
        f"""<application>
  <component name="McpApplicationServerCommands">
    <commands>
      <McpServerCommand>
        <option name="enabled" value="true" />
        <option name="name" value="jb-xml" />
        <option name="programPath" value="npx" />
        <option name="arguments" value="-y mcp-jb-helper --verbose" />
        <envs>
          <env name="GITHUB_TOKEN" value="{FAKE_GITHUB_TOKEN}" />
        </envs>
      </McpServerCommand>
    </commands>
    <urls>
      <McpServerUrl>
        <option name="name" value="jb-remote" />
        <option name="url" value="https://mcp.jb.example/sse" />
      </McpServerUrl>
    </urls>
  </component>
</application>
""",
    )
    h.expected |= {
        ("jetbrains_ai", "ai-user", "user"),
        ("jetbrains_ai", "jb-xml", "user"),
        ("jetbrains_ai", "jb-remote", "user"),
    }
    # Managed Gemini CLI system settings and Codex managed config
    gemini_system = {
        "linux": root / "etc" / "gemini-cli",
        "macos": root / "Library" / "Application Support" / "GeminiCli",
        "windows": root / "ProgramData" / "gemini-cli",
    }[os_name]
    _json(
        gemini_system / "settings.json", {"mcpServers": {"corp-gemini": {"httpUrl": "https://mcp.corp.example/gemini"}}}
    )
    codex_managed = (
        (home / ".codex" / "managed_config.toml")
        if os_name == "windows"
        else (root / "etc" / "codex" / "managed_config.toml")
    )
    _write(codex_managed, '[mcp_servers.corp-codex]\nurl = "https://mcp.corp.example/codex"\n')
    h.expected |= {("gemini_cli", "corp-gemini", "managed"), ("codex", "corp-codex", "managed")}
    # more project files: VS Code workspace file and dev container, Zed, Gemini, Junie, Roo, Kiro, JetBrains AI
    _write(
        proj / "shop.code-workspace",
        '{\n  "folders": [{"path": "."}],\n  // shared with the team\n'
        '  "settings": {"mcp": {"servers": {"ws-srv": {"command": "npx", "args": ["-y", "ws-mcp"]}}}},\n}\n',
    )
    _write(
        proj / ".devcontainer" / "devcontainer.json",
        '{"image": "mcr.microsoft.com/devcontainers/python:3", // dev box\n'
        ' "customizations": {"vscode": {"mcp": {"servers": {"dc-srv": {"command": "uvx", "args": ["mcp-server-fetch"]}}}}}}\n',
    )
    _write(
        proj / ".zed" / "settings.json",
        '{"context_servers": {"zed-proj": {"command": "npx", "args": ["-y", "zed-proj-mcp"]}}}',
    )
    _json(
        proj / ".gemini" / "settings.json",
        {"mcpServers": {"gem-proj": {"command": "python", "args": ["-m", "gem_proj_mcp"]}}},
    )
    _json(
        proj / ".junie" / "mcp" / "mcp.json",
        {"mcpServers": {"junie-proj": {"command": "npx", "args": ["-y", "junie-proj-mcp"]}}},
    )
    _json(
        proj / ".roo" / "mcp.json",
        {"mcpServers": {"roo-proj": {"url": "https://roo.example/mcp", "type": "streamable-http"}}},
    )
    _json(
        proj / ".kiro" / "settings" / "mcp.json",
        {"mcpServers": {"kiro-proj": {"command": "uvx", "args": ["kiro-proj-mcp"]}}},
    )
    _json(
        proj / ".ai" / "mcp" / "mcp.json",
        {"mcpServers": {"ai-proj": {"command": "npx", "args": ["-y", "ai-proj-mcp"]}}},
    )
    _write(
        proj / ".idea" / "workspace.xml",
        """<?xml version="1.0" encoding="UTF-8"?>
<project version="4">
  <component name="ChangeListManager"><option name="LAST_RESOLUTION" value="IGNORE" /></component>
  <component name="McpProjectServerCommands">
    <McpServerCommand>
      <option name="name" value="jb-proj" />
      <option name="programPath" value="uvx" />
      <option name="arguments" value="jb-proj-mcp" />
    </McpServerCommand>
    <McpServerConfigurationProperties>
      <option name="name" value="state-only" />
      <option name="enabled" value="true" />
    </McpServerConfigurationProperties>
  </component>
</project>
""",
    )
    project_servers = {
        ("vscode", "ws-srv"),
        ("vscode", "dc-srv"),
        ("zed", "zed-proj"),
        ("gemini_cli", "gem-proj"),
        ("junie", "junie-proj"),
        ("roo", "roo-proj"),
        ("kiro", "kiro-proj"),
        ("jetbrains_ai", "ai-proj"),
        ("jetbrains_ai", "jb-proj"),
    }
    h.expected |= {(c, n, "project") for c, n in project_servers}
    for client, name in project_servers | {
        ("claude_code", "shop-api"),
        ("vscode", "shop-api-vscode"),
        ("cursor", "stripe"),
        ("continue", "Browser"),
        ("codex", "shop"),
    }:
        h.projects[(client, name)] = "~/src/shop"
