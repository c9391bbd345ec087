# @TEST-DOC: Same tools on two workers of a cluster: worker-1 and worker-2 each see the same tools/list of a server; the proxy that owns the server compares them and raises no MCP::Tool_Definitions_Changed.
#
# @TEST-PORT: BROKER_MANAGER_PORT
# @TEST-PORT: BROKER_PROXY1_PORT
# @TEST-PORT: BROKER_WORKER1_PORT
# @TEST-PORT: BROKER_WORKER2_PORT
#
# @TEST-EXEC: btest-bg-run manager "ZEEKPATH=$ZEEKPATH:.. CLUSTER_NODE=manager zeek -b $PACKAGE %INPUT"
# @TEST-EXEC: btest-bg-run proxy-1 "ZEEKPATH=$ZEEKPATH:.. CLUSTER_NODE=proxy-1 zeek -b $PACKAGE %INPUT"
# @TEST-EXEC: btest-bg-run worker-1 "ZEEKPATH=$ZEEKPATH:.. CLUSTER_NODE=worker-1 zeek -b -C -r $TRACES_DERIVED/rug_pull_py_first.pcap $PACKAGE %INPUT"
# @TEST-EXEC: btest-bg-run worker-2 "ZEEKPATH=$ZEEKPATH:.. CLUSTER_NODE=worker-2 zeek -b -C -r $TRACES_DERIVED/rug_pull_py_first.pcap $PACKAGE %INPUT"
# @TEST-EXEC: btest-bg-wait 60
# @TEST-EXEC: test ! -e manager/reporter.log
# @TEST-EXEC: test "$(zeek-cut direction method <manager/mcp.log | grep -c 'response.tools/list')" = 2
# @TEST-EXEC: grep -q MCP::Server_Detected manager/notice.log
# @TEST-EXEC: ! grep -q MCP::Tool_Definitions_Changed manager/notice.log

# @TEST-START-FILE cluster-layout.zeek
redef Cluster::nodes = {
	["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=to_port(getenv(
	    "BROKER_MANAGER_PORT"))],
	["proxy-1"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $p=to_port(getenv(
	    "BROKER_PROXY1_PORT")), $manager="manager"],
	["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=to_port(getenv(
	    "BROKER_WORKER1_PORT")), $manager="manager"],
	["worker-2"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $p=to_port(getenv(
	    "BROKER_WORKER2_PORT")), $manager="manager"],
};
# @TEST-END-FILE

@load base/frameworks/cluster
@load policy/frameworks/cluster/experimental

redef exit_only_after_terminate = T;
redef Log::default_rotation_interval = 0secs;

module Test;

# Sequence: worker-1 reads its pcap; once the proxy has its tools/list,
# worker-2 reads its pcap; once the proxy has that one, everyone stops.
global go: event() &is_used;
global reported: event(node: string) &is_used;
global stop: event() &is_used;
global down = 0;

@if ( Cluster::local_node_type() == Cluster::WORKER )
event zeek_init()
	{
	suspend_processing();
	}

event Test::go()
	{
	continue_processing();
	}
@endif

@if ( Cluster::local_node_type() == Cluster::PROXY )
# After MCPeeker's handler: the digests are compared and stored.
event MCP::tools_report(r: MCP::ToolsReport) &priority=-10
	{
	Broker::publish(Cluster::manager_topic, Test::reported, r$node);
	}
@endif

@if ( Cluster::local_node_type() == Cluster::MANAGER )
event zeek_init()
	{
	# Never outlive a broken run (the other nodes follow the manager).
	schedule 50sec { Test::stop() };
	}

event Cluster::Experimental::cluster_started()
	{
	Broker::publish(Cluster::node_topic("worker-1"), Test::go);
	}

event Test::reported(node: string)
	{
	if ( node == "worker-1" )
		{
		Broker::publish(Cluster::node_topic("worker-2"), Test::go);
		return;
		}

	Broker::publish(Cluster::worker_topic, Test::stop);
	Broker::publish(Cluster::proxy_topic, Test::stop);
	}

event Cluster::node_down(name: string, id: string)
	{
	if ( ++down == 3 )
		terminate();
	}
@endif

@if ( Cluster::local_node_type() != Cluster::MANAGER )
event Cluster::node_down(name: string, id: string)
	{
	if ( name == "manager" )
		terminate();
	}
@endif

event Test::stop()
	{
	terminate();
	}
