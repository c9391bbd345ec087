# @TEST-DOC: Registry push to a cluster: the manager takes MCP::registry_update on its registry port and the Config framework hands MCP::known_mcp_hosts to the worker, which then logs the approved server's traffic without MCP::Server_Detected.
#
# @TEST-PORT: BROKER_MANAGER_PORT
# @TEST-PORT: BROKER_WORKER1_PORT
# @TEST-PORT: REGISTRY_PORT
#
# @TEST-EXEC: btest-bg-run manager "ZEEKPATH=$ZEEKPATH:.. CLUSTER_NODE=manager zeek -b $PACKAGE %INPUT"
# @TEST-EXEC: btest-bg-run worker-1 "ZEEKPATH=$ZEEKPATH:.. CLUSTER_NODE=worker-1 zeek -b -C -r $TRACES/mcp2025_py_streamable_sse.pcap $PACKAGE %INPUT"
# @TEST-EXEC: btest-bg-run registry "zeek -b ../registry.zeek >out"
# @TEST-EXEC: btest-bg-wait 60
# @TEST-EXEC: btest-diff registry/out
# @TEST-EXEC: btest-diff worker-1/.stdout
# @TEST-EXEC: grep -q initialize manager/mcp.log
# @TEST-EXEC: ! grep -q MCP::Server_Detected manager/notice.log

# @TEST-START-FILE cluster-layout.zeek
redef Cluster::nodes = {
	["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=to_port(getenv(
	    "BROKER_MANAGER_PORT"))],
	["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=to_port(getenv(
	    "BROKER_WORKER1_PORT")), $manager="manager"],
};
# @TEST-END-FILE

# @TEST-START-FILE registry.zeek
# Stands in for `mcpeeker registry push --broker` (tests/registry/test_push.py runs the real one).
redef exit_only_after_terminate = T;

module MCP;

export {
	global registry_update: event(hosts: set[addr]);
	global registry_applied: event(node: string, hosts: count) &is_used;
}

event zeek_init()
	{
	Broker::subscribe("mcpeeker/registry/ack");
	Broker::peer("127.0.0.1", to_port(getenv("REGISTRY_PORT")), 1sec);
	}

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	Broker::publish("mcpeeker/registry", registry_update, set(10.20.0.3));
	}

event MCP::registry_applied(node: string, hosts: count)
	{
	print "applied", node, hosts;
	terminate();
	}
# @TEST-END-FILE

@load base/frameworks/cluster

redef Log::default_rotation_interval = 0secs;

@if ( Cluster::local_node_type() == Cluster::MANAGER )
redef exit_only_after_terminate = T;
redef MCP::registry_listen = "127.0.0.1";
redef MCP::registry_port = to_port(getenv("REGISTRY_PORT"));

global stop: event();

event zeek_init()
	{
	# Never outlive a broken run.
	schedule 50sec { stop() };
	}

event stop()
	{
	terminate();
	}

event Cluster::node_down(name: string, id: string)
	{
	terminate();
	}
@endif

@if ( Cluster::local_node_type() == Cluster::WORKER )
# The worker reads its pcap once the manager has handed it the approved
# servers, and stops at the end of it.
function hosts_changed(ID: string, new_value: set[addr], location: string): set[
    addr]
	{
	print "known_mcp_hosts", new_value, location;
	continue_processing();
	return new_value;
	}

event zeek_init()
	{
	suspend_processing();
	Option::set_change_handler("MCP::known_mcp_hosts", hosts_changed);
	}

event Pcap::file_done(path: string)
	{
	terminate();
	}

event Cluster::node_down(name: string, id: string)
	{
	terminate();
	}
@endif
