"""The collector's HTTP side (Starlette under uvicorn) and its bridge into the ingest pipeline.

A report is acknowledged (202) only once it is durable: its documents are indexed, or written to the
delivery spool while the cluster is down, or dead-lettered by the cluster. Requests that arrive together
share one bulk request (group commit): a flusher thread hands the open batch to the deliverer whenever a
request waits, and each request waits for the deliverer's commit mark that covers it.

Idempotency: the document ids hash the report's canonical JSON (ingest/ids.py; sorted keys, no whitespace), so a
report delivered twice (lost acknowledgement, agent retry, a wrapper that re-serialised it) overwrites the same
documents.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import MCPeekerError
from ..ingest.deadletter import DeadLetter
from ..ingest.deliver import Deliverer, DeliveryStats, Router
from ..ingest.normalise.agent import normalise_agent
from ..ingest.normalise.common import Context, NormaliseError
from .tokens import TokenRecord, TokenStore

REPORTS_PATH = "/api/v1/reports"
SCAN_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_FIELD = re.compile(r"^field '([^']*)'")


class Rejected(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass
class CollectorOptions:
    max_body: int = 8 << 20
    commit_timeout: float = 60.0


class Ingestor:
    """Accepted reports -> the ingest deliverer (spool, retry, dead letter), with durable acknowledgement."""

    def __init__(
        self,
        client: Any,
        ctx: Context,
        deadletter: DeadLetter,
        spool_dir: Any,
        *,
        senders: int = 2,
        max_retries: int = 2,
        retry_base: float = 0.2,
        batch_docs: int = 1000,
        router: Router | None = None,
    ) -> None:
        self.ctx = ctx
        self.deadletter = deadletter
        self.stats = DeliveryStats()
        # Few retries before spooling: a request waits for its batch to be durable, and the spool is durable.
        self.deliverer = Deliverer(
            client,
            deadletter,
            spool_dir=spool_dir,
            stats=self.stats,
            batch_docs=batch_docs,
            senders=senders,
            max_retries=max_retries,
            backoff_base=retry_base,
            on_commit=self._on_commit,
            router=router,
        )
        self._lock = threading.Lock()  # reader side of the deliverer: one thread at a time
        self._cond = threading.Condition()
        self._seq = 0
        self._committed = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._meta: dict[str, bytes] = {}
        self._flusher = threading.Thread(target=self._flush_loop, name="mcpeeker-collect-flush", daemon=True)
        self._flusher.start()

    def _on_commit(self, marks: dict[str, Any]) -> None:
        with self._cond:
            self._committed = max(self._committed, marks["n"])
            self._cond.notify_all()

    def _flush_loop(self) -> None:
        while not self._stop.is_set():
            if not self._wake.wait(0.5):
                continue
            self._wake.clear()
            try:
                with self._lock:
                    self.deliverer.flush()
            except Exception:  # noqa: BLE001 - the deliverer's fatal error is reported by `healthy` and by waiters
                time.sleep(0.5)

    def _action(self, index: str, doc_id: str, doc: dict[str, Any]) -> bytes:
        prefix = self._meta.get(index)
        if prefix is None:
            prefix = self._meta[index] = b'{"index":{"_index":' + orjson.dumps(index) + b',"_id":"'
        return b"".join((prefix, doc_id.encode(), b'"}}\n', orjson.dumps(doc), b"\n"))

    def documents(self, raw: bytes, report: dict[str, Any], agent: TokenRecord) -> list[tuple[bytes, float]]:
        """Validate and normalise; Rejected(422) naming the field when the report does not fit the schema."""
        scan_id = report.get("scan_id")
        if not isinstance(scan_id, str) or not SCAN_ID.match(scan_id):
            raise Rejected(
                422,
                "field 'scan_id': required, 8-64 letters, digits, '_' or '-' (the report's id, "
                "which makes a resend idempotent)",
                "scan_id",
            )
        # The ids hash the report's canonical JSON, not the bytes on the wire: a resend is idempotent even when a
        # wrapper (an MDM script, a proxy) re-serialised it with other key order or whitespace.
        canonical = orjson.dumps(report, option=orjson.OPT_SORT_KEYS)
        try:
            outputs = normalise_agent("report", report, canonical, self.ctx, f"collector:{agent.agent}", 0)
        except NormaliseError as exc:
            match = _FIELD.match(str(exc))
            raise Rejected(422, str(exc), match.group(1) if match else None) from None
        out = []
        for index, doc_id, doc, epoch in outputs:
            doc.setdefault("agent", {})["id"] = agent.agent  # the enrolled identity that sent it
            out.append((self._action(index, doc_id, doc), epoch))
        return out

    def submit(self, actions: list[tuple[bytes, float]], origin: str, timeout: float) -> None:
        try:
            with self._lock:
                for action, epoch in actions:
                    self.deliverer.add(action, origin, 0, epoch)
                self._seq += 1
                mine = self._seq
                self.deliverer.mark({"n": mine})
        except MCPeekerError as exc:  # the deliverer stopped on a fatal cluster error (credentials, TLS)
            raise Rejected(503, str(exc)) from None
        self._wake.set()
        deadline = time.monotonic() + timeout
        with self._cond:
            # Commits notify; a sender that died does not, so look at it every half second.
            while not (self._committed >= mine or self.failed is not None):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Rejected(503, "the report is not yet durable; send it again later")
                self._cond.wait(min(0.5, left))
        if self._committed < mine:
            raise Rejected(503, f"delivery failed: {self.failed}")

    @property
    def failed(self) -> BaseException | None:
        return self.deliverer._fatal  # noqa: SLF001 - the deliverer's own record of a fatal error

    @property
    def cluster_down(self) -> bool:
        return self.deliverer._down or self.deliverer.spool.pending()  # noqa: SLF001

    def spooled_files(self) -> int:
        return len(self.deliverer.spool.files())

    def close(self, drain_timeout: float = 5.0) -> int:
        self._stop.set()
        self._flusher.join(timeout=2)
        with self._lock:
            left = self.deliverer.close(drain_timeout=drain_timeout)
        with self._cond:
            self._cond.notify_all()
        return left


class _DeliveryMetrics:
    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor

    def collect(self) -> Any:
        stats = self.ingestor.stats
        for name, help_text in (
            ("indexed", "documents indexed"),
            ("rejected", "documents refused by the cluster"),
            ("spooled", "documents written to the spool while the cluster was down"),
            ("drained", "spooled documents delivered later"),
            ("retried", "documents sent again"),
        ):
            family = GaugeMetricFamily(f"mcpeeker_collector_documents_{name}", f"collector: {help_text}")
            family.add_metric([], getattr(stats, name))
            yield family
        spool = GaugeMetricFamily("mcpeeker_collector_spool_files", "bulk payloads waiting in the delivery spool")
        spool.add_metric([], self.ingestor.spooled_files())
        yield spool
        down = GaugeMetricFamily("mcpeeker_collector_cluster_down", "1 while the cluster is unreachable (spooling)")
        down.add_metric([], 1 if self.ingestor.cluster_down else 0)
        yield down


def build_app(
    ingestor: Ingestor, tokens: TokenStore, deadletter: DeadLetter, options: CollectorOptions | None = None
) -> Starlette:
    opts = options or CollectorOptions()
    registry = CollectorRegistry()
    reports = Counter("mcpeeker_collector_reports", "agent reports by outcome", ["outcome"], registry=registry)
    documents = Counter(
        "mcpeeker_collector_documents_accepted", "documents accepted from agent reports", registry=registry
    )
    latency = Histogram(
        "mcpeeker_collector_request_seconds",
        "time to a durable acknowledgement",
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    )
    registry.register(_DeliveryMetrics(ingestor))

    def refuse(
        outcome: str, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        reports.labels(outcome).inc()
        body: dict[str, Any] = {"error": message}
        if field is not None:
            body["field"] = field
        return JSONResponse(body, status_code=status, headers=headers)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > opts.max_body:
            raise Rejected(413, f"report larger than {opts.max_body} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > opts.max_body:
                raise Rejected(413, f"report larger than {opts.max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def post_report(request: Request) -> Response:
        started = time.monotonic()
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return refuse(
                "unauthorized",
                401,
                "missing bearer token (Authorization: Bearer <enrollment token>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        agent = await run_in_threadpool(tokens.verify, token.strip())
        if agent is None:
            return refuse(
                "unauthorized",
                401,
                "invalid or revoked enrollment token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        origin = f"collector:{agent.agent}"
        raw = b""
        try:
            raw = (await read_body(request)).strip()
            try:
                report = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise Rejected(400, f"body: not JSON: {exc}", "(body)") from None
            if not isinstance(report, dict):
                raise Rejected(422, "field '(top level)': a report is a JSON object", "(top level)")
            # Off the event loop: a large report must not stall /healthz and the other connections.
            actions = await run_in_threadpool(ingestor.documents, raw, report, agent)
            await run_in_threadpool(ingestor.submit, actions, origin, opts.commit_timeout)
        except Rejected as exc:
            if exc.status in (400, 413, 422):
                # Bad input is kept (redacted) with its reason; a 503 is the agent's to resend.
                deadletter.write(origin, 0, str(exc), source="agent", raw=raw or None)
            return refuse(
                {400: "invalid", 413: "too_large", 422: "invalid"}.get(exc.status, "unavailable"),
                exc.status,
                str(exc),
                exc.field,
            )
        reports.labels("accepted").inc()
        documents.inc(len(actions))
        latency.observe(time.monotonic() - started)
        return JSONResponse(
            {"status": "accepted", "scan_id": report["scan_id"], "documents": len(actions)}, status_code=202
        )

    async def health(_request: Request) -> Response:
        failed = ingestor.failed
        body = {
            "status": "failed" if failed else "ok",
            "cluster": "down" if ingestor.cluster_down else "up",
            "spooled_files": ingestor.spooled_files(),
        }
        if failed:
            body["error"] = str(failed)[:300]
        return JSONResponse(body, status_code=503 if failed else 200)

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")

    return Starlette(
        routes=[
            Route(REPORTS_PATH, post_report, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )
