"""Read every hit of a query in sort order with `search_after` (no scroll context to keep or clean up)."""

from __future__ import annotations

from typing import Any, Iterator


def scan_sorted(client: Any, index: str, query: dict[str, Any], sort: list[dict[str, str]],
                page_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Yield the hits of `query` on `index` ordered by `sort`, which must end in a unique tie-breaker."""
    search_after = None
    while True:
        body: dict[str, Any] = {"size": page_size, "query": query, "sort": sort}
        if search_after:
            body["search_after"] = search_after
        hits = client.search(index=index, body=body)["hits"]["hits"]
        if not hits:
            return
        yield from hits
        search_after = hits[-1]["sort"]
