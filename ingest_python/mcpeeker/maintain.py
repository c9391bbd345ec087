"""Retention of the evidence indices, applied by `mcpeeker maintain` (scheduled like correlate) on clusters without
an index lifecycle plugin (the local node), and the equivalent ISM (OpenSearch) and ILM (Elasticsearch) policies that
`mcpeeker setup --lifecycle` installs where the plugin exists.

Only rolled-over evidence indices (`{prefix}mcp-events-*`, never the write index) are deleted, and only once the
newest document they hold was ingested (`event.ingested`) more than `lifecycle.events_retention_days` ago; an index
without documents counts from its creation. Findings, registry, feedback, suppressions, state and the audit chain are
never touched: the audit index is kept whole (at least the seeds' 90 days; its HMAC chain verifies from its start).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from . import lifecycle
from .settings import Settings

DAY = 86400.0
AUDIT_MIN_DAYS = 90  # the seeds: the audit trail is kept at least this long (here: never deleted)


@dataclass(frozen=True)
class IndexAge:
    index: str
    last_ingested: float  # epoch seconds: max(event.ingested), else the creation date
    documents: int


@dataclass
class MaintainResult:
    rollover: lifecycle.RolloverResult | None
    deleted: list[IndexAge] = field(default_factory=list)
    kept: list[IndexAge] = field(default_factory=list)
    write_index: str = ""


def index_ages(client: Any, settings: Settings) -> list[IndexAge]:
    """Every evidence index with the time its newest document was ingested (one aggregation for all of them)."""
    pattern = lifecycle.events_pattern(settings)
    created = {
        name: float(info["settings"]["index"]["creation_date"]) / 1000.0
        for name, info in client.indices.get_settings(index=pattern, name="index.creation_date").items()
    }
    body = {
        "size": 0,
        "aggs": {
            "by_index": {
                "terms": {"field": "_index", "size": max(10, len(created))},
                "aggs": {"ingested": {"max": {"field": "event.ingested"}}},
            }
        },
    }
    answer = client.search(index=pattern, body=body, params={"allow_no_indices": "true"})
    seen: dict[str, tuple[float | None, int]] = {}
    for bucket in answer["aggregations"]["by_index"]["buckets"]:
        value = bucket["ingested"]["value"]
        seen[bucket["key"]] = (float(value) / 1000.0 if value is not None else None, int(bucket["doc_count"]))
    ages = []
    for name, creation in sorted(created.items()):
        last, docs = seen.get(name, (None, 0))
        ages.append(IndexAge(name, last if last is not None else creation, docs))
    return ages


def run(settings: Settings, client: Any, *, dry_run: bool = False, now: float | None = None) -> MaintainResult:
    """Check the rollover conditions, then delete the rolled-over evidence indices past retention."""
    now = time.time() if now is None else now
    result = MaintainResult(rollover=None if dry_run else lifecycle.rollover(client, settings))
    result.write_index = lifecycle.write_index(client, settings) or ""
    cutoff = now - settings.lifecycle.events_retention_days * DAY
    for age in index_ages(client, settings):
        if age.index != result.write_index and age.last_ingested < cutoff:
            result.deleted.append(age)
        else:
            result.kept.append(age)
    if result.deleted and not dry_run:
        # Named one by one (no wildcard): nothing but these evidence indices can be deleted.
        client.indices.delete(index=",".join(age.index for age in result.deleted))
    return result


def _days(value: float) -> str:
    return f"{max(1, round(value))}d"


def ism_policy(settings: Settings) -> dict[str, Any]:
    """OpenSearch Index State Management policy equivalent to `maintain`: roll over at the configured size/age,
    delete `events_retention_days` after the rollover. The indices also need
    `plugins.index_state_management.rollover_alias` (see ism_index_settings)."""
    life = settings.lifecycle
    rollover: dict[str, Any] = {"min_size": life.rollover_max_size, "min_index_age": life.rollover_max_age}
    if life.rollover_max_docs is not None:
        rollover["min_doc_count"] = life.rollover_max_docs
    return {
        "policy": {
            "description": "MCPeeker evidence: rollover by size and age of ingestion, then retention",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [{"rollover": rollover}],
                    "transitions": [
                        {"state_name": "delete", "conditions": {"min_rollover_age": _days(life.events_retention_days)}}
                    ],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [{"index_patterns": [lifecycle.events_pattern(settings)], "priority": 100}],
        }
    }


def ism_index_settings(settings: Settings) -> dict[str, Any]:
    return {"plugins.index_state_management.rollover_alias": lifecycle.events_alias(settings)}


def ilm_policy(settings: Settings) -> dict[str, Any]:
    """Elasticsearch ILM policy equivalent to `maintain` (with `index.lifecycle.rollover_alias` on the indices)."""
    life = settings.lifecycle
    rollover: dict[str, Any] = {"max_size": life.rollover_max_size, "max_age": life.rollover_max_age}
    if life.rollover_max_docs is not None:
        rollover["max_docs"] = life.rollover_max_docs
    return {
        "policy": {
            "_meta": {"managed_by": "mcpeeker"},
            "phases": {
                "hot": {"min_age": "0ms", "actions": {"rollover": rollover}},
                "delete": {"min_age": _days(life.events_retention_days), "actions": {"delete": {}}},
            },
        }
    }


def policy_name(settings: Settings) -> str:
    return settings.index("mcp-events-lifecycle")


@dataclass(frozen=True)
class PolicyResult:
    installed: bool
    kind: str  # "ism" | "ilm"
    name: str
    reason: str = ""  # why it was not installed


def install_policy(settings: Settings, client: Any) -> PolicyResult:
    """Install the ISM (OpenSearch) or ILM (Elasticsearch) policy when the cluster has the plugin; otherwise say
    so (`mcpeeker maintain` applies the same retention)."""
    name = policy_name(settings)
    if settings.backend == "elasticsearch":
        client.transport.perform_request("PUT", f"/_ilm/policy/{name}", body=ilm_policy(settings))
        return PolicyResult(True, "ilm", name)
    plugins = {str(row.get("component", "")) for row in client.cat.plugins(format="json")}
    if "opensearch-index-management" not in plugins:
        return PolicyResult(False, "ism", name, "the cluster has no ISM plugin (opensearch-index-management)")
    client.transport.perform_request("PUT", f"/_plugins/_ism/policies/{name}", body=ism_policy(settings))
    return PolicyResult(True, "ism", name)
