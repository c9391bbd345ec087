"""Privacy at ingest: keyed hashes for identities, redaction of secret-looking values, 1 KB snippets.

Redaction is deliberately greedy: a false positive costs a REDACTED word in a snippet, a false negative
leaks a credential into the SIEM.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

REDACTED = "REDACTED"
SNIPPET_LIMIT = 1024

# Names whose values are secrets (query parameters, JSON keys, env assignments, CLI flags).
_SECRET_NAME = (
    r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|client[_-]?secret|credentials?|auth(?:orization)?|bearer|cookie|jwt|signature|sig|x-api-key"
    r"|session[_-]?key|refresh[_-]?token|id[_-]?token|key)"
)
_SECRET_NAME_RE = re.compile(rf"^[\w.-]*?{_SECRET_NAME}[\w.-]*$", re.IGNORECASE)
# MCP's own session identifiers are needed for correlation and are not credentials.
_NOT_SECRET_NAMES = frozenset({"session_id", "sessionid", "mcp-session-id", "keyword", "keywords", "monkey", "key_id"})

# Values that are secrets whatever they are called, each with the lowercase literals one of which any match
# contains (a cheap `in` test in C decides whether the regex runs at all).
_NAME_TRIGGERS = ("pass", "pwd", "secret", "token", "key", "credential", "auth", "bearer", "cookie", "jwt", "sig")
_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL),
        REDACTED,
        ("private key",),
    ),
    (
        re.compile(
            r"(?i)\b(authorization|proxy-authorization|x-api-key|api-key|cookie|set-cookie)(\s*[:=]\s*)"
            r"(?:\"[^\"\n]*\"|'[^'\n]*'|[^\n\"',}]+)"
        ),
        rf"\1\2{REDACTED}",
        ("authorization", "api-key", "cookie"),
    ),
    (
        re.compile(r"(?i)\b(bearer|basic|token|digest)(\s+)[A-Za-z0-9._~+/=-]{8,}"),
        rf"\1\2{REDACTED}",
        ("bearer", "basic", "token", "digest"),
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED, ("eyj",)),
    (
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}|glpat-[A-Za-z0-9_-]{16,})"),
        REDACTED,
        ("gh", "github_pat_", "glpat-"),
    ),
    (re.compile(r"\bsk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_-]{16,}"), REDACTED, ("sk-",)),
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"), REDACTED, ("akia", "asia", "agpa", "aida", "aroa")),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), REDACTED, ("xox",)),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED, ("aiza",)),
    (re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"), REDACTED, ("sk_", "rk_", "pk_")),
    # name=value / "name": "value" / name: value
    # Linear time (a long run of word characters used to cost O(n^2): seconds for a few KB): a match can only start
    # where a run of name characters starts (a match starting inside a run extends to the run's start, which is
    # tried first), and the name's tail is the rest of the run (the separator after it is never a name
    # character), so it is taken possessively.
    (
        re.compile(
            rf"(?i)(?<![\w.-])([\w.-]*{_SECRET_NAME}[\w.-]*+)(\"?'?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s\"'&,;}}\]]+)"
        ),
        rf"\1\2{REDACTED}",
        _NAME_TRIGGERS,
    ),
    # --password value / --api-key=value / -p value is too ambiguous; flags with a secret name only.
    # Same reasoning: never start at a dash that follows a dash; the name's tail is possessive.
    (re.compile(rf"(?i)(?<!-)(--?[\w-]*{_SECRET_NAME}[\w-]*+)(\s+|=)(?!-)(\S+)"), rf"\1\2{REDACTED}", _NAME_TRIGGERS),
    # user:password@ in URLs
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^/\s@]+)(@)"), rf"\1{REDACTED}\3", ("@",)),
)
# A cheap pre-filter (substring tests run in C): text without any of these cannot match a pattern above.
_TRIGGERS = (
    "key",
    "auth",
    "github",
    "cookie",
    "bearer",
    "basic",
    "token",
    "digest",
    "eyj",
    "gh",
    "glpat",
    "sk-",
    "sk_",
    "rk_",
    "pk_",
    "akia",
    "asia",
    "agpa",
    "aida",
    "aroa",
    "xox",
    "aiza",
    "pass",
    "pwd",
    "secret",
    "credential",
    "jwt",
    "sig",
    "@",
)


def _may_hold_secret(text: str) -> bool:
    low = text.lower()
    for trigger in _TRIGGERS:
        if trigger in low:
            return True
    return False


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    if lowered in _NOT_SECRET_NAMES:
        return False
    return bool(_SECRET_NAME_RE.match(lowered))


def redact_text(text: str) -> str:
    """Replace secret-looking values in free text (snippets, command lines, messages)."""
    if not text or not _may_hold_secret(text):
        return text
    if not text.isascii():
        # Case-insensitive matching folds a few non-ASCII letters onto ASCII ones (U+017F matches s), which a
        # lowercase substring test would miss: every pattern runs.
        for pattern, replacement, _ in _VALUE_PATTERNS:
            text = pattern.sub(replacement, text)
        return text
    # ASCII: a pattern runs only when one of its literals is in the text as it stands after the previous ones.
    low = text.lower()
    for pattern, replacement, triggers in _VALUE_PATTERNS:
        for trigger in triggers:
            if trigger in low:
                text, n = pattern.subn(replacement, text)
                if n:
                    low = text.lower()
                break
    return text


def _redact_query(query: str) -> str:
    parts = query.split("&")
    for i, part in enumerate(parts):
        name, sep, _value = part.partition("=")
        if sep and is_secret_name(name):
            parts[i] = f"{name}={REDACTED}"
    return "&".join(parts)


def redact_url(url: str) -> str:
    """Secret query-string values and userinfo passwords become REDACTED; the rest of the URL is kept."""
    if not url:
        return url
    base, qmark, query = url.partition("?")
    if qmark:
        query, hashmark, fragment = query.partition("#")
        url = base + "?" + _redact_query(query) + (hashmark + _redact_query(fragment) if hashmark else "")
    return redact_text(url)


def cut_snippet(text: str, limit: int = SNIPPET_LIMIT) -> str:
    """At most `limit` UTF-8 bytes, never splitting a character."""
    if len(text) <= limit // 4:
        return text
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", "ignore")


def snippet(text: str, limit: int = SNIPPET_LIMIT) -> str:
    """Redact first (a cut could otherwise split a secret so its pattern no longer matches), then cut."""
    return cut_snippet(redact_text(text), limit)


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256(site key, value) as hex: stable per site, not reversible by hashing guesses without the key."""
    return _keyed_hash(key, value)


@lru_cache(maxsize=65536)
def _keyed_hash(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def ensure_keyed(key: bytes, value: str) -> str:
    """Keep a value that is already a 64-hex keyed hash (the agent hashes itself); hash anything else."""
    return value if _HEX64.match(value) else keyed_hash(key, value)
