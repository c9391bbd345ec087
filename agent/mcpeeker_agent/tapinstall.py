"""`mcpeeker-agent tap install|uninstall`: put the tap in front of the stdio servers of the clients' configs (JSON,
JSON with comments, TOML, YAML), and take it away again.

Install rewrites only `command` and `args` of stdio entries (every other field, comments, the key order and the
layout stay: tapformats.py), checks that the result parses with the scanner's parser and shows every wrapped
server with the tap in front, keeps a byte copy of the file beside it and records the file's hash after the rewrite. Uninstall restores
the byte copy when the file is still exactly what install wrote; when someone edited it since, it unwraps the
entries instead (the tap's arguments carry the original command). Both re-check the file (size, mtime, SHA-256)
right before an atomic replace and refuse when it changed since they read it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import parsers
from .clients import ClientTable, FileSpec, Layout
from .discovery import user_candidates
from .servers import command_and_args, iter_definitions
from .tapformats import BOM, Editor, Unsupported, command_target, open_editor, original_of, plan_wrap
from .tapformats import is_wrapped as is_wrapped  # re-exported for callers of this module

BACKUP_SUFFIX = ".mcpeeker-tap.bak"
MANIFEST_SUFFIX = ".mcpeeker-tap.json"
SUPPORTED_FORMATS = ("json", "jsonc", "toml", "yaml")


class Changed(Exception):
    """The file changed between reading and writing it; nothing was written."""


@dataclass
class FileResult:
    client: str
    path: Path
    servers: list[str] = field(default_factory=list)
    action: str = ""  # wrapped | restored | unwrapped | unchanged | refused (detail says why)
    detail: str = ""


def tap_command() -> list[str]:
    """How a client config starts the tap: the agent's zipapp when this runs from one (the MDM artefact: its modules
    import only from inside the archive), else the installed console script, else this Python with the module."""
    archive = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if archive and os.path.isfile(archive) and zipfile.is_zipfile(archive):
        return [sys.executable, archive]
    exe = shutil.which("mcpeeker-agent")
    return [exe] if exe else [sys.executable, "-m", "mcpeeker_agent.cli"]


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


def _servers(spec: FileSpec, data: bytes) -> dict[str, dict[str, Any]]:
    doc = parsers.parse(data.decode("utf-8").removeprefix(BOM), spec.format)
    return {name: definition for name, _label, definition in iter_definitions(doc, spec.all_keys())}


def _check(spec: FileSpec, old: bytes, new: bytes, wrapped: list[str]) -> str | None:
    """Why the rewritten file is not fit to write (None when it is). Read back with the scanner's own parser, each
    wrapped server must start the tap with its original command and arguments after `--`, and nothing else of
    any server may have changed."""
    try:
        before, after = _servers(spec, old), _servers(spec, new)
    except (parsers.ParseError, UnicodeDecodeError) as exc:
        return f"the rewritten file would not parse ({exc}); not written"
    if set(before) != set(after):
        return "the rewritten file would not hold the same servers; not written"
    for name, old_def in before.items():
        new_def = after[name]
        if name not in wrapped:
            if new_def != old_def:
                return f"server {name} would change; not written"
            continue
        original, new_found = original_of(new_def), command_target(new_def)
        if original is None or new_found is None:
            return f"server {name} would not be wrapped; not written"
        # What the tap will run is what the scanner read as the server's command line.
        command, args, _env = command_and_args(old_def)
        tail = [str(a) for a in new_found[0]["args"][original[1] :]]
        if tail != [command, *args] or _rest(new_def) != _rest(old_def):
            return f"server {name} would not keep its command, arguments and fields; not written"
    return None


def _rest(definition: dict[str, Any]) -> dict[str, Any]:
    """A definition without what wrapping changes (command and args, also inside Zed's nested command)."""
    out = {k: v for k, v in definition.items() if k not in ("command", "cmd", "args")}
    if isinstance(definition.get("command"), dict):
        out["command"] = _rest(definition["command"])
        out["command"].pop("path", None)
    return out


def _reason(exc: Exception) -> str:
    if isinstance(exc, Unsupported):
        return str(exc)
    return f"could not rewrite it ({type(exc).__name__}: {str(exc)[:200]}); not written"


def _editor(spec: FileSpec, data: bytes, result: FileResult) -> Editor | None:
    try:
        return open_editor(spec.format, data)
    except (Unsupported, UnicodeDecodeError) as exc:
        result.action, result.detail = "refused", str(exc)
        return None


def install_file(spec: FileSpec, path: Path, prefix: list[str], dry_run: bool = False) -> FileResult:
    result = FileResult(spec.client, path)
    before = snapshot(path)
    editor = _editor(spec, before.data, result)
    if editor is None:
        return result
    try:
        for name, definition in editor.definitions(spec.all_keys()):
            if plan := plan_wrap(definition, spec.client, name, prefix):
                editor.wrap(definition, plan)
                result.servers.append(name)
        data = editor.dump() if result.servers else before.data
    except Exception as exc:  # noqa: BLE001 - Unsupported, or a library failing on this file: refuse it, go on
        result.action, result.detail = "refused", _reason(exc)
        return result
    if not result.servers:
        result.action = "unchanged"
        return result
    if problem := _check(spec, before.data, data, result.servers):
        result.action, result.detail = "refused", problem
        return result
    result.action = "wrapped"
    if dry_run:
        return result
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    manifest = path.with_name(path.name + MANIFEST_SUFFIX)
    if backup.exists() or manifest.exists():
        result.action, result.detail = "refused", f"{backup} already exists (installed before?)"
        return result
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
        editor = _editor(spec, before.data, result)
        if editor is None:
            return result
        try:
            for name, definition in editor.definitions(spec.all_keys()):
                if editor.unwrap(definition):
                    result.servers.append(name)
            data = editor.dump() if result.servers else before.data
        except Exception as exc:  # noqa: BLE001 - as in install_file
            result.action, result.detail = "refused", _reason(exc)
            return result
        if not result.servers:
            result.action = "unchanged"
            return result
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
