# @TEST-DOC: MCP::registry_update over Broker: a peer publishes the approved servers to a sensor listening on MCP::registry_listen; the sensor replaces MCP::known_mcp_hosts (full replacement: a second update without an address revokes it) and answers MCP::registry_applied.
#
# @TEST-PORT: REGISTRY_PORT
#
# @TEST-EXEC: btest-bg-run sensor "zeek -b $PACKAGE ../sensor.zeek >out"
# @TEST-EXEC: btest-bg-run registry "zeek -b ../registry.zeek >out"
# @TEST-EXEC: btest-bg-wait 30
# @TEST-EXEC: btest-diff sensor/out
# @TEST-EXEC: btest-diff registry/out
# @TEST-EXEC: zeek-cut id location <sensor/config.log >config.log.cut
# @TEST-EXEC: btest-diff config.log.cut

# @TEST-START-FILE sensor.zeek
redef exit_only_after_terminate = T;
redef MCP::registry_listen = "127.0.0.1";
redef MCP::registry_port = to_port(getenv("REGISTRY_PORT"));

function hosts_changed(ID: string, new_value: set[addr], location: string): set[
    addr]
	{
	local hosts: vector of string;

	for ( h in new_value )
		hosts += cat(h);

	sort(hosts, strcmp);
	print "known_mcp_hosts", join_string_vec(hosts, ","), location;
	return new_value;
	}

event zeek_init()
	{
	Option::set_change_handler("MCP::known_mcp_hosts", hosts_changed);
	}

event Broker::peer_lost(endpoint: Broker::EndpointInfo, msg: string)
	{
	terminate();
	}
# @TEST-END-FILE

# @TEST-START-FILE registry.zeek
redef exit_only_after_terminate = T;

module MCP;

export {
	global registry_update: event(hosts: set[addr]);
	global registry_applied: event(node: string, hosts: count) &is_used;
}

global updates: vector of set[addr] = {
	set(10.20.0.3, 10.20.0.77),
	set(10.20.0.77),
	set()
};
global sent = 0;

event zeek_init()
	{
	Broker::subscribe("mcpeeker/registry/ack");
	Broker::peer("127.0.0.1", to_port(getenv("REGISTRY_PORT")), 1sec);
	}

event Broker::peer_added(endpoint: Broker::EndpointInfo, msg: string)
	{
	Broker::publish("mcpeeker/registry", registry_update, updates[sent]);
	}

event MCP::registry_applied(node: string, hosts: count)
	{
	print "applied", node, hosts;

	if ( ++sent < |updates| )
		Broker::publish("mcpeeker/registry", registry_update, updates[sent]);
	else
		terminate();
	}
	# @TEST-END-FILE
