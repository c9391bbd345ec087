"""dashboards/kibana/spec.yaml -> saved objects for Kibana 8.x and OpenSearch Dashboards 2.x.

Both products import the legacy `visualization`, `search`, `dashboard` and `index-pattern` types. They
differ in the envelope only: Kibana 8 objects carry a 7.17 `coreMigrationVersion` and data view names and
are migrated on import; OpenSearch Dashboards (forked from Kibana 7.10) gets 7.10 migration versions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from . import resources
from .errors import MCPeekerError

ID_PREFIX = "mcpeeker-"
REPO_SPEC = resources.path("dashboards/kibana/spec.yaml")
FLAVOURS = ("kibana", "opensearch-dashboards")
NDJSON_NAMES = {"kibana": "mcpeeker-kibana.ndjson", "opensearch-dashboards": "mcpeeker-opensearch-dashboards.ndjson"}

# Per product: the saved-object migration version each type is written at (the product migrates from there).
MIGRATION = {
    "kibana": {"index-pattern": "7.11.0", "search": "7.9.3", "visualization": "7.17.0", "dashboard": "7.17.0"},
    "opensearch-dashboards": {
        "index-pattern": "7.6.0",
        "search": "7.9.3",
        "visualization": "7.10.0",
        "dashboard": "7.9.3",
    },
}
CORE_VERSION = {"kibana": "7.17.0", "opensearch-dashboards": None}
PANEL_VERSION = {"kibana": "7.17.0", "opensearch-dashboards": "7.10.2"}
CHART_TYPES = {"pie": "pie", "bar": "histogram", "line": "line", "table": "table", "metric": "metric"}
SEARCH_INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def load_spec(path: Path | None = None) -> dict[str, Any]:
    path = path or REPO_SPEC
    if not path.is_file():
        raise MCPeekerError(f"dashboard spec not found: {path} (pass --spec, or reinstall the mcpeeker wheel)")
    with path.open(encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    if not isinstance(spec, dict):
        raise MCPeekerError(f"{path}: not a YAML mapping")
    for section in ("index_patterns", "searches", "visualizations", "dashboards"):
        if not isinstance(spec.get(section), dict):
            raise MCPeekerError(f"{path}: section {section!r} missing or not a mapping")
    return spec


def object_id(kind: str, name: str) -> str:
    short = {"index-pattern": "ip", "search": "search", "visualization": "vis", "dashboard": "dashboard"}[kind]
    return f"{ID_PREFIX}{short}-{name}"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _envelope(
    kind: str, name: str, attributes: dict[str, Any], references: list[dict[str, str]], flavour: str
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": object_id(kind, name),
        "type": kind,
        "attributes": attributes,
        "references": references,
        "migrationVersion": {kind: MIGRATION[flavour][kind]},
    }
    if CORE_VERSION[flavour]:
        obj["coreMigrationVersion"] = CORE_VERSION[flavour]
    return obj


# ----------------------------------------------------------------------------------------- index patterns


def _url_format(dashboard_id: str, query: str) -> dict[str, Any]:
    # Relative URL: both products resolve it under <base>/app/. Rison string: ' and ! are the escapes.
    rison_query = query.replace("!", "!!").replace("'", "!'")
    template = f"dashboards#/view/{dashboard_id}?_a=(query:(language:lucene,query:'{rison_query}'))"
    return {"id": "url", "params": {"type": "a", "urlTemplate": template, "labelTemplate": "{{value}}"}}


def _duration_format(unit: str) -> dict[str, Any]:
    # Both products' duration formatter: a number of `unit` shown as "3 hours", "2 days".
    return {"id": "duration", "params": {"inputFormat": unit, "outputFormat": "humanize"}}


def index_pattern(name: str, spec: dict[str, Any], flavour: str, prefix: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {"title": f"{prefix}{spec['title']}", "fields": "[]"}
    if spec.get("time_field"):
        attributes["timeFieldName"] = spec["time_field"]
    if flavour == "kibana" and spec.get("name"):
        attributes["name"] = spec["name"]
    links = spec.get("links") or {}
    formats: dict[str, Any] = {}
    if links:
        target = object_id("dashboard", "investigation")
        formats.update({field: _url_format(target, query) for field, query in links.items()})
    formats.update({field: _duration_format(unit) for field, unit in (spec.get("durations") or {}).items()})
    if formats:
        attributes["fieldFormatMap"] = _dumps(formats)
    return _envelope("index-pattern", name, attributes, [], flavour)


def _search_source(query: str, with_index: bool) -> str:
    source: dict[str, Any] = {"query": {"query": query, "language": "lucene"}, "filter": []}
    if with_index:
        source["indexRefName"] = SEARCH_INDEX_REF
    return _dumps(source)


def _index_ref(index_name: str) -> list[dict[str, str]]:
    return [{"name": SEARCH_INDEX_REF, "type": "index-pattern", "id": object_id("index-pattern", index_name)}]


# ---------------------------------------------------------------------------------------------- searches


def saved_search(name: str, spec: dict[str, Any], flavour: str) -> dict[str, Any]:
    attributes = {
        "title": spec["title"],
        "description": spec.get("description", ""),
        "columns": list(spec["columns"]),
        "sort": [list(pair) for pair in spec.get("sort", [])],
        "version": 1,
        "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(spec.get("query", ""), True)},
    }
    return _envelope("search", name, attributes, _index_ref(spec["index"]), flavour)


# ---------------------------------------------------------------------------------------- visualizations


def _agg(agg_id: str, spec: dict[str, Any], schema: str, metric_id: str = "1") -> dict[str, Any]:
    kind = spec["agg"]
    params: dict[str, Any]
    if kind == "count":
        params = {}
    elif kind in ("max", "min", "sum", "avg", "cardinality"):
        params = {"field": spec["field"]}
    elif kind == "terms":
        params = {
            "field": spec["field"],
            "size": int(spec.get("size", 10)),
            "order": "desc",
            "orderBy": spec.get("order_by", metric_id),
            "otherBucket": False,
            "otherBucketLabel": "Other",
            "missingBucket": False,
            "missingBucketLabel": "Missing",
        }
    elif kind == "histogram":
        params = {
            "field": spec["field"],
            "interval": spec.get("interval", 1),
            "min_doc_count": False,
            "has_extended_bounds": False,
            "extended_bounds": {"min": "", "max": ""},
        }
    elif kind == "date_range":
        # Relative ranges ("now-7d" ... "now"): how old things are, e.g. open findings by age.
        params = {"field": spec["field"], "ranges": [dict(r) for r in spec["ranges"]]}
    elif kind == "date_histogram":
        interval = str(spec.get("interval", "1d"))
        params = {
            "field": spec["field"],
            "useNormalizedEsInterval": True,
            "scaleMetricValues": False,
            "interval": {"1d": "d", "1h": "h", "1w": "w"}.get(interval, interval),
            "drop_partials": False,
            "min_doc_count": 1,
            "extended_bounds": {},
        }
    else:
        raise MCPeekerError(f"unsupported aggregation {kind!r} in dashboard spec")
    return {"id": agg_id, "enabled": True, "type": kind, "params": params, "schema": schema}


def _xy_params(chart: str, metric_label: str) -> dict[str, Any]:
    series_type = "histogram" if chart == "bar" else "line"
    return {
        "type": CHART_TYPES[chart],
        "grid": {"categoryLines": False},
        "categoryAxes": [
            {
                "id": "CategoryAxis-1",
                "type": "category",
                "position": "bottom",
                "show": True,
                "style": {},
                "scale": {"type": "linear"},
                "labels": {"show": True, "filter": True, "truncate": 100},
                "title": {},
            }
        ],
        "valueAxes": [
            {
                "id": "ValueAxis-1",
                "name": "LeftAxis-1",
                "type": "value",
                "position": "left",
                "show": True,
                "style": {},
                "scale": {"type": "linear", "mode": "normal"},
                "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                "title": {"text": metric_label},
            }
        ],
        "seriesParams": [
            {
                "show": True,
                "type": series_type,
                "mode": "stacked" if chart == "bar" else "normal",
                "data": {"label": metric_label, "id": "1"},
                "valueAxis": "ValueAxis-1",
                "drawLinesBetweenPoints": True,
                "lineWidth": 2,
                "showCircles": True,
            }
        ],
        "addTooltip": True,
        "addLegend": True,
        "legendPosition": "right",
        "times": [],
        "addTimeMarker": False,
        "labels": {"show": False},
        "thresholdLine": {"show": False, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
    }


def _chart_params(chart: str, metric_label: str) -> dict[str, Any]:
    if chart == "pie":
        return {
            "type": "pie",
            "addTooltip": True,
            "addLegend": True,
            "legendPosition": "right",
            "isDonut": True,
            "labels": {"show": True, "values": True, "last_level": True, "truncate": 100},
        }
    if chart in ("bar", "line"):
        return _xy_params(chart, metric_label)
    if chart == "table":
        return {
            "perPage": 10,
            "showPartialRows": False,
            "showMetricsAtAllLevels": False,
            "showTotal": False,
            "totalFunc": "sum",
            "percentageCol": "",
        }
    if chart == "metric":
        return {
            "addTooltip": True,
            "addLegend": False,
            "type": "metric",
            "metric": {
                "percentageMode": False,
                "useRanges": False,
                "colorSchema": "Green to Red",
                "metricColorMode": "None",
                "colorsRange": [{"from": 0, "to": 10000}],
                "labels": {"show": True},
                "invertColors": False,
                "style": {"bgFill": "#000", "bgColor": False, "labelColor": False, "subText": "", "fontSize": 60},
            },
        }
    raise MCPeekerError(f"unsupported chart {chart!r} in dashboard spec")


def _bucket_schema(chart: str, position: int, spec: dict[str, Any]) -> str:
    if spec.get("schema"):
        return str(spec["schema"])
    return {"pie": "segment", "bar": "segment", "line": "segment", "table": "bucket"}.get(chart, "bucket")


def visualization(name: str, spec: dict[str, Any], flavour: str) -> dict[str, Any]:
    chart = spec["chart"]
    aggs = [_agg("1", spec["metric"], "metric")]
    for offset, extra in enumerate(spec.get("extra_metrics", []), start=2):
        aggs.append(_agg(str(offset), extra, "metric"))
    next_id = len(aggs) + 1
    for position, bucket in enumerate(spec.get("buckets", [])):
        aggs.append(_agg(str(next_id + position), bucket, _bucket_schema(chart, position, bucket)))
    metric = spec["metric"]
    label = "Count" if metric["agg"] == "count" else f"{metric['agg']} of {metric.get('field')}"
    vis_state = {
        "title": spec["title"],
        "type": CHART_TYPES[chart],
        "aggs": aggs,
        "params": _chart_params(chart, label),
    }
    attributes = {
        "title": spec["title"],
        "description": spec.get("description", ""),
        "visState": _dumps(vis_state),
        "uiStateJSON": "{}",
        "version": 1,
        "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(spec.get("query", ""), True)},
    }
    return _envelope("visualization", name, attributes, _index_ref(spec["index"]), flavour)


# -------------------------------------------------------------------------------------------- dashboards


def _panel_size(kind: str, chart: str | None) -> tuple[int, int]:
    if kind == "search":
        return 48, 18
    if chart == "metric":
        return 12, 10
    return 24, 14


def dashboard(name: str, spec: dict[str, Any], all_spec: dict[str, Any], flavour: str) -> dict[str, Any]:
    panels, references = [], []
    x = y = row_height = 0
    for index, entry in enumerate(spec["panels"]):
        kind, _, target = entry.rpartition(":")
        kind = "search" if kind == "search" else "visualization"
        section = all_spec["searches" if kind == "search" else "visualizations"]
        if target not in section:
            raise MCPeekerError(f"dashboard {name!r}: panel {entry!r} names no {kind} in the spec")
        width, height = _panel_size(kind, section[target].get("chart"))
        if x + width > 48:
            x, y, row_height = 0, y + row_height, 0
        ref = f"panel_{index}"
        panels.append(
            {
                "version": PANEL_VERSION[flavour],
                "type": kind,
                "panelIndex": str(index + 1),
                "gridData": {"x": x, "y": y, "w": width, "h": height, "i": str(index + 1)},
                "embeddableConfig": {},
                "panelRefName": ref,
            }
        )
        references.append({"name": ref, "type": kind, "id": object_id(kind, target)})
        x, row_height = x + width, max(row_height, height)
    time = spec.get("time") or {}
    attributes = {
        "title": spec["title"],
        "description": spec.get("description", ""),
        "panelsJSON": _dumps(panels),
        "optionsJSON": _dumps({"useMargins": True, "hidePanelTitles": False}),
        "version": 1,
        "timeRestore": bool(time),
        "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source("", False)},
    }
    if time:
        attributes["timeFrom"], attributes["timeTo"] = time["from"], time["to"]
        attributes["refreshInterval"] = {"pause": True, "value": 0}
    return _envelope("dashboard", name, attributes, references, flavour)


# --------------------------------------------------------------------------------------------- assembly


def build(spec: dict[str, Any], flavour: str, index_prefix: str = "") -> list[dict[str, Any]]:
    """Every saved object, dependencies first (the import API resolves references within one file)."""
    if flavour not in FLAVOURS:
        raise MCPeekerError(f"unknown flavour {flavour!r}: expected one of {', '.join(FLAVOURS)}")
    objects = [index_pattern(n, s, flavour, index_prefix) for n, s in spec["index_patterns"].items()]
    objects += [saved_search(n, s, flavour) for n, s in spec["searches"].items()]
    objects += [visualization(n, s, flavour) for n, s in spec["visualizations"].items()]
    objects += [dashboard(n, s, spec, flavour) for n, s in spec["dashboards"].items()]
    return objects


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    return "".join(_dumps(obj) + "\n" for obj in objects)
