"""Evidence goes through a rolled-over write alias (mcpeeker.lifecycle), not one index per event day: a replay
spanning five years and a burst of forged future timestamps give a bounded number of indices, every event stays
searchable by its @timestamp and flagged when far from the time it was read, and re-ingesting after a rollover
overwrites instead of duplicating."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from mcpeeker import lifecycle
from mcpeeker.client import make_client
from mcpeeker.ingest.run import IngestOptions, run_ingest
from mcpeeker.settings import Lifecycle, Settings

from .conftest import ZEEK_LOGS

DAY = 86400.0
YEARS = 5
FUTURE = 300  # forged timestamps: a sensor with a broken clock, or an attacker


def _replay(path: Path, stamps: list[float]) -> None:
    """Real Zeek conn.log lines (Zeek 7 over public traces) replayed at the given times, as an archive replay or a
    sensor with a wrong clock gives them: only `ts` changes (and with it the line, so every line is one event)."""
    logs = sorted((ZEEK_LOGS / "json").glob("*/conn.log"))
    lines = [orjson.loads(line) for log in logs for line in log.read_bytes().splitlines()]
    with open(path, "wb") as fh:
        for n, ts in enumerate(stamps):
            fh.write(orjson.dumps({**lines[n % len(lines)], "ts": ts}) + b"\n")


def _indices(client: Any, settings: Settings) -> list[str]:
    return sorted(client.indices.get(index=lifecycle.events_pattern(settings)))


def _ingest(settings: Settings, path: Path, tmp_path: Path) -> int:
    options = IngestOptions(
        source="zeek", paths=(str(path),), dead_letter=str(tmp_path / "dead.log"), spool_dir=tmp_path / "spool"
    )
    result = run_ingest(settings, options)
    assert result.rejected == 0 and result.spooled_left == 0
    return result.indexed


def test_years_of_events_and_forged_future_stay_in_a_few_indices(store_settings: Settings, tmp_path: Path) -> None:
    settings = replace(store_settings, lifecycle=Lifecycle(rollover_max_docs=1000, check_seconds=3600))
    client = make_client(settings)
    now = time.time()
    past = [now - YEARS * 365 * DAY + n * DAY + DAY / 2 for n in range(YEARS * 365)]  # one event a day for five years
    future = [now + 3600 * (n + 1) * 97.0 for n in range(FUTURE)]  # from an hour to a few years ahead
    archive, forged = tmp_path / "archive" / "conn.log", tmp_path / "forged" / "conn.log"
    archive.parent.mkdir()
    forged.parent.mkdir()
    _replay(archive, past)
    _replay(forged, future)

    assert _ingest(settings, archive, tmp_path) == len(past)
    # 1,825 event days used to make 1,825 indices; now they share the write index.
    assert _indices(client, settings) == [settings.index("mcp-events-000001")]

    # More than rollover_max_docs in the write index: the next check (here: the next ingest's start) rolls over.
    assert _ingest(settings, forged, tmp_path) == FUTURE
    # The archive again after the rollover: every document is overwritten where it is, nothing is duplicated.
    assert _ingest(settings, archive, tmp_path) == len(past)

    names = _indices(client, settings)
    assert names == [settings.index("mcp-events-000001"), settings.index("mcp-events-000002")]
    assert lifecycle.write_index(client, settings) == names[1]
    pattern = lifecycle.events_pattern(settings)
    client.indices.refresh(index=pattern)
    assert client.count(index=names[0])["count"] == len(past)
    assert client.count(index=names[1])["count"] == FUTURE
    health = client.cluster.health(index=pattern, wait_for_status="green")
    assert health["status"] == "green" and not health["timed_out"]

    # Every event is found by its own @timestamp (readers filter on event time, whatever index holds it).
    body = {"size": 0, "aggs": {"ts": {"terms": {"field": "@timestamp", "size": 5000}}}}
    buckets = client.search(index=pattern, body=body)["aggregations"]["ts"]["buckets"]
    found = {int(b["key"] // 1000): b["doc_count"] for b in buckets}
    assert found == {int(ts): 1 for ts in past + future}

    # Far from the time they were read: kept, flagged, with the skew's sign and size.
    def flagged(query: dict[str, Any]) -> int:
        q = {"bool": {"filter": [query, {"term": {"mcpeeker.time_skew": True}}]}}
        return int(client.count(index=pattern, body={"query": q})["count"])

    recent = sum(1 for ts in past if ts > now - 30 * DAY + 60)
    assert recent > 0
    assert flagged({"range": {"@timestamp": {"gt": "now"}}}) == FUTURE
    assert flagged({"range": {"@timestamp": {"lt": "now-31d"}}}) == sum(1 for ts in past if ts < now - 31 * DAY)
    assert flagged({"range": {"@timestamp": {"gt": "now-29d", "lt": "now"}}}) == 0
    skews = client.search(
        index=pattern,
        body={
            "size": 0,
            "aggs": {
                "future": {
                    "filter": {"range": {"@timestamp": {"gt": "now"}}},
                    "aggs": {"max": {"max": {"field": "mcpeeker.time_skew_seconds"}}},
                },
                "old": {
                    "filter": {"range": {"@timestamp": {"lt": "now-1000d"}}},
                    "aggs": {"min": {"min": {"field": "mcpeeker.time_skew_seconds"}}},
                },
            },
        },
    )["aggregations"]
    assert skews["future"]["max"]["value"] < -3000  # an hour ahead at least: negative skew
    assert skews["old"]["min"]["value"] > 1000 * DAY


def test_rollover_only_when_a_condition_is_met(store_settings: Settings) -> None:
    settings = replace(store_settings, lifecycle=Lifecycle(rollover_max_docs=2, rollover_max_age="30d"))
    client = make_client(settings)
    first = lifecycle.bootstrap(client, settings)
    assert lifecycle.bootstrap(client, settings) == first  # idempotent
    assert not lifecycle.rollover(client, settings).rolled_over
    for n in range(2):
        client.index(index=lifecycle.events_alias(settings), id=str(n), body={"@timestamp": "2020-01-01T00:00:00Z"})
    client.indices.refresh(index=first)
    result = lifecycle.rollover(client, settings)
    assert (
        result.rolled_over
        and result.old_index == first
        and result.conditions["[max_docs: 2]"]
        and not result.conditions["[max_age: 30d]"]
    )
    assert lifecycle.write_index(client, settings) == result.new_index == settings.index("mcp-events-000002")
