"""`mcpeeker analytics summary|score-distribution|trendlines|coverage`: the spec's analytics API.

Each command is one search request whose aggregations do the counting on the cluster; Python only
reshapes the response. `--json` prints the same result for scripts.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from rich.console import Console
from rich.table import Table

from .client import make_client
from .errors import MCPeekerError
from .settings import Settings, add_connection_arguments, resolve

CLASSES = ("authorized", "suspect", "unauthorized")
SEVERITIES = ("info", "low", "medium", "high", "critical")
INTERVAL = re.compile(r"^[1-9][0-9]*[mhdw]$")
CALENDAR = {"1m": "minute", "1h": "hour", "1d": "day", "1w": "week"}

console = Console()


def _search(client: Any, index: str, body: dict[str, Any]) -> dict[str, Any]:
    if not client.indices.exists(index=index):
        raise MCPeekerError(f"index {index} does not exist: run `mcpeeker setup` (and correlation) first")
    return client.search(index=index, body=body)


def _terms(agg: dict[str, Any]) -> dict[str, int]:
    return {str(b.get("key_as_string", b["key"])): b["doc_count"] for b in agg["buckets"]}


# ------------------------------------------------------------------------------------------- summary

def summary(client: Any, settings: Settings) -> dict[str, Any]:
    body = {
        "size": 0, "track_total_hits": True,
        "aggs": {
            "classification": {"terms": {"field": "classification", "size": 10}},
            "severity": {"terms": {"field": "severity", "size": 10}},
            "unregistered": {"filter": {"term": {"registry.match": False}}},
            "with_attack": {"filter": {"range": {"evidence.attack": {"gt": 0}}}},
            "attack_types": {"terms": {"field": "attack.types", "size": 20}},
            "hosts": {"cardinality": {"field": "host.id"}},
            "score": {"stats": {"field": "score"}},
            "new_24h": {"filter": {"range": {"first_seen": {"gte": "now-24h"}}}},
        },
    }
    response = _search(client, settings.index("mcp-findings"), body)
    aggs = response["aggregations"]
    classes = _terms(aggs["classification"])
    severities = _terms(aggs["severity"])
    return {
        "findings": response["hits"]["total"]["value"],
        "by_classification": {c: classes.get(c, 0) for c in CLASSES},
        "by_severity": {s: severities.get(s, 0) for s in SEVERITIES},
        "unregistered": aggs["unregistered"]["doc_count"],
        "with_attack_evidence": aggs["with_attack"]["doc_count"],
        "attack_types": _terms(aggs["attack_types"]),
        "hosts": aggs["hosts"]["value"],
        "new_last_24h": aggs["new_24h"]["doc_count"],
        "score": {k: aggs["score"][k] for k in ("min", "max", "avg")},
    }


# ------------------------------------------------------------------------------------ score distribution

def score_distribution(client: Any, settings: Settings, interval: float = 1.0) -> list[dict[str, Any]]:
    body = {"size": 0, "aggs": {"score": {
        "histogram": {"field": "score", "interval": interval, "min_doc_count": 0},
        "aggs": {"classification": {"terms": {"field": "classification", "size": 10}}}}}}
    response = _search(client, settings.index("mcp-findings"), body)
    return [{"score": b["key"], "count": b["doc_count"], "by_classification": _terms(b["classification"])}
            for b in response["aggregations"]["score"]["buckets"]]


# ----------------------------------------------------------------------------------------- trendlines

def trendlines(client: Any, settings: Settings, interval: str = "1d", days: int = 30) -> list[dict[str, Any]]:
    """New findings per interval (by first_seen), split by classification."""
    if not INTERVAL.match(interval):
        raise MCPeekerError(f"--interval {interval!r}: expected a number and a unit m/h/d/w, e.g. 1d")
    histogram: dict[str, Any] = {"field": "first_seen", "min_doc_count": 0,
                                 "extended_bounds": {"min": f"now-{days}d/d", "max": "now/d"}}
    if interval in CALENDAR:
        histogram["calendar_interval"] = CALENDAR[interval]
    else:
        histogram["fixed_interval"] = interval
    body = {"size": 0, "query": {"range": {"first_seen": {"gte": f"now-{days}d/d"}}},
            "aggs": {"trend": {"date_histogram": histogram,
                               "aggs": {"classification": {"terms": {"field": "classification", "size": 10}}}}}}
    response = _search(client, settings.index("mcp-findings"), body)
    return [{"date": b["key_as_string"], "new_findings": b["doc_count"], "by_classification": _terms(b["classification"])}
            for b in response["aggregations"]["trend"]["buckets"]]


# ------------------------------------------------------------------------------------------- coverage

def coverage(client: Any, settings: Settings, hours: int = 24, window_days: int = 30) -> dict[str, Any]:
    """Agent coverage: hosts with a scan in the last `hours`, last scan and scan errors per host."""
    body = {
        "size": 0,
        "query": {"bool": {"filter": [{"term": {"event.module": "agent"}}, {"term": {"event.dataset": "agent.scan"}},
                                      {"range": {"@timestamp": {"gte": f"now-{window_days}d"}}}]}},
        "aggs": {
            "reporting": {"filter": {"range": {"@timestamp": {"gte": f"now-{hours}h"}}},
                          "aggs": {"hosts": {"cardinality": {"field": "host.id"}}}},
            "known": {"cardinality": {"field": "host.id"}},
            "errors": {"filter": {"term": {"event.outcome": "failure"}}},
            "per_host": {"terms": {"field": "host.id", "size": 10000, "order": {"last_scan": "asc"}},
                         "aggs": {"last_scan": {"max": {"field": "@timestamp"}},
                                  "agent_version": {"terms": {"field": "agent.version", "size": 1}},
                                  "errors": {"filter": {"term": {"event.outcome": "failure"}},
                                             "aggs": {"last": {"terms": {"field": "error.message", "size": 1}}}},
                                  "recent": {"filter": {"range": {"@timestamp": {"gte": f"now-{hours}h"}}}}}},
        },
    }
    response = client.search(index=settings.index("mcp-events-*"), body=body, allow_no_indices=True,
                             ignore_unavailable=True)
    if "aggregations" not in response:  # no events index yet: no agent has reported
        return {"window_hours": hours, "hosts_reporting": 0, "hosts_known": 0, "scans": 0, "scan_errors": 0, "hosts": []}
    aggs = response["aggregations"]
    hosts = []
    for bucket in aggs["per_host"]["buckets"]:
        last_error = bucket["errors"]["last"]["buckets"]
        versions = bucket["agent_version"]["buckets"]
        hosts.append({"host_id": bucket["key"], "last_scan": bucket["last_scan"]["value_as_string"],
                      "scans": bucket["doc_count"], "scan_errors": bucket["errors"]["doc_count"],
                      "last_error": last_error[0]["key"] if last_error else None,
                      "agent_version": versions[0]["key"] if versions else None,
                      "reporting": bucket["recent"]["doc_count"] > 0})
    return {"window_hours": hours, "hosts_reporting": aggs["reporting"]["hosts"]["value"],
            "hosts_known": aggs["known"]["value"], "scans": response["hits"]["total"]["value"],
            "scan_errors": aggs["errors"]["doc_count"], "hosts": hosts}


# ------------------------------------------------------------------------------------------ rendering

def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row))
    return table


def render_summary(result: dict[str, Any]) -> None:
    rows = [["findings", result["findings"]], ["hosts with findings", result["hosts"]],
            ["unregistered", result["unregistered"]], ["with attack evidence", result["with_attack_evidence"]],
            ["new in the last 24 h", result["new_last_24h"]]]
    rows += [[f"classification: {k}", v] for k, v in result["by_classification"].items()]
    rows += [[f"severity: {k}", v] for k, v in result["by_severity"].items()]
    rows += [[f"attack: {k}", v] for k, v in result["attack_types"].items()]
    console.print(_table("MCPeeker summary", ["metric", "value"], rows))


def render_scores(result: list[dict[str, Any]]) -> None:
    peak = max((r["count"] for r in result), default=0) or 1
    rows = [[f"{r['score']:g}", r["count"], "#" * round(30 * r["count"] / peak),
             ", ".join(f"{k} {v}" for k, v in r["by_classification"].items())] for r in result]
    console.print(_table("Score distribution", ["score", "findings", "", "by classification"], rows))


def render_trend(result: list[dict[str, Any]]) -> None:
    rows = [[r["date"][:16], r["new_findings"], *(r["by_classification"].get(c, 0) for c in CLASSES)] for r in result]
    console.print(_table("New findings", ["from", "new", *CLASSES], rows))


def render_coverage(result: dict[str, Any]) -> None:
    console.print(f"hosts reporting in the last {result['window_hours']} h: [bold]{result['hosts_reporting']}[/] "
                  f"of {result['hosts_known']} known; {result['scans']} scans, {result['scan_errors']} with errors")
    rows = [[h["host_id"][:16], h["last_scan"], h["scans"], h["scan_errors"], "yes" if h["reporting"] else "NO",
             h["last_error"] or ""] for h in result["hosts"]]
    console.print(_table("Agent coverage (stalest first)", ["host", "last scan", "scans", "errors", "reporting",
                                                            "last error"], rows))


def _run(args: argparse.Namespace) -> int:
    settings = resolve(args)
    client = make_client(settings)
    if args.analytic == "summary":
        result: Any = summary(client, settings)
        renderer = render_summary
    elif args.analytic == "score-distribution":
        result, renderer = score_distribution(client, settings, args.bucket), render_scores
    elif args.analytic == "trendlines":
        result, renderer = trendlines(client, settings, args.interval, args.days), render_trend
    else:
        result, renderer = coverage(client, settings, args.hours), render_coverage
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        renderer(result)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("analytics", help="summary, score distribution, trendlines, agent coverage")
    kinds = parser.add_subparsers(dest="analytic", metavar="ANALYTIC", required=True)
    helps = {"summary": "findings by classification and severity, unregistered, attack evidence",
             "score-distribution": "findings per score bucket", "trendlines": "new findings per interval",
             "coverage": "hosts whose agent reported recently, last scan and scan errors per host"}
    for name, text in helps.items():
        p = kinds.add_parser(name, help=text, description=text)
        p.add_argument("--json", action="store_true", help="print JSON instead of tables")
        if name == "score-distribution":
            p.add_argument("--bucket", type=float, default=1.0, help="score bucket width (default %(default)s)")
        if name == "trendlines":
            p.add_argument("--interval", default="1d", help="bucket size: 1h, 1d, 1w, 12h ... (default %(default)s)")
            p.add_argument("--days", type=int, default=30, help="how far back (default %(default)s)")
        if name == "coverage":
            p.add_argument("--hours", type=int, default=24, help="reporting window (default %(default)s)")
        add_connection_arguments(p)
        p.set_defaults(func=_run)
