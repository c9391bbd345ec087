"""Auth pieces for the bearer and OAuth scenarios (Python `mcp` 1.x auth helpers).

Server: `make_auth` returns FastMCP keyword arguments.  `bearer` uses a static token
verifier (resource server only); `oauth` adds a minimal in-memory authorization server
(dynamic client registration, PKCE authorization code, token endpoint) mounted by the SDK.
Client: `make_client_oauth` returns the SDK's OAuthClientProvider; its redirect handler
follows the authorization URL itself, standing in for the user's browser.

All tokens here are throw-away test values, never real credentials.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

STATIC_TOKEN = "mcpeeker-test-token-0001"


def make_auth(args: Any, sdk_major: int) -> dict[str, Any]:
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions

    base = args.public_url.rstrip("/")
    if args.profile == "bearer":

        class StaticVerifier:
            async def verify_token(self, token: str) -> AccessToken | None:
                if token == (args.token or STATIC_TOKEN):
                    return AccessToken(token=token, client_id="pcapgen", scopes=["mcp:tools"])
                return None

        settings = AuthSettings(issuer_url=base, resource_server_url=f"{base}{args.path}",
                                required_scopes=["mcp:tools"], validate_token_resource=False)  # fmt: skip
        return {"token_verifier": StaticVerifier(), "auth": settings}
    settings = AuthSettings(
        issuer_url=base,
        resource_server_url=f"{base}{args.path}",
        required_scopes=["mcp:tools"],
        client_registration_options=ClientRegistrationOptions(
            enabled=True, valid_scopes=["mcp:tools"], default_scopes=["mcp:tools"]
        ),  # fmt: skip
        validate_token_resource=False,
    )
    return {"auth_server_provider": InMemoryProvider(), "auth": settings}


class InMemoryProvider:
    """Authorization server that approves every request at once (no login page in a pcap test)."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.codes: dict[str, Any] = {}
        self.tokens: dict[str, Any] = {}
        self.refresh: dict[str, Any] = {}

    async def get_client(self, client_id: str) -> Any:
        return self.clients.get(client_id)

    async def register_client(self, client_info: Any) -> None:
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: Any, params: Any) -> str:
        from mcp.server.auth.provider import AuthorizationCode, construct_redirect_uri

        code = secrets.token_urlsafe(24)
        self.codes[code] = AuthorizationCode(
            code=code, scopes=params.scopes or ["mcp:tools"], expires_at=time.time() + 300,
            client_id=client.client_id, code_challenge=params.code_challenge, redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly, resource=params.resource,
        )  # fmt: skip
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: Any, authorization_code: str) -> Any:
        return self.codes.get(authorization_code)

    async def exchange_authorization_code(self, client: Any, authorization_code: Any) -> Any:
        from mcp.server.auth.provider import AccessToken, RefreshToken
        from mcp.shared.auth import OAuthToken

        self.codes.pop(authorization_code.code, None)
        access, refresh = f"mcpeeker-test-at-{secrets.token_hex(8)}", f"mcpeeker-test-rt-{secrets.token_hex(8)}"
        self.tokens[access] = AccessToken(
            token=access, client_id=client.client_id, scopes=authorization_code.scopes,
            expires_at=int(time.time()) + 3600, resource=authorization_code.resource,
        )  # fmt: skip
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client.client_id,
                                             scopes=authorization_code.scopes)  # fmt: skip
        return OAuthToken(access_token=access, token_type="Bearer", expires_in=3600, refresh_token=refresh,
                          scope=" ".join(authorization_code.scopes))  # fmt: skip

    async def load_refresh_token(self, client: Any, refresh_token: str) -> Any:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(self, client: Any, refresh_token: Any, scopes: list[str]) -> Any:
        raise NotImplementedError("not used by the scenario")

    async def load_access_token(self, token: str) -> Any:
        return self.tokens.get(token)

    async def revoke_token(self, token: Any) -> None:
        self.tokens.pop(getattr(token, "token", ""), None)


def make_client_oauth(args: Any, sdk_major: int) -> Any:
    import httpx
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import OAuthClientMetadata

    class MemoryStorage:
        def __init__(self) -> None:
            self.tokens: Any = None
            self.client_info: Any = None

        async def get_tokens(self) -> Any:
            return self.tokens

        async def set_tokens(self, tokens: Any) -> None:
            self.tokens = tokens

        async def get_client_info(self) -> Any:
            return self.client_info

        async def set_client_info(self, client_info: Any) -> None:
            self.client_info = client_info

    result: dict[str, str | None] = {}

    async def redirect_handler(url: str) -> None:
        # Plays the browser: the authorization server answers with a redirect carrying the code.
        async with httpx.AsyncClient(follow_redirects=False) as browser:
            resp = await browser.get(url)
        query = parse_qs(urlsplit(resp.headers["location"]).query)
        result["code"], result["state"] = query["code"][0], query.get("state", [None])[0]

    async def callback_handler() -> tuple[str, str | None]:
        return str(result["code"]), result["state"]

    metadata = OAuthClientMetadata(client_name="pcapgen-oauth-client", redirect_uris=["http://localhost:33418/callback"],
                                   grant_types=["authorization_code", "refresh_token"], response_types=["code"],
                                   scope="mcp:tools")  # fmt: skip
    return OAuthClientProvider(server_url=args.url, client_metadata=metadata, storage=MemoryStorage(),
                               redirect_handler=redirect_handler, callback_handler=callback_handler)  # fmt: skip
