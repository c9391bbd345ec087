"""Shared helpers of the agent tests: fixture homes and a schema validator for reports."""

from __future__ import annotations

import json

import jsonschema
import pytest

from mcpeeker_agent.scanner import ScanOptions, Scanner

from paths import REPO_ROOT

from .homes import SITE_KEY, Home, make_home

SCHEMA = json.loads((REPO_ROOT / "schemas" / "agent-event.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def validate_report(report: dict) -> None:
    VALIDATOR.validate(report)


def scan_home(home: Home, **kw) -> dict:
    opts = dict(
        homes=[home.home], os_name=home.os, root=home.root, processes=False, listeners=False, machine_id="test-machine"
    )
    opts.update(kw)
    report = Scanner(ScanOptions(**opts), SITE_KEY).run()
    validate_report(report)
    return report


def configs(report: dict) -> dict[tuple[str, str, str], dict]:
    return {
        (e["config"]["client"], e["config"]["server_name"], e["config"]["scope"]): e
        for e in report["evidence"]
        if e["type"] == "file" and e["config"].get("change") != "removed"
    }


@pytest.fixture(params=["linux", "macos", "windows"])
def any_home(request, tmp_path) -> Home:
    return make_home(tmp_path, request.param, extended=True)


@pytest.fixture
def linux_home(tmp_path) -> Home:
    return make_home(tmp_path, "linux", extended=True)
