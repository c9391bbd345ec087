"""configs/notify.yaml as typed values (schemas/notify.schema.json validates the file first, naming the field)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import load_named_config, load_yaml
from ..durations import parse_duration
from ..errors import ConfigError

SEVERITIES = ("info", "low", "medium", "high", "critical")
EVENT_KINDS = ("new_unauthorized", "severity_raised", "reopened", "registry_expiring")


def severity_rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


@dataclass(frozen=True)
class Limit:
    max: int
    period: float  # seconds


@dataclass(frozen=True)
class Throttle:
    per_channel: Limit | None = None
    per_host: Limit | None = None


@dataclass(frozen=True)
class Route:
    events: tuple[str, ...] = EVENT_KINDS
    min_severity: str | None = None
    severities: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()

    def accepts(self, kind: str, severity: str, classification: str) -> bool:
        if kind not in self.events:
            return False
        if kind == "registry_expiring":
            return True  # a reminder has no finding severity or classification to filter on
        if self.min_severity and severity_rank(severity) < severity_rank(self.min_severity):
            return False
        if self.severities and severity not in self.severities:
            return False
        return not self.classifications or classification in self.classifications


@dataclass(frozen=True)
class Channel:
    name: str
    type: str  # webhook | syslog | email
    route: Route
    throttle: Throttle
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5
    # webhook
    url: str = ""
    url_file: str | None = None  # a webhook URL that is itself a secret (Slack, Teams), read when sending
    format: str = "json"  # webhook: json|slack|teams; syslog: plain|cef|leef
    key_file: str | None = None
    ca_file: str | None = None
    # syslog
    host: str = ""
    port: int = 0
    transport: str = "tcp"
    facility: int = 13  # log audit
    server_name: str | None = None  # TLS: the name to verify, when `host` is an address
    # email
    sender: str = ""
    recipients: tuple[str, ...] = ()
    starttls: bool = True
    username: str | None = None
    password_file: str | None = None


@dataclass(frozen=True)
class NotifyConfig:
    enabled: bool = False
    channels: dict[str, Channel] = field(default_factory=dict)
    dedup_window: float = 86400.0
    max_attempts: int = 10
    registry_expiry_days: int = 14
    memory_sweep: float = 3600.0  # how often the memory of findings that no longer exist is pruned (0: every cycle)
    source: str = "configs/notify.yaml"


def _limit(raw: dict[str, Any] | None) -> Limit | None:
    return Limit(int(raw["max"]), parse_duration(raw["period"])) if raw else None


def _throttle(raw: dict[str, Any] | None, default: Throttle) -> Throttle:
    if not raw:
        return default
    return Throttle(
        _limit(raw.get("per_channel")) if "per_channel" in raw else default.per_channel,
        _limit(raw.get("per_host")) if "per_host" in raw else default.per_host,
    )


def _route(raw: dict[str, Any] | None) -> Route:
    raw = raw or {}
    return Route(
        tuple(raw.get("events", EVENT_KINDS)),
        raw.get("min_severity"),
        tuple(raw.get("severities", ())),
        tuple(raw.get("classifications", ())),
    )


def _relative(base: Path, value: str | None) -> str | None:
    # Key and CA files may be named relative to the config file, so a config directory can move as a whole.
    return str(base / Path(value).expanduser()) if value else None


def parse(data: dict[str, Any], source: str) -> NotifyConfig:
    base = Path(source).parent
    default = _throttle(data.get("throttle"), Throttle())
    channels: dict[str, Channel] = {}
    for name, raw in (data.get("channels") or {}).items():
        common: dict[str, Any] = {
            "name": name,
            "type": raw["type"],
            "route": _route(raw.get("route")),
            "throttle": _throttle(raw.get("throttle"), default),
            "timeout": float(raw.get("timeout", 10.0)),
            "retries": int(raw.get("retries", 3)),
            "backoff": float(raw.get("backoff", 0.5)),
            "ca_file": _relative(base, raw.get("ca_file")),
        }
        if raw["type"] == "webhook":
            channels[name] = Channel(
                **common,
                url=raw.get("url", ""),
                url_file=_relative(base, raw.get("url_file")),
                format=raw.get("format", "json"),
                key_file=_relative(base, raw.get("key_file")),
            )
        elif raw["type"] == "syslog":
            channels[name] = Channel(
                **common,
                host=raw["host"],
                port=int(raw["port"]),
                transport=raw.get("transport", "tcp"),
                format=raw.get("format", "plain"),
                facility=int(raw.get("facility", 13)),
                server_name=raw.get("server_name"),
            )
        else:
            channels[name] = Channel(
                **common,
                host=raw["host"],
                port=int(raw["port"]),
                sender=raw["from"],
                recipients=tuple(raw["to"]),
                starttls=bool(raw.get("starttls", True)),
                username=raw.get("username"),
                password_file=_relative(base, raw.get("password_file")),
            )
    return NotifyConfig(
        enabled=bool(data.get("enabled", False)),
        channels=channels,
        dedup_window=parse_duration(data.get("dedup_window", "24h")),
        max_attempts=int(data.get("max_attempts", 10)),
        registry_expiry_days=int(data.get("registry_expiry_days", 14)),
        memory_sweep=parse_duration(str(data.get("memory_sweep", "1h"))),
        source=source,
    )


def load(path: Path | str | None = None) -> NotifyConfig:
    """An explicit file, else the site's notify.yaml, else the packaged default (disabled)."""
    if path:
        return parse(load_yaml(path, "notify"), str(path))
    from ..config import CONFIG_DIR, site_config_dir

    site = site_config_dir()
    chosen = (
        site / "notify.yaml" if site is not None and (site / "notify.yaml").exists() else CONFIG_DIR / "notify.yaml"
    )
    return parse(load_named_config("notify"), str(chosen))


def read_secret(path: str, setting: str) -> bytes:
    """A key or password from its file (never from the YAML); the error names the setting and the file."""
    try:
        mode = os.stat(path).st_mode
        value = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from exc
    if not value:
        raise ConfigError(f"{setting}: {path} is empty")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{setting}: {path} is readable by other users; chmod 600 it")
    return value
