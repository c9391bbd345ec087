"""What the evidence in `mcp-events-*` says about each instance key, in a few cheap aggregation passes.

Every aggregation here has the shape `terms(field) > terms(instance key)`. The obvious shape, a terms
aggregation on the key with one sub-aggregation per field, keeps a sub-bucket per key for every field and
takes seconds over a million documents; the inverted one runs on global ordinals in a fraction of that
(bench/correlate_cycle.py). A small key set is selected with a `terms` query in chunks; a large one (where
looking up every key costs more than reading every document) with hash partitions of the key instead.
Only terms, min, max and top_hits are used, so the same requests run on OpenSearch and Elasticsearch.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ..model import instance_key
from ..paging import composite_pairs

log = logging.getLogger(__name__)

KEY_FIELD = "mcpeeker.instance.key"
TYPE_FIELD = "mcpeeker.evidence.type"
EVIDENCE_TYPES = ("endpoint", "network", "attack", "judge")
NETWORK_MODULES = ("zeek", "suricata")
# Facts kept per instance: output name -> event field.
FACT_FIELDS = {
    "host_id": "host.id",
    "host_ip": "host.ip",
    "dst_ip": "destination.ip",
    "dst_port": "destination.port",
    "server_name": "mcp.server.name",
    "server_version": "mcp.server.version",
    "cfg_name": "mcp.config.server_name",
    "cfg_client": "mcp.config.client",
    "url": "mcp.server.url",
    "transport": "mcp.transport",
    "spec_era": "mcp.spec_era",
    "protocol_version": "mcp.protocol.version",
    "tool": "gen_ai.tool.name",
    "tools": "mcp.tools.names",
    "module": "event.module",
    "attack": "mcpeeker.attack.type",
    "risk": "tags",  # `risk:<agent risk>` tags: the trust score's agent penalties (trust.py)
}
# Network evidence is keyed `net:<server ip>:<port>`: its server address is the key itself, so these two
# facts are aggregated over the other (endpoint, judge) evidence only - most documents skip the pass.
ADDRESS_FACTS = ("dst_ip", "dst_port")
# Facts that are nearly unique per host and carried by few (endpoint) documents: inverted, each value would
# hold a key-terms queue of its own, so these are read as (key, value) pairs with a composite aggregation
# over just the documents that have the field.
PER_HOST_FACTS = ("host_id", "host_ip", "dst_ip", "dst_port", "url", "cfg_name", "cfg_client")

KEY_FILTER_MAX = 3000  # more keys than this: scanning every key beats looking each one up
KEY_CHUNK = 1000  # keys per `terms` query
BUCKET_BUDGET = 40_000  # buckets per response, well under search.max_buckets (65,535 by default)
FACT_VALUES = 10_000  # distinct values of one fact field per request
ATTEMPTS = 8  # partition doublings before giving up
SIZE_SLACK = 100  # extra key buckets per partition: the key count is an estimate


@dataclass
class KeyStats:
    counts: dict[str, int] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None


@dataclass
class InstanceAggregate:
    """Evidence of one instance, merged over its raw keys."""

    key: str
    raw_keys: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    first_seen: str | None = None
    last_seen: str | None = None
    facts: dict[str, set[Any]] = field(default_factory=dict)
    refs: dict[str, list[str]] = field(default_factory=dict)  # evidence type -> newest evidence ids
    _ref_times: dict[str, list[tuple[int, str]]] = field(default_factory=dict, repr=False)

    def add_stats(self, raw_key: str, stats: KeyStats) -> None:
        self.raw_keys.add(raw_key)
        for etype, count in stats.counts.items():
            self.counts[etype] = self.counts.get(etype, 0) + count
        if stats.first and (self.first_seen is None or stats.first < self.first_seen):
            self.first_seen = stats.first
        if stats.last and (self.last_seen is None or stats.last > self.last_seen):
            self.last_seen = stats.last

    def add_facts(self, facts: dict[str, set[Any]]) -> None:
        for name, values in facts.items():
            self.facts.setdefault(name, set()).update(values)

    def add_refs(self, refs: dict[str, list[tuple[int, str]]], per_type: int) -> None:
        """refs: evidence type -> (epoch ms, id) of one raw key's newest evidence; keeps the newest overall."""
        for etype, pairs in refs.items():
            newest = sorted(set(pairs) | set(self._ref_times.get(etype, [])), reverse=True)[:per_type]
            self._ref_times[etype] = newest
            self.refs[etype] = [ref for _, ref in newest]

    def values(self, name: str) -> list[Any]:
        return sorted(self.facts.get(name, set()), key=str)


