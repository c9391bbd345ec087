"""One notification cycle: findings updated since the notifier's watermark -> events -> outbox -> channels.

The notifier keeps its own memory (a `notify.finding.<id>` document per finding in mcp-state), so it depends on
nothing in the correlator but the findings it wrote. Order of a cycle, each step safe to crash after:
1. derive events from the findings changed since the watermark (minus an overlap) and registry entries expiring;
2. enqueue each routed (channel, event) in the outbox, fsync'd, unless it is waiting or was delivered within the
   dedup window;
3. write the memory, then the watermark (a crash before this re-derives the same events: same dedup keys);
4. drain each channel: throttle (held messages go to one digest per period), deliver, record, remove.

The memory is bounded by the findings that exist: before step 1 the memory of findings the correlator just merged
away is dropped, and every `memory_sweep` the memory documents are checked against mcp-findings and those whose
finding is gone (merged or deleted by any other means) are dropped. A memory is never dropped by age: a finding that
still exists keeps it however long it stays quiet, so a change years later still compares with what was announced.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from datetime import timedelta
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from ..errors import MCPeekerError
from ..paging import scan_sorted
from ..roles import Actor
from ..settings import Settings
from ..state import state_dir
from ..timeutil import iso, parse_iso, utcnow
from .channels import DeliveryError, deliver, post_json
from .config import Channel, NotifyConfig, load
from .events import Event, Memory, derive, registry_event
from .outbox import Message, Outbox, ThrottleState

WATERMARK_ID = "notify.watermark"
MEMORY_PREFIX = "notify.finding."
SWEEP_ID = "notify.memory_sweep"  # when the memory was last checked against the findings
OVERLAP_SECONDS = 120  # findings written just before the watermark (refresh lag) are read again

SENT = Counter("mcpeeker_notifications_sent_total", "notifications delivered", ["channel"])
HELD = Counter("mcpeeker_notifications_held_total", "notifications held back by a throttle", ["channel"])
DIGESTS = Counter("mcpeeker_notification_digests_total", "digests sent for held-back notifications", ["channel"])
FAILURES = Counter("mcpeeker_notification_failures_total", "transient delivery failures", ["channel"])
DEAD = Counter("mcpeeker_notifications_dead_lettered_total", "notifications dead-lettered", ["channel"])


@dataclass
class ChannelResult:
    sent: int = 0
    held: int = 0
    digests: int = 0
    dead_lettered: int = 0
    failed: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class NotifyResult:
    findings_read: int = 0
    events: int = 0
    suppressed: int = 0
    enqueued: int = 0
    duplicates: int = 0
    forgotten: int = 0  # memory documents dropped: their finding was merged away or no longer exists
    channels: dict[str, ChannelResult] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(c.sent for c in self.channels.values())

    @property
    def dead_lettered(self) -> int:
        return sum(c.dead_lettered for c in self.channels.values())


def outbox_root(settings: Settings) -> Path:
    """One outbox per cluster and index prefix, under the state directory."""
    key = hashlib.sha256(f"{settings.url}\0{settings.index_prefix}".encode()).hexdigest()[:12]
    return state_dir() / "notify" / key


def _memory_id(finding_id: str) -> str:
    return MEMORY_PREFIX + finding_id


class Notifier:
    def __init__(self, settings: Settings, client: Any, config: NotifyConfig, root: Path | None = None) -> None:
        self.settings, self.client, self.config = settings, client, config
        self.findings = settings.index("mcp-findings")
        self.state = settings.index("mcp-state")
        self.outbox = Outbox(root or outbox_root(settings), config.dedup_window)
        self.throttle = ThrottleState(self.outbox.root / "throttle.json")

    # --- deriving -------------------------------------------------------------------------------------------------
    def _read_watermark(self) -> str | None:
        doc = self.client.get(index=self.state, id=WATERMARK_ID, ignore=[404])
        return str(doc["_source"]["value"]["at"]) if doc.get("found") else None

    def _changed_findings(self, watermark: str | None) -> list[dict[str, Any]]:
        self.client.indices.refresh(index=self.findings)
        if watermark is None:
            query: dict[str, Any] = {"match_all": {}}
        else:
            since = iso(parse_iso(watermark) - timedelta(seconds=OVERLAP_SECONDS))
            # A cycle's write sets `updated`; an analyst's status change (mcpeeker.cases.lifecycle) sets only
            # finding.status_changed_at.
            changed = [{"range": {f: {"gte": since}}} for f in ("updated", "finding.status_changed_at")]
            query = {"bool": {"should": changed, "minimum_should_match": 1}}
        sort = [{"finding.id": "asc"}]
        return [hit["_source"] for hit in scan_sorted(self.client, self.findings, query, sort)]

    def _memories(self, ids: list[str]) -> dict[str, Memory]:
        found: dict[str, Memory] = {}
        for start in range(0, len(ids), 1000):
            chunk = [_memory_id(i) for i in ids[start : start + 1000]]
            response = self.client.mget(index=self.state, body={"ids": chunk})
            for doc in response["docs"]:
                if doc.get("found"):
                    found[doc["_id"][len(MEMORY_PREFIX) :]] = doc["_source"]["value"]
        return found

    def _enqueue(self, event: Event, result: NotifyResult) -> None:
        for channel in self.config.channels.values():
            if channel.route.accepts(event.kind, event.severity, event.classification):
                if self.outbox.put(channel.name, event):
                    result.enqueued += 1
                else:
                    result.duplicates += 1

    def collect(self, result: NotifyResult) -> None:
        from ..client import bulk_helper

        started = utcnow()
        now = iso(started)
        findings = self._changed_findings(self._read_watermark())
        result.findings_read = len(findings)
        memories = self._memories([f["finding"]["id"] for f in findings])
        updates: list[dict[str, Any]] = []
        for finding in findings:
            fid = finding["finding"]["id"]
            events, memory = derive(finding, memories.get(fid), now)
            if finding.get("finding", {}).get("suppressed"):
                # Muted by a suppression rule: no notification, but the memory moves on, so lifting the rule
                # later does not replay what happened meanwhile.
                result.suppressed += len(events)
                events = []
            for event in events:
                result.events += 1
                self._enqueue(event, result)
            if memory != memories.get(fid):
                doc = {"@timestamp": now, "name": _memory_id(fid), "value": memory}
                updates.append({"_op_type": "index", "_index": self.state, "_id": _memory_id(fid), "_source": doc})
        for event in self._registry_events(now):
            result.events += 1
            self._enqueue(event, result)
        self.outbox.flush()  # the outbox is durable before the memory says these events were queued
        if updates:
            bulk_helper(self.settings).bulk(self.client, updates, raise_on_error=True, refresh=False)
        self.client.index(
            index=self.state, id=WATERMARK_ID, body={"@timestamp": now, "name": WATERMARK_ID, "value": {"at": now}}
        )

    def _registry_events(self, now: str) -> list[Event]:
        if not any("registry_expiring" in c.route.events for c in self.config.channels.values()):
            return []
        from ..registry.store import Registry

        due = Registry(self.settings, self.client, Actor("notifier", "admin")).due(self.config.registry_expiry_days)
        return [registry_event(entry, self.config.registry_expiry_days, now) for entry in due]

    # --- bounding the memory -------------------------------------------------------------------------------------
    def forget(self, finding_ids: Iterable[str]) -> int:
        """Drop the memory of findings that no longer exist; the number of memory documents deleted."""
        from ..client import bulk_helper

        ids = sorted(set(finding_ids))
        if not ids:
            return 0
        actions = [{"_op_type": "delete", "_index": self.state, "_id": _memory_id(fid)} for fid in ids]
        _, errors = bulk_helper(self.settings).bulk(self.client, actions, raise_on_error=False, refresh=False)
        failed = [next(iter(e.values())) for e in errors]
        serious = [info for info in failed if info.get("status") != 404]  # 404: that finding had no memory
        if serious:
            raise MCPeekerError(f"deleting notifier memory in {self.state} failed: {serious[0]}")
        return len(ids) - len(failed)

    def _sweep_due(self) -> bool:
        doc = self.client.get(index=self.state, id=SWEEP_ID, ignore=[404])
        if not doc.get("found"):
            return True
        last = parse_iso(str(doc["_source"]["value"]["at"]))
        return (utcnow() - last).total_seconds() >= self.config.memory_sweep

    def sweep(self) -> int:
        """Every `memory_sweep`: drop the memory documents whose finding no longer exists in mcp-findings."""
        if not self._sweep_due():
            return 0
        now = iso(utcnow())
        self.client.indices.refresh(index=self.state)
        query = {"prefix": {"name": MEMORY_PREFIX}}
        forgotten = 0
        batch: list[str] = []
        hits = scan_sorted(self.client, self.state, query, [{"name": "asc"}], source=["name"])
        for hit in hits:
            batch.append(str(hit["_id"])[len(MEMORY_PREFIX) :])
            if len(batch) == 1000:
                forgotten += self.forget(self._missing(batch))
                batch = []
        forgotten += self.forget(self._missing(batch))
        self.client.index(
            index=self.state, id=SWEEP_ID, body={"@timestamp": now, "name": SWEEP_ID, "value": {"at": now}}
        )
        return forgotten

    def _missing(self, finding_ids: list[str]) -> list[str]:
        """The ids whose finding is not in mcp-findings (a realtime get: no refresh lag)."""
        if not finding_ids:
            return []
        docs = [{"_id": fid, "_source": False} for fid in finding_ids]
        response = self.client.mget(index=self.findings, body={"docs": docs})
        # Only a definite "not found": an error (index missing, shard down) keeps the memory.
        return [str(d["_id"]) for d in response["docs"] if d.get("found") is False and "error" not in d]

    # --- delivering -----------------------------------------------------------------------------------------------
    def _throttled(self, channel: Channel, host: str, now: float) -> bool:
        limits = channel.throttle
        if (
            limits.per_channel
            and self.throttle.count(channel.name, limits.per_channel.period, now) >= limits.per_channel.max
        ):
            return True
        per_host = limits.per_host
        return bool(per_host and self.throttle.count(f"{channel.name}|{host}", per_host.period, now) >= per_host.max)

    def _keep(self, channel: Channel) -> float:
        periods = [lim.period for lim in (channel.throttle.per_channel, channel.throttle.per_host) if lim]
        return max(periods, default=0.0)

    def drain(self, channel: Channel) -> ChannelResult:
        result = ChannelResult()
        for path in self.outbox.pending(channel.name):
            message = self.outbox.read(path)
            if message is None:
                continue
            key = message.event.dedup_key
            if self.outbox.was_delivered(channel.name, key):
                self.outbox.remove(path)  # delivered, then the process died before removing it
                continue
            now = time.time()
            if self._throttled(channel, message.event.host, now):
                self.outbox.hold(message)
                result.held += 1
                HELD.labels(channel.name).inc()
                continue
            try:
                deliver(channel, message.event, delivery_id=key)
            except DeliveryError as exc:
                if self._failed(channel, message, exc, result):
                    continue
                break  # transient: keep the order, try again next cycle
            self.outbox.mark_delivered(channel.name, [key])
            self.throttle.record([channel.name, f"{channel.name}|{message.event.host}"], now, self._keep(channel))
            self.throttle.save()
            self.outbox.remove(path)
            result.sent += 1
            SENT.labels(channel.name).inc()
        self._digest(channel, result)
        result.pending = len(self.outbox.pending(channel.name))
        return result

    def _failed(self, channel: Channel, message: Message, exc: DeliveryError, result: ChannelResult) -> bool:
        """Record a failure; True when the message left the queue (dead-lettered)."""
        message.attempts += 1
        message.last_error = str(exc)
        if exc.permanent or message.attempts >= self.config.max_attempts:
            why = "permanent failure" if exc.permanent else f"{message.attempts} failed attempts"
            self.outbox.dead_letter(message, f"{why}: {exc}")
            result.dead_lettered += 1
            result.errors.append(f"{channel.name}: dead-lettered {message.event.dedup_key}: {exc}")
            DEAD.labels(channel.name).inc()
            return True
        self.outbox.save(message)
        result.failed += 1
        result.errors.append(f"{channel.name}: will retry {message.event.dedup_key}: {exc}")
        FAILURES.labels(channel.name).inc()
        return False

    def _digest(self, channel: Channel, result: ChannelResult) -> None:
        """Everything held back goes out as one digest, at most once per throttle period per channel."""
        held = [m for m in (self.outbox.read(p) for p in self.outbox.held(channel.name)) if m is not None]
        if not held:
            return
        now = time.time()
        last = self.throttle.digests.get(channel.name)
        if last is not None and now - last < self._keep(channel):
            return
        events = [m.event for m in held if not self.outbox.was_delivered(channel.name, m.event.dedup_key)]
        if events:
            digest_id = "digest:" + hashlib.sha256("\n".join(e.dedup_key for e in events).encode()).hexdigest()[:24]
            try:
                deliver(channel, None, digest=events, delivery_id=digest_id)
            except DeliveryError as exc:
                result.errors.append(f"{channel.name}: digest of {len(events)} not sent: {exc}")
                FAILURES.labels(channel.name).inc()
                return
            self.outbox.mark_delivered(channel.name, [e.dedup_key for e in events])
            result.digests += 1
            DIGESTS.labels(channel.name).inc()
        self.throttle.digests[channel.name] = now
        self.throttle.save()
        for message in held:
            self.outbox.remove(message.path)

    def run(self, gone: Iterable[str] = ()) -> NotifyResult:
        clock = time.monotonic()
        result = NotifyResult()
        with self.outbox.locked():
            result.forgotten = self.forget(gone) + self.sweep()
            self.collect(result)
            keeps = {channel.name: self._keep(channel) for channel in self.config.channels.values()}
            if self.throttle.prune(keeps, time.time()):
                self.throttle.save()
            for channel in self.config.channels.values():
                result.channels[channel.name] = self.drain(channel)
        result.seconds = time.monotonic() - clock
        return result


def run_cycle(
    settings: Settings,
    client: Any,
    config: NotifyConfig | None = None,
    root: Path | None = None,
    gone: Iterable[str] = (),
) -> NotifyResult:
    """Derive, enqueue and deliver this cycle's notifications (nothing when no channel is configured); `gone`: ids
    of findings the correlator just merged away, whose memory is dropped."""
    config = config or load()
    if not config.channels:
        return NotifyResult()
    return Notifier(settings, client, config, root).run(gone)


def test_channel(config: NotifyConfig, name: str) -> None:
    """Send one test notification straight to a channel (no outbox, no dedup); DeliveryError on failure."""
    if name not in config.channels:
        known = ", ".join(sorted(config.channels)) or "none"
        raise MCPeekerError(f"{config.source}: no channel {name!r} (channels: {known})")
    now = iso(utcnow())
    event = Event(
        kind="test",
        subject="test",
        revision=now,
        severity="info",
        classification="test",
        host="test",
        at=now,
        summary="MCPeeker test notification: this channel is configured correctly",
    )
    deliver(config.channels[name], event, delivery_id=event.dedup_key)


def notify_due(webhook_url: str, due: list[Any], days: int, timeout: float = 10.0) -> int:
    """`registry due --notify URL`: one JSON reminder of the entries expiring within `days`; the HTTP status."""
    from .config import Route, Throttle

    payload = {
        "text": f"{len(due)} MCP registry entr(y/ies) expire within {days} days",
        "entries": [{k: e.get(k) for k in ("entry_id", "owner", "team", "expires", "server")} for e in due],
    }
    channel = Channel("registry-due", "webhook", Route(), Throttle(), timeout=timeout, url=webhook_url)
    delivery = "registry-due:" + hashlib.sha256(repr(payload).encode()).hexdigest()[:24]
    try:
        return post_json(channel, payload, delivery)
    except DeliveryError as exc:
        raise MCPeekerError(f"--notify {webhook_url}: {exc}") from exc
