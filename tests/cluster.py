"""What tests do on the test cluster beyond the conftest fixtures: drop a prefix's indices and templates, read
the findings by instance key. tests/ is on sys.path, so `from cluster import ...` works from every folder."""

from __future__ import annotations

from typing import Any

from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.settings import Settings


def drop_prefix(client: Any, prefix: str) -> None:
    """Remove every index and index template a test created under its own prefix."""
    client.indices.delete(index=f"{prefix}*", ignore_unavailable=True, expand_wildcards="all")
    for name in indices.load_templates(prefix):
        client.indices.delete_index_template(name=f"{prefix}{name}", ignore=[404])


def findings_by_key(settings: Settings) -> dict[str, dict[str, Any]]:
    """The stored findings, by instance key (refreshed first, so a correlation just run is seen)."""
    client = make_client(settings)
    client.indices.refresh(index=settings.index("mcp-findings"))
    hits = client.search(index=settings.index("mcp-findings"), body={"size": 500, "query": {"match_all": {}}})
    return {h["_source"]["instance"]["key"]: h["_source"] for h in hits["hits"]["hits"]}
