"""Registry entries in `mcp-registry`; every change is appended to the audit chain."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path
from typing import Any, Iterable

import yaml

from .. import audit
from ..errors import MCPeekerError
from ..paging import scan_sorted
from ..roles import Actor
from ..settings import Settings
from ..timeutil import parse_iso, utcnow
from .model import RegistryEntry, RegistryError, effective_status, new_entry, transition

CSV_COLUMNS = (
    "entry_id",
    "status",
    "owner",
    "team",
    "purpose",
    "host.id",
    "host.name",
    "host.ip",
    "server.name",
    "server.port",
    "server.url",
    "server.ip",
    "created",
    "expires",
)


class VersionConflict(RegistryError):
    """The entry changed between read and write (another admin acted first)."""


class Registry:
    def __init__(self, settings: Settings, client: Any, actor: Actor, ttl_days: int = 90) -> None:
        self.settings, self.client, self.actor, self.ttl_days = settings, client, actor, ttl_days
        self.index = settings.index("mcp-registry")

    # --- reading -------------------------------------------------------------------------
    def get(self, entry_id: str) -> RegistryEntry:
        return self._get_versioned(entry_id)[0]

    def get_versioned(self, entry_id: str) -> tuple[RegistryEntry, dict[str, int]]:
        """The entry and its version (if_seq_no / if_primary_term), for a write that must not overwrite another."""
        return self._get_versioned(entry_id)

    def _get_versioned(self, entry_id: str) -> tuple[RegistryEntry, dict[str, int]]:
        result = self.client.get(index=self.index, id=entry_id, ignore=[404])
        if not result.get("found"):
            raise RegistryError(f"no registry entry {entry_id!r}")
        return result["_source"], {"if_seq_no": result["_seq_no"], "if_primary_term": result["_primary_term"]}

    def all(self) -> list[RegistryEntry]:
        self.client.indices.refresh(index=self.index)
        return [
            hit["_source"] for hit in scan_sorted(self.client, self.index, {"match_all": {}}, [{"entry_id": "asc"}])
        ]

    def due(self, days: int) -> list[RegistryEntry]:
        now = utcnow()
        horizon = now.timestamp() + days * 86400
        return [
            e
            for e in self.all()
            if effective_status(e, now) == "approved" and parse_iso(e["expires"]).timestamp() <= horizon
        ]

    # --- writing -------------------------------------------------------------------------
    def _save(
        self,
        entry: RegistryEntry,
        action: str,
        detail: dict[str, Any] | None = None,
        version: dict[str, int] | None = None,
    ) -> RegistryEntry:
        """Write an entry; with `version`, only if nobody changed it since it was read (else 409)."""
        # get-by-id is real-time and all() refreshes first, so writes need not wait for a refresh.
        audit.signing_key(self.settings)  # no audit key: stop before the change, not after it
        params: dict[str, Any] = dict(version) if version else {"op_type": "create"}
        try:
            self.client.index(index=self.index, id=entry["entry_id"], body=entry, **params)
        except Exception as exc:  # ConflictError of either client
            if getattr(exc, "status_code", None) == 409:
                raise VersionConflict(
                    f"{entry['entry_id']} was changed by someone else meanwhile; run the command again"
                ) from exc
            raise
        content = {"entry_id": entry["entry_id"], "status": entry["status"], **(detail or {})}
        audit.append(
            self.settings, self.client, self.actor, f"registry.{action}", "registry_entry", entry["entry_id"], content
        )
        return entry

    def add(self, fields: dict[str, Any]) -> RegistryEntry:
        entry = new_entry(fields, utcnow(), self.ttl_days, self.actor.name)
        existing = self.client.get(index=self.index, id=entry["entry_id"], ignore=[404])
        detail = {"owner": entry["owner"], "team": entry["team"], "server": entry["server"], "host": entry["host"]}
        if not existing.get("found"):
            return self._save(entry, "add", detail)
        old = existing["_source"]
        if old.get("status") in ("rejected", "revoked"):
            # A server once rejected or revoked may be requested again: the entry reopens as pending.
            reopened = transition(old, "reopen", utcnow(), self.actor.name, note=fields.get("purpose") or "")
            for key in ("owner", "team", "purpose", "expires", "expires_requested"):
                reopened[key] = entry[key]
            version = {"if_seq_no": existing["_seq_no"], "if_primary_term": existing["_primary_term"]}
            return self._save(reopened, "reopen", detail, version)
        raise RegistryError(
            f"entry {entry['entry_id']} already exists for this server (status {old['status']}); use renew or approve"
        )

    def apply(
        self, entry_id: str, action: str, note: str = "", days: int | None = None, version: dict[str, int] | None = None
    ) -> RegistryEntry:
        """Apply a lifecycle action; with `version` (from get_versioned), only to that version of the entry."""
        current, stored = self._get_versioned(entry_id)
        if version is not None and version != stored:
            raise VersionConflict(f"{entry_id} was changed by someone else meanwhile; read it again")
        version = stored
        entry = transition(current, action, utcnow(), self.actor.name, note, days or self.ttl_days)
        return self._save(entry, action, {"note": note, "expires": entry["expires"]}, version)

    def import_entries(self, rows: Iterable[dict[str, Any]], source: str) -> tuple[int, int, list[str]]:
        """Add every row that is new; returns (added, already present, errors naming the row)."""
        added, present, errors = 0, 0, []
        for number, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                errors.append(f"{source}: entry {number}: expected a mapping, got {type(row).__name__}")
                continue
            try:
                entry = new_entry(row, utcnow(), self.ttl_days, self.actor.name)
                if self.client.get(index=self.index, id=entry["entry_id"], ignore=[404]).get("found"):
                    present += 1
                    continue
                self._save(entry, "import", {"source": source, "row": number})
                wanted = row.get("status", "pending")
                if wanted == "approved":
                    self.apply(entry["entry_id"], "approve", note=f"imported from {source}")
                added += 1
            except MCPeekerError as exc:
                errors.append(f"{source}: entry {number}: {exc}")
        return added, present, errors

    def claim(self, finding_id: str, owner: str, team: str | None, purpose: str) -> RegistryEntry:
        """The developer flow: confirm ownership of a finding; a pending entry pre-filled from its suggestion."""
        finding = self.client.get(index=self.settings.index("mcp-findings"), id=finding_id, ignore=[404])
        if not finding.get("found"):
            raise MCPeekerError(f"no finding {finding_id!r}")
        suggested = finding["_source"].get("suggested_entry") or {}
        return self.add(
            {
                "owner": owner,
                "team": team,
                "purpose": purpose,
                "host": suggested.get("host", {}),
                "server": suggested.get("server", {}),
                "source_finding": finding_id,
            }
        )

    def expire_due(self, entries: list[RegistryEntry] | None = None) -> list[str]:
        """Persist `expired` for approved entries past their date (the effective status already says so)."""
        now, expired = utcnow(), []
        for entry in self.all() if entries is None else entries:
            if entry.get("status") == "approved" and effective_status(entry, now) == "expired":
                current, version = self._get_versioned(entry["entry_id"])
                if current.get("status") != "approved" or effective_status(current, now) != "expired":
                    continue  # renewed or revoked since the listing
                try:
                    self._save(transition(current, "expire", now, self.actor.name), "expire", version=version)
                except RegistryError:
                    continue  # changed concurrently (e.g. renewed): the next cycle looks again
                expired.append(entry["entry_id"])
        return expired


# --- file formats ------------------------------------------------------------------------------
def _unflatten(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value in (None, ""):
            continue
        target = out
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = int(value) if leaf == "port" and str(value).isdigit() else value
    return out


def read_import_file(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: cannot read: {exc}") from exc
    if path.suffix.lower() == ".csv":
        return [_unflatten(row) for row in csv.DictReader(io.StringIO(text))]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from exc
    rows = data.get("entries", data) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise RegistryError(f"{path}: expected a list of entries (or a mapping with `entries:`)")
    return rows


def _flatten(entry: RegistryEntry) -> dict[str, Any]:
    out = {}
    for column in CSV_COLUMNS:
        value: Any = entry
        for part in column.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        out[column] = "" if value is None else value
    return out


def render_export(entries: list[RegistryEntry], fmt: str) -> str:
    clean = [{k: v for k, v in e.items() if k != "history"} for e in entries]
    if fmt == "json":
        return json.dumps(clean, indent=2, sort_keys=True) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump({"entries": clean}, sort_keys=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(_flatten(e) for e in entries)
    return buffer.getvalue()


def write_suricata_datasets(entries: list[RegistryEntry], directory: Path) -> tuple[Path, Path]:
    """Approved servers as Suricata datasets (see suricata/README.md): addresses (type ip) and
    host:port authorities (type string, base64 lines)."""
    from urllib.parse import urlsplit

    now = utcnow()
    ips, authorities = set(), set()
    for entry in entries:
        if effective_status(entry, now) != "approved":
            continue
        server, host = entry.get("server", {}), entry.get("host", {})
        address = server.get("ip") or host.get("ip")
        if address:
            ips.add(address)
            if server.get("port"):
                authorities.add(f"{address}:{server['port']}")
        if server.get("url"):
            parts = urlsplit(server["url"])
            authorities.add(f"{parts.hostname}:{parts.port}")
    directory.mkdir(parents=True, exist_ok=True)
    ip_file, string_file = directory / "mcpeeker-approved-ip.lst", directory / "mcpeeker-approved.lst"
    ip_file.write_text("".join(f"{ip}\n" for ip in sorted(ips)))
    string_file.write_text("".join(base64.b64encode(a.encode()).decode() + "\n" for a in sorted(authorities)))
    return ip_file, string_file
