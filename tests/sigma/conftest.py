"""Fixtures of the Sigma tests; the fixture homes come from tests/agent/homes.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "mcpeeker_test_homes", Path(__file__).resolve().parents[1] / "agent" / "homes.py"
)
homes = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = homes  # dataclasses look their module up
_spec.loader.exec_module(homes)


@pytest.fixture
def linux_home(tmp_path):
    return homes.make_home(tmp_path, "linux")
