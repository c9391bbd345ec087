"""Compiled detection data from data/patterns.yaml (process patterns, secrets, known packages)."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class FilesystemPatterns:
    """Broad filesystem grants (MCP-POS-004): which servers take directories, and which directories are broad."""

    servers: re.Pattern[str]
    root_flags: frozenset[str]
    root_env: re.Pattern[str]
    credential_dirs: tuple[str, ...]
    system_dirs: tuple[str, ...]


@dataclass(frozen=True)
class Patterns:
    process: tuple[tuple[str, re.Pattern[str], float], ...]
    process_exclude: tuple[re.Pattern[str], ...]
    genai_clients: frozenset[str]
    stdio_runners: frozenset[str]
    secrets: tuple[tuple[str, re.Pattern[str]], ...]
    secret_key_names: re.Pattern[str]
    secret_reference: re.Pattern[str]
    placeholders: frozenset[str]
    known_packages: tuple[str, ...]
    filesystem: FilesystemPatterns | None = None

    def is_known_package(self, package: str) -> bool:
        return any(fnmatch.fnmatchcase(package.lower(), p.lower()) for p in self.known_packages)


def _raw() -> dict[str, Any]:
    text = resources.files("mcpeeker_agent").joinpath("data/patterns.yaml").read_text(encoding="utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)  # the packaged file, a mapping
    return raw


@lru_cache(maxsize=1)
def load() -> Patterns:
    raw = _raw()
    return Patterns(
        process=tuple(
            (name, re.compile(rx, re.I), float(score)) for name, (rx, score) in raw["process_patterns"].items()
        ),
        process_exclude=tuple(re.compile(rx, re.I) for rx in raw["process_exclude"]),
        genai_clients=frozenset(n.lower() for n in raw["genai_clients"]),
        stdio_runners=frozenset(n.lower() for n in raw["stdio_runners"]),
        secrets=tuple((kind, re.compile(rx)) for kind, rx in raw["secret_patterns"].items()),
        secret_key_names=re.compile(raw["secret_key_names"]),
        secret_reference=re.compile(raw["secret_reference"]),
        placeholders=frozenset(v.lower() for v in raw["placeholder_values"]),
        known_packages=tuple(raw["known_packages"]),
        filesystem=_filesystem(raw["filesystem_exposure"]),
    )


def _filesystem(raw: dict[str, Any]) -> FilesystemPatterns:
    return FilesystemPatterns(
        servers=re.compile(raw["servers"]),
        root_flags=frozenset(raw["root_flags"]),
        root_env=re.compile(raw["root_env"]),
        credential_dirs=tuple(d.rstrip("/") for d in raw["credential_dirs"]),
        system_dirs=tuple(d.rstrip("/") for d in raw["system_dirs"]),
    )
