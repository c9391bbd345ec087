"""Fixtures for the dashboard, analytics and report tests: one seeded index set per test module."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest

from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.settings import Settings
from cluster import drop_prefix
from paths import AUDIT_KEY, SITE_KEY

from .seed import Seeded, seed


@pytest.fixture(scope="session")
def seeded(os_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """Templates installed under a unique prefix and realistic evidence, findings and registry data indexed.

    Session scope: seeding runs the real pipeline and takes a few seconds; the tests only read.
    """
    settings = Settings(
        url=os_url,
        index_prefix=f"t-{uuid.uuid4().hex[:10]}-",
        site_key=SITE_KEY,
        audit_key=AUDIT_KEY,
    )
    client = make_client(settings)
    indices.install(settings, client)
    try:
        yield seed(settings, Path(tmp_path_factory.mktemp("seed")))
    finally:
        drop_prefix(client, settings.index_prefix)
