"""How much tool text any part of MCPeeker keeps: the agent's stdio tap and inventory record tool descriptions
within these bounds, and the judge reads them within the same ones. Standard library only, so the agent's
zipapp (which carries mcpeeker.model and nothing else of mcpeeker) can import it."""

from __future__ import annotations

MAX_TEXT = 1024  # bytes per string (a tool description is cut here, on a character boundary)
MAX_ITEMS = 64  # values per list


def cut(text: str, limit: int = MAX_TEXT) -> str:
    """`text` cut to at most `limit` UTF-8 bytes without splitting a character."""
    raw = text.encode("utf-8", "replace")
    return text if len(raw) <= limit else raw[:limit].decode("utf-8", "ignore")
