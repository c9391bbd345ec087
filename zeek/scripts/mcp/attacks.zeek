##! Notices for MCP servers and the attacks that ride on MCP.
##!
##! The patterns they match with (``MCP::poisoning_patterns``,
##! ``MCP::sensitive_path_patterns``, ``MCP::injection_patterns``) are in
##! indicators.zeek, generated from the detection catalogue.
##!
##! Every notice carries an identifier, so the usual Notice policy suppresses
##! repeats (``$suppress_for`` below, or ``Notice::ignored_types`` and
##! ``hook Notice::policy`` to silence a type altogether).

@load base/frameworks/notice
@load base/utils/patterns

@load ./main
@load ./indicators

module MCP;

export {
	redef enum Notice::Type += {
		## An MCP server endpoint was seen for the first time (one per
		## address and port).
		Server_Detected,
		## A ``tools/list`` result holds a tool description with hidden
		## instructions for the model.
		Tool_Poisoning,
		## A server's tool definitions changed since they were last
		## listed (rug pull).
		Tool_Definitions_Changed,
		## A ``tools/call`` or ``resources/read`` names a sensitive file.
		Sensitive_File_Access,
		## ``tools/call`` arguments carry shell command injection.
		Command_Injection,
		## A server answered tool requests that carried no
		## ``Authorization`` header.
		Unauthenticated_Server,
	};

	## Methods whose successful answer without credentials makes a server
	## unauthenticated.
	option unauthenticated_methods: set[string] = {
		"initialize",
		"server/discover",
		"tools/list",
		"tools/call",
		"resources/read",
		"prompts/get",
	};

	## Suppression interval of :zeek:see:`MCP::Server_Detected` and
	## :zeek:see:`MCP::Unauthenticated_Server`.
	option server_notice_suppression = 1day;

	## Suppression interval of the attack notices.
	option attack_notice_suppression = 1hr;

	## How long the last tool hash of a server is remembered.
	option tools_hash_expire = 7days;

	## Decides where the rug-pull check of a ``tools/list`` result runs:
	## here, unless a handler breaks out of the hook (cluster.zeek does
	## after handing the digests to the proxy that owns the server).
	global tools_hash_policy: hook(c: connection, rec: Info, server: string);
}

# Server endpoint (addr:port/path[#cursor]) -> tool name -> digest of its
# definition, as last listed. In a cluster, the proxy that owns the server
# endpoint keeps it (cluster.zeek).
global tool_digests: table[string] of table[string] of string
    &read_expire=tools_hash_expire;

# Names of the tools whose definition differs between *old* and *new*. Tools
# added or removed are not a rug pull (servers announce those with
# notifications/tools/list_changed); a tool that keeps its name but changes
# what it says or takes is.
function changed_tools(old: table[string] of string, new: table[string] of
    string): vector of string
	{
	local changed: vector of string;

	for ( name, digest in new )
		if ( name in old && old[name] != digest )
			changed += name;

	sort(changed, strcmp);
	return changed;
	}

# Remembers the tool digests of a server endpoint (at most max_tracked
# endpoints); returns the names of the tools changed since the last listing.
function update_tool_digests(server: string, digests: table[string] of string)
    : vector of string
	{
	local changed: vector of string;

	if ( server in tool_digests )
		changed = changed_tools(tool_digests[server], digests);

	if ( server in tool_digests || |tool_digests| < max_tracked )
		tool_digests[server] = digests;

	return changed;
	}

# The Tool_Definitions_Changed notice, without its connection.
function tools_changed_notice(server: string, desc: string, changed: vector of
    string, tools_hash: string): Notice::Info
	{
	return Notice::Info($note=Tool_Definitions_Changed, $msg=fmt(
	    "MCP tool definitions of %s changed since they were last listed: %s",
	    desc, cap(join_string_vec(changed, ","), 200)), $sub=tools_hash,
	    $identifier=cat(server, "|", tools_hash),
	    $suppress_for=attack_notice_suppression);
	}

function matched_text(s: string, p: pattern): string
	{
	local m = match_pattern(s, p);

	if ( ! m$matched )
		return "";

	# Invisible characters (hidden Unicode) stay invisible in a log:
	# a match with non-ASCII bytes is shown as escapes.
	if ( /[\x80-\xff]/ in m$str )
		return cap(escape_string(m$str), 200);

	return cap(m$str, 200);
	}

