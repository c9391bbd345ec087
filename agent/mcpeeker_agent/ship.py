"""Send a report to OpenSearch/Elasticsearch with the project's own settings and client factory.

`--ship-cluster` needs the mcpeeker package (settings, client, opensearch-py), so the report goes through its
agent normaliser: one mapping for shipped and file-ingested reports, same deterministic ids. The zipapp and the
default collector path never build documents on the endpoint.
"""

from __future__ import annotations

import json
from typing import Any

from mcpeeker.ingest.normalise.agent import normalise_agent
from mcpeeker.ingest.normalise.common import Context


def documents(report: dict[str, Any], settings: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(index, _id, document) for every evidence item of the report and its scan summary."""
    raw = json.dumps(report, separators=(",", ":"), sort_keys=True).encode()
    ctx = Context(index_prefix=settings.index_prefix, site_key=settings.site_key_bytes())
    return [
        (index, doc_id, doc)
        for index, doc_id, doc, _epoch in normalise_agent("report", report, raw, ctx, "mcpeeker-agent:ship", 0)
    ]


def ship(report: dict[str, Any], settings: Any) -> int:
    """Bulk-index the report's evidence documents; returns how many were indexed."""
    from mcpeeker.client import bulk_helper, make_client

    actions = [
        {"_op_type": "index", "_index": index, "_id": doc_id, "_source": doc}
        for index, doc_id, doc in documents(report, settings)
    ]
    if not actions:
        return 0
    ok, errors = bulk_helper(settings).bulk(make_client(settings), actions, raise_on_error=False, refresh="wait_for")
    if errors:
        raise RuntimeError(f"{len(errors)} documents rejected by {settings.url}: {str(errors[0])[:300]}")
    return int(ok)
