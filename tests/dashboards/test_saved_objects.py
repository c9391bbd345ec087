"""The saved objects are held to account without Kibana: they parse, references resolve, fields exist with a
suitable type, queries are valid Lucene for the cluster, and every visualization returns buckets on real data.

Queries are Lucene only (query_string syntax, `language: lucene`), so the cluster's `_validate/query` checks
them; no KQL is used anywhere.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from mcpeeker.client import make_client
from mcpeeker.kibana_objects import FLAVOURS, ID_PREFIX, NDJSON_NAMES, build, load_spec, to_ndjson

from .objects import (
    AGGREGATABLE,
    KIBANA_DIR,
    NUMERIC,
    index_pattern_of,
    load_ndjson,
    non_empty,
    query_fields,
    search_body,
    search_source,
    template_fields,
    vis_aggs,
)
from .seed import Seeded

DASHBOARDS = {
    "Overview",
    "Detections feed",
    "Registry",
    "Devices",
    "Network",
    "Remote MCP services",
    "Triage",
    "Investigation",
}


def _by_id(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["type"], o["id"]): o for o in objects}


def _field_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Every field a visualization, search or field format names, checked against the index templates."""
    by_id = _by_id(objects)
    problems: list[str] = []
    for obj in objects:
        if obj["type"] == "index-pattern":
            fields = template_fields(obj["attributes"]["title"])
            time_field = obj["attributes"].get("timeFieldName")
            if time_field and fields.get(time_field) != "date":
                problems.append(f"{obj['id']}: time field {time_field} is {fields.get(time_field)}, not date")
            for name in json.loads(obj["attributes"].get("fieldFormatMap", "{}")):
                if name not in fields:
                    problems.append(f"{obj['id']}: field format on unknown field {name}")
            continue
        if obj["type"] not in ("visualization", "search"):
            continue
        pattern = index_pattern_of(obj, by_id)
        fields = template_fields(pattern["attributes"]["title"])
        where = f"{obj['type']} {obj['id']}"
        for name in query_fields(search_source(obj)["query"]["query"]):
            if name not in fields:
                problems.append(f"{where}: query names unknown field {name}")
        if obj["type"] == "search":
            for name in obj["attributes"]["columns"]:
                if name not in fields:
                    problems.append(f"{where}: column {name} not in the template")
            for name, _direction in obj["attributes"]["sort"]:
                if fields.get(name) not in AGGREGATABLE:
                    problems.append(f"{where}: sort field {name} is {fields.get(name)}, not sortable")
            continue
        for agg in vis_aggs(obj):
            name = agg["params"].get("field")
            if name is None:
                continue
            kind = fields.get(name)
            if kind not in AGGREGATABLE:
                problems.append(f"{where}: {agg['type']} on {name} ({kind}) is not aggregatable")
            elif agg["type"] in ("date_histogram", "date_range") and kind != "date":
                problems.append(f"{where}: date_histogram on {name} ({kind})")
            elif agg["type"] in ("histogram", "sum", "avg") and kind not in NUMERIC:
                problems.append(f"{where}: {agg['type']} on {name} ({kind}) needs a number")
            elif agg["type"] in ("max", "min") and kind not in NUMERIC | {"date"}:
                problems.append(f"{where}: {agg['type']} on {name} ({kind}) needs a number or date")
    return problems


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_ndjson_parses_and_equals_the_spec(flavour: str) -> None:
    objects = load_ndjson(flavour)
    expected = to_ndjson(build(load_spec(), flavour))
    actual = (KIBANA_DIR / NDJSON_NAMES[flavour]).read_text(encoding="utf-8")
    assert actual == expected, "committed NDJSON is stale: run `mcpeeker dashboards export --out dashboards/kibana`"
    ids = [(o["type"], o["id"]) for o in objects]
    assert len(ids) == len(set(ids)), "duplicate saved-object ids"
    assert all(o["id"].startswith(ID_PREFIX) for o in objects)
    for obj in objects:
        assert set(obj) >= {"id", "type", "attributes", "references", "migrationVersion"}
        for key in ("visState", "panelsJSON", "optionsJSON", "fieldFormatMap", "uiStateJSON"):
            if key in obj["attributes"]:
                json.loads(obj["attributes"][key])
        if "kibanaSavedObjectMeta" in obj["attributes"]:
            search_source(obj)
    titles = {o["attributes"]["title"].removeprefix("MCPeeker - ") for o in objects if o["type"] == "dashboard"}
    assert titles == DASHBOARDS
    patterns = {o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    assert patterns == {"mcp-events-*", "mcp-findings", "mcp-registry", "mcp-feedback", "mcp-audit"}


def test_flavours_differ_only_in_the_envelope() -> None:
    kibana, osd = load_ndjson("kibana"), load_ndjson("opensearch-dashboards")
    assert all(o.get("coreMigrationVersion") for o in kibana)
    assert not any("coreMigrationVersion" in o for o in osd)
    assert all("name" in o["attributes"] for o in kibana if o["type"] == "index-pattern")
    assert not any("name" in o["attributes"] for o in osd if o["type"] == "index-pattern")
    for k, o in zip(kibana, osd):
        assert (k["type"], k["id"], k["references"]) == (o["type"], o["id"], o["references"])


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_every_reference_resolves(flavour: str) -> None:
    objects = load_ndjson(flavour)
    by_id = _by_id(objects)
    position = {(o["type"], o["id"]): n for n, o in enumerate(objects)}
    for n, obj in enumerate(objects):
        names = {r["name"] for r in obj["references"]}
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in by_id, f"{obj['id']}: reference {ref} does not resolve"
            assert position[(ref["type"], ref["id"])] < n, f"{obj['id']}: {ref['id']} must come first in the file"
        source = search_source(obj) if "kibanaSavedObjectMeta" in obj["attributes"] else {}
        if "indexRefName" in source:
            assert source["indexRefName"] in names
        if obj["type"] == "dashboard":
            panels = json.loads(obj["attributes"]["panelsJSON"])
            assert panels and {p["panelRefName"] for p in panels} == names
            for panel in panels:
                ref = next(r for r in obj["references"] if r["name"] == panel["panelRefName"])
                assert panel["type"] == ref["type"]
                grid = panel["gridData"]
                assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 48


def test_every_field_exists_with_a_suitable_type() -> None:
    problems = _field_problems(load_ndjson("kibana"))
    assert not problems, "\n".join(problems)


def test_field_check_catches_a_bad_field() -> None:
    # The check must be able to fail: a terms aggregation on a text field and a column that does not exist.
    spec = load_spec()
    spec["visualizations"]["overview-top-hosts"]["buckets"] = [{"agg": "terms", "field": "mcpeeker.snippet"}]
    spec["searches"]["detections-feed"]["columns"].append("finding.no_such_field")
    problems = _field_problems(build(spec, "kibana"))
    assert any("mcpeeker.snippet" in p for p in problems)
    assert any("finding.no_such_field" in p for p in problems)


@pytest.mark.opensearch
def test_every_query_is_valid_lucene(seeded: Seeded) -> None:
    client = make_client(seeded.settings)
    objects = load_ndjson("opensearch-dashboards")
    by_id = _by_id(objects)
    checked = 0
    for obj in objects:
        if obj["type"] not in ("visualization", "search"):
            continue
        index = seeded.settings.index(index_pattern_of(obj, by_id)["attributes"]["title"])
        query = search_source(obj)["query"]["query"]
        result = client.indices.validate_query(
            index=index, explain=True, body={"query": {"query_string": {"query": query, "analyze_wildcard": True}}}
        )
        assert result["valid"], f"{obj['id']}: {query!r}: {result.get('explanations')}"
        checked += 1
    assert checked >= 30
    broken = client.indices.validate_query(
        index=seeded.settings.index("mcp-registry"),
        explain=True,
        body={"query": {"query_string": {"query": "status:(approved AND"}}},
    )
    assert not broken["valid"]


@pytest.mark.opensearch
def test_every_visualization_returns_buckets(seeded: Seeded) -> None:
    client = make_client(seeded.settings)
    objects = load_ndjson("opensearch-dashboards")
    by_id = _by_id(objects)
    empty = []
    for obj in objects:
        if obj["type"] != "visualization":
            continue
        index = seeded.settings.index(index_pattern_of(obj, by_id)["attributes"]["title"])
        response = client.search(index=index, body=search_body(obj))
        if not non_empty(vis_aggs(obj), response):
            empty.append(
                f"{obj['id']}: {json.dumps(search_body(obj))[:300]} -> {json.dumps(response.get('aggregations'))[:300]}"
            )
    assert not empty, "\n".join(empty)


@pytest.mark.opensearch
def test_every_saved_search_returns_sorted_rows(seeded: Seeded) -> None:
    client = make_client(seeded.settings)
    objects = load_ndjson("opensearch-dashboards")
    by_id = _by_id(objects)
    for obj in (o for o in objects if o["type"] == "search"):
        index = seeded.settings.index(index_pattern_of(obj, by_id)["attributes"]["title"])
        sort = [{field: direction} for field, direction in obj["attributes"]["sort"]]
        body = {
            "query": {"query_string": {"query": search_source(obj)["query"]["query"]}},
            "sort": sort,
            "_source": obj["attributes"]["columns"],
            "size": 1000,  # more than the seeded findings (101 with the remote captures)
        }
        hits = client.search(index=index, body=body)["hits"]["hits"]
        assert hits, f"{obj['id']} returns nothing"
        if obj["id"].endswith("detections-feed"):
            assert len(hits) == len(seeded.findings)
            stamps = [h["sort"][0] for h in hits]
            assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) > 1


