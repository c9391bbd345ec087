"""`GET /api/v1/findings?owner=...&detection=...`: the CLI's filters (mcpeeker.cases.queries) through the API, on
findings the real pipeline made, with a registry entry approved through the registry's lifecycle."""

from __future__ import annotations

from typing import Any

import pytest

from mcpeeker import catalogue
from mcpeeker.cases.suppressions import detections_of
from mcpeeker.client import make_client
from mcpeeker.correlate.engine import Correlator
from mcpeeker.registry.store import Registry
from mcpeeker.roles import Actor

from serve.conftest import Api, Provider

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]


def _ids(api: Api, token: str, **params: Any) -> set[str]:
    response = api.call("GET", "/api/v1/findings", token, params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {f["finding"]["id"] for f in body["items"]}


def test_owner_and_detection_filters(api: Api, oidc: Provider) -> None:
    anna = oidc.token("anna")
    everything = api.call("GET", "/api/v1/findings", anna, params={"limit": 200}).json()["items"]
    carried = {d for f in everything for d in detections_of(f)}
    assert carried, "the seeded agent reports carry posture risks"
    for entry in catalogue.entries():
        det = str(entry["id"])
        expected = {f["finding"]["id"] for f in everything if det in detections_of(f)}
        assert _ids(api, anna, detection=det) == expected, det
    bad = api.call("GET", "/api/v1/findings", anna, params={"detection": "MCP-NOPE-001"})
    assert bad.status_code == 422 and bad.json()["field"] == "query.detection"
    assert "'MCP-NOPE-001' is not a catalogue id" in bad.json()["error"]

    # Approve an entry owned by "olga" for one seeded server; after a cycle its finding carries the owner.
    target = next(f for f in everything if f.get("host", {}).get("id") and f.get("destination", {}).get("port"))
    client = make_client(api.settings)
    registry = Registry(api.settings, client, Actor("admin", "admin"))
    approved = registry.add(
        {
            "owner": "olga",
            "purpose": "filter test",
            "host": {"id": target["host"]["id"]},
            "server": {"port": target["destination"]["port"]},
        }
    )
    registry.apply(approved["entry_id"], "approve")
    Correlator(api.settings, client).run_once()
    client.indices.refresh(index=api.settings.index("mcp-findings"))
    owned = _ids(api, anna, owner="olga")
    assert target["finding"]["id"] in owned
    after = api.call("GET", "/api/v1/findings", anna, params={"limit": 200}).json()["items"]
    assert owned == {f["finding"]["id"] for f in after if f.get("registry", {}).get("owner") == "olga"}
    assert _ids(api, anna, owner="nobody-owns-this") == set()
    # Filters combine: the owner's findings carrying a detection they do (or do not) carry.
    mine = next(f for f in after if f["finding"]["id"] == target["finding"]["id"])
    for det in carried:
        expected = owned & {f["finding"]["id"] for f in after if det in detections_of(f)}
        assert _ids(api, anna, owner="olga", detection=det) == expected
    assert mine["registry"]["entry_id"] == approved["entry_id"]
