"""Which config files to read: the table's user/managed paths per home, plus project files found under
the configured roots (bounded in depth and entries, never following symlinked directories)."""

from __future__ import annotations

import fnmatch
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .clients import ClientTable, FileSpec, Layout, _glob

DEFAULT_MAX_DEPTH = 6
DEFAULT_MAX_ENTRIES = 100_000
# Directories never worth descending: dependency trees, VCS internals, caches, OS data folders.
SKIP_DIRS = frozenset(
    {
        "node_modules",
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "__pycache__",
        ".cache",
        ".npm",
        ".cargo",
        ".rustup",
        ".gradle",
        ".m2",
        "target",
        "dist",
        "build",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        "Library",
        "AppData",
        ".Trash",
        "site-packages",
        ".local",
        ".pyenv",
        ".nvm",
        "snap",
        "proc",
        "sys",
    }
)


@dataclass(frozen=True)
class Candidate:
    path: str
    spec: FileSpec
    project_dir: str | None = None  # the project directory a project-level file belongs to


@dataclass
class Discovery:
    candidates: list[Candidate] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    entries_seen: int = 0
    project_dirs: int = 0


def user_candidates(table: ClientTable, layout: Layout) -> list[Candidate]:
    out: list[Candidate] = []
    for spec in table.files:
        for pattern in spec.paths.get(layout.os, ()):
            out.extend(Candidate(path, spec) for path in layout.expand(pattern, table.editors))
    return out


def _triggers(table: ClientTable) -> tuple[dict[str, list[tuple[FileSpec, str]]], list[tuple[str, FileSpec, str]]]:
    """First path component of each project pattern -> the specs it may lead to; patterns whose first
    component is itself a glob (`*.code-workspace`) are matched against every directory's entries."""
    out: dict[str, list[tuple[FileSpec, str]]] = {}
    globbed: list[tuple[str, FileSpec, str]] = []
    for spec, rel in table.project_specs():
        first = rel.split("/", 1)[0]
        if any(ch in first for ch in "*?["):
            globbed.append((first, spec, rel))
        else:
            out.setdefault(first, []).append((spec, rel))
    return out, globbed


def project_candidates(
    table: ClientTable, roots: list[Path], max_depth: int = DEFAULT_MAX_DEPTH, max_entries: int = DEFAULT_MAX_ENTRIES
) -> Discovery:
    """Breadth-first walk of every root; a directory holding a trigger name gets its patterns checked."""
    found = Discovery()
    triggers, globbed = _triggers(table)
    for root in roots:
        queue: deque[tuple[str, int]] = deque([(str(root), 0)])
        visited: set[tuple[int, int]] = set()
        while queue:
            current, depth = queue.popleft()
            try:
                st = os.stat(current)
                if (st.st_dev, st.st_ino) in visited:
                    continue
                visited.add((st.st_dev, st.st_ino))
                with os.scandir(current) as it:
                    entries = list(it)
            except FileNotFoundError:
                continue  # vanished between listing and reading: nothing to report
            except OSError as exc:
                found.errors.append({"where": f"discover:{current}", "error": exc.strerror or type(exc).__name__})
                continue
            found.entries_seen += len(entries)
            names = {e.name for e in entries}
            hits = names & triggers.keys()
            matched = [(spec, rel) for first, spec, rel in globbed if any(fnmatch.fnmatchcase(n, first) for n in names)]
            if hits or matched:
                found.project_dirs += 1
                for spec, rel in [pair for name in sorted(hits) for pair in triggers[name]] + matched:
                    path = os.path.join(current, rel)
                    paths = _glob(path) if any(ch in rel for ch in "*?[") else [path]
                    found.candidates.extend(Candidate(p, spec, current) for p in paths)
            if found.entries_seen >= max_entries:
                found.errors.append(
                    {
                        "where": f"discover:{root}",
                        "error": f"stopped at the entry bound ({max_entries}); raise --max-files to go further",
                    }
                )
                break
            if depth >= max_depth:
                continue
            for entry in entries:
                if entry.name in SKIP_DIRS or entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        queue.append((entry.path, depth + 1))
                except OSError:
                    continue
    return found
