##! Approved MCP servers from the MCPeeker registry, applied without a
##! restart.
##!
##! ``mcpeeker registry push --broker HOST:PORT`` publishes
##! :zeek:see:`MCP::registry_update` on :zeek:see:`MCP::registry_topic` with
##! the addresses of every approved, unexpired registry entry. The handler
##! replaces :zeek:see:`MCP::known_mcp_hosts` (a full replacement, so a push
##! is idempotent and a revocation is a push without the address) through
##! ``Config::set_value``: the change lands in config.log and, in a cluster,
##! the manager hands it to every node. The handler answers with
##! :zeek:see:`MCP::registry_applied` on :zeek:see:`MCP::registry_ack_topic`.
##!
##! Zeek listens for pushes only when :zeek:see:`MCP::registry_listen` is set
##! (off by default), e.g. ``redef MCP::registry_listen = "127.0.0.1";``. In a
##! cluster only the manager subscribes and listens; a push may also go to the
##! manager's cluster port. Whoever reaches the port can change what Zeek
##! reports: listen on loopback or a management network, and use Broker's TLS
##! settings (``Broker::ssl_cafile``, ``Broker::ssl_certificate``,
##! ``Broker::ssl_keyfile``) to authenticate peers.
##!
##! Without Broker access, ``mcpeeker registry push --file PATH`` writes a
##! Config framework file instead (atomically, by rename), e.g.::
##!
##!     redef Config::config_files += { "/etc/mcpeeker/known-mcp-hosts.dat" };
##!
##! with the single line ``MCP::known_mcp_hosts 10.0.0.1,10.0.0.2`` (no
##! approved server: the name and a space). The Config framework re-reads
##! such files whenever their modification time moves (Input::REREAD, checked
##! about once a second; in a cluster the manager reads them and propagates).
##! Use one of the two ways: both set the same option.
##!
##! Addresses only: ``known_mcp_hosts`` is a ``set[addr]``. A registry entry
##! that approves one port of a host approves the host here; only
##! :zeek:see:`MCP::Server_Detected` looks at the set (the attack notices fire
##! for known hosts too), the registry's own scoring matches ports, and the
##! Config framework's file reader cannot read sets with composite
##! (address, port) indexes.

@load base/frameworks/broker
@load base/frameworks/cluster
@load base/frameworks/config

@load ./main

module MCP;

export {
	## Broker topic on which Zeek receives :zeek:see:`MCP::registry_update`.
	const registry_topic = "mcpeeker/registry" &redef;

	## Broker topic of the :zeek:see:`MCP::registry_applied` answers.
	const registry_ack_topic = "mcpeeker/registry/ack" &redef;

	## Address to listen on for registry pushes (e.g. "127.0.0.1"). Empty:
	## no listening (default).
	const registry_listen = "" &redef;

	## Port to listen on for registry pushes, with
	## :zeek:see:`MCP::registry_listen`.
	const registry_port = 47770/tcp &redef;

	## The approved MCP server addresses: the new value of
	## :zeek:see:`MCP::known_mcp_hosts` (all of it).
	global registry_update: event(hosts: set[addr]);

	## Answer to :zeek:see:`MCP::registry_update`: *node* applied a set of
	## *hosts* addresses.
	global registry_applied: event(node: string, hosts: count);
}

event zeek_init()
	{
	if ( Cluster::is_enabled() && Cluster::local_node_type() != Cluster::MANAGER )
		return;

	Broker::subscribe(registry_topic);

	if ( registry_listen == "" )
		return;

	if ( Broker::listen(registry_listen, registry_port) == 0/tcp )
		Reporter::warning(fmt("MCP registry: cannot listen on %s:%s yet",
		    registry_listen, registry_port));
	}

event MCP::registry_update(hosts: set[addr])
	{
	if ( ! Config::set_value("MCP::known_mcp_hosts", hosts, "registry push") )
		{
		Reporter::warning("MCP registry: could not set MCP::known_mcp_hosts");
		return;
		}

	Broker::publish(registry_ack_topic, registry_applied, Cluster::is_enabled() ?
	    Cluster::node : "standalone", |hosts|);
	}
