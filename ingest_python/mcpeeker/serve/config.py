"""configs/serve.yaml as typed values (schemas/serve.schema.json)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..config import load_named_config, load_yaml
from ..errors import ConfigError
from ..state import state_dir


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    groups_claim: str = "groups"
    identity_claim: str = "preferred_username"
    hosts_claim: str | None = "mcpeeker_hosts"
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256", "EdDSA")
    leeway_seconds: int = 30
    ca_file: str | None = None
    jwks_cache_seconds: int = 300


@dataclass(frozen=True)
class UiConfig:
    client_id: str = "mcpeeker"
    redirect_uri: str | None = None  # default: the request's own URL + /auth/callback
    session_minutes: int = 480
    logins_per_minute: int = 30  # per client address, on /auth/login and /auth/callback
    scopes: str = "openid profile groups"


@dataclass(frozen=True)
class ServeConfig:
    oidc: OidcConfig
    tokens_file: Path
    metrics: str = "loopback"
    max_page_size: int = 500
    max_body_bytes: int = 1 << 20
    auth_failures_per_minute: int = 60  # refused bearer tokens per client address, then 429 for the minute
    tokens_per_minute: int = 10  # API tokens one identity may create per minute (API and UI)
    roles_file: str | None = None
    ui: UiConfig = UiConfig()
    # Strict-Transport-Security max-age on every answer over TLS (0: no header); none over plain HTTP.
    hsts_max_age_seconds: int = 31536000


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_tokens_path() -> Path:
    return Path(os.environ.get("MCPEEKER_API_TOKENS") or state_dir() / "serve" / "api-tokens.json")


def from_mapping(data: dict[str, Any], source: str, roles_file: str | None = None) -> ServeConfig:
    oidc: dict[str, Any] = dict(data["oidc"])
    issuer = str(oidc["issuer"]).rstrip("/")
    parts = urlsplit(issuer)
    # A plain-HTTP issuer is only for a provider on this machine (tests, make demo): its keys decide who is admin.
    if parts.scheme != "https" and not is_loopback(parts.hostname):
        raise ConfigError(f"{source}: oidc.issuer {issuer!r}: use https (plain http only for a loopback provider)")
    if "algorithms" in oidc:
        oidc["algorithms"] = tuple(oidc["algorithms"])
    oidc["issuer"] = issuer
    tokens = data.get("tokens_file")
    return ServeConfig(
        oidc=OidcConfig(**oidc),
        tokens_file=Path(tokens) if tokens else default_tokens_path(),
        metrics=str(data.get("metrics", "loopback")),
        max_page_size=int(data.get("max_page_size", 500)),
        max_body_bytes=int(data.get("max_body_bytes", 1 << 20)),
        auth_failures_per_minute=int(data.get("auth_failures_per_minute", 60)),
        tokens_per_minute=int(data.get("tokens_per_minute", 10)),
        roles_file=roles_file,
        ui=UiConfig(**data.get("ui", {})),
        hsts_max_age_seconds=int(data.get("hsts_max_age_seconds", 31536000)),
    )


def load(path: Path | None = None, roles_file: str | None = None) -> ServeConfig:
    """serve.yaml: `path`, else the site's config directory's, else the packaged default."""
    data = load_yaml(path, "serve") if path else load_named_config("serve")
    return from_mapping(data, str(path or "serve.yaml"), roles_file)
