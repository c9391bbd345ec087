"""Connection settings used by every command: flags > environment > mcpeeker.yaml > defaults.

mcpeeker.yaml is --config, else $MCPEEKER_CONFIG, else /etc/mcpeeker/mcpeeker.yaml (what `mcpeeker init` writes) when it
exists, else the packaged default. Keys live in key files that the settings name (privacy.site_key_file,
audit.key_file), never in the YAML; there is no built-in key (see mcpeeker.site.keys).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .config import CONFIG_DIR, SITE_DIR, load_yaml
from .errors import ConfigError
from .site import keys as keyring

DEFAULT_URL = "http://127.0.0.1:9200"
SITE_CONFIG = SITE_DIR / "mcpeeker.yaml"  # `mcpeeker init`'s default

ENV_VARS = {
    "url": "MCPEEKER_URL",
    "username": "MCPEEKER_USERNAME",
    "password": "MCPEEKER_PASSWORD",
    "api_key": "MCPEEKER_API_KEY",
    "verify_tls": "MCPEEKER_VERIFY_TLS",
    "ca_certs": "MCPEEKER_CA_CERTS",
    "client_cert": "MCPEEKER_CLIENT_CERT",
    "client_key": "MCPEEKER_CLIENT_KEY",
    "index_prefix": "MCPEEKER_INDEX_PREFIX",
    "backend": "MCPEEKER_BACKEND",
    "site_key": "MCPEEKER_SITE_KEY",  # an inline key, for throw-away setups; sites use the key file
    "site_key_file": "MCPEEKER_SITE_KEY_FILE",
    "identity": "MCPEEKER_IDENTITY",
    "audit_key": "MCPEEKER_AUDIT_KEY",
    "audit_key_file": "MCPEEKER_AUDIT_KEY_FILE",
}


@dataclass(frozen=True)
class Lifecycle:
    """Rollover, time-skew and retention of the evidence indices (mcpeeker.yaml `lifecycle:`; mcpeeker.lifecycle)."""

    rollover_max_size: str = "10gb"  # roll the write index over at this primary store size ...
    rollover_max_age: str = "1d"  # ... or this long after it was created (age of ingestion, not of @timestamp)
    rollover_max_docs: int | None = None
    check_seconds: float = 300.0  # how often a running ingest checks the rollover conditions
    skew_past_days: float = 30.0  # events older than this when read are flagged mcpeeker.time_skew
    skew_future_seconds: float = 600.0  # events this far in the future (clock drift, forged) are flagged too
    events_retention_days: float = 30.0  # `mcpeeker maintain` deletes rolled-over event indices ingested before


@dataclass(frozen=True)
class Settings:
    url: str = DEFAULT_URL
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    ca_certs: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    index_prefix: str = ""
    backend: str = "opensearch"  # opensearch | elasticsearch
    site_key: str | None = field(default=None, repr=False)
    identity: str | None = None
    audit_key: str | None = field(default=None, repr=False)
    site_key_file: str | None = None
    audit_key_file: str | None = None
    timeout: float = 30.0
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    def index(self, name: str) -> str:
        """Full index name for a logical name such as `mcp-findings`."""
        return f"{self.index_prefix}{name}"

    def site_keys(self) -> keyring.KeyRing:
        """The site key ring (inline MCPEEKER_SITE_KEY first, else the key file); MissingKeyError names the setting."""
        return _ring(self.site_key, "MCPEEKER_SITE_KEY", self.site_key_file, keyring.SITE_HELP)

    def site_key_bytes(self) -> bytes:
        """The current keyed-hash key."""
        return self.site_keys().current.secret

    def audit_keys(self) -> keyring.KeyRing:
        """The audit chain's key ring (MCPEEKER_AUDIT_KEY, else audit.key_file); MissingKeyError names the setting."""
        return _ring(self.audit_key, "MCPEEKER_AUDIT_KEY", self.audit_key_file, keyring.AUDIT_HELP)


