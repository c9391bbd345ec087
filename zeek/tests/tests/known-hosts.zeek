# @TEST-DOC: A known MCP host is logged but raises no MCP::Server_Detected.
# @TEST-EXEC: zeek -C -r $TRACES/mcp2025_py_streamable_sse.pcap $PACKAGE %INPUT >output 2>&1
# @TEST-EXEC: test ! -e reporter.log
# @TEST-EXEC: grep -q initialize mcp.log
# @TEST-EXEC: ! grep -q 'MCP::Server_Detected' notice.log

redef MCP::known_mcp_hosts += {10.20.0.3};
