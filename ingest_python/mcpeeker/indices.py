"""`mcpeeker setup`: install (or upgrade) the index templates and create the fixed indices, idempotently."""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from . import resources
from .client import make_client
from .settings import Settings, add_connection_arguments, resolve

TEMPLATE_DIR = resources.templates()
# Indices with a fixed name are created up front so that readers never hit "index not found".
FIXED_INDICES = ("mcp-findings", "mcp-registry", "mcp-feedback", "mcp-audit", "mcp-state")

console = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True)
class SetupResult:
    installed: list[str]
    unchanged: list[str]
    created_indices: list[str]


def load_templates(prefix: str) -> dict[str, dict[str, Any]]:
    """Template bodies by logical name, with the index prefix applied to names and patterns."""
    templates = {}
    for path in sorted(TEMPLATE_DIR.glob("*.json")):
        body = json.loads(path.read_text().replace("{prefix}", prefix))
        # The content hash decides upgrades, so an edited template is never left stale by a forgotten bump.
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
        body["_meta"]["content_hash"] = digest
        templates[path.stem] = body
    return templates


def template_name(settings: Settings, logical: str) -> str:
    return f"{settings.index_prefix}{logical}"


def _installed_hash(client: Any, name: str) -> str | None:
    if not client.indices.exists_index_template(name=name):
        return None
    for item in client.indices.get_index_template(name=name).get("index_templates", []):
        return item["index_template"].get("_meta", {}).get("content_hash")
    return None


def install(settings: Settings, client: Any | None = None) -> SetupResult:
    client = client or make_client(settings)
    installed, unchanged, created = [], [], []
    for logical, body in load_templates(settings.index_prefix).items():
        name = template_name(settings, logical)
        if _installed_hash(client, name) == body["_meta"]["content_hash"]:
            unchanged.append(name)
            continue
        client.indices.put_index_template(name=name, body=body)
        # A template only shapes new indices: give indices that already exist the new fields too.
        # (Additive changes only; an incompatible change fails here, loudly, before anything is written.)
        client.indices.put_mapping(index=",".join(body["index_patterns"]), body=body["template"]["mappings"],
                                   params={"allow_no_indices": "true", "ignore_unavailable": "true",
                                           "expand_wildcards": "open"})
        installed.append(name)
    for logical in FIXED_INDICES:
        index = settings.index(logical)
        if not client.indices.exists(index=index):
            client.indices.create(index=index)
            created.append(index)
    return SetupResult(installed, unchanged, created)


def cmd_setup(args: argparse.Namespace) -> int:
    settings = resolve(args)
    result = install(settings)
    for name in result.installed:
        console.print(f"[green]installed[/] template {name}")
    for name in result.unchanged:
        console.print(f"[dim]unchanged[/] template {name}")
    for name in result.created_indices:
        console.print(f"[green]created[/] index {name}")
    if not result.installed and not result.created_indices:
        console.print("everything already up to date")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("setup", help="install or upgrade index templates (idempotent)")
    add_connection_arguments(parser)
    parser.set_defaults(func=cmd_setup)
