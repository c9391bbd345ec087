"""`mcpeeker init`: an editable configuration directory for a real site, and its keys.

Writes DIR/mcpeeker.yaml (the settings a site edits, commented), copies the packaged defaults of the other
configs (roles, scoring, …) beside it, and generates a site key and a separate audit key into 0600 files under
DIR/keys/ that the settings name. Existing keys are never replaced without force (a new site key orphans every
hash made with the old one; `mcpeeker keys rotate` adds a key and keeps the old ones instead).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..config import CONFIG_DIR, load_yaml
from ..errors import ConfigError
from ..timeutil import iso, utcnow
from . import keys

DEFAULT_DIR = Path("/etc/mcpeeker")
SITE_KEY = Path("keys/site.key")
AUDIT_KEY = Path("keys/audit.key")

SETTINGS_TEMPLATE = """\
# MCPeeker site settings, written by `mcpeeker init` on {date}. Edit freely.
# Every value can be overridden by an environment variable (MCPEEKER_*) or a command-line flag.
# MCPeeker reads /etc/mcpeeker/mcpeeker.yaml by default; for another directory set MCPEEKER_CONFIG={settings}.
# The other files here (roles.yaml, scoring.yaml, ...) are read from this directory, the packaged defaults otherwise.
connection:
  url: {url}          # your OpenSearch / Elasticsearch cluster (MCPEEKER_URL)
  verify_tls: true                  # keep it on; name your private CA below instead of turning it off
  # ca_certs: /etc/mcpeeker/tls/ca.pem
  # client_cert: /etc/mcpeeker/tls/mcpeeker.pem     # mTLS to the cluster
  # client_key: /etc/mcpeeker/tls/mcpeeker.key
  # username: mcpeeker              # put the password in MCPEEKER_PASSWORD (or a systemd credential), not here
  index_prefix: "{index_prefix}"
  backend: opensearch               # opensearch | elasticsearch
privacy:
  # Key ring of every keyed hash (host ids, user names, secret fingerprints); relative paths are relative to
  # this file. Agents need a copy of this file (mode 0600) to hash the same way. Rotate: `mcpeeker keys rotate`.
  site_key_file: {site_key}
  snippet_max_bytes: 1024
identity: analyst                   # the CLI identity; roles and identities in roles.yaml
audit:
  # Key ring of the audit chain, separate from the site key: keep it on SIEM hosts only, never on endpoints.
  # Rotate: `mcpeeker keys rotate --audit`.
  key_file: {audit_key}
"""


@dataclass
class InitResult:
    directory: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    key_ids: dict[str, str] = field(default_factory=dict)


def _check_keys(paths: list[Path], force: bool) -> None:
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise ConfigError(
            f"{names}: key file(s) already exist; not replacing them (every hash made with a replaced "
            "key is lost for lookups). Add a key with `mcpeeker keys rotate`, or replace with --force"
        )


def init_site(
    directory: Path = DEFAULT_DIR, *, force: bool = False, url: str = "http://127.0.0.1:9200", index_prefix: str = ""
) -> InitResult:
    """Write the config set and keys into `directory`; returns what was written and what was kept."""
    directory = Path(directory).absolute()
    result = InitResult(directory)
    site_key, audit_key = directory / SITE_KEY, directory / AUDIT_KEY
    settings = directory / "mcpeeker.yaml"
    # Everything that can refuse does so before anything is written.
    _check_keys([site_key, audit_key], force)
    keep_settings = settings.exists() and not force
    if keep_settings:
        _point_at_keys(settings)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "keys").mkdir(mode=0o700, exist_ok=True)
    os.chmod(directory / "keys", 0o700)

    for name, path in (("site", site_key), ("audit", audit_key)):
        ring = keys.create_ring(path, name)
        result.key_ids[name] = ring.current.id
        result.written.append(path)

    if keep_settings:
        result.kept.append(settings)
    else:
        settings.write_text(
            SETTINGS_TEMPLATE.format(
                date=iso(utcnow()),
                settings=settings,
                url=url,
                index_prefix=index_prefix,
                site_key=SITE_KEY,
                audit_key=AUDIT_KEY,
            ),
            encoding="utf-8",
        )
        result.written.append(settings)
    _copy_defaults(
        [p for p in sorted(CONFIG_DIR.glob("*.yaml")) if p.name != "mcpeeker.yaml"], directory, force, result
    )
    # The hardened units and their example environment files, so a pip-installed site has them without a checkout.
    (directory / "systemd").mkdir(exist_ok=True)
    _copy_defaults(sorted((CONFIG_DIR / "systemd").iterdir()), directory / "systemd", force, result)
    load_yaml(settings, "mcpeeker")  # what we wrote (or kept) must load
    return result


def _copy_defaults(defaults: list[Path], directory: Path, force: bool, result: InitResult) -> None:
    """Packaged defaults into `directory`; an existing copy is the site's own edit and is kept unless forced."""
    for default in defaults:
        target = directory / default.name
        if target.exists() and not force:
            result.kept.append(target)
            continue
        shutil.copyfile(default, target)
        result.written.append(target)


def _point_at_keys(settings: Path) -> None:
    """A kept settings file must still name the key files, else the new keys would go unused."""
    data = load_yaml(settings, "mcpeeker")
    missing = [
        name
        for name, present in (
            ("privacy.site_key_file", (data.get("privacy") or {}).get("site_key_file")),
            ("audit.key_file", (data.get("audit") or {}).get("key_file")),
        )
        if not present
    ]
    if missing:
        raise ConfigError(
            f"{settings}: kept as it is, but it does not name {' and '.join(missing)}; add "
            f"site_key_file: {SITE_KEY} under privacy and key_file: {AUDIT_KEY} under audit, or re-run with --force"
        )
