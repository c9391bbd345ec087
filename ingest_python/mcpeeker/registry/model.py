"""Registry entries, their lifecycle and how an entry matches an MCP instance. Pure functions only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, cast
from urllib.parse import urlsplit

from ..errors import MCPeekerError

# The typed mcp-registry document lives with the other records; re-exported as part of the registry's API.
from ..model.records import EntryHost as EntryHost
from ..model.records import EntryRemote as EntryRemote
from ..model.records import EntryServer as EntryServer
from ..model.records import HistoryItem as HistoryItem
from ..model.records import RegistryEntry as RegistryEntry
from ..timeutil import iso, parse_iso

STATUSES = ("pending", "approved", "rejected", "revoked", "expired")
# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "approve": (("pending",), "approved"),
    "reopen": (("rejected", "revoked"), "pending"),
    "reject": (("pending",), "rejected"),
    "revoke": (("approved", "expired"), "revoked"),
    "renew": (("approved", "expired"), "approved"),
    "expire": (("approved",), "expired"),
}
# What an entry approves. host.name is descriptive only: hosts are known by keyed ids, not names.
SUBJECT_FIELDS = ("host.id", "host.ip", "server.name", "server.port", "server.url", "server.ip")
# A remote-service entry approves use of a public MCP service (detections/remote/endpoints.yaml) by its service id
# or host name, for every client or only for the hosts in remote.clients (keyed host ids or IP addresses).
REMOTE_FIELDS = ("remote.service", "remote.host", "remote.clients")
# An entry must say where the server is, or name it fleet-wide: a bare port would approve every server on it.
LOCATORS = ("host.id", "host.ip", "server.ip", "server.url", "server.name")


class RegistryError(MCPeekerError):
    pass


def _get(entry: RegistryEntry | dict[str, Any], dotted: str) -> Any:
    value: Any = entry
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def normalise_url(url: str) -> str:
    """scheme://host:port/path with the default port made explicit, so spellings of one URL compare equal."""
    parts = urlsplit(str(url).strip())
    if not parts.scheme or not parts.hostname:
        raise RegistryError(f"server.url {url!r} is not an absolute URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RegistryError(f"server.url {url!r}: {exc}") from exc
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}{parts.path or '/'}"


def entry_id_for(entry: RegistryEntry) -> str:
    """Deterministic id from what the entry approves, so importing the same file twice creates nothing new."""

    def text(value: Any) -> str:
        return ",".join(sorted(map(str, value))) if isinstance(value, list) else str(value)

    subject = "|".join(
        f"{f}={text(_get(entry, f))}" for f in SUBJECT_FIELDS + REMOTE_FIELDS if _get(entry, f) not in (None, "", [])
    )
    if not subject:
        raise RegistryError(
            "an entry needs at least one of host.id, host.ip, server.name, server.port, server.url, server.ip"
        )
    return "reg-" + hashlib.sha256(subject.encode()).hexdigest()[:16]


def new_entry(fields: dict[str, Any], now: datetime, ttl_days: int, actor: str) -> RegistryEntry:
    # Values arrive untyped (CLI, API, import file); they are checked below and against the index template.
    host = cast(EntryHost, {k: v for k, v in (fields.get("host") or {}).items() if v not in (None, "")})
    server = cast(EntryServer, {k: v for k, v in (fields.get("server") or {}).items() if v not in (None, "")})
    entry: RegistryEntry = {
        "owner": str(fields.get("owner") or ""),
        "team": fields.get("team"),
        "purpose": fields.get("purpose") or "",
        "host": host,
        "server": server,
        "source_finding": fields.get("source_finding"),
    }
    if not entry["owner"]:
        raise RegistryError("owner is required")
    if fields.get("remote"):
        entry["remote"] = _remote_subject(fields["remote"], host, server)
    elif not any(_get(entry, f) not in (None, "") for f in LOCATORS):
        raise RegistryError(
            "an entry must name where the server is (host.id, host.ip, server.ip or server.url) "
            "or the server's name fleet-wide (server.name); a port alone would approve every server on it"
        )
    if entry["server"].get("url"):
        entry["server"]["url"] = normalise_url(entry["server"]["url"])
    if "port" in entry["server"]:
        port = entry["server"]["port"]
        if not isinstance(port, int) and not str(port).isdigit() or not 0 < int(port) < 65536:
            raise RegistryError(f"server.port {port!r} is not a TCP port")
        entry["server"]["port"] = int(port)
    entry["entry_id"] = fields.get("entry_id") or entry_id_for(entry)
    entry.update(
        {
            "status": "pending",
            "created": iso(now),
            "updated": iso(now),
            "expires": _expiry(fields.get("expires"), now, ttl_days),
            "expires_requested": fields.get("expires") not in (None, ""),
            "history": [{"at": iso(now), "action": "add", "actor": actor, "to": "pending"}],
        }
    )
    return entry


