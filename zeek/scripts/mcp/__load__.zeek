##! MCPeeker: Model Context Protocol (MCP) detection for Zeek.

@load ./json
@load ./main
@load ./indicators
@load ./attacks
@load ./oauth
@load ./cluster
@load ./registry
@load ./remote