@pytest.mark.opensearch
def test_investigation_link_query_selects_one_finding(seeded: Seeded) -> None:
    """The feed's link opens Investigation with this query: it must pick the finding and its verdicts."""
    client = make_client(seeded.settings)
    ip = next(o for o in load_ndjson("kibana") if o["id"] == "mcpeeker-ip-findings")
    template = json.loads(ip["attributes"]["fieldFormatMap"])["finding.id"]["params"]["urlTemplate"]
    assert template.startswith("dashboards#/view/mcpeeker-dashboard-investigation?_a=")
    target = seeded.findings[0]["finding"]["id"]  # the seed records a verdict on the newest findings
    query = template.split("query:'", 1)[1].rsplit("'))", 1)[0].replace("!'", "'").replace("{{value}}", target)
    index = ",".join(seeded.settings.index(n) for n in ("mcp-findings", "mcp-feedback", "mcp-audit"))
    hits = client.search(index=index, body={"query": {"query_string": {"query": query}}, "size": 50})["hits"]["hits"]
    kinds = {h["_index"].removeprefix(seeded.settings.index_prefix) for h in hits}
    assert kinds == {"mcp-findings", "mcp-feedback", "mcp-audit"}
    assert {
        h["_source"].get("finding", {}).get("id") or h["_source"].get("finding_id") or h["_source"]["object"]["id"]
        for h in hits
    } == {target}


