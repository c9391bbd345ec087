@load ./mcp
