"""`mcpeeker serve` as a real process over TLS, people logged in at a real OpenID provider (oidc-provider) through
its login and consent forms, findings from the real pipeline in the real OpenSearch node.

Covers: every route needs a token and names its action; every role x route pair against roles.yaml (forbidden
pairs answer 403 and write nothing); developer isolation; self-approval; concurrent approval; expired, wrong
audience, wrong issuer, not-yet-valid, unsigned, tampered and foreign-key tokens; JWKS key rotation; the API token
lifecycle; the audit chain's identities and `mcpeeker audit verify`; hostile server names returned as data.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from mcpeeker.client import make_client
from mcpeeker.roles import permits
from mcpeeker.serve.tokens import ApiTokenStore

from serve.conftest import AUDIENCE, AUDIT_KEY, Api, Provider, rsa_jwk

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

ROLE_USERS = {"developer": "alice", "analyst": "anna", "admin": "adam"}


def _operations(api: Api) -> list[tuple[str, str, str]]:
    document = api.call("GET", "/api/v1/openapi.json").json()
    out = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            out.append((method.upper(), path, operation.get("x-mcpeeker-action")))
    return out


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "no-such-id", path)


def _audit(api: Api) -> list[dict[str, Any]]:
    client = make_client(api.settings)
    index = api.settings.index("mcp-audit")
    client.indices.refresh(index=index)
    hits = client.search(index=index, body={"size": 1000, "sort": [{"seq": "asc"}]})["hits"]["hits"]
    return [h["_source"] for h in hits]


def _register(api: Api, token: str, **server: Any) -> httpx.Response:
    return api.call("POST", "/api/v1/registry", token, json={"purpose": "test", "server": server})


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


# ------------------------------------------------------------------------------------------------ authentication
def test_nothing_answers_without_a_token_but_health_docs_and_loopback_metrics(api: Api) -> None:
    assert api.call("GET", "/healthz").json()["status"] == "ok"
    document = api.call("GET", "/api/v1/openapi.json")
    assert document.status_code == 200 and document.json()["info"]["title"] == "MCPeeker"
    assert api.call("GET", "/metrics").status_code == 200  # the test client is on loopback
    operations = _operations(api)
    assert len(operations) >= 16
    for method, path, _action in operations + [("GET", "/api/v1/nowhere", None), ("POST", "/api/v1/registry", None)]:
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
            with httpx.Client(base_url=api.base, verify=api.tls()) as client:
                response = client.request(method, _fill(path), headers=headers, content=b"{not json")
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_every_route_names_an_action_and_every_role_route_pair_is_enforced(api: Api, oidc: Provider) -> None:
    """Table-driven over the OpenAPI document: a new route without an action fails here."""
    before = len(_audit(api))
    seen = 0
    for method, path, action in _operations(api):
        assert action, f"{method} {path} names no action (openapi_extra x-mcpeeker-action)"
        for role, user in ROLE_USERS.items():
            response = api.call(method, _fill(path), oidc.token(user), json={})
            allowed = action == "me" or permits(role, action)
            if allowed:
                assert response.status_code not in (401, 403), (role, method, path, response.text)
            else:
                assert response.status_code == 403, (role, method, path, response.status_code, response.text)
                assert f"may not {action}" in response.json()["error"]
            seen += 1
    assert seen >= 48
    # Every refused pair wrote nothing (the allowed ones above only hit ids that do not exist).
    assert len(_audit(api)) == before


def test_someone_without_a_mapped_group_is_refused(api: Api, oidc: Provider) -> None:
    response = api.call("GET", "/api/v1/me", oidc.token("nobody"))
    assert response.status_code == 403 and "none of your groups" in response.json()["error"]


def test_me_names_the_role_from_the_groups_claim(api: Api, oidc: Provider) -> None:
    assert api.call("GET", "/api/v1/me", oidc.token("alice")).json()["role"] == "developer"
    assert api.call("GET", "/api/v1/me", oidc.token("anna")).json()["role"] == "analyst"
    # In the admin and developer groups: the stronger role.
    assert api.call("GET", "/api/v1/me", oidc.token("amy")).json()["role"] == "admin"


def test_refused_tokens(api: Api, oidc: Provider) -> None:
    good = oidc.token("adam")
    assert api.call("GET", "/api/v1/me", good).status_code == 200
    claims = _claims(good)
    now = int(time.time())

    def refused(token: str, why: str) -> None:
        response = api.call("GET", "/api/v1/me", token)
        assert response.status_code == 401, (why, response.text)
        assert 'error="invalid_token"' in response.headers["www-authenticate"]

    # The real provider's token for another client is for another audience.
    other = oidc.token("adam", client="other-app")
    assert _claims(other)["aud"] != AUDIENCE
    refused(other, "wrong audience")
    # The ID token of the same login is meant for the client, not for this API.
    id_token = oidc.response("adam")["id_token"]
    assert _claims(id_token)["aud"] == "mcpeeker" and _claims(id_token)["iss"] == claims["iss"]
    refused(id_token, "an ID token")
    refused(oidc.sign({**claims, "iat": now - 1200, "exp": now - 600}), "expired")
    refused(oidc.sign({**claims, "iat": now, "nbf": now + 600, "exp": now + 1200}), "not yet valid")
    refused(oidc.sign({**claims, "iss": "http://127.0.0.1:1"}), "wrong issuer")
    refused(oidc.sign({k: v for k, v in claims.items() if k != "exp"}), "no exp")
    refused(jwt.encode(claims, key=None, algorithm="none"), "unsigned")
    # HMAC with the provider's public key as the secret (algorithm confusion)
    public_pem = (
        oidc.keys[0][1]
        .public_key()
        .public_bytes(
            encoding=__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM,
            format=__import__(
                "cryptography.hazmat.primitives.serialization", fromlist=["x"]
            ).PublicFormat.SubjectPublicKeyInfo,
        )
    )
    refused(
        base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "k1"}).encode()).rstrip(b"=").decode()
        + "."
        + good.split(".")[1]
        + "."
        + base64.urlsafe_b64encode(__import__("hmac").new(public_pem, b"x", "sha256").digest()).rstrip(b"=").decode(),
        "HS256 confusion",
    )
    # A developer's real token with the groups changed to admins: the signature no longer matches.
    header, payload, signature = oidc.token("alice").split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["groups"] = ["mcpeeker-admins"]
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    refused(f"{header}.{forged}.{signature}", "tampered")
    # Signed by a key that is not the provider's, under the provider's key id.
    stranger, _ = rsa_jwk("k1")
    refused(oidc.sign({**claims, "groups": ["mcpeeker-admins"]}, kid="k1", key=stranger), "foreign key")
    refused("mcpa_000000000000_" + "A" * 43, "unknown API token")


# ------------------------------------------------------------------------------------------------ findings
def test_developers_see_only_their_own_hosts(api: Api, oidc: Provider) -> None:
    everything = api.call("GET", "/api/v1/findings", oidc.token("anna"), params={"limit": 200}).json()
    alice = api.call("GET", "/api/v1/findings", oidc.token("alice"), params={"limit": 200}).json()
    dave = api.call("GET", "/api/v1/findings", oidc.token("dave"), params={"limit": 200}).json()
    assert alice["total"] > 0 and dave["total"] > 0
    assert everything["total"] > alice["total"] + dave["total"]
    assert {ip for f in alice["items"] for ip in f["host"]["ip"]} == {"10.10.1.21"}  # alice-laptop
    assert {ip for f in dave["items"] for ip in f["host"]["ip"]} == {"10.10.2.5"}  # build-01
    # Another developer's finding does not exist for alice: not listed, not shown, not claimable.
    daves = dave["items"][0]["finding"]["id"]
    assert api.call("GET", f"/api/v1/findings/{daves}", oidc.token("alice")).status_code == 404
    claim = api.call("POST", f"/api/v1/findings/{daves}/claim", oidc.token("alice"), json={"purpose": "mine?"})
    assert claim.status_code == 404
    assert api.call("GET", "/api/v1/findings", oidc.token("alice"), params={"host": "10.10.2.5"}).json()["total"] == 0
    # A pending request naming dave's address does not open dave's findings to alice.
    asked = api.call(
        "POST", "/api/v1/registry", oidc.token("alice"), json={"purpose": "p", "host": {"ip": "10.10.2.5"}}
    )
    assert asked.status_code == 201 and asked.json()["status"] == "pending"
    assert api.call("GET", f"/api/v1/findings/{daves}", oidc.token("alice")).status_code == 404
    assert (
        api.call("GET", "/api/v1/findings", oidc.token("alice"), params={"limit": 200}).json()["total"]
        == alice["total"]
    )
    # Filters and a host filter for the analyst.
    on_build = api.call("GET", "/api/v1/findings", oidc.token("anna"), params={"host": "10.10.2.5"}).json()
    assert on_build["total"] == dave["total"]


def test_findings_filters_pagination_and_show_with_timeline(api: Api, oidc: Provider) -> None:
    token = oidc.token("anna")
    everything = api.call("GET", "/api/v1/findings", token, params={"limit": 200}).json()
    ids = [f["finding"]["id"] for f in everything["items"]]
    assert len(ids) == everything["total"] >= 4
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.call("GET", "/api/v1/findings", token, params=params).json()
        pages += [f["finding"]["id"] for f in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == ids
    cls = everything["items"][0]["classification"]
    only = api.call("GET", "/api/v1/findings", token, params={"classification": cls, "limit": 200}).json()
    assert only["total"] == sum(1 for f in everything["items"] if f["classification"] == cls)
    text = everything["items"][0]["instance"]["key"][5:12].upper()
    assert api.call("GET", "/api/v1/findings", token, params={"text": text}).json()["total"] > 0
    assert api.call("GET", "/api/v1/findings", token, params={"since": "2999-01-01T00:00:00Z"}).json()["total"] == 0
    until = api.call("GET", "/api/v1/findings", token, params={"until": "2999-01-01T00:00:00Z", "limit": 200})
    assert until.json()["total"] == everything["total"]
    assert api.call("GET", "/api/v1/findings", token, params={"suppressed": "true"}).json()["total"] == 0
    bad = api.call("GET", "/api/v1/findings", token, params={"limit": 10_000})
    assert bad.status_code == 422 and bad.json()["field"] == "query.limit"
    bad = api.call("GET", "/api/v1/findings", token, params={"cursor": "garbage"})
    assert bad.status_code == 422 and bad.json()["field"] == "query.cursor"
    bad = api.call("GET", "/api/v1/findings", token, params={"since": "yesterday"})
    assert bad.status_code == 422 and bad.json()["field"] == "query.since"

    fid = ids[0]
    verdict = api.call(
        "POST", f"/api/v1/findings/{fid}/feedback", token, json={"verdict": "needs_info", "note": "asked"}
    )
    assert verdict.status_code == 201 and verdict.json()["actor"] == {"name": "anna", "role": "analyst"}
    wrong = api.call("POST", f"/api/v1/findings/{fid}/feedback", token, json={"verdict": "maybe"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "body.verdict"
    shown = api.call("GET", f"/api/v1/findings/{fid}", token).json()
    assert shown["finding"]["finding"]["id"] == fid
    assert any(r["kind"] == "verdict" and r["source"] == "anna" for r in shown["timeline"])
    assert any(r["kind"].startswith("evidence/") for r in shown["timeline"])


def test_status_changes_and_suppressions(api: Api, oidc: Provider) -> None:
    anna = oidc.token("anna")
    findings = api.call("GET", "/api/v1/findings", anna, params={"limit": 200}).json()["items"]
    first, second = findings[-1], findings[-2]
    fid = first["finding"]["id"]
    moved = api.call("POST", f"/api/v1/findings/{fid}/status", anna, json={"status": "acknowledged", "reason": "seen"})
    assert moved.status_code == 200, moved.text
    assert moved.json() == {**moved.json(), "from": "open", "to": "acknowledged", "by": "anna"}
    again = api.call("POST", f"/api/v1/findings/{fid}/status", anna, json={"status": "acknowledged", "reason": "x"})
    assert again.status_code == 409 and "already acknowledged" in again.json()["error"]
    bad = api.call("POST", f"/api/v1/findings/{fid}/status", anna, json={"status": "closed", "reason": "x"})
    assert bad.status_code == 422 and bad.json()["field"] == "body.status"
    bad = api.call("POST", f"/api/v1/findings/{fid}/status", anna, json={"status": "resolved"})
    assert bad.status_code == 422 and bad.json()["field"] == "body.reason"
    assert api.call("GET", "/api/v1/findings", anna, params={"status": "acknowledged"}).json()["total"] >= 1

    rule = {"match": {"instance": first["instance"]["key"]}, "reason": "lab box", "expires": "7d"}
    created = api.call("POST", "/api/v1/suppressions", anna, json=rule)
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "anna" and created.json()["owner"] == "anna"
    sid = created.json()["suppression_id"]
    listed = api.call("GET", "/api/v1/suppressions", anna).json()["items"]
    assert any(r["suppression_id"] == sid and r["active"] for r in listed)
    bad = api.call("POST", "/api/v1/suppressions", anna, json={**rule, "match": {"network": "10.0.0.0/99"}})
    assert bad.status_code == 422 and bad.json()["field"] == "body.match"
    bad = api.call("POST", "/api/v1/suppressions", anna, json={**rule, "expires": "4000d"})
    assert bad.status_code == 422 and bad.json()["field"] == "body.expires"
    assert api.call("DELETE", f"/api/v1/suppressions/{sid}", anna).status_code == 200
    assert api.call("DELETE", f"/api/v1/suppressions/{sid}", anna).status_code == 404

    # A false_positive verdict moves the status and, when asked, suppresses the instance.
    sid2 = second["finding"]["id"]
    verdict = api.call(
        "POST",
        f"/api/v1/findings/{sid2}/feedback",
        anna,
        json={"verdict": "false_positive", "note": "test rig", "suppress_expires": "3d"},
    )
    assert verdict.status_code == 201, verdict.text
    assert verdict.json()["status"] == "false_positive" and verdict.json()["suppression_id"]
    actions = {(r["action"], r["actor"]["name"]) for r in _audit(api)}
    assert {("finding.status", "anna"), ("suppression.add", "anna"), ("suppression.remove", "anna")} <= actions


# ------------------------------------------------------------------------------------------------ registry
def test_developer_registers_and_claims_pending_only_admin_approves_never_their_own(api: Api, oidc: Provider) -> None:
    alice, adam, amy = oidc.token("alice"), oidc.token("adam"), oidc.token("amy")
    created = _register(api, alice, name="alice-notes", port=8123)
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["status"] == "pending" and entry["owner"] == "alice"
    # A developer registers for themselves only, and cannot approve.
    other = api.call("POST", "/api/v1/registry", alice, json={"purpose": "x", "owner": "dave", "server": {"name": "y"}})
    assert other.status_code == 403
    assert api.call("POST", f"/api/v1/registry/{entry['entry_id']}/approve", alice).status_code == 403
    # A claim is a pending entry owned by the claimant, pre-filled from the finding.
    mine = api.call("GET", "/api/v1/findings", alice, params={"limit": 1}).json()["items"][0]
    claimed = api.call("POST", f"/api/v1/findings/{mine['finding']['id']}/claim", alice, json={"purpose": "my tool"})
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["status"] == "pending" and claimed.json()["owner"] == "alice"
    assert claimed.json()["source_finding"] == mine["finding"]["id"]
    # Developers list their own entries only.
    listed = api.call("GET", "/api/v1/registry", alice).json()
    assert listed["total"] >= 2 and {e["owner"] for e in listed["items"]} == {"alice"}
    assert api.call("GET", "/api/v1/registry", oidc.token("dave")).json()["total"] == 0
    assert api.call("GET", f"/api/v1/registry/{entry['entry_id']}", oidc.token("dave")).status_code == 404

    # Nobody approves their own request: amy (admin) registers, amy may not approve, adam may.
    own = _register(api, amy, name="amy-tool", port=8124).json()
    refused = api.call("POST", f"/api/v1/registry/{own['entry_id']}/approve", amy)
    assert refused.status_code == 403 and "their own request" in refused.json()["error"]
    approved = api.call("POST", f"/api/v1/registry/{own['entry_id']}/approve", adam, json={"note": "ok"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["approved_by"] == "adam"
    # An analyst neither approves nor rejects; an admin rejects, revokes and renews through the lifecycle.
    assert api.call("POST", f"/api/v1/registry/{entry['entry_id']}/reject", oidc.token("anna")).status_code == 403
    assert api.call("POST", f"/api/v1/registry/{entry['entry_id']}/reject", adam).json()["status"] == "rejected"
    again = api.call("POST", f"/api/v1/registry/{entry['entry_id']}/reject", adam)
    assert again.status_code == 409 and "cannot reject" in again.json()["error"]
    renewed = api.call("POST", f"/api/v1/registry/{own['entry_id']}/renew", adam, json={"days": 30})
    assert renewed.status_code == 200
    assert api.call("POST", f"/api/v1/registry/{own['entry_id']}/revoke", adam).json()["status"] == "revoked"

    bad = api.call("POST", "/api/v1/registry", alice, json={"purpose": "p", "server": {"port": 70000}})
    assert bad.status_code == 422 and bad.json()["field"] == "body.server.port"
    bad = api.call("POST", "/api/v1/registry", alice, json={"server": {"name": "n"}})
    assert bad.status_code == 422 and bad.json()["field"] == "body.purpose"


def test_two_admins_approving_the_same_entry_one_wins(api: Api, oidc: Provider) -> None:
    alice = oidc.token("alice")
    entry = _register(api, alice, name="contested", port=8125).json()
    shown = api.call("GET", f"/api/v1/registry/{entry['entry_id']}", oidc.token("adam"))
    etag = shown.headers["etag"]
    results: list[int] = []

    def approve(user: str) -> None:
        response = api.call(
            "POST", f"/api/v1/registry/{entry['entry_id']}/approve", oidc.token(user), headers={"If-Match": etag}
        )
        results.append(response.status_code)

    oidc.token("amy")  # log in before the race
    threads = [threading.Thread(target=approve, args=(u,)) for u in ("adam", "amy")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[0] == 200 and sorted(results)[1] in (409, 412), results
    # The stale ETag is refused from now on; the current one comes with the response.
    stale = api.call(
        "POST", f"/api/v1/registry/{entry['entry_id']}/revoke", oidc.token("adam"), headers={"If-Match": etag}
    )
    assert stale.status_code == 412
    history = api.call("GET", f"/api/v1/registry/{entry['entry_id']}", oidc.token("adam")).json()["history"]
    assert [h["action"] for h in history].count("approve") == 1


def test_export_import_and_hostile_names_are_data(api: Api, oidc: Provider) -> None:
    hostile = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>"
    created = _register(api, oidc.token("alice"), name=hostile, port=8126)
    assert created.status_code == 201
    shown = api.call("GET", f"/api/v1/registry/{created.json()['entry_id']}", oidc.token("adam"))
    assert shown.json()["server"]["name"] == hostile
    assert shown.headers["content-type"] == "application/json"
    assert shown.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in shown.headers["content-security-policy"]
    exported = api.call("GET", "/api/v1/registry/export", oidc.token("anna"), params={"format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert hostile.replace('"', '""') in exported.text
    imported = api.call(
        "POST",
        "/api/v1/registry/import",
        oidc.token("adam"),
        json={"entries": [{"owner": "erin", "purpose": "imported", "server": {"name": "imp-1"}}, {"owner": ""}]},
    )
    assert imported.status_code == 200
    assert imported.json()["added"] == 1 and len(imported.json()["errors"]) == 1
    own = {"owner": "adam", "purpose": "mine", "status": "approved", "server": {"name": "imp-own"}}
    imported = api.call("POST", "/api/v1/registry/import", oidc.token("adam"), json={"entries": [own]})
    assert imported.json()["added"] == 0 and "may not approve their own" in imported.json()["errors"][0]
    # A body of unannounced length is refused before it is read; a too large one too.
    chunks = (part for part in (b'{"purpose": "p", ', b'"server": {"name": "chunked"}}'))
    chunked = api.call("POST", "/api/v1/registry", oidc.token("alice"), content=chunks)
    assert chunked.status_code == 411
    big = api.call("POST", "/api/v1/registry", oidc.token("alice"), json={"purpose": "x" * 2_000_000})
    assert big.status_code == 413
    assert api.call("POST", "/api/v1/registry/import", oidc.token("anna"), json={"entries": []}).status_code == 403


def test_analytics_summary(api: Api, oidc: Provider) -> None:
    summary = api.call("GET", "/api/v1/analytics/summary", oidc.token("anna")).json()
    total = api.call("GET", "/api/v1/findings", oidc.token("anna")).json()["total"]
    assert summary["findings"] == total
    assert api.call("GET", "/api/v1/analytics/summary", oidc.token("alice")).status_code == 403


# ------------------------------------------------------------------------------------------------ API tokens
def test_api_token_lifecycle(api: Api, oidc: Provider) -> None:
    adam = oidc.token("adam")
    assert (
        api.call("POST", "/api/v1/tokens", oidc.token("anna"), json={"name": "x", "role": "analyst"}).status_code == 403
    )
    bad = api.call("POST", "/api/v1/tokens", adam, json={"name": "x", "role": "superuser"})
    assert bad.status_code == 422 and bad.json()["field"] == "body.role"
    bad = api.call("POST", "/api/v1/tokens", adam, json={"name": "x", "role": "analyst", "expires": "10y"})
    assert bad.status_code == 422 and bad.json()["field"] == "body.expires"
    created = api.call("POST", "/api/v1/tokens", adam, json={"name": "ci-export", "role": "analyst", "expires": "1d"})
    assert created.status_code == 201
    secret, token_id = created.json()["token"], created.json()["id"]
    assert secret.startswith(f"mcpa_{token_id}_")
    # Shown once: the listing and the store hold no secret, only a salted hash.
    listed = api.call("GET", "/api/v1/tokens", adam).json()["items"]
    assert any(t["id"] == token_id and t["created_by"] == "adam" and t["state"] == "active" for t in listed)
    assert secret not in json.dumps(listed) and secret.split("_", 2)[2] not in api.tokens_file.read_text()
    assert oct(api.tokens_file.stat().st_mode & 0o777) == "0o600"
    # It acts with its role, as itself.
    me = api.call("GET", "/api/v1/me", secret).json()
    assert me == {**me, "role": "analyst", "kind": "token", "name": f"token:{token_id}:ci-export"}
    assert api.call("GET", "/api/v1/findings", secret).status_code == 200
    assert api.call("POST", "/api/v1/tokens", secret, json={"name": "y", "role": "admin"}).status_code == 403
    # Revoked: 401 on the next request.
    assert api.call("DELETE", f"/api/v1/tokens/{token_id}", adam).json()["state"] == "revoked"
    assert api.call("GET", "/api/v1/me", secret).status_code == 401
    # Expired: a token made with a lifetime of one second stops working when it runs out.
    short, short_secret = ApiTokenStore(api.tokens_file).create("short", "analyst", timedelta(seconds=1), "adam")
    assert api.call("GET", "/api/v1/me", short_secret).status_code == 200
    time.sleep(1.5)
    assert api.call("GET", "/api/v1/me", short_secret).status_code == 401


def test_an_admins_token_does_not_approve_the_admins_own_request(api: Api, oidc: Provider) -> None:
    amy = oidc.token("amy")
    entry = _register(api, amy, name="amy-second", port=8127).json()
    secret = api.call("POST", "/api/v1/tokens", amy, json={"name": "amy-bot", "role": "admin"}).json()["token"]
    refused = api.call("POST", f"/api/v1/registry/{entry['entry_id']}/approve", secret)
    assert refused.status_code == 403


# ------------------------------------------------------------------------------------------------ audit
def test_audit_chain_holds_the_authenticated_identities_and_verifies(api: Api, oidc: Provider) -> None:
    alice = oidc.token("alice")
    # A client-supplied actor is ignored: the identity is the token's.
    response = api.call(
        "POST", "/api/v1/registry", alice, json={"purpose": "p", "server": {"name": "audited"}, "actor": "admin"}
    )
    assert response.status_code == 201
    records = _audit(api)
    mine = [r for r in records if r["object"]["id"] == response.json()["entry_id"]]
    assert mine and mine[0]["actor"] == {"name": "alice", "role": "developer"}
    actors = {r["actor"]["name"] for r in records}
    assert {"alice", "adam", "anna"} <= actors
    assert "admin" not in actors and "analyst" not in actors  # no CLI or client-supplied names
    assert any(r["action"] == "token.create" and r["actor"]["name"] == "adam" for r in records)
    verify = subprocess.run(
        [sys.executable, "-m", "mcpeeker.cli", "audit", "verify", "--url", api.settings.url]
        + ["--index-prefix", api.settings.index_prefix],
        capture_output=True,
        text=True,
        env={**os.environ, "MCPEEKER_AUDIT_KEY": AUDIT_KEY, "MCPEEKER_IDENTITY": "admin"},
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "intact" in verify.stdout


# ------------------------------------------------------------------------------------------------ last: rotation
def test_zz_jwks_key_rotation_is_followed(api: Api, oidc: Provider) -> None:
    """The provider rotates to a new signing key (the old one still published): new tokens verify after one
    JWKS refetch, old ones keep working until they expire."""
    old = oidc.token("adam")
    assert api.call("GET", "/api/v1/me", old).status_code == 200
    kid, key, jwk = "k2", *rsa_jwk("k2")
    oidc.restart([(kid, key, jwk)] + oidc.keys)
    new = oidc.token("adam")
    assert jwt.get_unverified_header(new)["kid"] == "k2"
    assert api.call("GET", "/api/v1/me", new).status_code == 200
    assert api.call("GET", "/api/v1/me", old).status_code == 200
