"""configs/notify.yaml: schema errors name the file and field, secrets cannot be written inline, routing filters,
and what each finding change is worth (events and their dedup keys)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpeeker.config import CONFIG_DIR
from mcpeeker.errors import ConfigError
from mcpeeker.notify.config import load
from mcpeeker.notify.events import derive


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "notify.yaml"
    path.write_text(text)
    return path


def test_packaged_default_is_valid_and_disabled() -> None:
    config = load(CONFIG_DIR / "notify.yaml")
    assert not config.enabled and config.channels == {} and config.dedup_window == 86400


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("channels: {s: {type: syslog, host: h, port: 514, transport: sctp}}", "channels.s"),
        ("channels: {w: {type: webhook, url: http://x, secret: hunter2}}", "channels.w"),
        ("channels: {m: {type: email, host: h, port: 25, from: a@b.c, to: [d@e.f], password: p}}", "channels.m"),
        ("channels: {w: {type: webhook, format: slack}}", "channels.w"),  # neither url nor url_file
        ("dedup_window: soon", "dedup_window"),
        ("throttle: {per_host: {max: 0, period: 1h}}", "throttle.per_host.max"),
    ],
)
def test_schema_errors_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load(path)
    assert str(path) in str(error.value) and f"{field}:" in str(error.value)


def test_routing_and_relative_key_files(tmp_path: Path) -> None:
    config = load(
        write(
            tmp_path,
            "channels:\n"
            "  w: {type: webhook, url: 'https://x', key_file: keys/w.key,\n"
            "      route: {min_severity: high, classifications: [unauthorized]}}\n",
        )
    )
    channel = config.channels["w"]
    assert channel.key_file == str(tmp_path / "keys" / "w.key")
    assert channel.route.accepts("new_unauthorized", "critical", "unauthorized")
    assert not channel.route.accepts("new_unauthorized", "medium", "unauthorized")
    assert not channel.route.accepts("severity_raised", "critical", "suspect")
    assert channel.route.accepts("registry_expiring", "info", "registry")


def test_events_from_finding_changes() -> None:
    base = {"finding": {"id": "f1", "status": "open"}, "classification": "unauthorized", "severity": "medium"}
    events, memory = derive(base, None, "t")
    assert [e.dedup_key for e in events] == ["f1:new_unauthorized:1"]
    assert derive(base, memory, "t")[0] == []  # unchanged: nothing
    high = {**base, "severity": "critical"}
    events, memory = derive(high, memory, "t")
    assert [e.dedup_key for e in events] == ["f1:severity_raised:critical"]
    # Authorized by an approval, then unauthorized again (e.g. the entry was revoked): a new revision.
    events, memory = derive({**high, "classification": "authorized"}, memory, "t")
    assert events == []
    events, memory = derive(high, memory, "t")
    assert [e.dedup_key for e in events] == ["f1:new_unauthorized:2"]
    reopened = {**high, "finding": {"id": "f1", "status": "open", "reopened_at": "2026-12-06T08:00:00Z"}}
    events, memory = derive(reopened, memory, "t")
    assert [e.dedup_key for e in events] == ["f1:reopened:2026-12-06T08:00:00Z"]
    # Closed findings announce nothing but a reopen.
    closed = {**base, "finding": {"id": "f2", "status": "false_positive"}, "severity": "critical"}
    assert derive(closed, None, "t")[0] == []
