"""Helpers that read the generated saved objects the way Kibana / OpenSearch Dashboards would, and turn a
visualization into the search request the product sends (query_string + the visState aggregations)."""

from __future__ import annotations

import json
import re
from typing import Any

from mcpeeker.kibana_objects import NDJSON_NAMES, SEARCH_INDEX_REF

from paths import REPO_ROOT

KIBANA_DIR = REPO_ROOT / "dashboards" / "kibana"
TEMPLATE_DIR = REPO_ROOT / "ingest_python" / "mcpeeker" / "templates"
AGGREGATABLE = {
    "keyword",
    "long",
    "integer",
    "short",
    "byte",
    "float",
    "double",
    "half_float",
    "scaled_float",
    "date",
    "ip",
    "boolean",
}
NUMERIC = {"long", "integer", "short", "byte", "float", "double", "half_float", "scaled_float"}
# A field name in a Lucene query: `name:` (not inside a quoted value) or `_exists_:name`.
QUERY_FIELD = re.compile(r"(?:^|[\s(])(?!_exists_)([A-Za-z@][\w.@]*):")
EXISTS_FIELD = re.compile(r"_exists_:([\w.@]+)")


def load_ndjson(flavour: str) -> list[dict[str, Any]]:
    path = KIBANA_DIR / NDJSON_NAMES[flavour]
    objects = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            objects.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{path}:{number}: not JSON: {exc}") from None
    return objects


def template_fields(title: str) -> dict[str, str]:
    """Field path -> mapping type for the template behind an index-pattern title (`mcp-events-*` ...)."""
    logical = title.rstrip("*").rstrip("-")
    body = json.loads((TEMPLATE_DIR / f"{logical}.json").read_text())
    fields: dict[str, str] = {}

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            path = f"{prefix}{name}"
            if "properties" in spec:
                walk(spec["properties"], f"{path}.")
                continue
            kind = spec.get("type", "object")
            if spec.get("enabled") is False or spec.get("index") is False or spec.get("doc_values") is False:
                kind = f"{kind}(not indexed)"
            fields[path] = kind
            for sub, sub_spec in spec.get("fields", {}).items():
                fields[f"{path}.{sub}"] = sub_spec["type"]

    walk(body["template"]["mappings"]["properties"], "")
    return fields


def search_source(obj: dict[str, Any]) -> dict[str, Any]:
    return json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def index_pattern_of(obj: dict[str, Any], by_id: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    ref = next(r for r in obj["references"] if r["name"] == SEARCH_INDEX_REF)
    return by_id[("index-pattern", ref["id"])]


def query_fields(query: str) -> set[str]:
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
    return set(QUERY_FIELD.findall(unquoted)) | set(EXISTS_FIELD.findall(unquoted))


def vis_aggs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads(obj["attributes"]["visState"])["aggs"]


def _metric_body(agg: dict[str, Any]) -> dict[str, Any] | None:
    if agg["type"] == "count":
        return None
    return {agg["type"]: {"field": agg["params"]["field"]}}


def _bucket_body(agg: dict[str, Any], metrics: dict[str, dict[str, Any]], count_ids: set[str]) -> dict[str, Any]:
    params = agg["params"]
    if agg["type"] == "terms":
        order_key = "_count" if params["orderBy"] in count_ids else params["orderBy"]
        return {"terms": {"field": params["field"], "size": params["size"], "order": {order_key: params["order"]}}}
    if agg["type"] == "histogram":
        return {
            "histogram": {
                "field": params["field"],
                "interval": params["interval"],
                "min_doc_count": 0 if params.get("min_doc_count") else 1,
            }
        }
    if agg["type"] == "date_range":
        return {"date_range": {"field": params["field"], "ranges": params["ranges"]}}
    if agg["type"] == "date_histogram":
        unit = {"d": "1d", "h": "1h", "w": "1w"}[params["interval"]]
        return {
            "date_histogram": {
                "field": params["field"],
                "calendar_interval": unit,
                "min_doc_count": params.get("min_doc_count", 1),
            }
        }
    raise AssertionError(f"no translation for bucket aggregation {agg['type']}")


def search_body(obj: dict[str, Any]) -> dict[str, Any]:
    """The request the product sends for a visualization: its query, then bucket aggregations nested in the
    order they appear in visState, with the metric aggregations at the innermost level (and top level)."""
    aggs = vis_aggs(obj)
    metrics = {a["id"]: b for a in aggs if a["schema"] == "metric" and (b := _metric_body(a)) is not None}
    count_ids = {a["id"] for a in aggs if a["schema"] == "metric" and a["type"] == "count"}
    buckets = [a for a in aggs if a["schema"] != "metric"]
    inner: dict[str, Any] = dict(metrics)
    for agg in reversed(buckets):
        body = _bucket_body(agg, metrics, count_ids)
        body["aggs"] = inner
        inner = {agg["id"]: body}
    query = search_source(obj)["query"]["query"]
    return {
        "size": 0,
        "track_total_hits": True,
        "query": {"query_string": {"query": query or "*", "analyze_wildcard": True}},
        "aggs": inner,
    }


def non_empty(aggs: list[dict[str, Any]], response: dict[str, Any]) -> bool:
    """True when every bucket level has at least one bucket with documents (following the first such bucket)
    and the metrics are present; for a metric-only visualization, when the metric is positive."""
    buckets = [a for a in aggs if a["schema"] != "metric"]
    metric_ids = [a["id"] for a in aggs if a["schema"] == "metric" and a["type"] != "count"]
    if response["hits"]["total"]["value"] == 0:
        return False
    level = response.get("aggregations", {})
    for agg in buckets:
        found = [b for b in level[agg["id"]]["buckets"] if b["doc_count"] > 0]
        if not found:
            return False
        level = found[0]
    return all(level[m]["value"] not in (None, 0) for m in metric_ids)
