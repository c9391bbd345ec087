##! MCPeeker: Model Context Protocol (MCP) detection for Zeek.

@load ./json
@load ./main
@load ./attacks
@load ./oauth
@load ./cluster
@load ./registry
