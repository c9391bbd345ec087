# @TEST-DOC: Config framework file fallback: a known-mcp-hosts file written by `mcpeeker registry push --file` sets MCP::known_mcp_hosts (logged to config.log), and the approved server is logged but raises no MCP::Server_Detected.
#
# @TEST-EXEC: printf '# written by mcpeeker registry push\nMCP::known_mcp_hosts 10.20.0.3,10.20.0.77\n' >known-mcp-hosts.dat
# @TEST-EXEC: zeek -C -r $TRACES/mcp2025_py_streamable_sse.pcap $PACKAGE %INPUT >output 2>&1
# @TEST-EXEC: ! grep -E 'Reporter::(WARNING|ERROR)' reporter.log
# @TEST-EXEC: grep -q initialize mcp.log
# @TEST-EXEC: zeek-cut id location <config.log | sed "s#$(pwd)/##" >config.log.cut
# @TEST-EXEC: btest-diff config.log.cut
# @TEST-EXEC: ! grep -q MCP::Server_Detected notice.log
# @TEST-EXEC: btest-diff output

redef Config::config_files += {"known-mcp-hosts.dat"};

# Start on the traffic once the file is read (a running sensor reads it
# again whenever it changes).
event zeek_init()
	{
	suspend_processing();
	}

event Input::end_of_data(name: string, source: string)
	{
	if ( /known-mcp-hosts/ !in source )
		return;

	local hosts: vector of string;

	for ( h in MCP::known_mcp_hosts )
		hosts += cat(h);

	sort(hosts, strcmp);
	print "known_mcp_hosts", join_string_vec(hosts, ",");
	continue_processing();
	}