def _ring(inline: str | None, env_name: str, path: str | None, missing: str) -> keyring.KeyRing:
    if inline:  # throw-away setups and tests; a site's keys live in the (length-checked) key files
        return keyring.KeyRing.single(inline.encode(), env_name)
    if path:
        return keyring.read_ring(path)
    raise keyring.MissingKeyError(missing)


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in {"0", "false", "no", "off"}


def _from_mapping(base: Settings, values: dict[str, Any]) -> Settings:
    known = {f.name for f in fields(Settings)}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key in known and value is not None:
            clean[key] = _parse_bool(value) if key == "verify_tls" else value
    return replace(base, **clean)


def _config_file_values(path: Path | None, env: Any = None) -> dict[str, Any]:
    candidate = config_path(path, env)
    if not candidate.exists():
        return {}
    raw = load_yaml(candidate)
    for section, key, setting in (("privacy", "site_key", "privacy.site_key_file"), ("audit", "key", "audit.key_file")):
        if isinstance(raw, dict) and isinstance(raw.get(section), dict) and key in raw[section]:
            raise ConfigError(
                f"{candidate}: {section}.{key}: keys no longer live in the settings file; put the key in a "
                f"0600 key file (`mcpeeker init` writes one) and name it with {setting}"
            )
    data = load_yaml(candidate, "mcpeeker")
    conn = dict(data.get("connection", {}))
    # Key file paths may be relative to the settings file (an init'ed directory can move as a whole).
    if "site_key_file" in data.get("privacy", {}):
        conn["site_key_file"] = str(candidate.parent / Path(data["privacy"]["site_key_file"]).expanduser())
    if "identity" in data:
        conn["identity"] = data["identity"]
    if "key_file" in data.get("audit", {}):
        conn["audit_key_file"] = str(candidate.parent / Path(data["audit"]["key_file"]).expanduser())
    if "lifecycle" in data:
        conn["lifecycle"] = Lifecycle(**data["lifecycle"])
    return conn


def config_path(path: Path | None = None, env: Any = None) -> Path:
    """The mcpeeker.yaml in effect: --config, $MCPEEKER_CONFIG, /etc/mcpeeker/mcpeeker.yaml, the packaged default."""
    env = os.environ if env is None else env
    if path:
        return Path(path)
    if env.get("MCPEEKER_CONFIG"):
        return Path(env["MCPEEKER_CONFIG"])
    return SITE_CONFIG if SITE_CONFIG.exists() else CONFIG_DIR / "mcpeeker.yaml"


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cluster connection")
    group.add_argument("--url", help=f"OpenSearch/Elasticsearch URL (env MCPEEKER_URL, default {DEFAULT_URL})")
    group.add_argument("--username", help="basic-auth user (env MCPEEKER_USERNAME)")
    group.add_argument("--password", help="basic-auth password (env MCPEEKER_PASSWORD)")
    group.add_argument("--api-key", dest="api_key", help="API key (env MCPEEKER_API_KEY)")
    group.add_argument("--ca-certs", dest="ca_certs", help="CA bundle to verify the cluster's certificate")
    group.add_argument("--client-cert", dest="client_cert", help="client certificate for mTLS")
    group.add_argument("--client-key", dest="client_key", help="client key for mTLS")
    group.add_argument(
        "--insecure",
        dest="verify_tls",
        action="store_const",
        const=False,
        default=None,
        help="do NOT verify TLS certificates (verification is on by default)",
    )
    group.add_argument("--index-prefix", dest="index_prefix", help="prefix for every index name")
    group.add_argument("--backend", choices=["opensearch", "elasticsearch"], help="client library to use")
    group.add_argument("--config", dest="config_file", type=Path, help="configs/mcpeeker.yaml to read")


def resolve(args: argparse.Namespace | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    config_path = getattr(args, "config_file", None) if args is not None else None
    settings = _from_mapping(Settings(), _config_file_values(config_path, env))
    settings = _from_mapping(settings, {key: env.get(var) for key, var in ENV_VARS.items()})
    if args is not None:
        settings = _from_mapping(settings, {f.name: getattr(args, f.name, None) for f in fields(Settings)})
    return settings
