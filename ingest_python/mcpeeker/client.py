"""One client factory for OpenSearch (opensearch-py) and Elasticsearch 8+ (elasticsearch-py)."""

from __future__ import annotations

from typing import Any

from .errors import MCPeekerError
from .settings import Settings


def _auth_kwargs(settings: Settings, backend: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if settings.api_key:
        kwargs["api_key"] = settings.api_key if backend == "elasticsearch" else None
        if backend == "opensearch":
            kwargs.pop("api_key")
            kwargs["headers"] = {"Authorization": f"ApiKey {settings.api_key}"}
    elif settings.username:
        key = "basic_auth" if backend == "elasticsearch" else "http_auth"
        kwargs[key] = (settings.username, settings.password or "")
    return kwargs


def _tls_kwargs(settings: Settings) -> dict[str, Any]:
    if not settings.url.startswith("https"):
        return {}
    kwargs: dict[str, Any] = {"verify_certs": settings.verify_tls}
    if settings.ca_certs:
        kwargs["ca_certs"] = settings.ca_certs
    if settings.client_cert:
        kwargs["client_cert"] = settings.client_cert
    if settings.client_key:
        kwargs["client_key"] = settings.client_key
    if not settings.verify_tls:
        kwargs["ssl_show_warn"] = False
    return kwargs


def make_client(settings: Settings) -> Any:
    """Return a synchronous client. The OpenSearch and Elasticsearch clients share the APIs we use."""
    if settings.backend == "elasticsearch":
        try:
            from elasticsearch import Elasticsearch
        except ImportError as exc:
            raise MCPeekerError("backend 'elasticsearch' needs the extra: pip install 'mcpeeker[elasticsearch]'") from exc
        return Elasticsearch(settings.url, request_timeout=settings.timeout,
                             **_auth_kwargs(settings, "elasticsearch"), **_tls_kwargs(settings))
    from opensearchpy import OpenSearch

    # pool_maxsize: ingest delivers from a sender thread while the reader thread may query too.
    return OpenSearch(hosts=[settings.url], timeout=settings.timeout, http_compress=False, pool_maxsize=8,
                      **_auth_kwargs(settings, "opensearch"), **_tls_kwargs(settings))


def bulk_helper(settings: Settings):
    """`helpers.bulk`/`streaming_bulk` of the matching library."""
    if settings.backend == "elasticsearch":
        from elasticsearch import helpers
    else:
        from opensearchpy import helpers
    return helpers