function server_desc(c: connection, rec: Info): string
	{
	local d = fmt("%s:%d", c$id$resp_h, port_to_count(c$id$resp_p));

	if ( rec?$server_name )
		d = fmt("%s (%s%s)", d, rec$server_name, rec?$server_version ? " " +
		    rec$server_version : "");

	return d;
	}

event MCP::server_seen(c: connection, rec: Info)
	{
	if ( c$id$resp_h in known_mcp_hosts )
		return;

	NOTICE([$note=Server_Detected, $conn=c, $msg=fmt(
	    "MCP server at %s (%s, era %s)", server_desc(c, rec), rec$transport,
	    rec?$spec_era ? rec$spec_era : "unknown"),
	    $sub=rec?$method ? rec$method : "", $identifier=cat(c$id$resp_h,
	    c$id$resp_p), $suppress_for=server_notice_suppression]);
	}

event MCP::message(c: connection, rec: Info)
	{
	if ( rec$direction != "response"
	    || ! rec?$method
	    || rec$method !in unauthenticated_methods )
		return;

	if ( rec$auth_present || rec?$error_code )
		return;

	if ( rec?$status_code && ( rec$status_code < 200 || rec$status_code >= 300 ) )
		return;

	NOTICE([$note=Unauthenticated_Server, $conn=c, $msg=fmt(
	    "MCP server at %s answered %s without any Authorization header",
	    server_desc(c, rec), rec$method), $identifier=cat(c$id$resp_h,
	    c$id$resp_p), $suppress_for=server_notice_suppression]);
	}

event MCP::tools_listed(c: connection, rec: Info, server: string, tools: vector of
    string)
	{
	for ( i in tools )
		{
		local text = json_unescape(tools[i]);

		if ( poisoning_patterns !in text )
			next;

		local name = json_string(json_path(tools[i], vector("name")));
		NOTICE([$note=Tool_Poisoning, $conn=c, $msg=fmt(
		    "MCP tool '%s' of %s carries hidden instructions", cap(name,
		    128), server_desc(c, rec)), $sub=matched_text(text,
		    poisoning_patterns), $identifier=cat(server, "|", name),
		    $suppress_for=attack_notice_suppression]);
		}

	if ( ! rec?$tool_digests || ! hook tools_hash_policy(c, rec, server) )
		return;

	local changed = update_tool_digests(server, rec$tool_digests);

	if ( |changed| == 0 )
		return;

	local n = tools_changed_notice(server, server_desc(c, rec), changed,
	    rec$tools_hash);
	n$conn = c;
	NOTICE(n);
	}

event MCP::tool_call(c: connection, rec: Info, tool: string, arguments: string)
	{
	local text = json_unescape(arguments);

	if ( sensitive_path_patterns in text )
		{
		local path = matched_text(text, sensitive_path_patterns);
		NOTICE([$note=Sensitive_File_Access, $conn=c, $msg=fmt(
		    "MCP tools/call '%s' to %s names a sensitive file", cap(
		    tool, 128), server_desc(c, rec)), $sub=path,
		    $identifier=cat(c$id$orig_h, c$id$resp_h, c$id$resp_p, tool,
		    path), $suppress_for=attack_notice_suppression]);
		}

	if ( injection_patterns in text )
		{
		local inj = matched_text(text, injection_patterns);
		NOTICE([$note=Command_Injection, $conn=c, $msg=fmt(
		    "MCP tools/call '%s' to %s carries shell injection", cap(
		    tool, 128), server_desc(c, rec)), $sub=inj, $identifier=cat(
		    c$id$orig_h, c$id$resp_h, c$id$resp_p, tool, inj),
		    $suppress_for=attack_notice_suppression]);
		}
	}

event MCP::resource_read(c: connection, rec: Info, uri: string)
	{
	# Close the value so that a path at the very end still has its
	# terminator, as it has inside JSON arguments.
	local text = uri + "\"";

	if ( sensitive_path_patterns !in text )
		return;

	local path = matched_text(text, sensitive_path_patterns);
	NOTICE([$note=Sensitive_File_Access, $conn=c, $msg=fmt(
	    "MCP resources/read from %s names a sensitive file", server_desc(c,
	    rec)), $sub=path, $identifier=cat(c$id$orig_h, c$id$resp_h,
	    c$id$resp_p, uri), $suppress_for=attack_notice_suppression]);
	}
