"""The start of a remote-MCP-service document, shared by the proxy (squid) and gateway (kong) normalisers.

Not on the compiled hot path (ingest/native.py HOT_PATH), like its two users.
"""

from __future__ import annotations

from typing import Callable

from ...remote_endpoints import Endpoint
from .common import Doc, put


def remote_doc(
    start: Callable[[str, str, int], Doc],
    iso: str,
    file: str,
    line: int,
    endpoint: Endpoint,
    seen: str,
    product: str,
    observer_type: str,
) -> Doc:
    """A document for one request to a catalogued remote MCP service: which service, how it was seen, by what."""
    doc = start(iso, file, line)
    doc["mcpeeker"]["evidence"]["reason"] = "remote_mcp_service"
    doc["mcpeeker"]["remote"] = {
        "service": endpoint.service,
        "host": endpoint.host,
        "seen": seen,
        "dedicated": endpoint.dedicated,
    }
    put(doc, ("observer", "product"), product)
    put(doc, ("observer", "type"), observer_type)
    return doc
