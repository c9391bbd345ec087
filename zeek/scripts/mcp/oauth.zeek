##! OAuth discovery of MCP servers (the authorization spec of 2025-06-18 and
##! later): a server answers an unauthenticated request with ``401`` and a
##! ``WWW-Authenticate`` challenge naming its ``resource_metadata`` (RFC 9728),
##! and the client then fetches ``/.well-known/oauth-protected-resource``.
##! Either one raises :zeek:see:`MCP::OAuth_Discovery` once per server.

@load base/frameworks/notice

@load ./attacks

module MCP;

export {
	redef enum Notice::Type += {
		## A server challenged a client with an OAuth
		## ``resource_metadata`` (401 ``WWW-Authenticate``), or a client
		## asked a server for its OAuth protected-resource metadata.
		OAuth_Discovery,
	};
}

# main.zeek looks for the challenge and the path in the HTTP handlers it has
# anyway, so this file adds no per-header handler.
event MCP::oauth_discovery(c: connection, what: string)
	{
	NOTICE([$note=OAuth_Discovery, $conn=c, $msg=fmt(
	    "OAuth discovery of the MCP server at %s:%d: %s", c$id$resp_h,
	    port_to_count(c$id$resp_p), what), $identifier=cat(c$id$resp_h,
	    c$id$resp_p), $suppress_for=server_notice_suppression]);
	}
