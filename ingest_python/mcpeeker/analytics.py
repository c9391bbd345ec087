"""The spec's analytics API: summary, score distribution, trendlines, agent coverage, false-positive rate per
detection (`mcpeeker analytics`, cli/analytics.py).

Each analytic is one search request whose aggregations do the counting on the cluster; Python only
reshapes the response into plain values (the command prints them as tables or JSON).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from .cases.suppressions import detections_of
from .errors import MCPeekerError
from .settings import Settings

CLASSES = ("authorized", "suspect", "unauthorized")
SEVERITIES = ("info", "low", "medium", "high", "critical")
INTERVAL = re.compile(r"^[1-9][0-9]*[mhdw]$")
CALENDAR = {"1m": "minute", "1h": "hour", "1d": "day", "1w": "week"}


def _search(client: Any, index: str, body: dict[str, Any]) -> dict[str, Any]:
    if not client.indices.exists(index=index):
        raise MCPeekerError(f"index {index} does not exist: run `mcpeeker setup` (and correlation) first")
    response: dict[str, Any] = client.search(index=index, body=body)
    return response


def _terms(agg: dict[str, Any]) -> dict[str, int]:
    return {str(b.get("key_as_string", b["key"])): b["doc_count"] for b in agg["buckets"]}


# ------------------------------------------------------------------------------------------- summary


def summary(client: Any, settings: Settings) -> dict[str, Any]:
    body = {
        "size": 0,
        "track_total_hits": True,
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
    body = {
        "size": 0,
        "aggs": {
            "score": {
                "histogram": {"field": "score", "interval": interval, "min_doc_count": 0},
                "aggs": {"classification": {"terms": {"field": "classification", "size": 10}}},
            }
        },
    }
    response = _search(client, settings.index("mcp-findings"), body)
    return [
        {"score": b["key"], "count": b["doc_count"], "by_classification": _terms(b["classification"])}
        for b in response["aggregations"]["score"]["buckets"]
    ]


# ----------------------------------------------------------------------------------------- trendlines


def trendlines(client: Any, settings: Settings, interval: str = "1d", days: int = 30) -> list[dict[str, Any]]:
    """New findings per interval (by first_seen), split by classification."""
    if not INTERVAL.match(interval):
        raise MCPeekerError(f"--interval {interval!r}: expected a number and a unit m/h/d/w, e.g. 1d")
    histogram: dict[str, Any] = {
        "field": "first_seen",
        "min_doc_count": 0,
        "extended_bounds": {"min": f"now-{days}d/d", "max": "now/d"},
    }
    if interval in CALENDAR:
        histogram["calendar_interval"] = CALENDAR[interval]
    else:
        histogram["fixed_interval"] = interval
    body = {
        "size": 0,
        "query": {"range": {"first_seen": {"gte": f"now-{days}d/d"}}},
        "aggs": {
            "trend": {
                "date_histogram": histogram,
                "aggs": {"classification": {"terms": {"field": "classification", "size": 10}}},
            }
        },
    }
    response = _search(client, settings.index("mcp-findings"), body)
    return [
        {"date": b["key_as_string"], "new_findings": b["doc_count"], "by_classification": _terms(b["classification"])}
        for b in response["aggregations"]["trend"]["buckets"]
    ]


# ------------------------------------------------------------------------------------------- coverage


def coverage(client: Any, settings: Settings, hours: int = 24, window_days: int = 30) -> dict[str, Any]:
    """Agent coverage: hosts with a scan in the last `hours`, last scan and scan errors per host."""
    body = {
        "size": 0,
        "query": {
            "bool": {
                "filter": [
                    {"term": {"event.module": "agent"}},
                    {"term": {"event.dataset": "agent.scan"}},
                    {"range": {"@timestamp": {"gte": f"now-{window_days}d"}}},
                ]
            }
        },
        "aggs": {
            "reporting": {
                "filter": {"range": {"@timestamp": {"gte": f"now-{hours}h"}}},
                "aggs": {"hosts": {"cardinality": {"field": "host.id"}}},
            },
            "known": {"cardinality": {"field": "host.id"}},
            "errors": {"filter": {"term": {"event.outcome": "failure"}}},
            "per_host": {
                "terms": {"field": "host.id", "size": 10000, "order": {"last_scan": "asc"}},
                "aggs": {
                    "last_scan": {"max": {"field": "@timestamp"}},
                    "agent_version": {"terms": {"field": "agent.version", "size": 1}},
                    "errors": {
                        "filter": {"term": {"event.outcome": "failure"}},
                        "aggs": {"last": {"terms": {"field": "error.message", "size": 1}}},
                    },
                    "recent": {"filter": {"range": {"@timestamp": {"gte": f"now-{hours}h"}}}},
                },
            },
        },
    }
    response = client.search(
        index=settings.index("mcp-events-*"), body=body, allow_no_indices=True, ignore_unavailable=True
    )
    if "aggregations" not in response:  # no events index yet: no agent has reported
        return {
            "window_hours": hours,
            "hosts_reporting": 0,
            "hosts_known": 0,
            "scans": 0,
            "scan_errors": 0,
            "hosts": [],
        }
    aggs = response["aggregations"]
    hosts = []
    for bucket in aggs["per_host"]["buckets"]:
        last_error = bucket["errors"]["last"]["buckets"]
        versions = bucket["agent_version"]["buckets"]
        hosts.append(
            {
                "host_id": bucket["key"],
                "last_scan": bucket["last_scan"]["value_as_string"],
                "scans": bucket["doc_count"],
                "scan_errors": bucket["errors"]["doc_count"],
                "last_error": last_error[0]["key"] if last_error else None,
                "agent_version": versions[0]["key"] if versions else None,
                "reporting": bucket["recent"]["doc_count"] > 0,
            }
        )
    return {
        "window_hours": hours,
        "hosts_reporting": aggs["reporting"]["hosts"]["value"],
        "hosts_known": aggs["known"]["value"],
        "scans": response["hits"]["total"]["value"],
        "scan_errors": aggs["errors"]["doc_count"],
        "hosts": hosts,
    }


# ------------------------------------------------------------------------------------ false-positive rate

# The seeds' KPI: under 10 % of the findings an analyst judged are false positives, per detection.
FP_RATE_TARGET = 0.10
# Verdicts that judge a finding (mcpeeker.feedback.VERDICTS); needs_info judges nothing. benign is a true detection
# of something harmless, so it counts as judged and not false.
JUDGING = ("true_positive", "false_positive", "benign")
NO_DETECTION = "(no catalogue detection)"


@dataclass(frozen=True)
class FpRate:
    detection: str  # a catalogue id, or NO_DETECTION for findings that carry none
    judged: int  # findings with a judging verdict (the latest one counts)
    false_positive: int
    rate: float  # false_positive / judged
    target: float = FP_RATE_TARGET

    @property
    def meets_target(self) -> bool:
        return self.rate < self.target

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "meets_target": self.meets_target}


def _latest_verdicts(client: Any, settings: Settings, page: int = 1000) -> dict[str, str]:
    """finding id -> its newest judging verdict, paged with a composite aggregation (any number of findings)."""
    index = settings.index("mcp-feedback")
    if not client.indices.exists(index=index):
        return {}
    latest: dict[str, str] = {}
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": page, "sources": [{"finding": {"terms": {"field": "finding_id"}}}]}
        if after:
            composite["after"] = after
        body = {
            "size": 0,
            "query": {"terms": {"verdict": list(JUDGING)}},
            "aggs": {
                "findings": {
                    "composite": composite,
                    "aggs": {
                        "newest": {"top_hits": {"size": 1, "sort": [{"@timestamp": "desc"}], "_source": ["verdict"]}}
                    },
                }
            },
        }
        agg = client.search(index=index, body=body)["aggregations"]["findings"]
        for bucket in agg["buckets"]:
            latest[str(bucket["key"]["finding"])] = bucket["newest"]["hits"]["hits"][0]["_source"]["verdict"]
        after = agg.get("after_key")
        if not agg["buckets"] or not after:
            return latest


def fp_rate(client: Any, settings: Settings) -> dict[str, Any]:
    """The false-positive rate per detection id: of the findings carrying the detection (mcpeeker.cases.suppressions.
    detections_of: trust penalties and attack types) that an analyst judged, the share whose newest judging verdict
    is false_positive. Verdicts on findings no longer stored are counted apart."""
    latest = _latest_verdicts(client, settings)
    index = settings.index("mcp-findings")
    judged: dict[str, int] = {}
    false: dict[str, int] = {}
    found: set[str] = set()
    ids = sorted(latest)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        response = client.mget(
            index=index, body={"ids": chunk}, params={"_source_includes": "finding.id,trust.penalties,attack.types"}
        )
        for doc in response["docs"]:
            if not doc.get("found"):
                continue
            fid = doc["_id"]
            found.add(fid)
            for detection in sorted(detections_of(doc["_source"])) or [NO_DETECTION]:
                judged[detection] = judged.get(detection, 0) + 1
                if latest[fid] == "false_positive":
                    false[detection] = false.get(detection, 0) + 1
    rows = [
        FpRate(d, judged[d], false.get(d, 0), false.get(d, 0) / judged[d])
        for d in sorted(judged, key=lambda d: (d == NO_DETECTION, d))
    ]
    total_false = sum(1 for fid in found if latest[fid] == "false_positive")
    overall = FpRate("all", len(found), total_false, total_false / len(found) if found else 0.0)
    return {
        "target": FP_RATE_TARGET,
        "detections": [r.to_dict() for r in rows],
        "all": overall.to_dict(),
        "verdicts_on_missing_findings": len(latest) - len(found),
    }