@pytest.mark.opensearch
def test_triage_times_are_the_stored_rounds(seeded: Seeded) -> None:
    """The Triage metrics, run as the product runs them, give the mean of the timings the case workflow stored,
    and each stored timing is the time from the finding's first evidence to the status change."""
    client = make_client(seeded.settings)
    objects = load_ndjson("opensearch-dashboards")
    by_id = _by_id(objects)
    index = seeded.settings.index("mcp-findings")
    client.indices.refresh(index=index)
    docs = [h["_source"] for h in client.search(index=index, body={"size": 1000})["hits"]["hits"]]
    for name, stamp, field in (
        ("time-to-acknowledge", "acknowledged_at", "time_to_acknowledge"),
        ("time-to-resolve", "resolved_at", "time_to_resolve"),
    ):
        timed = [d for d in docs if d["finding"].get(field) is not None]
        assert timed, f"the seed gives some finding a {field}"
        for d in timed:
            start = datetime.fromisoformat(d["first_seen"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(d["finding"][stamp].replace("Z", "+00:00"))
            assert d["finding"][field] == round((end - start).total_seconds())
        vis = by_id[("visualization", f"mcpeeker-vis-triage-{name}")]
        assert index_pattern_of(vis, by_id)["attributes"]["title"] == "mcp-findings"
        response = client.search(index=index, body=search_body(vis))
        value = response["aggregations"]["1"]["value"]
        assert value == pytest.approx(sum(d["finding"][field] for d in timed) / len(timed))
    statuses = {d["finding"]["status"] for d in docs}
    assert {"acknowledged", "resolved"} <= statuses
