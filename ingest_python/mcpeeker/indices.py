"""Index templates and fixed indices: install (or upgrade) them idempotently (`mcpeeker setup`, cli/setup_cmd.py)."""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from . import lifecycle, resources
from .client import make_client
from .errors import MCPeekerError
from .settings import Settings

TEMPLATE_DIR = resources.templates()
# Indices with a fixed name are created up front so that readers never hit "index not found".
FIXED_INDICES = ("mcp-findings", "mcp-registry", "mcp-feedback", "mcp-audit", "mcp-state", "mcp-suppressions")


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
        content_hash: str | None = item["index_template"].get("_meta", {}).get("content_hash")
        return content_hash
    return None


def replicas_for(client: Any) -> int:
    """One replica of every MCPeeker index once the cluster has two data nodes (a node lost loses nothing);
    none on a single node, where a replica could never be assigned (health would stay yellow)."""
    try:
        nodes = int(client.cluster.health()["number_of_data_nodes"])
    except Exception:  # noqa: BLE001 - no cluster:monitor/health privilege: keep the templates' own setting
        return 0
    return 1 if nodes >= 2 else 0


def install(settings: Settings, client: Any | None = None) -> SetupResult:
    client = client or make_client(settings)
    installed, unchanged, created = [], [], []
    replicas = replicas_for(client)
    for logical, body in load_templates(settings.index_prefix).items():
        name = template_name(settings, logical)
        if replicas:
            body["template"].setdefault("settings", {})["number_of_replicas"] = replicas
            body["_meta"]["content_hash"] += f"-r{replicas}"
        if _installed_hash(client, name) == body["_meta"]["content_hash"]:
            unchanged.append(name)
            continue
        client.indices.put_index_template(name=name, body=body)
        # A template only shapes new indices: give indices that already exist the new fields too.
        # (Additive changes only; an incompatible change fails here, loudly, before anything is written.)
        client.indices.put_mapping(
            index=",".join(body["index_patterns"]),
            body=body["template"]["mappings"],
            params={"allow_no_indices": "true", "ignore_unavailable": "true", "expand_wildcards": "open"},
        )
        if replicas:
            client.indices.put_settings(
                index=",".join(body["index_patterns"]),
                body={"index": {"number_of_replicas": replicas}},
                params={"allow_no_indices": "true", "ignore_unavailable": "true", "expand_wildcards": "open"},
            )
        installed.append(name)
    for logical in FIXED_INDICES:
        index = settings.index(logical)
        if not client.indices.exists(index=index):
            client.indices.create(index=index)
            created.append(index)
    # The evidence write alias and its first index (mcpeeker.lifecycle): events never create indices themselves.
    if lifecycle.write_index(client, settings) is None:
        created.append(lifecycle.bootstrap(client, settings))
    return SetupResult(installed, unchanged, created)


def ensure_templates(settings: Settings, client: Any, warn: Callable[[str], None]) -> None:
    """Install the templates before ingesting; a cluster that is down only warns (documents are spooled),
    a fatal answer (refused credentials, a bad template) raises."""
    try:
        with warnings.catch_warnings():
            # The local node's catch-all defaults template overlaps ours by design; the warning is noise here.
            warnings.filterwarnings("ignore", message=".*matching patterns from existing older templates.*")
            install(settings, client)
    except Exception as exc:  # noqa: BLE001 - a down cluster must not stop ingest: documents are spooled
        from .ingest.deliver import classify

        if classify(exc) == "fatal":
            raise MCPeekerError(f"cannot install index templates on {settings.url}: {exc}") from exc
        warn(f"cluster {settings.url} not reachable ({type(exc).__name__}); documents will be spooled until it is")
