"""Read every hit of a query in sort order with `search_after` (no scroll context to keep or clean up)."""

from __future__ import annotations

from typing import Any, Iterator


def scan_sorted(
    client: Any,
    index: str,
    query: dict[str, Any],
    sort: list[dict[str, str]],
    page_size: int = 1000,
    source: list[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the hits of `query` on `index` ordered by `sort`, which must end in a unique tie-breaker;
    `source` limits each hit's `_source` to those fields."""
    search_after = None
    while True:
        body: dict[str, Any] = {"size": page_size, "query": query, "sort": sort}
        if source is not None:
            body["_source"] = source
        if search_after:
            body["search_after"] = search_after
        hits = client.search(index=index, body=body)["hits"]["hits"]
        if not hits:
            return
        yield from hits
        search_after = hits[-1]["sort"]


def composite_pairs(
    client: Any, index: str, fields: tuple[str, str], query: dict[str, Any], page_size: int = 10_000
) -> Iterator[tuple[Any, Any]]:
    """Every distinct (first, second) value pair of the documents matching `query`, page by page with a
    composite aggregation (no sub-aggregation, so a page holds at most `page_size` buckets)."""
    sources = [{"a": {"terms": {"field": fields[0]}}}, {"b": {"terms": {"field": fields[1]}}}]
    after = None
    while True:
        composite: dict[str, Any] = {"size": page_size, "sources": sources, **({"after": after} if after else {})}
        body = {"size": 0, "track_total_hits": False, "query": query, "aggs": {"pairs": {"composite": composite}}}
        response = client.search(index=index, body=body, ignore_unavailable=True, allow_no_indices=True)
        page = response.get("aggregations", {}).get("pairs")
        if not page or not page["buckets"]:
            return
        yield from ((b["key"]["a"], b["key"]["b"]) for b in page["buckets"])
        after = page.get("after_key")
        if not after:
            return
