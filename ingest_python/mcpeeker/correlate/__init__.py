"""Correlation: evidence in `mcp-events-*` -> MCP instances -> scored, classified findings."""
