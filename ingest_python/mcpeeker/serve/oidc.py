"""Bearer JWTs from the OpenID provider, verified against its published keys (PyJWT).

The provider is found through discovery (<issuer>/.well-known/openid-configuration, whose `issuer` must be the
configured one); its JWKS is cached. A token signed with a key id the cache does not hold makes one refetch (the
provider rotated its keys), at most once per `refetch_interval` so a flood of made-up key ids cannot turn the
server into a JWKS fetcher. Checked: the signature with an asymmetric algorithm from the configured list, iss, aud,
exp, nbf and iat (with leeway); a token without exp, iat, iss, aud or sub is refused.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt

from ..errors import MCPeekerError
from .config import OidcConfig


class InvalidToken(Exception):
    """The reason a bearer token is refused (said in the 401's WWW-Authenticate, never with the token)."""


@dataclass(frozen=True)
class Claims:
    subject: str
    name: str
    groups: tuple[str, ...]
    hosts: tuple[str, ...]
    raw: dict[str, Any]


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


class OidcVerifier:
    def __init__(self, config: OidcConfig, refetch_interval: float = 10.0, timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout
        self.refetch_interval = refetch_interval
        self._ssl = ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None
        self._lock = threading.Lock()
        self._jwks: jwt.PyJWKClient | None = None
        self._meta: dict[str, Any] = {}
        self._last_refetch = 0.0

    @property
    def tls(self) -> ssl.SSLContext | None:
        """The provider's TLS context (its CA bundle), or None for the system CAs."""
        return self._ssl

    def _get_json(self, url: str) -> dict[str, Any]:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as response:
            data = json.loads(response.read())
        if not isinstance(data, dict):
            raise MCPeekerError(f"{url}: not a JSON object")
        return data

    def discover(self) -> jwt.PyJWKClient:
        """The provider's JWKS client, from discovery (once; a failure is retried on the next request)."""
        with self._lock:
            if self._jwks is not None:
                return self._jwks
            url = f"{self.config.issuer}/.well-known/openid-configuration"
            try:
                meta = self._get_json(url)
            except (OSError, ValueError) as exc:
                raise MCPeekerError(f"OpenID discovery at {url} failed: {exc}") from exc
            if str(meta.get("issuer", "")).rstrip("/") != self.config.issuer:
                raise MCPeekerError(f"{url}: issuer {meta.get('issuer')!r} is not the configured {self.config.issuer}")
            jwks_uri = meta.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise MCPeekerError(f"{url}: no jwks_uri")
            self._meta = meta
            self._jwks = jwt.PyJWKClient(
                jwks_uri,
                cache_keys=False,
                cache_jwk_set=True,
                lifespan=self.config.jwks_cache_seconds,
                timeout=self.timeout,
                ssl_context=self._ssl,
            )
            return self._jwks

    def _signing_key(self, kid: str) -> jwt.PyJWK:
        client = self.discover()
        try:
            for key in client.get_signing_keys():
                if key.key_id == kid:
                    return key
            with self._lock:
                if time.monotonic() - self._last_refetch < self.refetch_interval:
                    raise InvalidToken(f"unknown signing key {kid!r}")
                self._last_refetch = time.monotonic()
            for key in client.get_signing_keys(refresh=True):  # the provider may have rotated its keys
                if key.key_id == kid:
                    return key
        except jwt.exceptions.PyJWKClientConnectionError as exc:
            # The provider is down, not the token bad: 503 (try again), never a 401 that reads "your token".
            raise MCPeekerError(f"the provider's signing keys ({client.uri}) cannot be fetched: {exc}") from exc
        except jwt.PyJWKClientError as exc:
            raise InvalidToken(f"signing keys: {exc}") from exc
        raise InvalidToken(f"unknown signing key {kid!r}")

    def endpoint(self, name: str) -> str:
        """An endpoint from the discovery document (authorization_endpoint, token_endpoint)."""
        self.discover()
        value = self._meta.get(name)
        if not isinstance(value, str):
            raise MCPeekerError(f"{self.config.issuer}: no {name} in the discovery document")
        return value

    def verify_id_token(self, token: str, client_id: str, nonce: str) -> Claims:
        """An ID token from the code flow: the same checks with the client as audience, and the login's nonce."""
        claims = self.verify(token, audience=client_id)
        if claims.raw.get("nonce") != nonce:
            raise InvalidToken("the ID token's nonce is not this login's")
        return claims

    def verify(self, token: str, audience: str | None = None) -> Claims:
        cfg = self.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"not a JWT: {exc}") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in cfg.algorithms:  # never "none", never HMAC with the public key as secret
            raise InvalidToken(f"algorithm {alg!r} not accepted")
        if not isinstance(kid, str):
            raise InvalidToken("no key id (kid) in the token header")
        key = self._signing_key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(cfg.algorithms),
                audience=audience or cfg.audience,
                issuer=cfg.issuer,
                leeway=cfg.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        subject = str(claims["sub"])
        name = claims.get(cfg.identity_claim)
        return Claims(
            subject=subject,
            name=name if isinstance(name, str) and name else subject,
            groups=_strings(claims.get(cfg.groups_claim)),
            hosts=_strings(claims.get(cfg.hosts_claim)) if cfg.hosts_claim else (),
            raw=claims,
        )
