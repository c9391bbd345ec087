"""`mcpeeker serve token ...` and the CLI's identity rules: `--as` only against the demo prefixes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcpeeker.client import make_client
from mcpeeker.roles import PermissionDenied, with_as
from mcpeeker.serve.tokens import ApiTokenStore
from mcpeeker.settings import Settings

MCPEEKER = [sys.executable, "-m", "mcpeeker.cli"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MCPEEKER, *args], capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_as_is_honoured_only_against_the_demo_prefixes() -> None:
    assert with_as(Settings(index_prefix="demo-"), "admin").identity == "admin"
    assert with_as(Settings(index_prefix="t-1-"), None).identity is None  # no --as: the settings' identity
    for prefix in ("", "t-1-", "prod-", "xdemo-"):
        with pytest.raises(PermissionDenied, match="only against the demo index prefixes"):
            with_as(Settings(index_prefix=prefix), "admin")
    refused = _run(
        "registry", "approve", "reg-x", "--as", "admin", "--index-prefix", "prod-", "--url", "http://127.0.0.1:1"
    )
    assert refused.returncode == 2 and "--as works only against the demo index prefixes" in refused.stderr


def test_plain_http_only_on_loopback() -> None:
    refused = _run("serve", "--insecure-http", "--host", "0.0.0.0")
    assert refused.returncode == 2 and "only on a loopback --host" in refused.stderr
    refused = _run("serve", "--host", "127.0.0.1")
    assert refused.returncode == 2 and "--cert and --key" in refused.stderr


@pytest.mark.opensearch
def test_token_create_list_revoke_from_the_cli(os_settings: Settings, tmp_path: Path) -> None:
    serve_yaml = tmp_path / "serve.yaml"
    tokens = tmp_path / "tokens.json"
    serve_yaml.write_text(
        json.dumps({"oidc": {"issuer": "https://idp.example", "audience": "a"}, "tokens_file": str(tokens)})
    )
    common = ["--serve-config", str(serve_yaml), "--url", os_settings.url, "--index-prefix", os_settings.index_prefix]
    env = {"MCPEEKER_AUDIT_KEY": os_settings.audit_key or "", "MCPEEKER_SITE_KEY": os_settings.site_key or ""}

    denied = _run(
        "serve",
        "token",
        "create",
        "--role",
        "admin",
        "--name",
        "x",
        *common,
        env={**env, "MCPEEKER_IDENTITY": "developer"},
    )
    assert denied.returncode == 2 and "may not token.create" in denied.stderr
    bad = _run(
        "serve", "token", "create", "--role", "root", "--name", "x", *common, env={**env, "MCPEEKER_IDENTITY": "admin"}
    )
    assert bad.returncode == 2 and "--role 'root'" in bad.stderr

    admin = {**env, "MCPEEKER_IDENTITY": "admin"}
    created = _run(
        "serve", "token", "create", "--role", "analyst", "--name", "ci-export", "--expires", "2d", *common, env=admin
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("mcpa_") and "shown once" in created.stderr
    record = ApiTokenStore(tokens).verify(secret)
    assert record is not None and record.role == "analyst" and record.created_by == "admin"
    assert secret.split("_", 2)[2] not in tokens.read_text()
    listed = _run("serve", "token", "list", *common, env=admin)
    assert record.id in listed.stdout and secret not in listed.stdout and "active" in listed.stdout
    assert _run("serve", "token", "revoke", record.id, *common, env=admin).returncode == 0
    assert ApiTokenStore(tokens).verify(secret) is None
    assert "revoked" in _run("serve", "token", "list", *common, env=admin).stdout

    client = make_client(os_settings)
    client.indices.refresh(index=os_settings.index("mcp-audit"))
    records = [
        h["_source"] for h in client.search(index=os_settings.index("mcp-audit"), body={"size": 10})["hits"]["hits"]
    ]
    assert {(r["action"], r["actor"]["name"]) for r in records} == {
        ("token.create", "admin"),
        ("token.revoke", "admin"),
    }