@dataclass(frozen=True)
class _Pass:
    """One aggregation: buckets of `field` values, each with the instance keys that carry it."""

    name: str
    field: str
    values: int
    inner: dict[str, Any] | None = None
    filters: tuple[dict[str, Any], ...] = ()

    def aggs(self, include: dict[str, int] | None, size: int) -> dict[str, Any]:
        keys: dict[str, Any] = {"terms": {"field": KEY_FIELD, "size": size}}
        if include:
            keys["terms"]["include"] = include
        if self.inner:
            keys["aggs"] = self.inner
        return {"a": {"terms": {"field": self.field, "size": self.values}, "aggs": {"k": keys}}}


_STATS = _Pass(
    "stats", TYPE_FIELD, 32, {"first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}}}
)


def _stats(rows: Iterable[tuple[str, Any, str, dict[str, Any]]]) -> dict[str, KeyStats]:
    out: dict[str, KeyStats] = {}
    for _, etype, key, bucket in rows:
        stats = out.setdefault(key, KeyStats())
        stats.counts[etype] = bucket["doc_count"]
        first = bucket.get("first", {}).get("value_as_string")
        last = bucket.get("last", {}).get("value_as_string")
        if first and (stats.first is None or first < stats.first):
            stats.first = first
        if last and (stats.last is None or last > stats.last):
            stats.last = last
    return out


class _Incomplete(Exception):
    """A partition held more keys (or buckets) than one response may carry: use more partitions."""


class EvidenceAggregator:
    def __init__(self, client: Any, index: str, refs_per_type: int = 5) -> None:
        self.client, self.index, self.refs_per_type = client, index, refs_per_type

    # --- the passes ---------------------------------------------------------------------
    def keys(self, filters: list[dict[str, Any]]) -> set[str]:
        """Every instance key with a document matching `filters`."""
        return {key for _, _, key, _ in self._run([_Pass("keys", TYPE_FIELD, 32)], filters, None)}

    def count_keys(self, filters: list[dict[str, Any]]) -> int:
        """About how many instance keys have a document matching `filters`."""
        return self._cardinality(filters)

    def stats(self, keys: set[str] | None) -> dict[str, KeyStats]:
        """Document counts per evidence type, first and last @timestamp, per key (all time)."""
        return _stats(self._run([_STATS], [], keys))

    def keys_and_stats(self, filters: list[dict[str, Any]]) -> tuple[set[str], dict[str, KeyStats]]:
        """keys(filters) and stats of every key, side by side in one request: when most keys are in the
        window anyway, two parallel scans beat a scan followed by looking up thousands of keys by name."""
        rows = list(self._run([_Pass("keys", TYPE_FIELD, 32, filters=tuple(filters)), _STATS], [], None))
        return {row[2] for row in rows if row[0] == "keys"}, _stats(row for row in rows if row[0] == "stats")

    def facts_and_refs(
        self, keys: set[str]
    ) -> tuple[dict[str, dict[str, set[Any]]], dict[str, dict[str, list[tuple[int, str]]]]]:
        """Per key: every fact's distinct values, and the newest evidence ids per evidence type."""
        not_network = {"bool": {"must_not": [{"terms": {"event.module": list(NETWORK_MODULES)}}]}}
        passes = [
            _Pass(name, event_field, FACT_VALUES, filters=({"exists": {"field": event_field}},))
            for name, event_field in FACT_FIELDS.items()
            if name not in PER_HOST_FACTS
        ]
        if self.refs_per_type > 0:
            top = {"r": {"top_hits": {"size": self.refs_per_type, "sort": [{"@timestamp": "desc"}], "_source": False}}}
            passes.append(_Pass("refs", TYPE_FIELD, 32, top, filters=({"terms": {TYPE_FIELD: list(EVIDENCE_TYPES)}},)))
        facts: dict[str, dict[str, set[Any]]] = {}
        refs: dict[str, dict[str, list[tuple[int, str]]]] = {}
        for name in PER_HOST_FACTS:
            filters = [{"exists": {"field": FACT_FIELDS[name]}}] + ([not_network] if name in ADDRESS_FACTS else [])
            for value, key in self._pairs(FACT_FIELDS[name], filters, keys):
                facts.setdefault(key, {}).setdefault(name, set()).add(value)
        for name, value, key, bucket in self._run(passes, [], keys):
            if name == "refs":
                # sort[0] is the hit's @timestamp in epoch milliseconds
                hits = bucket.get("r", {}).get("hits", {}).get("hits", [])
                refs.setdefault(key, {})[value] = [(hit["sort"][0], hit["_id"]) for hit in hits]
            else:
                facts.setdefault(key, {}).setdefault(name, set()).add(value)
        for key in keys:
            parts = instance_key.parse(key)
            if parts["kind"] == "net":
                _add_address_facts(parts, facts.setdefault(key, {}))
        return facts, refs

    # --- running them -------------------------------------------------------------------
    def _pairs(self, value_field: str, filters: list[dict[str, Any]], keys: set[str]) -> Iterator[tuple[Any, str]]:
        """(value, key) for every key in `keys` whose documents matching `filters` carry `value_field`."""
        scopes = (
            [[*filters, {"terms": {KEY_FIELD: chunk}}] for chunk in _chunks(sorted(keys), KEY_CHUNK)]
            if len(keys) <= KEY_FILTER_MAX
            else [filters]
        )
        for scope in scopes:
            for key, value in composite_pairs(self.client, self.index, (KEY_FIELD, value_field), _query(scope)):
                if key in keys:
                    yield value, key

    def _run(
        self, passes: list[_Pass], filters: list[dict[str, Any]], keys: set[str] | None
    ) -> Iterator[tuple[str, Any, str, dict[str, Any]]]:
        """(pass name, outer value, key, key bucket) for each key in `keys` (None: every key) of each pass."""
        if keys is not None and not keys:
            return
        estimate: int | None = None
        for _ in range(ATTEMPTS):
            scopes, estimate = self._scopes(filters, keys, estimate)
            try:
                rows = list(self._search(passes, filters, scopes))
            except _Incomplete:
                estimate *= 2  # more keys than estimated: larger or more partitions
                continue
            # A partition scan answers for every key it met, not only the ones asked for.
            yield from (row for row in rows if keys is None or row[2] in keys)
            return
        raise RuntimeError(
            f"correlation: {estimate} instance keys still do not fit in partitions of {BUCKET_BUDGET} buckets"
        )

    def _scopes(
        self, filters: list[dict[str, Any]], keys: set[str] | None, estimate: int | None
    ) -> tuple[list[tuple[list[dict[str, Any]], dict[str, int] | None, int]], int]:
        """(query filters, key partition, key terms size) per request, and the key count they are sized for."""
        if keys is not None and len(keys) <= KEY_FILTER_MAX:
            ordered = sorted(keys)
            return [
                (filters + [{"terms": {KEY_FIELD: chunk}}], None, len(chunk)) for chunk in _chunks(ordered, KEY_CHUNK)
            ], len(keys)
        estimate = estimate or max(1, self._cardinality(filters))
        partitions = max(1, math.ceil(estimate * 2 / BUCKET_BUDGET))
        size = math.ceil(estimate / partitions * 1.25) + SIZE_SLACK  # an overflow is detected and retried
        if partitions == 1:
            return [(filters, None, size)], estimate
        return [(filters, {"partition": p, "num_partitions": partitions}, size) for p in range(partitions)], estimate

    def _cardinality(self, filters: list[dict[str, Any]]) -> int:
        body = {
            "size": 0,
            "track_total_hits": False,
            "query": _query(filters),
            "aggs": {"n": {"cardinality": {"field": KEY_FIELD, "precision_threshold": 40_000}}},
        }
        response = self.client.search(index=self.index, body=body, ignore_unavailable=True, allow_no_indices=True)
        return int(response.get("aggregations", {}).get("n", {}).get("value", 0))

    def _search(
        self,
        passes: list[_Pass],
        filters: list[dict[str, Any]],
        scopes: list[tuple[list[dict[str, Any]], dict[str, int] | None, int]],
    ) -> Iterator[tuple[str, Any, str, dict[str, Any]]]:
        # One msearch: the cluster runs the passes side by side on its search threads.
        requests = [(p, scope_filters, include, size) for p in passes for scope_filters, include, size in scopes]
        body: list[dict[str, Any]] = []
        for p, scope_filters, include, size in requests:
            body.append({"index": self.index, "ignore_unavailable": True, "allow_no_indices": True})
            body.append(
                {
                    "size": 0,
                    "track_total_hits": False,
                    "query": _query(scope_filters + list(p.filters)),
                    "aggs": p.aggs(include, size),
                }
            )
        responses = self.client.msearch(body=body, params={"request_timeout": 300, "filter_path": RESPONSE_FIELDS})[
            "responses"
        ]
        for (p, _, _, _), response in zip(requests, responses):
            yield from _rows(p, response)


# Only what _rows reads: top_hits answers are large, and most of their bytes are not needed.
_BUCKETS = "responses.aggregations.a.buckets"
RESPONSE_FIELDS = ",".join(
    [
        "responses.error",
        "responses.aggregations.a.sum_other_doc_count",
        f"{_BUCKETS}.key",
        f"{_BUCKETS}.key_as_string",
        f"{_BUCKETS}.k.sum_other_doc_count",
        f"{_BUCKETS}.k.buckets.key",
        f"{_BUCKETS}.k.buckets.doc_count",
        f"{_BUCKETS}.k.buckets.first.value_as_string",
        f"{_BUCKETS}.k.buckets.last.value_as_string",
        f"{_BUCKETS}.k.buckets.r.hits.hits._id",
        f"{_BUCKETS}.k.buckets.r.hits.hits.sort",
    ]
)


def _rows(p: _Pass, response: dict[str, Any]) -> Iterator[tuple[str, Any, str, dict[str, Any]]]:
    error = response.get("error")
    if error:
        if "too_many_buckets" in str(error):
            raise _Incomplete()
        raise RuntimeError(f"correlation: the {p.name} aggregation failed: {str(error)[:500]}")
    values = response.get("aggregations", {}).get("a")
    if not values:
        return
    if values.get("sum_other_doc_count"):
        log.warning(
            "correlation: more than %d distinct values of %s; the rest are not kept as facts", p.values, p.field
        )
    # filter_path drops empty parts of an answer: every lookup below tolerates their absence.
    for value_bucket in values.get("buckets", []):
        keys = value_bucket.get("k", {})
        if keys.get("sum_other_doc_count"):
            raise _Incomplete()
        value = value_bucket.get("key_as_string", value_bucket["key"])
        for key_bucket in keys.get("buckets", []):
            yield p.name, value, key_bucket["key"], key_bucket


def _add_address_facts(parts: instance_key.KeyParts, facts: dict[str, set[Any]]) -> None:
    if parts.get("ip"):
        facts.setdefault("dst_ip", set()).add(parts["ip"])
    if parts.get("port") is not None:
        facts.setdefault("dst_port", set()).add(parts["port"])


def _query(filters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"bool": {"filter": [{"exists": {"field": KEY_FIELD}}, *filters]}}


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
