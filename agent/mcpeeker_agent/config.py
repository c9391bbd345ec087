"""The agent's settings: the agent config file (YAML) and where the site key comes from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .privacy import read_key_file

NO_KEY = (
    "no site key: give --site-key-file FILE, set MCPEEKER_SITE_KEY_FILE, or site_key_file in the agent config "
    "(or privacy.site_key_file in mcpeeker.yaml on a SIEM host) to the key file `mcpeeker init` wrote. "
    "There is no built-in key: host ids and user names are keyed hashes only your site's key can reproduce"
)
_CONFIG_KEYS: dict[str, type | tuple[type, ...]] = {
    "site_key": str,
    "site_key_file": str,
    "homes": list,
    "project_roots": list,
    "max_depth": int,
    "max_files": int,
    "max_bytes": int,
    "max_stream_bytes": int,
    "probe": bool,
    "probe_max": int,
    "probe_timeout": (int, float),
    "state": str,
    "clients_table": str,
    "ship": str,
    "token_file": str,
    "ca_certs": str,
    "spool_dir": str,
    "client_cert": str,
    "client_key": str,
    "tools_state": str,  # tap and inventory: tool fingerprints per server
    "inventory_allow_env": bool,  # inventory: pass the config's env (usually secrets) to the servers it starts
    "inventory_remote": bool,  # inventory: also list remote servers whose URL the config carries
}


class UsageError(Exception):
    """Bad settings or flags; the command line prints it as one error line."""


def load_agent_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: top level must be a mapping")
    for key, value in data.items():
        if key not in _CONFIG_KEYS:
            raise UsageError(f"{path}: {key}: unknown setting (known: {', '.join(sorted(_CONFIG_KEYS))})")
        if not isinstance(value, _CONFIG_KEYS[key]) or (isinstance(value, bool) and _CONFIG_KEYS[key] is int):
            raise UsageError(f"{path}: {key}: expected {getattr(_CONFIG_KEYS[key], '__name__', 'number')}")
    return data


def _key_file(path: Path | str, source: str) -> tuple[bytes, str]:
    try:
        return read_key_file(Path(path)), f"{source} {path}"
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the site key file ({source}): {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def resolve_site_key(site_key: str | None, site_key_file: Path | None, cfg: dict[str, Any]) -> tuple[bytes, str]:
    """The site key and where it came from: --site-key(-file) > MCPEEKER_SITE_KEY(_FILE) > agent config >
    mcpeeker.yaml; no key is an error (NO_KEY)."""
    if site_key:
        return site_key.encode(), "flag"
    if site_key_file:
        return _key_file(site_key_file, "--site-key-file")
    if os.environ.get("MCPEEKER_SITE_KEY"):
        return os.environ["MCPEEKER_SITE_KEY"].encode(), "environment"
    if os.environ.get("MCPEEKER_SITE_KEY_FILE"):
        return _key_file(os.environ["MCPEEKER_SITE_KEY_FILE"], "MCPEEKER_SITE_KEY_FILE")
    if cfg.get("site_key"):
        return str(cfg["site_key"]).encode(), "agent config"
    if cfg.get("site_key_file"):
        return _key_file(cfg["site_key_file"], "agent config site_key_file")
    try:
        from mcpeeker.settings import config_path, resolve
    except ImportError:  # the agent alone, without the SIEM package
        raise UsageError(NO_KEY) from None
    try:
        settings = resolve(None)
        if settings.site_key_file:
            return _key_file(settings.site_key_file, f"privacy.site_key_file in {config_path()}")
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - the SIEM settings file is broken: say so, do not guess a key
        raise UsageError(f"{NO_KEY} ({exc})") from exc
    raise UsageError(NO_KEY)
