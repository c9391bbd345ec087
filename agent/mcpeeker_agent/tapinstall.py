"""`mcpeeker-agent tap install|uninstall`: put the tap in front of the stdio servers of the clients' JSON configs,
and take it away again.

Install rewrites only `command` and `args` of stdio entries (every other field, the key order and the indentation
stay), keeps a byte copy of the file beside it and records the file's hash after the rewrite. Uninstall restores
the byte copy when the file is still exactly what install wrote; when someone edited it since, it unwraps the
entries instead (the tap's arguments carry the original command). Both re-check the file (size, mtime, SHA-256)
right before an atomic replace and refuse when it changed since they read it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clients import ClientTable, FileSpec, Layout
from .discovery import user_candidates
from .servers import iter_definitions

BACKUP_SUFFIX = ".mcpeeker-tap.bak"
MANIFEST_SUFFIX = ".mcpeeker-tap.json"
SUPPORTED_FORMATS = ("json", "jsonc")


class Changed(Exception):
    """The file changed between reading and writing it; nothing was written."""


@dataclass
class FileResult:
    client: str
    path: Path
    servers: list[str] = field(default_factory=list)
    action: str = ""  # wrapped | restored | unwrapped | unchanged | skipped | refused
    detail: str = ""


def tap_command() -> list[str]:
    """How a client config starts the tap: the installed console script, else this Python with the module."""
    exe = shutil.which("mcpeeker-agent")
    return [exe] if exe else [sys.executable, "-m", "mcpeeker_agent.cli"]


def is_wrapped(definition: dict[str, Any]) -> bool:
    args = definition.get("args")
    return isinstance(args, list) and "tap" in args and "--" in args and args.index("tap") < args.index("--")


def wrap(definition: dict[str, Any], client: str, name: str, prefix: list[str]) -> bool:
    command = definition.get("command")
    if not isinstance(command, str) or not command or is_wrapped(definition) or definition.get("url"):
        return False
    args = definition.get("args", [])
    if not isinstance(args, list):
        return False
    definition["command"] = prefix[0]
    definition["args"] = [*prefix[1:], "tap", "--client", client, "--server", name, "--", command, *args]
    return True


def unwrap(definition: dict[str, Any], had_args: bool = True) -> bool:
    if not is_wrapped(definition):
        return False
    args = definition["args"]
    original = args[args.index("--") + 1 :]
    if not original:
        return False
    definition["command"] = original[0]
    definition["args"] = original[1:]
    return True


@dataclass
class Snapshot:
    data: bytes
    size: int
    mtime_ns: int
    sha256: str


def snapshot(path: Path) -> Snapshot:
    data = path.read_bytes()
    st = path.stat()
    return Snapshot(data, st.st_size, st.st_mtime_ns, hashlib.sha256(data).hexdigest())


def replace_if_unchanged(path: Path, before: Snapshot, data: bytes) -> None:
    """Atomic replace, unless the file is no longer what `before` read."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        shutil.copymode(path, tmp)
        now = snapshot(path)
        if (now.size, now.mtime_ns, now.sha256) != (before.size, before.mtime_ns, before.sha256):
            raise Changed(f"{path} changed since it was read; not written")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_INDENT = re.compile(rb"\n([ \t]+)\S")


def render(doc: Any, original: bytes) -> bytes:
    """JSON in the original's style: its indentation (or none), its final newline, non-ASCII kept."""
    m = _INDENT.search(original)
    if m is None:
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ": ") if b": " in original else (",", ":"))
    else:
        unit = m.group(1).decode()
        text = json.dumps(doc, ensure_ascii=False, indent="\t" if unit.startswith("\t") else len(unit))
    if original.endswith(b"\r\n"):
        text = text.replace("\n", "\r\n") + "\r\n"
    elif original.endswith(b"\n"):
        text += "\n"
    return text.encode("utf-8")


def _specs(table: ClientTable, clients: set[str] | None) -> list[FileSpec]:
    return [s for s in table.files if (clients is None or s.client in clients) and s.format in SUPPORTED_FORMATS]


def candidates(table: ClientTable, layout: Layout, clients: set[str] | None) -> list[tuple[FileSpec, Path]]:
    wanted = set(map(id, _specs(table, clients)))
    out: list[tuple[FileSpec, Path]] = []
    seen: set[str] = set()
    for cand in user_candidates(table, layout):
        if id(cand.spec) in wanted and os.path.isfile(cand.path) and cand.path not in seen:
            seen.add(cand.path)
            out.append((cand.spec, Path(cand.path)))
    return out


def install_file(spec: FileSpec, path: Path, prefix: list[str], dry_run: bool = False) -> FileResult:
    result = FileResult(spec.client, path)
    before = snapshot(path)
    try:
        doc = json.loads(before.data)
    except ValueError as exc:  # a JSONC file with comments: rewriting would drop them
        result.action, result.detail = "skipped", f"not plain JSON ({exc}); comments would be lost"
        return result
    for name, _label, definition in iter_definitions(doc, spec.all_keys()):
        if wrap(definition, spec.client, name, prefix):
            result.servers.append(name)
    if not result.servers:
        result.action = "unchanged"
        return result
    result.action = "wrapped"
    if dry_run:
        return result
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    manifest = path.with_name(path.name + MANIFEST_SUFFIX)
    if backup.exists() or manifest.exists():
        result.action, result.detail = "refused", f"{backup} already exists (installed before?)"
        return result
    data = render(doc, before.data)
    backup.write_bytes(before.data)
    shutil.copymode(path, backup)
    try:
        replace_if_unchanged(path, before, data)
    except Changed as exc:
        backup.unlink()
        result.action, result.detail = "refused", str(exc)
        return result
    manifest.write_text(
        json.dumps({"installed_sha256": hashlib.sha256(data).hexdigest(), "servers": result.servers}),
        encoding="utf-8",
    )
    return result


def uninstall_file(spec: FileSpec, path: Path, dry_run: bool = False) -> FileResult:
    result = FileResult(spec.client, path)
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    manifest = path.with_name(path.name + MANIFEST_SUFFIX)
    before = snapshot(path)
    installed = None
    if manifest.exists():
        try:
            installed = json.loads(manifest.read_text(encoding="utf-8")).get("installed_sha256")
        except (OSError, ValueError, AttributeError):
            installed = None
    if installed == before.sha256 and backup.exists():
        data = backup.read_bytes()
        result.action = "restored"
    else:
        try:
            doc = json.loads(before.data)
        except ValueError as exc:
            result.action, result.detail = "skipped", f"not plain JSON ({exc})"
            return result
        for name, _label, definition in iter_definitions(doc, spec.all_keys()):
            if unwrap(definition):
                result.servers.append(name)
        if not result.servers:
            result.action = "unchanged"
            return result
        data = render(doc, before.data)
        result.action = "unwrapped"
    if dry_run:
        return result
    try:
        replace_if_unchanged(path, before, data)
    except Changed as exc:
        result.action, result.detail = "refused", str(exc)
        return result
    for leftover in (backup, manifest):
        if leftover.exists():
            leftover.unlink()
    return result