def _remote_subject(value: Any, host: EntryHost, server: EntryServer) -> EntryRemote:
    """remote.service / remote.host (at least one) and remote.clients, checked; never mixed with host/server."""
    if not isinstance(value, dict):
        raise RegistryError("remote must be a mapping with service, host and/or clients")
    if host or server:
        raise RegistryError("a remote-service entry names the client hosts in remote.clients, not host/server")
    unknown = sorted(set(value) - {"service", "host", "clients"})
    if unknown:
        raise RegistryError(f"remote: unknown fields {unknown} (service, host, clients)")
    remote: EntryRemote = {}
    if value.get("service"):
        remote["service"] = str(value["service"]).strip().lower()
    if value.get("host"):
        remote["host"] = str(value["host"]).strip().lower().rstrip(".")
    if not remote:
        raise RegistryError("a remote-service entry needs remote.service or remote.host")
    clients = value.get("clients") or []
    if isinstance(clients, str):
        clients = [c for c in clients.split(",")]
    if not isinstance(clients, list):
        raise RegistryError("remote.clients must be a list of host ids or IP addresses")
    cleaned = sorted({str(c).strip() for c in clients if str(c).strip()})
    if cleaned:
        remote["clients"] = cleaned
    return remote


def is_remote(entry: RegistryEntry) -> bool:
    return bool(entry.get("remote"))


def matches_remote(entry: RegistryEntry, service: str, service_host: str, clients: tuple[str, ...]) -> bool:
    """A remote-service entry covers this (client, service) use: the service id or host agrees, and the entry names
    no clients or one of `clients` (the client's host id and addresses)."""
    remote = entry.get("remote")
    if not remote:
        return False
    checks: list[bool] = []
    if remote.get("service"):
        checks.append(remote["service"] == service)
    if remote.get("host"):
        checks.append(remote["host"] == service_host)
    if remote.get("clients"):
        checks.append(bool(set(remote["clients"]) & set(clients)))
    return bool(checks) and all(checks)


def _expiry(value: Any, now: datetime, ttl_days: int) -> str:
    if value in (None, ""):
        return iso(now + timedelta(days=ttl_days))
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, datetime):
        return iso(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    try:
        return iso(parse_iso(str(value)))
    except ValueError as exc:
        raise RegistryError(f"expires {value!r} is not an ISO date or date-time") from exc


def transition(
    entry: RegistryEntry, action: str, now: datetime, actor: str, note: str = "", ttl_days: int | None = None
) -> RegistryEntry:
    """Return the entry after `action`, or raise naming the illegal transition."""
    allowed_from, target = TRANSITIONS[action]
    # `expire` persists what effective_status already reports, so it looks at the stored status.
    current = entry.get("status", "pending") if action == "expire" else effective_status(entry, now)
    if current not in allowed_from:
        raise RegistryError(
            f"{entry['entry_id']}: cannot {action} an entry that is {current} (only from {', '.join(allowed_from)})"
        )
    updated = entry.copy()
    updated["status"] = target
    updated["updated"] = iso(now)
    if action == "approve":
        updated["approved_by"] = actor
    fresh = now + timedelta(days=ttl_days or 90)
    if action == "approve" and not entry.get("expires_requested"):
        updated["expires"] = iso(fresh)  # the default TTL runs from the approval, not from the request
    elif action == "renew":
        updated["expires"] = iso(max(parse_iso(entry["expires"]), fresh))  # a renewal never shortens
    updated["history"] = list(entry.get("history", [])) + [
        {"at": iso(now), "action": action, "actor": actor, "from": current, "to": target, "note": note}
    ]
    return updated


def effective_status(entry: RegistryEntry, now: datetime) -> str:
    if entry.get("status") == "approved" and parse_iso(entry["expires"]) <= now:
        return "expired"
    return entry.get("status", "pending")


def is_active(entry: RegistryEntry, now: datetime) -> bool:
    """Only an approved, unexpired entry lowers a score."""
    return effective_status(entry, now) == "approved"


@dataclass(frozen=True)
class InstanceFacts:
    """What matching needs to know of an MCP instance."""

    key: str
    host_id: str | None = None
    host_ips: tuple[str, ...] = ()
    port: int | None = None
    server_names: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    server_ip: str | None = None


def matches(entry: RegistryEntry, facts: InstanceFacts) -> bool:
    """Every subject field the entry names must agree with the instance; at least one must be named."""
    if entry.get("remote"):
        return False  # a remote-service entry approves the use of a public service, never a server instance
    host, server = entry.get("host", {}), entry.get("server", {})
    checks: list[bool] = []
    if host.get("id"):
        checks.append(host["id"] == facts.host_id)
    if host.get("ip"):
        checks.append(host["ip"] in facts.host_ips or host["ip"] == facts.server_ip)
    if server.get("ip"):
        checks.append(server["ip"] == facts.server_ip or server["ip"] in facts.host_ips)
    if server.get("port"):
        checks.append(int(server["port"]) == facts.port)
    if server.get("url"):
        checks.append(server["url"] in facts.urls)
    if server.get("name"):
        checks.append(server["name"] in facts.server_names)
    return bool(checks) and all(checks)
