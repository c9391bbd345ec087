"""Fixtures of the Sigma tests; the fixture homes come from tests/agent/homes.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.homes import Home, make_home


@pytest.fixture
def linux_home(tmp_path: Path) -> Home:
    return make_home(tmp_path, "linux")
