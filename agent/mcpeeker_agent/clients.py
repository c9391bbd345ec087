"""The client table (data/clients.yaml) and its expansion into concrete paths for one OS layout."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

OS_NAMES = ("linux", "macos", "windows")
FORMATS = {"json", "jsonc", "toml", "yaml", "xml"}
SCOPES = {"user", "project", "managed"}


class TableError(ValueError):
    """The client table is malformed; the message names the client and field."""


@dataclass(frozen=True)
class FileSpec:
    client: str
    scope: str
    format: str
    keys: tuple[tuple[str, ...], ...]
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)  # os -> patterns
    project: tuple[str, ...] = ()
    # Key paths whose `*` is a project directory (Claude Code's projects.<dir>.mcpServers): their servers are
    # project-scoped whatever the file's scope.
    project_keys: tuple[tuple[str, ...], ...] = ()
    # The key paths lead to ONE definition (a Claude Desktop extension manifest); its name is this top-level
    # key of the file, else the name of the file's directory.
    name_key: str | None = None

    def all_keys(self) -> tuple[tuple[str, ...], ...]:
        return self.keys + self.project_keys


@dataclass(frozen=True)
class ClientTable:
    editors: tuple[str, ...]
    files: tuple[FileSpec, ...]
    process_names: dict[str, tuple[str, ...]]

    def project_specs(self) -> list[tuple[FileSpec, str]]:
        return [(spec, rel) for spec in self.files for rel in spec.project]


@dataclass(frozen=True)
class Layout:
    """Where things live for one OS: the home being scanned and the filesystem root (for fixtures)."""

    os: str
    home: Path
    root: Path = Path("/")

    def base_dirs(self) -> dict[str, Path]:
        if self.os == "windows":
            return {
                "appdata": self.home / "AppData" / "Roaming",
                "localappdata": self.home / "AppData" / "Local",
                "programdata": self.root / "ProgramData",
                "programfiles": self.root / "Program Files",
            }
        if self.os == "macos":
            support = self.home / "Library" / "Application Support"
            return {
                "appdata": support,
                "localappdata": support,
                "programdata": self.root / "Library" / "Application Support",
            }
        return {
            "appdata": self.home / ".config",
            "localappdata": self.home / ".local" / "share",
            "programdata": self.root / "etc",
        }

    def expand(self, pattern: str, editors: tuple[str, ...]) -> list[str]:
        """Concrete existing-or-candidate paths for one table pattern (globs are resolved here)."""
        variants = [pattern.replace("{editor}", e) for e in editors] if "{editor}" in pattern else [pattern]
        out: list[str] = []
        bases = self.base_dirs()
        for item in variants:
            if item.startswith("/"):
                item = str(self.root / item.lstrip("/"))
            elif item.startswith("~"):
                item = str(self.home) + item[1:]
            for name, base in bases.items():
                item = item.replace("{" + name + "}", str(base))
            out.extend(_glob(item) if any(ch in item for ch in "*?[") else [item])
        return out


def _glob(pattern: str) -> list[str]:
    # Escape the literal directory part so a home like "/home/a[1]" is not read as a pattern.
    first = min(i for i, ch in enumerate(pattern) if ch in "*?[")
    cut = pattern.rfind(os.sep if os.sep in pattern[:first] else "/", 0, first) + 1
    return sorted(glob.glob(glob.escape(pattern[:cut]) + pattern[cut:]))


def _as_tuple(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TableError(f"{where}: expected a string or list of strings")


def parse_table(raw: Any, source: str = "clients.yaml") -> ClientTable:
    if not isinstance(raw, dict) or not isinstance(raw.get("clients"), dict):
        raise TableError(f"{source}: top level needs a `clients` mapping")
    files: list[FileSpec] = []
    procs: dict[str, tuple[str, ...]] = {}
    for client, entry in raw["clients"].items():
        where = f"{source}: clients.{client}"
        if not isinstance(entry, dict) or not isinstance(entry.get("files"), list):
            raise TableError(f"{where}: needs a `files` list")
        procs[client] = _as_tuple(entry.get("process_names", []), f"{where}.process_names")
        for i, spec in enumerate(entry["files"]):
            files.append(_parse_spec(client, spec, f"{where}.files[{i}]"))
    return ClientTable(
        editors=_as_tuple(raw.get("editors", []), f"{source}: editors"), files=tuple(files), process_names=procs
    )


def _parse_spec(client: str, spec: Any, where: str) -> FileSpec:
    if not isinstance(spec, dict):
        raise TableError(f"{where}: expected a mapping")
    if spec.get("format") not in FORMATS:
        raise TableError(f"{where}.format: expected one of {sorted(FORMATS)}")
    if spec.get("scope") not in SCOPES:
        raise TableError(f"{where}.scope: expected one of {sorted(SCOPES)}")
    keys = spec.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, list) and k for k in keys):
        raise TableError(f"{where}.keys: expected a list of key paths (lists of keys)")
    project_keys = spec.get("project_keys") or []
    if not isinstance(project_keys, list) or not all(isinstance(k, list) and "*" in k for k in project_keys):
        raise TableError(f"{where}.project_keys: expected a list of key paths with a `*` (the project directory)")
    name_key = spec.get("name_key")
    if name_key is not None and not isinstance(name_key, str):
        raise TableError(f"{where}.name_key: expected a string")
    paths: dict[str, tuple[str, ...]] = {}
    for os_name, patterns in (spec.get("paths") or {}).items():
        targets = OS_NAMES if os_name == "all" else (os_name,)
        if os_name != "all" and os_name not in OS_NAMES:
            raise TableError(f"{where}.paths.{os_name}: unknown OS (linux, macos, windows, all)")
        for target in targets:
            paths[target] = paths.get(target, ()) + _as_tuple(patterns, f"{where}.paths.{os_name}")
    project = _as_tuple(spec.get("project", []), f"{where}.project")
    if not paths and not project:
        raise TableError(f"{where}: needs `paths` or `project`")
    return FileSpec(
        client=client,
        scope=spec["scope"],
        format=spec["format"],
        keys=tuple(tuple(str(k) for k in path) for path in keys),
        paths=paths,
        project=project,
        project_keys=tuple(tuple(str(k) for k in path) for path in project_keys),
        name_key=name_key,
    )


@lru_cache(maxsize=1)
def default_table() -> ClientTable:
    text = resources.files("mcpeeker_agent").joinpath("data/clients.yaml").read_text(encoding="utf-8")
    return parse_table(yaml.safe_load(text), "mcpeeker_agent/data/clients.yaml")


def load_table(path: str | os.PathLike[str] | None) -> ClientTable:
    if path is None:
        return default_table()
    with open(path, encoding="utf-8") as handle:
        return parse_table(yaml.safe_load(handle), str(path))
