"""Log in at a real OpenID provider the way a browser would, with httpx: the authorization-code flow with PKCE
through the provider's own login and consent forms, then the code exchanged for tokens."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx


class _Forms(HTMLParser):
    """The forms of a page: action and the hidden inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append({"action": values.get("action"), "inputs": {}})
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1]["inputs"][values["name"]] = values.get("value") or ""


def _form(page: httpx.Response) -> dict:
    parser = _Forms()
    parser.feed(page.text)
    assert parser.forms, f"no form on {page.url}: {page.text[:300]}"
    return parser.forms[0]


def login(issuer: str, client_id: str, user: str, redirect_uri: str = "http://127.0.0.1/callback") -> dict:
    """The provider's token response (access_token, id_token, ...) for `user`."""
    discovery = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        response = browser.get(
            discovery["authorization_endpoint"],
            params={
                "client_id": client_id,
                "response_type": "code",
                "redirect_uri": redirect_uri,
                "scope": "openid profile groups api",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "prompt": "consent",
            },
        )
        for _ in range(12):
            location = response.headers.get("location")
            if response.status_code in (302, 303) and location:
                target = urljoin(str(response.url), location)
                if target.startswith(redirect_uri):
                    query = parse_qs(urlsplit(target).query)
                    assert query.get("state") == [state], query
                    assert "code" in query, f"the provider refused: {query}"
                    break
                response = browser.get(target)
                continue
            assert response.status_code == 200, f"{response.status_code} at {response.url}: {response.text[:300]}"
            form = _form(response)
            fields = dict(form["inputs"])
            if fields.get("prompt") == "login":
                fields.update(login=user, password="any")
            response = browser.post(urljoin(str(response.url), form["action"]), data=fields)
        else:
            raise AssertionError("the login did not reach the redirect URI")
        token = browser.post(
            discovery["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        )
    assert token.status_code == 200, token.text
    return token.json()


def jwt_parts(token: str) -> list[str]:
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]*", token), token
    return token.split(".")
