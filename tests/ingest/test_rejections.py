"""Per-document 429s from a real node, and `event.ingested` stamped at send time.

A node of our own whose write thread pool is one thread with a one-slot queue rejects shard-level bulk requests
when a request spans many daily indices: the bulk response carries status 429 `rejected_execution_exception`
(Elasticsearch: `es_rejected_execution_exception`) for those documents only. The deliverer must retry exactly those until every document is indexed once.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.ingest.deadletter import DeadLetter
from mcpeeker.ingest.deliver import Deliverer
from mcpeeker.ingest.normalise import Context
from mcpeeker.ingest.pipeline import Pipeline
from mcpeeker.ingest.readers import read_file
from mcpeeker.localnode import LocalNode
from mcpeeker.settings import Settings
from cluster import drop_prefix
from paths import SITE_KEY

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

REJECT_PORT = int(os.environ.get("MCPEEKER_TEST_REJECT_PORT", "9275"))
DAYS = 40
DOCS = 2_400


@pytest.fixture(scope="module")
def tiny_node():
    # Static settings, so in the node's config: a one-thread write pool with a one-slot queue.
    node = LocalNode(
        name="test-ingest-429",
        http_port=REJECT_PORT,
        settings={"thread_pool.write.size": "1", "thread_pool.write.queue_size": "1"},
    )
    node.start(timeout=300)
    yield node
    node.stop()


class RecordingDeliverer(Deliverer):
    """The real deliverer; it only remembers the per-document statuses the cluster answered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.statuses: list[tuple[int, str]] = []
        super().__init__(*args, **kwargs)

    def _results(self, items: list, response: dict) -> list:
        for result in response.get("items") or []:
            info = next(iter(result.values()), {})
            self.statuses.append((int(info.get("status", 0)), (info.get("error") or {}).get("type", "")))
        return super()._results(items, response)


def _conn_log(zeek_logs: Path, path: Path) -> None:
    """DOCS distinct conn lines from a real Zeek record, spread over DAYS days."""
    base = orjson.loads((zeek_logs / "json" / "http_get" / "conn.log").read_bytes().splitlines()[0])
    with open(path, "wb") as fh:
        for i in range(DOCS):
            base["uid"] = f"R{i:017d}"
            base["ts"] = 1_700_000_000.0 + (i % DAYS) * 86_400 + i / 1000
            fh.write(orjson.dumps(base) + b"\n")


def _write_rejections(client: Any) -> int:
    stats = client.nodes.stats(metric="thread_pool")
    return sum(node["thread_pool"]["write"]["rejected"] for node in stats["nodes"].values())


def test_per_document_429_is_retried_until_every_document_is_indexed_once(
    tiny_node: LocalNode, zeek_logs: Path, tmp_path: Path
) -> None:
    settings = Settings(url=tiny_node.url, index_prefix=f"t-429-{os.getpid()}-{int(time.time())}-", site_key=SITE_KEY)
    client = make_client(settings)
    indices.install(settings, client)
    # Evidence goes to one write index (mcpeeker.lifecycle), no longer to an index per day: give it DAYS shards so
    # that every bulk request still fans out into DAYS shard-level requests competing for the one-slot queue.
    first = settings.index("mcp-events-000001")
    client.indices.delete(index=first)
    client.indices.create(
        index=first,
        body={
            "settings": {"number_of_shards": DAYS},
            "aliases": {settings.index("mcp-events"): {"is_write_index": True}},
        },
    )
    log = tmp_path / "conn.log"
    _conn_log(zeek_logs, log)
    rejected_before = _write_rejections(client)
    dead = DeadLetter(tmp_path / "dead.log")
    deliverer = RecordingDeliverer(
        client,
        dead,
        spool_dir=tmp_path / "spool",
        batch_docs=600,
        senders=2,
        max_retries=40,
        backoff_base=0.02,
        backoff_cap=0.5,
    )
    pipeline = Pipeline(Context(settings.index_prefix, settings.site_key_bytes()), deliverer, dead)
    started = datetime.now(timezone.utc).replace(microsecond=0)
    try:
        for item in read_file("zeek", str(log)):
            pipeline.feed(item)
        left = deliverer.close(drain_timeout=60)
        finished = datetime.now(timezone.utc)
        pattern = f"{settings.index_prefix}mcp-events-*"
        client.indices.refresh(index=pattern)
        assert left == 0
        assert pipeline.stats.documents == DOCS
        rejections = [s for s in deliverer.statuses if s[0] == 429]
        assert rejections, "the node rejected nothing: the test did not provoke a per-document 429"
        # OpenSearch names it rejected_execution_exception (Elasticsearch: es_rejected_execution_exception).
        assert {kind for _, kind in rejections} <= {"rejected_execution_exception", "es_rejected_execution_exception"}
        assert _write_rejections(client) > rejected_before
        assert deliverer.stats.retried >= len(rejections)
        assert deliverer.stats.indexed == DOCS and deliverer.stats.rejected == 0 and deliverer.stats.spooled == 0
        assert dead.count == 0 and not (tmp_path / "dead.log").exists()
        assert client.count(index=pattern)["count"] == DOCS
        assert list(client.indices.get(index=pattern)) == [first]  # days of events, one index
        # event.ingested is the time of the (last) bulk request that carried the document, in whole seconds.
        hits = client.search(
            index=pattern, body={"size": 50, "sort": [{"event.ingested": "asc"}], "_source": ["event.ingested"]}
        )["hits"]["hits"]
        first = datetime.fromisoformat(hits[0]["_source"]["event"]["ingested"].replace("Z", "+00:00"))
        assert started <= first <= finished
        assert client.count(index=pattern, body={"query": {"exists": {"field": "event.ingested"}}})["count"] == DOCS
    finally:
        dead.close()
        drop_prefix(client, settings.index_prefix)
