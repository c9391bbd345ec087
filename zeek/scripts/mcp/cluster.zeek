##! MCPeeker in a Zeek cluster: rug-pull state shared through the proxies.
##!
##! A server's first ``tools/list`` may be seen by one worker and the changed
##! one by another. In a cluster, each worker hands the tool digests of every
##! ``tools/list`` result to the proxy that owns the server endpoint
##! (``Cluster::publish_hrw`` over ``Cluster::proxy_pool``, as Zeek's own
##! known-hosts/services scripts do), and that proxy keeps the last digests
##! (``MCP::tool_digests``: at most ``MCP::max_tracked`` server endpoints,
##! forgotten after ``MCP::tools_hash_expire`` without a listing), compares
##! and raises :zeek:see:`MCP::Tool_Definitions_Changed`. The notice names the
##! worker that saw the change (``peer_name``/``peer_descr``) and carries the
##! connection's uid and id, but no ``$conn`` (the connection lives on the
##! worker). With no proxy up the manager does the proxy's part. When proxies
##! come or go, server endpoints are repartitioned and the new owner starts
##! without their digests: a change across that moment goes unnoticed once.
##!
##! The other notices need nothing here. :zeek:see:`MCP::Server_Detected`
##! and :zeek:see:`MCP::Unauthenticated_Server` are deduplicated by the notice
##! framework, which already shares suppression across a cluster (the node
##! that raises a notice tells the manager, which tells every node), so a
##! server seen by several workers is reported once per suppression interval
##! (two workers that see it within the propagation delay may each report
##! it). :zeek:see:`MCP::known_mcp_hosts` is an option: the Config framework
##! (and so registry.zeek) sets it on every node.
##!
##! Standalone Zeek is unaffected: everything below is loaded only in a
##! cluster.

@load base/frameworks/cluster
@load base/frameworks/notice

@load ./attacks

module MCP;

export {
	## What a worker reports to the node that keeps a server's tool
	## digests.
	type ToolsReport: record {
		## Server endpoint (see :zeek:see:`MCP::tools_listed`).
		server: string;
		## Tool name -> digest of its definition.
		digests: table[string] of string;
		## Hash of the whole ``tools/list`` result.
		tools_hash: string;
		## The server, as the notice message describes it.
		desc: string;
		## Network time of the result on the worker.
		ts: time;
		## The connection that carried the result.
		uid: string;
		id: conn_id;
		## The cluster node that saw it.
		node: string;
	};

	## Raised on the proxy that owns *r$server* (or on the manager, with no
	## proxy up) for every ``tools/list`` result a worker sees.
	global tools_report: event(r: ToolsReport);
}

@if ( Cluster::is_enabled() )

hook tools_hash_policy(c: connection, rec: Info, server: string)
	{
	local r = ToolsReport($server=server, $digests=rec$tool_digests,
	    $tools_hash=rec$tools_hash, $desc=server_desc(c, rec),
	    $ts=network_time(), $uid=c$uid, $id=c$id, $node=Cluster::node);

	if ( Cluster::publish_hrw(Cluster::proxy_pool, server, tools_report, r) )
		break;

	# No proxy up: the manager keeps the state (or, on the manager itself,
	# the local check runs).
	if ( Cluster::local_node_type() == Cluster::MANAGER )
		return;

	Broker::publish(Cluster::manager_topic, tools_report, r);
	break;
	}

event MCP::tools_report(r: ToolsReport)
	{
	local changed = update_tool_digests(r$server, r$digests);

	if ( |changed| == 0 )
		return;

	local n = tools_changed_notice(r$server, r$desc, changed, r$tools_hash);
	n$ts = r$ts;
	n$uid = r$uid;
	n$id = r$id;
	n$peer_name = r$node;
	n$peer_descr = r$node;
	NOTICE(n);
	}

@endif
