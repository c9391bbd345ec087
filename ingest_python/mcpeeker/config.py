"""Load YAML configuration files and validate them against the JSON Schemas in `schemas/`.

A bad file fails with the file name, the JSON path of the field and what the schema expected.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import resources
from .errors import ConfigError

# The default configs and their schemas: package data in a wheel, the checkout's directories in an editable install.
SCHEMA_DIR = resources.path("schemas")
CONFIG_DIR = resources.path("configs")
SITE_DIR = Path("/etc/mcpeeker")  # `mcpeeker init`'s default directory


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    path = SCHEMA_DIR / f"{name}.schema.json"
    try:
        schema: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: schema not found") from exc
    return schema


def _field_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def validate(data: Any, schema_name: str, source: str) -> None:
    """Raise ConfigError naming `source`, the field path and the expectation for the first error."""
    schema = load_schema(schema_name)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(f"{_field_path(e)}: {e.message}" for e in errors[:5])
        raise ConfigError(f"{source}: invalid configuration: {details}")


def load_yaml(path: Path | str, schema_name: str | None = None) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        data = {}
    if schema_name:
        validate(data, schema_name, str(path))
    return data


def site_config_dir() -> Path | None:
    """The site's own config directory (`mcpeeker init`): the one holding $MCPEEKER_CONFIG, else /etc/mcpeeker
    when it holds a mcpeeker.yaml; None when the packaged defaults are all there is."""
    if os.environ.get("MCPEEKER_CONFIG"):
        return Path(os.environ["MCPEEKER_CONFIG"]).parent
    return SITE_DIR if (SITE_DIR / "mcpeeker.yaml").exists() else None


def load_named_config(name: str, override: Path | str | None = None) -> Any:
    """Load `<name>.yaml` (an explicit file, else the site's config directory's, else the packaged default)
    validated by `schemas/<name>.schema.json`."""
    site = site_config_dir()
    if override:
        path = Path(override)
    elif site is not None and (site / f"{name}.yaml").exists():
        path = site / f"{name}.yaml"
    else:
        path = CONFIG_DIR / f"{name}.yaml"
    return load_yaml(path, name)
