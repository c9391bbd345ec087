"""The notification cycle on the test cluster: events from findings written in the test prefix's index, routing,
dedup (memory and delivered ledger), suppression, throttle with a digest, dead letters with their counter, and the
registry expiry reminder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from mcpeeker.client import make_client
from mcpeeker.model.records import Finding
from mcpeeker.notify import run_cycle
from mcpeeker.notify.config import NotifyConfig, parse
from mcpeeker.notify.engine import MEMORY_PREFIX
from mcpeeker.registry.store import Registry
from mcpeeker.roles import Actor
from mcpeeker.settings import Settings
from mcpeeker.timeutil import iso, utcnow

from .conftest import Hook

pytestmark = pytest.mark.opensearch


def finding(
    fid: str,
    classification: str = "unauthorized",
    severity: str = "medium",
    host: str = "host-a",
    name: str = "notes",
    **head: Any,
) -> Finding:
    now = iso(utcnow())
    return {
        "finding": {"id": fid, "status": "open", "summary": f"Unregistered MCP server '{name}'", **head},  # type: ignore[typeddict-item]
        "classification": classification,
        "severity": severity,
        "host": {"id": host, "ip": ["10.20.0.3"]},
        "destination": {"ip": "10.20.0.3", "port": 8000},
        "mcp": {"server": {"name": name}, "tools": {"names": ["read_file"]}},
        "instance": {"key": f"host:{host}:{fid}", "kind": "host_port"},
        "first_seen": now,
        "last_seen": now,
        "@timestamp": now,
        "updated": now,
    }


def write(settings: Settings, *docs: Finding) -> None:
    client = make_client(settings)
    for doc in docs:
        client.index(index=settings.index("mcp-findings"), id=doc["finding"]["id"], body=doc)
    client.indices.refresh(index=settings.index("mcp-findings"))


def config(hook: Hook, **extra: Any) -> NotifyConfig:
    channels = extra.pop("channels", None) or {
        "all": {"type": "webhook", "url": hook.url + "/all", "retries": 0},
        "crit": {"type": "webhook", "url": hook.url + "/crit", "retries": 0, "route": {"min_severity": "critical"}},
    }
    return parse({"enabled": True, "channels": channels, **extra}, "notify.yaml")


def kinds(hook: Hook, path: str) -> list[tuple[str, str]]:
    return sorted((b["kind"], b.get("finding", b.get("registry_entry", {})).get("id", "")) for b in hook.bodies(path))


def test_events_routing_suppression_and_dedup(os_settings: Settings, hook: Hook, tmp_path: Path) -> None:
    client = make_client(os_settings)
    cfg = config(hook)
    write(
        os_settings,
        finding("a"),
        finding("b", classification="suspect", severity="low"),
        finding("c", severity="critical", host="host-c"),
        finding("d", host="host-d", suppressed=True),
    )
    result = run_cycle(os_settings, client, cfg, tmp_path)
    assert (result.findings_read, result.events, result.suppressed, result.sent) == (4, 2, 1, 3)
    assert kinds(hook, "/hook/all") == [("new_unauthorized", "a"), ("new_unauthorized", "c")]
    assert kinds(hook, "/hook/crit") == [("new_unauthorized", "c")]
    assert all(r["delivery"] == f"{r['json']['finding']['id']}:new_unauthorized:1" for r in hook.requests)

    # Nothing changed: nothing sent. Memory lost: the same events are derived, and the ledger drops them.
    again = run_cycle(os_settings, client, cfg, tmp_path)
    assert (again.events, again.sent) == (0, 0)
    client.indices.refresh(index=os_settings.index("mcp-state"))
    client.delete_by_query(
        index=os_settings.index("mcp-state"), body={"query": {"prefix": {"name": MEMORY_PREFIX}}}, refresh=True
    )
    client.delete(index=os_settings.index("mcp-state"), id="notify.watermark")
    replay = run_cycle(os_settings, client, cfg, tmp_path)
    assert (replay.events, replay.duplicates, replay.sent) == (2, 3, 0)

    # Severity raised to high (not critical: only the first channel), then a reopen (both, it is critical).
    write(os_settings, finding("a", severity="high"))
    raised = run_cycle(os_settings, client, cfg, tmp_path)
    assert raised.sent == 1 and hook.bodies("/hook/all")[-1]["kind"] == "severity_raised"
    assert hook.requests[-1]["delivery"] == "a:severity_raised:high"
    write(
        os_settings,
        finding("c", severity="critical", host="host-c", reopened_at=iso(utcnow()), reopen_reason="new attack"),
    )
    reopened = run_cycle(os_settings, client, cfg, tmp_path)
    assert reopened.sent == 2
    assert [b["kind"] for b in hook.bodies("/hook/crit")] == ["new_unauthorized", "reopened"]
    assert hook.bodies("/hook/crit")[-1]["finding"]["reason"] == "new attack"
    # A resolved finding that stays resolved announces nothing; a suppressed one never did.
    write(os_settings, finding("a", severity="critical", status="resolved"))
    assert run_cycle(os_settings, client, cfg, tmp_path).sent == 0


def test_throttle_holds_back_and_sends_one_digest(os_settings: Settings, hook: Hook, tmp_path: Path) -> None:
    client = make_client(os_settings)
    cfg = config(
        hook,
        channels={"all": {"type": "webhook", "url": hook.url, "retries": 0}},
        throttle={"per_host": {"max": 1, "period": "1h"}, "per_channel": {"max": 10, "period": "1h"}},
    )
    write(os_settings, finding("a1"), finding("a2"), finding("a3"), finding("b1", host="host-b"))
    result = run_cycle(os_settings, client, cfg, tmp_path)
    channel = result.channels["all"]
    assert (channel.sent, channel.held, channel.digests) == (2, 2, 1)
    bodies = hook.bodies()
    assert [b["kind"] for b in bodies] == ["new_unauthorized", "new_unauthorized", "digest"]
    digest = bodies[-1]
    assert digest["count"] == 2 and {i["id"] for i in digest["items"]} == {"a2", "a3"}
    # More for the throttled host in the same period: held, and no second digest before the period ends.
    write(os_settings, finding("a4"))
    later = run_cycle(os_settings, client, cfg, tmp_path).channels["all"]
    assert (later.sent, later.held, later.digests) == (0, 1, 0) and len(hook.requests) == 3


def _dead(channel: str) -> float:
    return REGISTRY.get_sample_value("mcpeeker_notifications_dead_lettered_total", {"channel": channel}) or 0.0


def test_permanent_and_repeated_failures_dead_letter(os_settings: Settings, hook: Hook, tmp_path: Path) -> None:
    client = make_client(os_settings)
    cfg = config(
        hook,
        max_attempts=2,
        channels={
            "refused": {"type": "webhook", "url": hook.url + "/r", "retries": 0},
            "down": {"type": "webhook", "url": "http://127.0.0.1:9/nothing-listens", "retries": 1, "backoff": 0.01},
        },
    )
    before_refused, before_down = _dead("refused"), _dead("down")
    hook.mode = "reject"
    write(os_settings, finding("x"))
    first = run_cycle(os_settings, client, cfg, tmp_path)
    assert first.channels["refused"].dead_lettered == 1 and _dead("refused") == before_refused + 1
    [reason] = (tmp_path / "dead" / "refused").glob("*.reason")
    assert "permanent failure" in reason.read_text() and "HTTP 400" in reason.read_text()
    # A channel that is down: kept and retried next cycle, dead-lettered after max_attempts.
    assert (first.channels["down"].failed, first.channels["down"].pending) == (1, 1)
    second = run_cycle(os_settings, client, cfg, tmp_path)
    assert second.channels["down"].dead_lettered == 1 and _dead("down") == before_down + 1
    [reason] = (tmp_path / "dead" / "down").glob("*.reason")
    assert "2 failed attempts" in reason.read_text() and "Connection refused" in reason.read_text()
    assert run_cycle(os_settings, client, cfg, tmp_path).sent == 0  # dead letters are not re-derived


def test_registry_expiry_reminder(os_settings: Settings, hook: Hook, tmp_path: Path) -> None:
    client = make_client(os_settings)
    registry = Registry(os_settings, client, Actor("admin", "admin"))
    soon = registry.add(
        {
            "owner": "alice",
            "purpose": "p",
            "server": {"ip": "10.20.0.3", "port": 8000},
            "expires": iso(utcnow() + timedelta(days=3)),
        }
    )
    later = registry.add({"owner": "bob", "purpose": "p", "server": {"ip": "10.20.0.3", "port": 9000}})
    for entry in (soon, later):
        registry.apply(entry["entry_id"], "approve")
    cfg = config(
        hook, channels={"ops": {"type": "webhook", "url": hook.url, "route": {"events": ["registry_expiring"]}}}
    )
    assert run_cycle(os_settings, client, cfg, tmp_path).sent == 1
    [body] = hook.bodies()
    assert body["kind"] == "registry_expiring" and body["registry_entry"]["id"] == soon["entry_id"]
    assert body["registry_entry"]["owner"] == "alice"
    assert run_cycle(os_settings, client, cfg, tmp_path).sent == 0  # once per expiry date and dedup window
    registry.apply(soon["entry_id"], "renew", days=5)  # a new expiry date is a new reminder
    assert run_cycle(os_settings, client, cfg, tmp_path).sent == 1
