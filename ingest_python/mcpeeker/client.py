"""One client factory for OpenSearch (opensearch-py) and Elasticsearch 8+ (elasticsearch-py)."""

from __future__ import annotations

import os
import re
import ssl
import warnings
from types import ModuleType
from typing import Any

from rich.console import Console

from .errors import MCPeekerError
from .settings import ENV_VARS, Settings

_warned_insecure = False
_last_settings: Settings | None = None  # the connection a TLS error message talks about


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


def _setting_name(key: str) -> str:
    return f"--{key.replace('_', '-')} (env {ENV_VARS[key]}, config connection.{key})"


def _check_tls_files(settings: Settings) -> None:
    """A missing CA or client certificate is a setup error to name now, not an SSL error later."""
    for key in ("ca_certs", "client_cert", "client_key"):
        path = getattr(settings, key)
        if path and not os.access(path, os.R_OK):
            raise MCPeekerError(f"{_setting_name(key)}: cannot read {path}")
    if settings.client_key and not settings.client_cert:
        raise MCPeekerError(f"{_setting_name('client_key')} is set but {_setting_name('client_cert')} is not")


def warn_insecure(settings: Settings) -> None:
    """Loud, on stderr, once per run: verification off is never quiet."""
    global _warned_insecure
    if settings.verify_tls or _warned_insecure:
        return
    _warned_insecure = True
    Console(stderr=True, soft_wrap=True).print(
        f"[bold red]WARNING: TLS certificate verification is OFF[/] (--insecure, {ENV_VARS['verify_tls']}=false "
        f"or connection.verify_tls: false): anyone on the path to {settings.url} can read and change what is "
        f"sent, credentials included. Use --ca-certs with the cluster's CA instead.",
        highlight=False,
    )


def tls_context(settings: Settings) -> ssl.SSLContext:
    """The SSL context of every cluster connection: system CAs or --ca-certs, client certificate if set.

    Built here rather than by the client library: opensearch-py silently drops the client certificate
    when verification is off, and both libraries want either a context or loose flags, not both.
    """
    _check_tls_files(settings)
    try:
        context = ssl.create_default_context(cafile=settings.ca_certs)
    except (ssl.SSLError, OSError) as exc:
        raise MCPeekerError(f"{_setting_name('ca_certs')}: {settings.ca_certs} is not a PEM CA bundle ({exc})") from exc
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        # Our one loud warning per run replaces urllib3's one line per request.
        import urllib3

        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    if settings.client_cert:
        try:
            context.load_cert_chain(settings.client_cert, settings.client_key)
        except (ssl.SSLError, OSError) as exc:
            raise MCPeekerError(
                f"{_setting_name('client_cert')}: cannot load {settings.client_cert}"
                f"{' with key ' + settings.client_key if settings.client_key else ''} ({exc})"
            ) from exc
    return context


def _tls_kwargs(settings: Settings) -> dict[str, Any]:
    warn_insecure(settings)
    if not settings.url.startswith("https"):
        return {}
    return {"ssl_context": tls_context(settings)}


def make_client(settings: Settings) -> Any:
    """Return a synchronous client. The OpenSearch and Elasticsearch clients share the APIs we use."""
    global _last_settings
    _last_settings = settings
    if settings.backend == "elasticsearch":
        try:
            from elasticsearch import Elasticsearch
        except ImportError as exc:
            raise MCPeekerError(
                "backend 'elasticsearch' needs the extra: pip install 'mcpeeker[elasticsearch]'"
            ) from exc
        return Elasticsearch(
            settings.url,
            request_timeout=settings.timeout,
            **_auth_kwargs(settings, "elasticsearch"),
            **_tls_kwargs(settings),
        )
    from opensearchpy import OpenSearch

    # pool_maxsize: ingest delivers from a sender thread while the reader thread may query too.
    return OpenSearch(
        hosts=[settings.url],
        timeout=settings.timeout,
        http_compress=False,
        pool_maxsize=8,
        **_auth_kwargs(settings, "opensearch"),
        **_tls_kwargs(settings),
    )


def bulk_helper(settings: Settings) -> ModuleType:
    """`helpers.bulk`/`streaming_bulk` of the matching library."""
    if settings.backend == "elasticsearch":
        from elasticsearch import helpers as es_helpers

        return es_helpers
    from opensearchpy import helpers

    return helpers


def tls_error_message(text: str, url: str) -> str | None:
    """One line naming a TLS failure (server certificate or client certificate); None if `text` is not one.

    Server-certificate failures happen in the handshake, before any request is written.
    """
    settings = _last_settings
    if settings is not None and (url == "the cluster" or not url):
        url = settings.url
    given = settings.client_cert if settings is not None else None
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        reason = re.search(r"certificate verify failed: ([^(]+?)\s*\(", text)
        detail = reason.group(1).rstrip(".") if reason else "certificate verify failed"
        if "expired" in detail:
            problem = "has expired; renew it on the server (`mcpeeker opensearch rotate-cert` for the local node)"
        elif "Hostname mismatch" in detail or "IP address mismatch" in detail:
            problem = (
                "is not valid for the host in the URL; connect with a name the certificate lists, "
                "or reissue it for this name"
            )
        elif "issuer" in detail or "self-signed" in detail or "self signed" in detail:
            problem = f"is not signed by a CA we trust; pass the cluster's CA with {_setting_name('ca_certs')}"
        else:
            problem = "was rejected"
        return f"TLS: the server certificate of {url} {problem} ({detail}); nothing was sent"
    client_hint = f"{_setting_name('client_cert')} and {_setting_name('client_key')}"
    if re.search(r"alert (certificate required|handshake failure)", text, re.IGNORECASE) or "HANDSHAKE_FAILURE" in text:
        if not given:
            return f"TLS: {url} requires a client certificate and none was given; set {client_hint}; nothing was sent"
        return f"TLS: {url} refused the handshake with client certificate {given} ({_alert(text)}); nothing was sent"
    if re.search(
        r"alert (unknown ca|bad certificate|certificate unknown|certificate revoked|"
        r"certificate expired|access denied)",
        text,
        re.IGNORECASE,
    ):
        return (
            f"TLS: {url} rejected the client certificate {given or '(none)'} ({_alert(text)}): it is not "
            f"signed by a CA the server trusts, or has expired; nothing was sent"
        )
    if "EOF occurred in violation of protocol" in text or "UNEXPECTED_EOF" in text:
        hint = f"check {client_hint}" if not given else f"the server may not accept {given}"
        return f"TLS: {url} closed the connection during the TLS handshake; if it requires client certificates, {hint}"
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return f"TLS: {url} does not speak TLS on that port (plain http?)"
    return None


def _alert(text: str) -> str:
    found = re.search(r"(tlsv1\d? alert [a-z ]+|sslv3 alert [a-z ]+)", text)
    return found.group(1).strip() if found else "TLS alert"
