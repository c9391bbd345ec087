"""mcpeeker-agent: find MCP client configs, MCP server processes and listeners on an endpoint."""

__version__ = "0.1.0"
SCHEMA = "mcpeeker.agent/1"
