"""The one place that knows where MCPeeker's data files are: configs, schemas, the detection catalogue, the
Suricata rules and config, the Sigma rules and pipeline, the dashboard spec and the Zeek package.

The repository keeps them in top-level directories (configs/, schemas/, detections/, suricata/, sigma/,
dashboards/kibana/, zeek/scripts/, zkg.meta). A built wheel carries a copy as package data under
`mcpeeker/_data/` with the same relative paths (setup.py's build_py copies DATA_FILES there), read through
importlib.resources. An editable install of a source checkout has no `_data/`: there the files are read where
they live in the checkout, so an edit to a rule is seen without a rebuild.

Stdlib only: setup.py loads DATA_FILES from this file before anything is installed.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

DATA_PACKAGE = "mcpeeker"
DATA_SUBDIR = "_data"
# Globs relative to the repository root: what the product reads at run time, and nothing the tests alone need.
DATA_FILES = (
    "configs/*.yaml",
    "configs/systemd/*",
    "schemas/*.schema.json",
    "detections/_vocabulary.yaml",
    "detections/MCP-*.yaml",
    "detections/indicators/*.yaml",
    "detections/remote/*.yaml",
    "suricata/mcp.rules",
    "suricata/mcp-remote.rules",
    "suricata/mcp-remote-*.lst",
    "suricata/suricata-test.yaml",
    "suricata/index.yaml",
    "sigma/rules/*.yml",
    "sigma/pipelines/*.yaml",
    "sigma/taxonomy/*.yaml",
    "dashboards/kibana/spec.yaml",
    "dashboards/kibana/*.ndjson",
    "zeek/scripts/*.zeek",
    "zeek/scripts/mcp/*.zeek",
    "zkg.meta",
)
# A file every complete data root has; a checkout is recognised by it too.
_MARKER = "detections/_vocabulary.yaml"


class DataNotFound(FileNotFoundError):
    """The package data is missing: a broken install (or a checkout without its top-level directories)."""


def _package_dir() -> Path:
    # Installed from a wheel or editable, mcpeeker is a plain directory package, never a zip: its files have paths.
    return Path(str(resources.files(DATA_PACKAGE)))


@lru_cache(maxsize=1)
def data_root() -> Path:
    """The directory that holds configs/, schemas/, … : mcpeeker/_data in a wheel, the checkout in an editable install."""
    installed = _package_dir() / DATA_SUBDIR
    if (installed / _MARKER).is_file():
        return installed
    # Editable install (or the sources on PYTHONPATH): ingest_python/mcpeeker -> the repository root.
    checkout = _package_dir().parent.parent
    if (checkout / _MARKER).is_file():
        return checkout
    raise DataNotFound(
        f"MCPeeker's data files are missing: neither {installed} (an installed wheel) nor {checkout} "
        f"(a source checkout) has {_MARKER}; reinstall the mcpeeker wheel"
    )


def checkout() -> Path | None:
    """The source checkout in an editable install (tests, `make demo`), None in an installed wheel."""
    root = data_root()
    return None if root.name == DATA_SUBDIR else root


def path(relative: str) -> Path:
    """A data file or directory by its repository-relative path, e.g. path('suricata/mcp.rules')."""
    return data_root() / relative


def templates() -> Path:
    """The index templates live inside the package in every layout."""
    return _package_dir() / "templates"
