"""The registry of approved MCP servers (`mcp-registry`) and its lifecycle."""
