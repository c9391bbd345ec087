"""Reference MCP servers (stdio only) behind a stdio-to-HTTP bridge, as they are deployed on a network.

    ref_servers.py --cache DIR --bridge supergateway|mcp-proxy --server filesystem|memory|fetch|git
                   --transport streamable-http|sse --port N --root DIR

The reference servers of the modelcontextprotocol/servers repository speak stdio only; to reach
them over the network a site runs a bridge: npm `supergateway` (stdio -> SSE or Streamable HTTP,
TypeScript SDK) or PyPI `mcp-proxy` (stdio -> SSE and Streamable HTTP on one port, Python SDK,
here with a named server so the endpoints are /servers/<name>/sse and /servers/<name>/mcp).

--root is a fresh scratch directory for the server's data (the filesystem server's only allowed
directory, the memory server's JSON file, the git server's repository); it is created here,
filled with a few harmless files and removed when the bridge stops.  `--bridge none --server docling`
runs a server that has its own HTTP transport instead: PyPI `docling-rs-mcp`, a Rust server built on
the Rust SDK (rmcp), rooted the same way.  Only standard library.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path


def prepare(server: str, root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if server == "filesystem":
        (root / "README.md").write_text("# release-notes\n\nDrafts of the quarterly release notes.\n")
        (root / "drafts").mkdir()
        (root / "drafts" / "2026-q4.md").write_text("## 2026 Q4\n\n- faster sync\n- new export formats\n")
    elif server == "docling":
        (root / "plan.html").write_text(
            "<html><body><h1>Q4 plan</h1><ul><li>ship the export formats</li>"
            "<li>fix sync conflicts</li></ul></body></html>\n"
        )
    elif server == "git":
        env = dict(
            os.environ,
            GIT_AUTHOR_NAME="Dev",
            GIT_AUTHOR_EMAIL="dev@corp.example",
            GIT_COMMITTER_NAME="Dev",
            GIT_COMMITTER_EMAIL="dev@corp.example",
        )
        (root / "README.md").write_text("# build-scripts\n\nHelper scripts for the nightly build.\n")
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=env)
        subprocess.run(["git", "-C", str(root), "add", "README.md"], check=True, env=env)
        subprocess.run(
            ["git", "-C", str(root), "commit", "-q", "-m", "Initial import"],
            check=True,
            env=env,
        )
        (root / "CHANGELOG.md").write_text("- nightly: retry flaky downloads\n")  # untracked, for git_status


def server_argv(cache: Path, server: str, root: Path) -> list[str]:
    node_modules = cache / "node" / "node_modules"
    if server == "filesystem":
        return [
            "node",
            str(node_modules / "@modelcontextprotocol/server-filesystem/dist/index.js"),
            str(root),
        ]
    if server == "memory":
        return [
            "node",
            str(node_modules / "@modelcontextprotocol/server-memory/dist/index.js"),
        ]
    if server == "fetch":
        # An intranet deployment: the pages it fetches live on the LAN, which the server refuses by default.
        return [
            str(cache / "fetch" / "bin" / "mcp-server-fetch"),
            "--allow-private-ips",
        ]
    if server == "git":
        return [
            str(cache / "git" / "bin" / "mcp-server-git"),
            "--repository",
            str(root),
        ]
    if server == "docling":  # Rust server on the Rust SDK (rmcp) with its own Streamable HTTP transport
        return [str(cache / "rmcp" / "bin" / "docling-rs-mcp"), "--root", str(root)]
    raise SystemExit(f"unknown server {server!r}")


def bridge_argv(cache: Path, bridge: str, server: str, argv: list[str], transport: str, port: int) -> list[str]:
    if bridge == "none":  # the server's own HTTP transport, deployed for the LAN (inside the namespace only lo)
        # On loopback it answers only `Host: localhost` (DNS-rebinding guard); a LAN deployment binds all
        # addresses with --allow-remote, which accepts the server's LAN host name.
        return argv + [
            "--http",
            "--host",
            "0.0.0.0",
            "--allow-remote",
            "--port",
            str(port),
        ]
    if bridge == "supergateway":
        out = [
            "node",
            str(cache / "node" / "node_modules" / "supergateway" / "dist" / "index.js"),
            "--stdio",
            " ".join(argv),
            "--port",
            str(port),
            "--logLevel",
            "info",
        ]
        if transport == "streamable-http":
            return out + ["--outputTransport", "streamableHttp", "--stateful"]
        return out + ["--outputTransport", "sse"]
    if bridge == "mcp-proxy":
        # One named server: /servers/<name>/sse and /servers/<name>/mcp on the same port.
        return [
            str(cache / "mcpproxy" / "bin" / "mcp-proxy"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--pass-environment",
            "--named-server",
            server,
            " ".join(argv),
        ]
    raise SystemExit(f"unknown bridge {bridge!r}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--bridge", choices=["supergateway", "mcp-proxy", "none"], required=True)
    ap.add_argument(
        "--server",
        choices=["filesystem", "memory", "fetch", "git", "docling"],
        required=True,
    )
    ap.add_argument("--transport", choices=["streamable-http", "sse"], default="streamable-http")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--root", type=Path, required=True)
    args = ap.parse_args()

    prepare(args.server, args.root)
    env = dict(os.environ)
    if args.server == "memory":
        env["MEMORY_FILE_PATH"] = str(args.root / "memory.jsonl")
    argv = bridge_argv(
        args.cache,
        args.bridge,
        args.server,
        server_argv(args.cache, args.server, args.root),
        args.transport,
        args.port,
    )
    child = subprocess.Popen(argv, env=env)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        rc = child.wait()
    finally:
        if child.poll() is None:
            child.kill()
        shutil.rmtree(args.root, ignore_errors=True)
    sys.exit(0 if rc in (0, -signal.SIGTERM, -signal.SIGINT) else rc)


if __name__ == "__main__":
    main()
