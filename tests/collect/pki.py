"""A throw-away CA, a collector certificate (127.0.0.1, localhost) and an agent client certificate for the
collector tests and bench/collector_throughput.py, issued by the product's own certificate code
(mcpeeker.localnode.certs, which `opensearch start --tls` uses)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mcpeeker.localnode import certs


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path, ca_name: str = "mcpeeker test CA") -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca = certs.create_ca(directory, ca_name, days=1)
    server = certs.write_pair(
        directory, "collector", *certs.issue(ca, "collector", hosts=("localhost", "127.0.0.1"), days=1)
    )
    client = certs.write_pair(directory, "agent", *certs.issue(ca, "laptop-1", client=True, days=1))
    return Pki(ca.cert, server.cert, server.key, client.cert, client.key)
