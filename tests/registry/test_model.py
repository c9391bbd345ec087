"""The typed registry entry (mcpeeker.registry.model.RegistryEntry) and the mcp-registry index template name the
same fields, and the entries the lifecycle functions build carry only those fields."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, get_type_hints

from mcpeeker import resources
from mcpeeker.registry.model import EntryHost, EntryServer, HistoryItem, RegistryEntry, new_entry, transition

TEMPLATE = json.loads((resources.templates() / "mcp-registry.json").read_text(encoding="utf-8"))
PROPERTIES: dict[str, Any] = TEMPLATE["template"]["mappings"]["properties"]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_typed_entry_matches_the_index_template() -> None:
    assert set(get_type_hints(RegistryEntry)) == set(PROPERTIES)
    assert set(get_type_hints(EntryHost)) == set(PROPERTIES["host"]["properties"])
    assert set(get_type_hints(EntryServer)) == set(PROPERTIES["server"]["properties"])


def _check(entry: dict[str, Any]) -> None:
    assert set(entry) <= set(get_type_hints(RegistryEntry)), set(entry) - set(get_type_hints(RegistryEntry))
    assert set(entry["host"]) <= set(get_type_hints(EntryHost))
    assert set(entry["server"]) <= set(get_type_hints(EntryServer))
    for step in entry["history"]:
        assert set(step) <= set(HistoryItem.__annotations__), step


def test_lifecycle_builds_entries_of_that_shape() -> None:
    entry = new_entry(
        {
            "owner": "alice",
            "team": "ml",
            "purpose": "evals",
            "host": {"id": "h1", "ip": "10.0.0.5"},
            "server": {"name": "files", "port": "8080", "url": "http://files.example/mcp"},
        },
        NOW,
        90,
        "alice",
    )
    _check(dict(entry))
    assert entry["server"]["port"] == 8080 and entry["server"]["url"] == "http://files.example:80/mcp"
    approved = transition(entry, "approve", NOW, "bob", note="ok")
    _check(dict(approved))
    assert approved["status"] == "approved" and approved["history"][-1]["from"] == "pending"
    assert entry["status"] == "pending"  # the transition returns a new entry, the old one is unchanged
