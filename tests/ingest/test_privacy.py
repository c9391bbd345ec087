"""Privacy at ingest: no secret survives redaction, keyed hashes are HMAC with the site key, snippets <= 1 KB."""

from __future__ import annotations

import hashlib
import hmac
import string

from hypothesis import given, settings, strategies as st

from mcpeeker.ingest import privacy

TOKEN_CHARS = string.ascii_letters + string.digits
secret_value = st.text(alphabet=TOKEN_CHARS, min_size=12, max_size=40).map(lambda s: "Zq9" + s)
secret_names = st.sampled_from(
    [
        "password",
        "passwd",
        "api_key",
        "apiKey",
        "API-KEY",
        "token",
        "access_token",
        "client_secret",
        "secret",
        "GITHUB_TOKEN",
        "x-api-key",
        "private_key",
        "auth",
        "refresh_token",
        "sig",
        "key",
    ]
)
filler = st.text(alphabet=string.ascii_letters + " /.:,-", max_size=40)

# Every shape a secret takes in URLs, command lines, JSON, headers and env assignments.
SHAPES = [
    "{name}={value}",
    "{name}: {value}",
    '"{name}": "{value}"',
    "'{name}': '{value}'",
    "--{name} {value}",
    "--{name}={value}",
    "https://host.example/mcp?x=1&{name}={value}&y=2",
    "https://user:{value}@host.example/",
    "Authorization: Bearer {value}",
    "authorization: Basic {value}",
    '{{"headers": {{"Authorization": "Token {value}"}}}}',
    "export {name}={value}",
]


@settings(max_examples=300, deadline=None)
@given(name=secret_names, value=secret_value, before=filler, after=filler, shape=st.sampled_from(SHAPES))
def test_no_secret_survives_redaction(name: str, value: str, before: str, after: str, shape: str) -> None:
    text = before + " " + shape.format(name=name, value=value) + " " + after
    assert value not in privacy.redact_text(text)
    assert value not in privacy.snippet(text)
    if shape.startswith("https://"):
        assert value not in privacy.redact_url(shape.format(name=name, value=value))


KNOWN_TOKENS = [
    "ghp_" + "A1b2" * 9,
    "github_pat_" + "x9" * 20,
    "sk-ant-" + "q" * 40,
    "sk-proj-" + "Z" * 30,
    "AKIAIOSFODNN7EXAMPLE",
    "xoxb-123456789012-abcdefABCDEF",
    "AIza" + "S" * 35,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "glpat-" + "abcdEFGH1234" * 2,
    "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
]


@given(before=filler, after=filler, token=st.sampled_from(KNOWN_TOKENS))
def test_bare_well_known_tokens_are_redacted(before: str, after: str, token: str) -> None:
    assert token not in privacy.redact_text(f"{before} {token} {after}")


def test_private_key_block_is_redacted() -> None:
    text = "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----\nrest"
    out = privacy.redact_text(text)
    assert "b3BlbnNzaC1rZXktdjEAAAA" not in out and out.endswith("rest")


def test_mcp_session_id_query_value_is_kept() -> None:
    # MCP's legacy SSE transport carries its session id in the query; correlation needs it and it is not a credential.
    url = "/messages/?session_id=4b9d1c2e&token=Zq9secretvalue123"
    out = privacy.redact_url(url)
    assert "session_id=4b9d1c2e" in out and "Zq9secretvalue123" not in out


def test_ordinary_text_is_unchanged() -> None:
    for text in ("/download/CHANGES.bro-aux.txt", "GET /index.html?page=2&lang=en", "tools/call read_file"):
        assert privacy.redact_url(text) == text


def test_keyed_hash_is_hmac_sha256_with_the_site_key() -> None:
    key = b"site-key-A"
    value = "workstation-42"
    digest = privacy.keyed_hash(key, value)
    assert digest == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    assert digest != hashlib.sha256(value.encode()).hexdigest()
    assert digest != privacy.keyed_hash(b"site-key-B", value)
    assert privacy.ensure_keyed(key, digest) == digest  # an already keyed (64 hex) value is kept
    assert privacy.ensure_keyed(key, value) == digest


@given(st.text(max_size=3000))
def test_snippet_is_at_most_1kb_of_valid_utf8_and_a_prefix(text: str) -> None:
    cut = privacy.cut_snippet(text)
    raw = cut.encode("utf-8", "surrogatepass")
    assert len(raw) <= 1024
    assert text.startswith(cut)


def test_long_runs_of_name_characters_are_redacted_exactly() -> None:
    # 64 KB runs of word characters or dashes next to secret names (an attacker's HTTP body in an eve payload, a
    # dead-lettered line) once cost minutes of regex backtracking per line; the result must stay exact.
    run = "x" * 65536
    text = f"key {run} api_key=Zq9supersecretvalue {run} --password Zq9othersecret {'-' * 65536}"
    out = privacy.redact_text(text)
    assert "Zq9supersecretvalue" not in out and "Zq9othersecret" not in out
    assert out == f"key {run} api_key=REDACTED {run} --password REDACTED {'-' * 65536}"
