"""Evidence indices: one write alias rolled over by size and age of ingestion, instead of one index per event day.

Events are written to the alias `{prefix}mcp-events`, whose write index is `{prefix}mcp-events-000001`, then
`-000002` ... after each rollover; readers keep reading `{prefix}mcp-events-*` (which also matches the daily
indices of earlier versions) and filter on `@timestamp`, the event time. An index is created only by a rollover,
never by an event's timestamp, so a replay of years of captures or a sensor with a forged clock cannot multiply
indices: the number of indices follows the volume and age of ingestion.

A write alias rather than a data stream: documents have deterministic ids and a re-ingested line must overwrite
its document (data streams only accept `create`), and a document already stored in a rolled-over index must be
overwritten *there* (data streams refuse writes to backing indices). The same calls work on OpenSearch and
Elasticsearch.

Ids stay idempotent across rollover: `Router` looks the ids of a bulk request up in the rolled-over indices
(one `ids` query per request, only once there is more than one index) and sends a document found there to the
index that holds it; the rest go to the alias. Whoever rolls over refreshes the old index first, so a lookup
never misses a document written just before.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import orjson

from .settings import Lifecycle, Settings

log = logging.getLogger(__name__)

EVENTS = "mcp-events"
FIRST_SUFFIX = "-000001"


def events_alias(settings: Settings) -> str:
    """The write alias every evidence document goes to."""
    return settings.index(EVENTS)


def events_pattern(settings: Settings) -> str:
    """What readers search: every rolled-over index and the daily indices of earlier versions."""
    return settings.index(f"{EVENTS}-*")


def rollover_conditions(lifecycle: Lifecycle) -> dict[str, Any]:
    conditions: dict[str, Any] = {"max_age": lifecycle.rollover_max_age, "max_size": lifecycle.rollover_max_size}
    if lifecycle.rollover_max_docs is not None:
        conditions["max_docs"] = lifecycle.rollover_max_docs
    return conditions


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def write_index(client: Any, settings: Settings) -> str | None:
    """The alias's current write index, None when the alias does not exist yet."""
    alias = events_alias(settings)
    if not client.indices.exists_alias(name=alias):
        return None
    answer = client.indices.get_alias(name=alias)
    only = None
    for index, body in answer.items():
        info = body.get("aliases", {}).get(alias, {})
        if info.get("is_write_index"):
            return str(index)
        only = str(index)
    return only if len(answer) == 1 else None


def bootstrap(client: Any, settings: Settings) -> str:
    """Create the first index with the write alias unless the alias exists; returns the write index. Safe to
    call from several processes at once (the loser of the race finds the winner's index)."""
    current = write_index(client, settings)
    if current is not None:
        return current
    first = settings.index(EVENTS + FIRST_SUFFIX)
    try:
        client.indices.create(index=first, body={"aliases": {events_alias(settings): {"is_write_index": True}}})
    except Exception as exc:
        if _status(exc) != 400 or "already_exists" not in str(exc):
            raise
    current = write_index(client, settings)
    if current is None:
        raise RuntimeError(f"{first} exists without the write alias {events_alias(settings)}")
    return current


@dataclass(frozen=True)
class RolloverResult:
    rolled_over: bool
    old_index: str
    new_index: str
    conditions: dict[str, bool]


def rollover(client: Any, settings: Settings, *, force: bool = False) -> RolloverResult:
    """Roll the write alias over when one of the configured conditions is met (always with `force`)."""
    bootstrap(client, settings)
    body = None if force else {"conditions": rollover_conditions(settings.lifecycle)}
    answer = client.indices.rollover(alias=events_alias(settings), body=body)
    result = RolloverResult(
        rolled_over=bool(answer.get("rolled_over")),
        old_index=str(answer.get("old_index", "")),
        new_index=str(answer.get("new_index", "")),
        conditions={str(k): bool(v) for k, v in (answer.get("conditions") or {}).items()},
    )
    if result.rolled_over:
        # What was written just before the rollover becomes visible to Router's lookups.
        client.indices.refresh(index=result.old_index, ignore_unavailable=True)
        log.info("rolled %s over to %s (%s)", result.old_index, result.new_index, result.conditions)
    return result


