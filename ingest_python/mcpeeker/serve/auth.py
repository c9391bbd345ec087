"""Who is asking: an OpenID bearer JWT (a person; role from the groups claim) or an API token (automation; the
role it was created for). Every route names the action it needs (roles.yaml); the server checks it."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ..roles import Actor, permits, role_for_groups
from .oidc import InvalidToken, OidcVerifier
from .tokens import PREFIX as API_TOKEN_PREFIX
from .tokens import ApiTokenStore


class Unauthenticated(Exception):
    def __init__(self, reason: str, error: str = "invalid_token") -> None:
        super().__init__(reason)
        self.error = error


class Forbidden(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    name: str  # the identity the audit chain records
    role: str
    kind: str  # "oidc" | "token"
    groups: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    token_id: str | None = None
    created_by: str | None = None  # an API token's creator: a token never approves its creator's requests

    @property
    def actor(self) -> Actor:
        return Actor(self.name, self.role)

    def identities(self) -> set[str]:
        """Every name this principal acts for (self-approval checks)."""
        return {self.name} | ({self.created_by} if self.created_by else set())


class Authenticator:
    def __init__(self, verifier: OidcVerifier, tokens: ApiTokenStore, roles_file: str | None = None) -> None:
        self.verifier = verifier
        self.tokens = tokens
        self.roles_file = roles_file

    def authenticate(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthenticated("missing bearer token (Authorization: Bearer <token>)", "invalid_request")
        if credential.startswith(API_TOKEN_PREFIX + "_"):
            token = self.tokens.verify(credential)
            if token is None:
                raise Unauthenticated("invalid, expired or revoked API token")
            return Principal(token.identity, token.role, "token", token_id=token.id, created_by=token.created_by)
        return self.person(credential)

    def person(self, credential: str) -> Principal:
        """A person from the provider's access token (the API's bearer token; the UI's login)."""
        try:
            claims = self.verifier.verify(credential)
        except InvalidToken as exc:
            raise Unauthenticated(f"token refused: {exc}") from None
        if claims.name.startswith("token:"):  # that namespace is the API tokens'; a person never acts as one
            raise Forbidden(f"identity {claims.name!r}: names starting with 'token:' are reserved for API tokens")
        role = role_for_groups(claims.groups, self.roles_file)
        if role is None:
            raise Forbidden(f"{claims.name}: none of your groups has a role in roles.yaml (groups:)")
        return Principal(claims.name, role, "oidc", groups=claims.groups, hosts=claims.hosts)

    def require(self, principal: Principal, action: str) -> None:
        if not permits(principal.role, action, self.roles_file):
            raise Forbidden(f"{principal.name} (role {principal.role}) may not {action}")

    def may(self, principal: Principal, action: str) -> bool:
        return permits(principal.role, action, self.roles_file)
