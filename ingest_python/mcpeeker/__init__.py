"""MCPeeker: find and classify every MCP server in the company."""

__version__ = "0.1.0"