class Ticker:
    """Checks the rollover conditions now and then every `lifecycle.check_seconds` in a daemon thread, for as long
    as an ingest or collector runs. A cluster that does not answer only logs: the next check tries again."""

    def __init__(self, client: Any, settings: Settings, on_rollover: Callable[[], None] | None = None) -> None:
        self.client = client
        self.settings = settings
        self.on_rollover = on_rollover
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mcpeeker-rollover", daemon=True)

    def check(self) -> RolloverResult | None:
        try:
            result = rollover(self.client, self.settings)
        except Exception as exc:  # noqa: BLE001 - a down cluster must not stop ingest; retried next period
            log.warning("rollover check of %s failed: %s", events_alias(self.settings), exc)
            return None
        if result.rolled_over and self.on_rollover is not None:
            self.on_rollover()
        return result

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.settings.lifecycle.check_seconds):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)


class HasAction(Protocol):
    action: bytes


class Router:
    """Points each bulk action at the index already holding its `_id` (so re-ingesting after a rollover overwrites
    instead of duplicating) and makes sure the write alias exists before anything is written through it."""

    RECOUNT_SECONDS = 10.0  # how stale the "is there more than one index?" answer may be

    def __init__(self, client: Any, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.alias = events_alias(settings)
        self.pattern = events_pattern(settings)
        self._alias_json = orjson.dumps(self.alias)
        self._ready = False
        self._several = False
        self._counted = 0.0
        self._lock = threading.Lock()
        self.rerouted = 0  # documents sent to the rolled-over index holding them

    def invalidate(self) -> None:
        """After a rollover: count the indices again before the next request."""
        self._counted = 0.0

    def _prepare(self) -> None:
        with self._lock:
            if not self._ready:
                bootstrap(self.client, self.settings)
                self._ready = True
            now = time.monotonic()
            if now - self._counted >= self.RECOUNT_SECONDS:
                names = self.client.indices.get(index=self.pattern, params={"allow_no_indices": "true"})
                self._several = len(names) > 1
                self._counted = now

    def route(self, items: list[Any]) -> None:
        """Rewrite, in place, the action line of every item whose document is stored in a non-write index."""
        self._prepare()
        if not self._several or not items:
            return
        ids: dict[str, list[Any]] = {}
        for item in items:
            head = orjson.loads(item.action.split(b"\n", 1)[0])
            meta = head.get("index") or {}
            if meta.get("_index") == self.alias and meta.get("_id"):
                ids.setdefault(str(meta["_id"]), []).append(item)
        if not ids:
            return
        for doc_id, index in locate(self.client, self.pattern, list(ids)).items():
            for item in ids.pop(doc_id, []):
                head, rest = item.action.split(b"\n", 1)
                item.action = head.replace(self._alias_json, orjson.dumps(index), 1) + b"\n" + rest
                self.rerouted += 1


LOOKUP_CHUNK = 5000  # ids per query, well under the default max_result_window (10,000)


def locate(client: Any, pattern: str, ids: list[str]) -> dict[str, str]:
    """_id -> the index already holding it, for the ids stored anywhere under `pattern`."""
    found: dict[str, str] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        answer = client.search(
            index=pattern,
            body={"size": len(chunk), "_source": False, "query": {"ids": {"values": chunk}}},
            params={"allow_no_indices": "true", "ignore_unavailable": "true"},
        )
        for hit in answer["hits"]["hits"]:
            found.setdefault(str(hit["_id"]), str(hit["_index"]))
    return found


def skew_window(lifecycle: Lifecycle) -> tuple[float, float]:
    """(seconds in the past, seconds in the future) beyond which an event's @timestamp is flagged."""
    return lifecycle.skew_past_days * 86400.0, lifecycle.skew_future_seconds
