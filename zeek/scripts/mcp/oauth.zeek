##! OAuth discovery of MCP servers (the authorization spec of 2025-06-18 and
##! later): a server answers an unauthenticated request with ``401`` and a
##! ``WWW-Authenticate`` challenge naming its ``resource_metadata`` (RFC 9728),
##! and the client then fetches ``/.well-known/oauth-protected-resource``.
##! Either one raises :zeek:see:`MCP::OAuth_Discovery` once per server.

@load base/frameworks/notice
@load base/protocols/http

@load ./attacks

module MCP;

export {
	redef enum Notice::Type += {
		## A server challenged a client with an OAuth
		## ``resource_metadata`` (401 ``WWW-Authenticate``), or a client
		## asked a server for its OAuth protected-resource metadata.
		OAuth_Discovery,
	};

	## Path prefix of the protected-resource metadata document (RFC 9728).
	const oauth_metadata_path = /^\/\.well-known\/oauth-protected-resource/ &redef;
}

function oauth_notice(c: connection, what: string)
	{
	if ( ignored(c) )
		return;

	NOTICE([$note=OAuth_Discovery, $conn=c, $msg=fmt(
	    "OAuth discovery of the MCP server at %s:%d: %s", c$id$resp_h,
	    port_to_count(c$id$resp_p), what), $identifier=cat(c$id$resp_h,
	    c$id$resp_p), $suppress_for=server_notice_suppression]);
	}

event http_request(c: connection, method: string, original_URI: string,
    unescaped_URI: string, version: string)
	{
	if ( method == "GET" && oauth_metadata_path in original_URI )
		oauth_notice(c, "protected-resource metadata requested");
	}

event http_header(c: connection, is_orig: bool, original_name: string,
    name: string, value: string)
	{
	if ( is_orig || name != "WWW-AUTHENTICATE" )
		return;

	if ( c?$http
	    && c$http?$status_code
	    && c$http$status_code == 401
	    && /[rR][eE][sS][oO][uU][rR][cC][eE]_[mM][eE][tT][aA][dD][aA][tT][aA]=/ in value )
		oauth_notice(c, "401 challenge names resource_metadata");
	}
