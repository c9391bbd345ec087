"""MCP server processes (psutil): by command-line pattern, as stdio children of GenAI clients, or
because they run a server some config defines (so a renamed server is still found)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import psutil

from .patterns import Patterns, load
from .privacy import mask_user_homes, redact_args, truncate_utf8

_ATTRS = ["pid", "ppid", "name", "exe", "cmdline", "username", "create_time"]
_GENERIC_COMMANDS = {
    "node",
    "npx",
    "npm",
    "pnpm",
    "bunx",
    "bun",
    "deno",
    "uvx",
    "uv",
    "python",
    "python3",
    "pipx",
    "docker",
    "podman",
    "java",
    "sh",
    "bash",
    "cmd",
    "powershell",
}


@dataclass
class Proc:
    pid: int
    ppid: int | None
    name: str
    exe: str
    argv: list[str]
    username: str | None
    create_time: float | None

    @property
    def cmdline(self) -> str:
        return " ".join(self.argv) if self.argv else self.name

    def identities(self) -> set[str]:
        """Lower-case basenames this process is known by (node-hosted CLIs count by their script)."""
        names = {_base(self.name), _base(self.exe)}
        if self.argv:
            names.add(_base(self.argv[0]))
            if _base(self.argv[0]) in {"node", "bun", "deno", "python", "python3"} and len(self.argv) > 1:
                names.add(_base(self.argv[1]))
        names.discard("")
        return names


@dataclass
class ConfiguredCommand:
    """The distinctive part of a configured stdio server, for matching processes."""

    label: str  # client:server name
    instance_key: str
    command_base: str
    token: str | None


@dataclass
class Match:
    proc: Proc
    score: float
    matched: str
    reason: str
    parent: Proc | None
    instance_key: str | None = None
    sdk: dict[str, object] | None = None  # custom SDK server evidence (sdk.py)


@dataclass
class ProcessScan:
    matches: list[Match] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    total: int = 0


def _base(path: str | None) -> str:
    if not path:
        return ""
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    for suffix in (".exe", ".cmd", ".app"):
        name = name.removesuffix(suffix)
    return name


def list_processes() -> tuple[dict[int, Proc], list[dict[str, str]]]:
    procs: dict[int, Proc] = {}
    errors: list[dict[str, str]] = []
    for p in psutil.process_iter(_ATTRS, ad_value=None):
        try:
            info = p.info
            procs[info["pid"]] = Proc(
                pid=info["pid"],
                ppid=info.get("ppid"),
                name=info.get("name") or "",
                exe=info.get("exe") or "",
                argv=[str(a) for a in (info.get("cmdline") or [])],
                username=info.get("username"),
                create_time=info.get("create_time"),
            )
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue  # exited while being listed: nothing to report about it
        except psutil.Error as exc:
            errors.append({"where": f"process:{getattr(p, 'pid', '?')}", "error": type(exc).__name__})
    return procs, errors


def configured_command(
    label: str, instance_key: str, command: str | None, args: list[str], package: str | None = None
) -> ConfiguredCommand | None:
    if not command:
        return None
    distinctive = [a for a in args if not a.startswith("-") and len(a) >= 3 and "=" not in a]
    token = package or (distinctive[0] if distinctive else None)
    base = _base(command)
    if token is None and base in _GENERIC_COMMANDS:
        return None  # "node" alone would match every node process
    return ConfiguredCommand(label, instance_key, base, token)


def classify(
    procs: dict[int, Proc], configured: list[ConfiguredCommand], self_pids: set[int], patterns: Patterns | None = None
) -> list[Match]:
    p = patterns or load()
    out: list[Match] = []
    for proc in procs.values():
        if proc.pid in self_pids or not proc.argv:
            continue  # kernel threads and processes whose command line we may not read
        cmd = proc.cmdline
        if any(rx.search(cmd) for rx in p.process_exclude):
            continue
        parent = procs.get(proc.ppid) if proc.ppid else None
        best: Match | None = None
        for name, rx, score in p.process:
            if rx.search(cmd) and (best is None or score > best.score):
                best = Match(proc, score, f"pattern:{name}", f"command line matches {name}", parent)
        for cc in configured:
            if _matches_configured(proc, cc) and (best is None or best.score < 0.8):
                best = Match(
                    proc,
                    0.8,
                    f"config:{cc.label}",
                    f"runs the server configured as {cc.label}",
                    parent,
                    cc.instance_key,
                )
                break
        if parent is not None and best is None and _child_of_client(proc, parent, p):
            client = sorted(parent.identities() & p.genai_clients)[0]
            best = Match(proc, 0.3, f"child_of:{client}", f"stdio child of GenAI client {client}", parent)
        if best is not None:
            out.append(best)
    return out


def _matches_configured(proc: Proc, cc: ConfiguredCommand) -> bool:
    if cc.token:
        token = cc.token.replace("\\", "/")
        return any(token in a.replace("\\", "/") or (("/" in token) and _base(token) == _base(a)) for a in proc.argv)
    return cc.command_base in proc.identities()


def _child_of_client(proc: Proc, parent: Proc, p: Patterns) -> bool:
    if not (parent.identities() & p.genai_clients):
        return False
    if any(a.startswith("--type=") for a in proc.argv):
        return False  # Electron helper processes of the client itself
    return bool(proc.identities() & p.stdio_runners)


def render(match: Match, hasher_user: Callable[[str], str], homes: list[str]) -> dict[str, object]:
    """The evidence `process` object: redacted command line, hashed user, home paths shortened to ~."""
    proc = match.proc
    argv, _found = redact_args(proc.argv)
    info: dict[str, object] = {
        "pid": proc.pid,
        "name": proc.name,
        "exe": mask_user_homes(shorten_home(proc.exe, homes), hasher_user),
        "cmdline": truncate_utf8(mask_user_homes(shorten_home(" ".join(argv), homes), hasher_user)),
        "matched": match.matched,
    }
    if proc.ppid is not None:
        info["ppid"] = proc.ppid
    if match.parent is not None:
        info["parent_name"] = match.parent.name
    if match.sdk:
        info["sdk"] = match.sdk
    if proc.username:
        info["user_id"] = hasher_user(proc.username)
    if proc.create_time:
        info["start"] = datetime.fromtimestamp(proc.create_time, timezone.utc).isoformat().replace("+00:00", "Z")
    return info


def shorten_home(text: str, homes: list[str]) -> str:
    """Replace home directories with ~ so paths do not carry user names."""
    for home in sorted(homes, key=len, reverse=True):
        if home and home != os.sep:
            text = text.replace(home.rstrip("/\\"), "~")
    return text
