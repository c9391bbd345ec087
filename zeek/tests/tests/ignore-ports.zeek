# @TEST-DOC: MCP::ignore_ports silences a server completely.
# @TEST-EXEC: zeek -C -r $TRACES/mcp2025_py_streamable_sse.pcap $PACKAGE %INPUT >output 2>&1
# @TEST-EXEC: test ! -e reporter.log
# @TEST-EXEC: test ! -e mcp.log
# @TEST-EXEC: test ! -e notice.log || ! grep -q 'MCP::' notice.log

redef MCP::ignore_ports += {8000/tcp};
