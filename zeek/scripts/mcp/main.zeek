##! Model Context Protocol (MCP) analysis over HTTP.
##!
##! MCP clients and servers exchange JSON-RPC 2.0 messages over HTTP in two
##! transports: Streamable HTTP (one POST per message, answered with JSON or an
##! SSE stream) and the legacy HTTP+SSE transport of 2024-11-05 (``GET /sse``
##! announces a POST endpoint with ``event: endpoint``; answers come back on
##! the SSE stream). Both spec eras are recognised: 2025-era sessions
##! (``initialize``, ``Mcp-Session-Id``, ``MCP-Protocol-Version``) and the
##! stateless 2026-07-28 revision (``_meta`` on every request, ``Mcp-Method`` and
##! ``Mcp-Name`` headers, ``server/discover``).
##!
##! The script reads JSON and SSE bodies through the file analysis framework
##! (a data-event analyzer on those bodies only) into per-message buffers
##! bounded by :zeek:see:`MCP::max_body_bytes`, splits SSE streams at event
##! boundaries as they arrive, walks each JSON text once
##! (:zeek:see:`MCP::json_parse`), and writes one ``mcp.log`` line per
##! JSON-RPC message. A message only counts as MCP when it carries an MCP
##! method name, answers a request that did, or has an MCP result shape; bare
##! JSON-RPC 2.0 (Ethereum nodes, LSP, generic APIs) and MCP-looking headers
##! alone never produce a line.

@load base/frameworks/notice
@load base/frameworks/files
@load base/protocols/http
@load base/utils/patterns

@load ./json

module MCP;

export {
	redef enum Log::ID += { LOG };

	## A default logging policy hook for the stream.
	global log_policy: Log::PolicyHook;

	## One JSON-RPC message of an MCP conversation.
	type Info: record {
		## Time the message was seen (the end of its HTTP body or SSE
		## event).
		ts: time &log;
		## Unique ID of the connection that carried the message.
		uid: string &log;
		## The connection's 4-tuple; the responder is the MCP server.
		id: conn_id &log;
		## ``request``, ``response`` or ``notification``.
		direction: string &log;
		## ``client`` or ``server``: the MCP role that sent the message.
		sender: string &log;
		## ``streamable_http`` or ``sse`` (legacy HTTP+SSE transport).
		transport: string &log;
		## ``2024-11-05``, ``2025`` (2025-03-26 to 2025-11-25) or
		## ``2026-07-28``; unset when nothing in the exchange tells.
		spec_era: string &log &optional;
		## JSON-RPC method: from the body, else the ``Mcp-Method``
		## header; for a response, the method of the request it answers.
		method: string &log &optional;
		## ``Mcp-Name`` header, else the tool or prompt name in the
		## params of ``tools/call`` or ``prompts/get``.
		mcp_name: string &log &optional;
		## JSON-RPC id as text.
		jsonrpc_id: string &log &optional;
		## ``Mcp-Session-Id`` header or the legacy ``session_id`` /
		## ``sessionId`` query value.
		session_id: string &log &optional;
		## ``MCP-Protocol-Version`` header, ``_meta``
		## ``io.modelcontextprotocol/protocolVersion``, the
		## ``protocolVersion`` of ``initialize``, or what the session
		## negotiated earlier.
		protocol_version: string &log &optional;
		## ``clientInfo`` name (``initialize`` params or ``_meta``).
		client_name: string &log &optional;
		## ``clientInfo`` version.
		client_version: string &log &optional;
		## ``serverInfo`` name of an ``initialize`` or
		## ``server/discover`` result, or remembered for the server.
		server_name: string &log &optional;
		## ``serverInfo`` version.
		server_version: string &log &optional;
		## Tool names of a ``tools/list`` result (at most
		## :zeek:see:`MCP::max_tool_names`).
		tool_names: vector of string &log &optional;
		## Number of tools in a ``tools/list`` result.
		tools_count: count &log &optional;
		## SHA-256 (hex) over the sorted raw tool definitions of a
		## ``tools/list`` result.
		tools_hash: string &log &optional;
		## Tools of a ``tools/list`` result whose decoded description is
		## longer than :zeek:see:`MCP::long_description_bytes` (at most
		## :zeek:see:`MCP::max_tool_names`). Weak evidence alone: logged,
		## never a notice.
		long_descriptions: vector of string &log &optional;
		## Digest of each tool definition of a ``tools/list`` result
		## (name, description and canonical input schema), by tool name.
		tool_digests: table[string] of string &optional;
		## ``uri`` of a ``resources/read`` request.
		resource_uri: string &log &optional;
		## HTTP method of the request that carried or caused the message.
		http_method: string &log &optional;
		## Path of the HTTP request, without its query.
		path: string &log &optional;
		## HTTP status code of the response.
		status_code: count &log &optional;
		## JSON-RPC error code of an error response.
		error_code: int &log &optional;
		## JSON-RPC error message (at most 256 bytes).
		error_message: string &log &optional;
		## Whether the HTTP request carried a credential (an
		## ``Authorization`` or ``X-API-Key`` header).
		auth_present: bool &log &default=F;
		## Scheme of that header (``Bearer``, ``Basic`` ...,
		## ``X-API-Key``); the credential itself is never kept.
		auth_scheme: string &log &optional;
		## Whether the message was part of a JSON-RPC batch.
		batch: bool &log &default=F;
	};

	## Largest HTTP body (or pending SSE event) buffered per message, in
	## bytes. Longer bodies are cut; what was buffered is still parsed.
	option max_body_bytes = 131072;

	## An SSE stream is given up after this many events without a
	## JSON-RPC message or an ``endpoint`` event, so that long non-MCP
	## streams (LLM chat, notifications) cost nothing.
	option sse_probe_events = 20;

	## Servers (responders) whose traffic is not analysed.
	option ignore_hosts: set[subnet] = set();

	## Server ports whose traffic is not analysed.
	option ignore_ports: set[port] = set();

	## Known, approved MCP servers. Their messages are logged and checked
	## for attacks, but :zeek:see:`MCP::Server_Detected` is not raised
	## for them and ambiguous methods (``ping``) count as MCP at once.
	option known_mcp_hosts: set[addr] = set();

	## How long a request waits for its response (used to name the
	## method of responses and to pair legacy SSE answers).
	option pending_timeout = 5min;

	## Largest number of requests waiting for an answer, over all
	## connections.
	option max_pending = 50000;

	## Largest number of sessions and servers remembered.
	option max_tracked = 50000;

	## How long session facts (negotiated version, client and server
	## names) are kept after their last use.
	option session_expire = 1hr;

	## How long server facts (server name, version) are kept after their
	## last use.
	option server_expire = 1day;

	## Most tool names written in one ``mcp.log`` line.
	option max_tool_names = 64;

	## A tool description longer than this (bytes, decoded) is named in
	## ``long_descriptions`` of ``mcp.log``. Long descriptions hide
	## instructions past what a client shows, but honest tools document
	## themselves at length too, so this is a hunting field, not a notice
	## (detection MCP-ATK-001).
	option long_description_bytes = 4096;

	## Most per-tool digests kept for one ``tools/list`` result (what
	## tells a changed tool from an added one).
	option max_tool_digests = 512;

	## Methods that only MCP uses. ``initialize`` additionally needs a
	## ``protocolVersion`` in its params (LSP has an ``initialize`` too)
	## and ``ping`` needs a server already known to speak MCP.
	option mcp_methods: set[string] = {
		"initialize",
		"notifications/initialized",
		"ping",
		"tools/list",
		"tools/call",
		"resources/list",
		"resources/read",
		"resources/templates/list",
		"resources/subscribe",
		"resources/unsubscribe",
		"prompts/list",
		"prompts/get",
		"completion/complete",
		"logging/setLevel",
		"sampling/createMessage",
		"elicitation/create",
		"roots/list",
		"server/discover",
		"subscriptions/listen",
		"tasks/get",
		"tasks/list",
		"tasks/result",
		"tasks/cancel",
		"notifications/cancelled",
		"notifications/progress",
		"notifications/message",
		"notifications/resources/updated",
		"notifications/resources/list_changed",
		"notifications/tools/list_changed",
		"notifications/prompts/list_changed",
		"notifications/roots/list_changed",
		"notifications/elicitation/complete",
		"notifications/tasks/status",
	};

	## Error messages of the official SDKs' HTTP transports. A JSON-RPC
	## error carrying one of them is MCP even without a known request.
	const sdk_error_messages = /Not Acceptable: Client must accept|Mcp-Session-Id header is required|Missing session ID|No valid session ID provided|Session not found/
	    &redef;

	## Raised for every MCP message once its log record is complete (for
	## requests: when the HTTP status of the answer is known).
	global message: event(c: connection, rec: Info);

	## Raised for a ``tools/list`` result. *server* names the server
	## endpoint (``addr:port/path``, plus ``#cursor`` for later pages);
	## *tools* holds the raw JSON definition of each tool.
	global tools_listed: event(c: connection, rec: Info, server: string,
	    tools: vector of string);

	## Raised for a ``tools/call`` request. *arguments* is the raw JSON
	## of the call's arguments (bounded by the body limit, never logged).
	global tool_call: event(c: connection, rec: Info, tool: string,
	    arguments: string);

	## Raised for a ``resources/read`` request.
	global resource_read: event(c: connection, rec: Info, uri: string);

	## Raised for the first MCP message to or from a server endpoint that
	## is not yet known (per address and port, while remembered).
	global server_seen: event(c: connection, rec: Info);

	## Raised for OAuth discovery of a server (the authorization spec of
	## 2025-06-18 and later): a ``401`` whose ``WWW-Authenticate`` names
	## ``resource_metadata`` (RFC 9728), or a ``GET`` of the
	## protected-resource metadata. *what* says which.
	global oauth_discovery: event(c: connection, what: string);

	## Path prefix of the protected-resource metadata document (RFC 9728).
	const oauth_metadata_path = /^\/\.well-known\/oauth-protected-resource/ &redef;

	## A ``WWW-Authenticate`` challenge that names protected-resource
	## metadata.
	const oauth_challenge_pattern =
	    /[rR][eE][sS][oO][uU][rR][cC][eE]_[mM][eE][tT][aA][dD][aA][tT][aA]=/
	    &redef;

	## Body data of a JSON or SSE HTTP message (a stream event of the
	## file analysis framework's data-event analyzer).
	global body_data: event(f: fa_file, data: string);

	## Event that can be handled to access the MCP record as it is sent
	## to the logging framework.
	global log_mcp: event(rec: Info);
}

# How a body is read.
type BodyKind: enum {
	## Not (or no longer) read.
	BODY_NONE,
	## Buffered and parsed as one JSON text when complete.
	BODY_JSON,
	## Split into SSE events as it arrives.
	BODY_SSE,
};

# Parsing state of one HTTP message (request or reply).
type MsgState: record {
	kind: BodyKind &default=BODY_NONE;
	content_type: string &default="";
	in_body: bool &default=F;
	buf: string &default="";
	overflow: bool &default=F;
	# JSON bodies: the chunks so far and their length.
	chunks: vector of string &default=vector();
	buffered: count &default=0;
	sse_events: count &default=0;
	sse_useful: bool &default=F;
	mcp_method: string &optional;
	mcp_name: string &optional;
	session_id: string &optional;
	protocol_version: string &optional;
	auth_scheme: string &optional;
	auth: bool &default=F;
};

# One JSON-RPC message: the json_parse table of the JSON text that carried it
# and the message's path inside it (a batch element's index, else empty).
type Message: record {
	doc: table[string] of string;
	base: string &default="";
	# The text ended inside the message (the body limit, or a peer that
	# stopped mid-body): members after the cut are missing, so a tools
	# list is not read.
	cut: bool &default=F;
};

# How deep json_parse records a message: result > tools > N > inputSchema,
# params > _meta > clientInfo > name.
const max_message_depth = 4;

# Per-connection state.
type State: record {
	req: MsgState;
	resp: MsgState;
	http_method: string &default="";
	path: string &default="";
	# Legacy HTTP+SSE session id: from the POST query, or from the
	# endpoint event of a GET stream; empty if none.
	legacy_session: string &default="";
	# This connection carries a legacy SSE stream (endpoint event seen).
	legacy_stream: bool &default=F;
	# HTTP status of the current answer; 0 until it is known.
	status_code: count &default=0;
	# Request records of the current transaction, written once the
	# status of the answer is known.
	held: vector of Info;
};

# What a request left behind for its response.
type Pending: record {
	method: string;
	name: string &optional;
	auth: bool &default=F;
	auth_scheme: string &optional;
	client_name: string &optional;
	client_version: string &optional;
	protocol_version: string &optional;
	cursor: string &optional;
};

# What a session negotiated.
type SessionFacts: record {
	protocol_version: string &optional;
	client_name: string &optional;
	client_version: string &optional;
};

# What a server said about itself.
type ServerFacts: record {
	name: string &optional;
	version: string &optional;
};

redef record connection += {
	mcp_state: State &optional;
};

# Requests waiting for their answer: [client, server, server port,
# sender-tagged raw JSON-RPC id].
global pending: table[addr, addr, port, string] of Pending
    &create_expire=pending_timeout;

# Sessions: "server-addr:port|session-id" -> facts.
global sessions: table[string] of SessionFacts &read_expire=session_expire;

# Servers that spoke MCP.
global servers: table[addr, port] of ServerFacts &read_expire=server_expire;

const sse_boundary = /\r\n\r\n|\n\n|\r\r/;
const line_break = /\r\n|\n|\r/;

# What MCP text holds somewhere, one of: an MCP method name as a "method"
# value, an MCP result shape, an SDK transport error. Built from mcp_methods
# (and rebuilt when the option changes), so a body that holds none of them
# costs one pattern match instead of a parse.
const mcp_result_markers = /\"(serverInfo|supportedVersions|inputSchema)\"/;
global mcp_text: pattern = mcp_result_markers;

function build_mcp_text(methods: set[string]): pattern
	{
	local alts: vector of string;

	for ( method in methods )
		alts += convert_for_pattern(method);

	sort(alts, strcmp);
	# \x22 is the double quote, which a pattern otherwise reads as the
	# start of a literal.
	return string_to_pattern(fmt(
	    "\\x22method\\x22[ \\t\\r\\n]*:[ \\t\\r\\n]*\\x22(%s)\\x22",
	    join_string_vec(alts, "|")), F) | mcp_result_markers |
	    sdk_error_messages;
	}

function mcp_methods_changed(id: string, new_value: set[string]): set[string]
	{
	mcp_text = build_mcp_text(new_value);
	return new_value;
	}

event zeek_init() &priority=5
	{
	Log::create_stream(MCP::LOG, Log::Stream($columns=Info, $ev=log_mcp,
	    $path="mcp", $policy=log_policy));
	mcp_text = build_mcp_text(mcp_methods);
	Option::set_change_handler("MCP::mcp_methods", mcp_methods_changed);
	}

# Raw text at *keys* below the message, or "".
# Paths are member names (and array indexes) joined by MCP::json_sep, "\x1f":
# written out as literals, so that a lookup builds no vector.
function mget(m: Message, path: string): string
	{
	local k = |m$base| == 0 ? path : m$base + json_sep + path;
	return k in m$doc ? m$doc[k] : "";
	}

function mhas(m: Message, path: string): bool
	{
	return |mget(m, path)| > 0;
	}

# The raw JSON-RPC id, or "" for none and null.
function rid_of(m: Message): string
	{
	local rid = mget(m, "id");
	return rid == "null" ? "" : rid;
	}

function ignored(c: connection): bool
	{
	return c$id$resp_h in ignore_hosts || c$id$resp_p in ignore_ports;
	}

function new_msg_state(): MsgState
	{
	local m: MsgState;
	return m;
	}

global finalize_mcp: Conn::RemovalHook;

function get_state(c: connection): State
	{
	if ( ! c?$mcp_state )
		{
		local held: vector of Info;
		c$mcp_state = State($req=new_msg_state(), $resp=new_msg_state(), $held=held);
		Conn::register_removal_hook(c, finalize_mcp);
		}

	return c$mcp_state;
	}

function session_key(c: connection, sid: string): string
	{
	return fmt("%s:%d|%s", c$id$resp_h, port_to_count(c$id$resp_p), sid);
	}

function server_key(c: connection, path: string): string
	{
	return fmt("%s:%d%s", c$id$resp_h, port_to_count(c$id$resp_p), path);
	}

const legacy_session_query = /[?&](session_id|sessionId)=[^&# ]+/;

# The session id of query strings of the legacy transport (Python SDK:
# session_id, TypeScript SDK: sessionId).
function query_session(uri: string): string
	{
	# Most URIs have no session: one pattern test instead of a match record.
	if ( legacy_session_query !in uri )
		return "";

	local m = match_pattern(uri, legacy_session_query);

	if ( ! m$matched )
		return "";

	local kv = split_string1(m$str, /=/);
	return |kv| == 2 ? kv[1] : "";
	}

function era_of_version(v: string): string
	{
	if ( v < "2025-03-26" )
		return "2024-11-05";

	if ( v < "2026-01-01" )
		return "2025";

	return "2026-07-28";
	}

function cap(s: string, n: count): string
	{
	return |s| > n ? sub_bytes(s, 1, n) : s;
	}

function write_rec(c: connection, rec: Info)
	{
	Log::write(MCP::LOG, rec);
	event MCP::message(c, rec);
	}

function flush_held(c: connection)
	{
	local st = c$mcp_state;

	for ( i in st$held )
		{
		local rec = st$held[i];

		if ( st$status_code > 0 )
			rec$status_code = st$status_code;

		write_rec(c, rec);
		}

	local none: vector of Info;
	st$held = none;
	}

# Is the method (with its params) an MCP method?
function is_mcp_method(c: connection, method: string, m: Message): bool
	{
	if ( method !in mcp_methods )
		return F;

	if ( method == "initialize" )
		return mhas(m, "params\x1fprotocolVersion");

	if ( method == "ping" )
		return [c$id$resp_h, c$id$resp_p] in servers
		    || c$id$resp_h in known_mcp_hosts;

	return T;
	}

# Infers the request method from the shape of a result.
function method_from_result(m: Message): string
	{
	if ( mhas(m, "result\x1fserverInfo")
	    && mhas(m, "result\x1fprotocolVersion")
	    && mhas(m, "result\x1fcapabilities") )
		return "initialize";

	if ( mhas(m, "result\x1fsupportedVersions")
	    && mhas(m, "result\x1fcapabilities") )
		return "server/discover";

	if ( mhas(m, "result\x1ftools\x1f0\x1finputSchema") )
		return "tools/list";

	return "";
	}

function remember_server(c: connection, rec: Info)
	{
	local h = c$id$resp_h;
	local pt = c$id$resp_p;

	if ( [h, pt] !in servers )
		{
		if ( |servers| >= max_tracked )
			return;

		local nsf: ServerFacts;
		servers[h, pt] = nsf;
		event MCP::server_seen(c, rec);
		}

	local sf = servers[h, pt];

	if ( rec?$server_name )
		sf$name = rec$server_name;
	else if ( sf?$name )
		rec$server_name = sf$name;

	if ( rec?$server_version )
		sf$version = rec$server_version;
	else if ( sf?$version )
		rec$server_version = sf$version;
	}

function remember_session(c: connection, rec: Info)
	{
	if ( ! rec?$session_id )
		return;

	local k = session_key(c, rec$session_id);

	if ( k !in sessions )
		{
		if ( |sessions| >= max_tracked )
			return;

		local nss: SessionFacts;
		sessions[k] = nss;
		}

	local sf = sessions[k];

	if ( rec?$protocol_version )
		sf$protocol_version = rec$protocol_version;
	else if ( sf?$protocol_version )
		rec$protocol_version = sf$protocol_version;

	if ( rec?$client_name )
		sf$client_name = rec$client_name;
	else if ( sf?$client_name )
		rec$client_name = sf$client_name;

	if ( rec?$client_version )
		sf$client_version = rec$client_version;
	else if ( sf?$client_version )
		rec$client_version = sf$client_version;
	}

# clientInfo of initialize params or of the 2026-07-28 _meta, at *keys*.
function set_client_info(rec: Info, m: Message, path: string)
	{
	local name = json_string(mget(m, json_key(path, "name")));
	local version = json_string(mget(m, json_key(path, "version")));

	if ( |name| > 0 )
		rec$client_name = cap(name, 256);

	if ( |version| > 0 )
		rec$client_version = cap(version, 128);
	}

# serverInfo of a result, at *keys*.
function set_server_info(rec: Info, m: Message, path: string)
	{
	local name = json_string(mget(m, json_key(path, "name")));
	local version = json_string(mget(m, json_key(path, "version")));

	if ( |name| > 0 )
		rec$server_name = cap(name, 256);

	if ( |version| > 0 )
		rec$server_version = cap(version, 128);
	}

# Facts found in a request's params (both eras).
function read_params(rec: Info, method: string, m: Message)
	{
	local pv = mget(m,
	    "params\x1f_meta\x1fio.modelcontextprotocol/protocolVersion");

	if ( |pv| > 0 && ! rec?$protocol_version )
		rec$protocol_version = cap(json_string(pv), 64);

	set_client_info(rec, m,
	    "params\x1f_meta\x1fio.modelcontextprotocol/clientInfo");

	if ( method == "initialize" )
		{
		pv = mget(m, "params\x1fprotocolVersion");

		if ( |pv| > 0 && ! rec?$protocol_version )
			rec$protocol_version = cap(json_string(pv), 64);

		set_client_info(rec, m, "params\x1fclientInfo");
		}

	if ( ( method == "tools/call" || method == "prompts/get" )
	    && ! rec?$mcp_name )
		{
		local name = mget(m, "params\x1fname");

		if ( |name| > 0 )
			rec$mcp_name = cap(json_string(name), 256);
		}

	if ( method == "resources/read" )
		{
		local uri = mget(m, "params\x1furi");

		if ( |uri| > 0 )
			rec$resource_uri = cap(json_string(uri), 1024);
		}
	}

function set_era(c: connection, rec: Info, st: State, ms: MsgState)
	{
	if ( rec?$protocol_version )
		{
		rec$spec_era = era_of_version(rec$protocol_version);
		return;
		}

	if ( ms?$mcp_method
	    || st$req?$mcp_method
	    || ( rec?$method && ( rec$method == "server/discover" || rec$method == "subscriptions/listen" ) ) )
		rec$spec_era = "2026-07-28";
	else if ( rec$transport == "sse" )
		rec$spec_era = "2024-11-05";
	else if ( rec?$session_id || ( rec?$method && rec$method == "initialize" ) )
		rec$spec_era = "2025";
	}

# The tools of a tools/list result: names, hash and the tools_listed event.
function read_tools(c: connection, rec: Info, m: Message, p: Pending)
	{
	local names: vector of string;
	local long_descs: vector of string;
	local defs: vector of string;
	local digests: vector of string;
	local by_name: table[string] of string;
	local i = 0;

	while ( T )
		{
		local t = "result\x1ftools\x1f" + cat(i);
		local def = mget(m, t);

		if ( |def| == 0 )
			break;

		defs += def;
		local name = json_string(mget(m, json_key(t, "name")));
		local desc = json_string(mget(m, json_key(t, "description")));
		local schema = json_canonical(mget(m, json_key(t, "inputSchema")), 16);

		if ( |name| > 0 && |names| < max_tool_names )
			names += cap(name, 128);

		if ( |desc| > long_description_bytes && |long_descs| < max_tool_names )
			long_descs += cap(name, 128);

		# What a rug pull changes: name, description and parameters.
		# Key order, whitespace and era-specific extras (title,
		# annotations, output schema, _meta) do not count.
		local digest = sha256_hash(name, "\x00", desc, "\x00", schema);
		digests += digest;

		if ( |by_name| < max_tool_digests )
			by_name[name] = digest;

		++i;
		}

	if ( i == 0 && ! mhas(m, "result\x1ftools") )
		return;

	sort(digests, strcmp);
	rec$tool_names = names;

	if ( |long_descs| > 0 )
		rec$long_descriptions = long_descs;

	rec$tools_count = i;
	rec$tools_hash = sha256_hash(join_string_vec(digests, ","));
	rec$tool_digests = by_name;

	local server = server_key(c, c$mcp_state$path);

	if ( p?$cursor )
		server = fmt("%s#%s", server, p$cursor);

	event MCP::tools_listed(c, rec, server, defs);
	}

# The log record of a message, with what the HTTP exchange says.
function new_record(c: connection, is_orig: bool, direction: string, m: Message,
    batch: bool): Info
	{
	local st = c$mcp_state;
	local rec = Info($ts=network_time(), $uid=c$uid, $id=c$id,
	    $direction=direction, $sender=is_orig ? "client" : "server",
	    $transport="streamable_http", $batch=batch);

	if ( st$legacy_stream
	    || ( |st$legacy_session| > 0 && ! st$req?$session_id && ! st$resp?$session_id ) )
		rec$transport = "sse";

	local rid = mget(m, "id");

	if ( |rid| > 0 && rid != "null" )
		rec$jsonrpc_id = cap(json_string(rid), 128);

	if ( |st$http_method| > 0 )
		rec$http_method = st$http_method;

	if ( |st$path| > 0 )
		rec$path = st$path;

	# Server messages travel in the answer, whose status is known.
	if ( ! is_orig && st$status_code > 0 )
		rec$status_code = st$status_code;

	if ( st$req?$mcp_name )
		rec$mcp_name = st$req$mcp_name;

	# Session: header of the request, or of the response that created
	# it, or the legacy query value.
	if ( st$req?$session_id )
		rec$session_id = st$req$session_id;
	else if ( st$resp?$session_id )
		rec$session_id = st$resp$session_id;
	else if ( |st$legacy_session| > 0 )
		rec$session_id = st$legacy_session;

	if ( st$req?$protocol_version )
		rec$protocol_version = st$req$protocol_version;

	rec$auth_present = st$req$auth;

	if ( st$req?$auth_scheme )
		rec$auth_scheme = st$req$auth_scheme;

	return rec;
	}

# Remembers what the message says and writes it. Client messages wait for
# the status of their HTTP answer, except when that answer has already begun
# (a client's reply inside an open stream is a POST of its own, so this is
# the normal case).
function finish_message(c: connection, is_orig: bool, rec: Info)
	{
	local st = c$mcp_state;
	remember_session(c, rec);
	remember_server(c, rec);
	set_era(c, rec, st, is_orig ? st$req : st$resp);

	if ( is_orig )
		st$held += rec;
	else
		write_rec(c, rec);
	}

# A request or notification: *method* is already known to be MCP.
function read_request(c: connection, is_orig: bool, m: Message, method: string,
    batch: bool)
	{
	local has_id = rid_of(m) != "";
	local rec = new_record(c, is_orig, has_id ? "request" : "notification", m,
	    batch);
	rec$method = method;
	read_params(rec, method, m);
	finish_message(c, is_orig, rec);

	if ( has_id && |pending| < max_pending )
		{
		local np = Pending($method=method, $auth=rec$auth_present);

		if ( rec?$auth_scheme )
			np$auth_scheme = rec$auth_scheme;

		if ( rec?$mcp_name )
			np$name = rec$mcp_name;

		if ( rec?$client_name )
			np$client_name = rec$client_name;

		if ( rec?$client_version )
			np$client_version = rec$client_version;

		if ( rec?$protocol_version )
			np$protocol_version = rec$protocol_version;

		local cursor = mget(m, "params\x1fcursor");

		if ( |cursor| > 0 )
			np$cursor = cap(json_string(cursor), 128);

		pending[c$id$orig_h, c$id$resp_h, c$id$resp_p, ( is_orig ? "c" : "s" ) +
		    rid_of(m)] = np;
		}

	if ( method == "tools/call" )
		event MCP::tool_call(c, rec, rec?$mcp_name ? rec$mcp_name : "", mget(m,
		    "params\x1farguments"));
	else if ( method == "resources/read" && rec?$resource_uri )
		event MCP::resource_read(c, rec, rec$resource_uri);
	}

# A result or error: MCP when it answers an MCP request, has an MCP result
# shape, is an SDK transport error, or comes from a server known to speak
# MCP.
function read_response(c: connection, is_orig: bool, m: Message, batch: bool)
	{
	local rid = rid_of(m);
	local is_error = mhas(m, "error");
	local p = Pending($method="");
	# A response answers a request of the other side.
	local pk = ( is_orig ? "s" : "c" ) + rid;

	if ( rid != "" && [c$id$orig_h, c$id$resp_h, c$id$resp_p, pk] in pending )
		{
		p = pending[c$id$orig_h, c$id$resp_h, c$id$resp_p, pk];
		delete pending[c$id$orig_h, c$id$resp_h, c$id$resp_p, pk];
		}
	else if ( m$cut )
		# A cut answer is MCP only as the answer to a known request.
		return;
	else if ( ! is_error )
		p$method = method_from_result(m);

	local known = [c$id$resp_h, c$id$resp_p] in servers;
	local emsg = json_string(mget(m, "error\x1fmessage"));

	if ( p$method == ""
	    && ! known
	    && ( ! is_error || sdk_error_messages !in emsg ) )
		return;

	local rec = new_record(c, is_orig, "response", m, batch);

	if ( p$method != "" )
		rec$method = p$method;
	else if ( c$mcp_state$req?$mcp_method )
		rec$method = c$mcp_state$req$mcp_method;

	# For legacy SSE answers, the credentials of the POST that carried the
	# request.
	rec$auth_present = rec$auth_present || p$auth;

	if ( ! rec?$auth_scheme && p?$auth_scheme )
		rec$auth_scheme = p$auth_scheme;

	if ( p?$name && ! rec?$mcp_name )
		rec$mcp_name = p$name;

	if ( p?$client_name )
		rec$client_name = p$client_name;

	if ( p?$client_version )
		rec$client_version = p$client_version;

	if ( p?$protocol_version && ! rec?$protocol_version )
		rec$protocol_version = p$protocol_version;

	if ( is_error )
		{
		local code = mget(m, "error\x1fcode");

		if ( /^-?[0-9]+$/ in code )
			rec$error_code = to_int(code);

		if ( |emsg| > 0 )
			rec$error_message = cap(emsg, 256);
		}
	else
		{
		if ( p$method == "initialize" )
			{
			set_server_info(rec, m, "result\x1fserverInfo");
			local pv = mget(m, "result\x1fprotocolVersion");

			if ( |pv| > 0 )
				rec$protocol_version = cap(json_string(pv), 64);
			}
		else if ( p$method == "server/discover" )
			set_server_info(rec, m, "result\x1fserverInfo");
		else if ( p$method == "tools/list" && ! m$cut )
			read_tools(c, rec, m, p);

		# 2026-07-28 servers name themselves in the _meta of every
		# result.
		if ( ! rec?$server_name )
			set_server_info(rec, m, "result\x1f_meta\x1fio.modelcontextprotocol/serverInfo");
		}

	finish_message(c, is_orig, rec);
	}

# One JSON-RPC message (an object, or one element of a batch).
function read_message(c: connection, is_orig: bool, m: Message, batch: bool)
	{
	if ( ! mhas(m, "jsonrpc") )
		return;

	local raw_method = mget(m, "method");

	if ( |raw_method| > 0 )
		{
		local method = json_string(raw_method);

		if ( is_mcp_method(c, method, m) )
			read_request(c, is_orig, m, method, batch);
		}
	else if ( mhas(m, "result")
	    || mhas(m, "error")
	    || ( m$cut && rid_of(m) != "" ) )
		read_response(c, is_orig, m, batch);
	}

# Whether the walk gave something to read: JSON, complete or cut (by the
# body limit, or a peer that stopped mid-body; marked on the message).
function parsed(m: Message): bool
	{
	local status = m$doc[json_status];
	m$cut = status == "cut";
	return status != "bad";
	}

# A JSON text: one message or a batch. The text is walked once; every later
# lookup reads the table that walk built. Text that is not JSON gives no
# message.
function read_json(c: connection, is_orig: bool, text: string)
	{
	# Cheap filters before any parsing: JSON-RPC names its version, and
	# MCP text holds an MCP marker unless its server is known to speak MCP
	# (whose answers to MCP requests need no marker).
	if ( strstr(text, "\"jsonrpc\"") == 0 )
		return;

	if ( [c$id$resp_h, c$id$resp_p] !in servers
	    && c$id$resp_h !in known_mcp_hosts
	    && mcp_text !in text )
		return;

	if ( /^[ \t\r\n]*\[/ in text )
		{
		local batch = Message($doc=json_parse(text, max_message_depth + 1));

		if ( ! parsed(batch) )
			return;

		local i = 0;

		while ( cat(i) in batch$doc )
			{
			read_message(c, is_orig, Message($doc=batch$doc, $base=cat(i),
			    $cut=batch$cut), T);
			++i;
			}
		}
	else
		{
		local m = Message($doc=json_parse(text, max_message_depth));

		if ( parsed(m) )
			read_message(c, is_orig, m, F);
		}
	}

# The endpoint event of the legacy transport: "data: /messages/?session_id=..".
function read_endpoint(c: connection, data: string)
	{
	local st = c$mcp_state;
	st$legacy_stream = T;
	local sid = query_session(data);

	if ( |sid| > 0 )
		st$legacy_session = sid;
	}

# One SSE event (lines up to a blank line).
function read_sse_event(c: connection, is_orig: bool, block: string)
	{
	local m = is_orig ? c$mcp_state$req : c$mcp_state$resp;
	local lines = split_string(block, line_break);
	local ev = "";
	local data = "";
	local have_data = F;

	for ( i in lines )
		{
		local line = lines[i];

		if ( /^data:/ in line )
			{
			local d = sub(line, /^data: ?/, "");
			data = have_data ? data + "\n" + d : d;
			have_data = T;
			}
		else if ( /^event:/ in line )
			ev = strip(sub(line, /^event: ?/, ""));
		}

	++m$sse_events;

	if ( ev == "endpoint" && have_data )
		{
		m$sse_useful = T;
		read_endpoint(c, data);
		return;
		}

	if ( have_data && strstr(data, "\"jsonrpc\"") > 0 )
		{
		m$sse_useful = T;
		read_json(c, is_orig, data);
		}
	}

function feed_sse(c: connection, is_orig: bool, data: string)
	{
	local m = is_orig ? c$mcp_state$req : c$mcp_state$resp;
	local chunk = data;

	if ( m$overflow )
		{
		# Skip the rest of an oversized event.
		local skip = split_string1(chunk, sse_boundary);

		if ( |skip| < 2 )
			return;

		m$overflow = F;
		chunk = skip[1];
		}

	m$buf = m$buf + chunk;

	while ( m$kind == BODY_SSE )
		{
		local parts = split_string1(m$buf, sse_boundary);

		if ( |parts| < 2 )
			break;

		m$buf = parts[1];
		read_sse_event(c, is_orig, parts[0]);

		if ( ! m$sse_useful && m$sse_events >= sse_probe_events )
			{
			# Not an MCP stream: stop buffering it.
			m$kind = BODY_NONE;
			m$buf = "";
			}
		}

	if ( |m$buf| > max_body_bytes )
		{
		m$buf = "";
		m$overflow = T;
		}
	}

event http_request(c: connection, method: string, original_URI: string,
    unescaped_URI: string, version: string)
	{
	if ( ignored(c) )
		return;

	local st = get_state(c);

	if ( method == "GET" && oauth_metadata_path in original_URI )
		event MCP::oauth_discovery(c, "protected-resource metadata requested");

	# A request whose answer never came.
	if ( |st$held| > 0 )
		flush_held(c);

	st$req = new_msg_state();
	st$resp = new_msg_state();
	st$status_code = 0;
	st$http_method = method;
	local q = strstr(original_URI, "?");
	st$path = cap(q == 0 ? original_URI : sub_bytes(original_URI, 1, q - 1), 512);
	local sid = query_session(original_URI);

	# A GET stream of the legacy transport keeps the session its endpoint
	# event announced.
	if ( |sid| > 0 )
		st$legacy_session = sid;
	else if ( ! st$legacy_stream )
		st$legacy_session = "";
	}

event http_reply(c: connection, version: string, code: count, reason: string)
	{
	if ( ! c?$mcp_state )
		return;

	local st = c$mcp_state;

	if ( code >= 100 && code < 200 )
		return;

	st$resp = new_msg_state();
	st$status_code = code;

	if ( |st$held| > 0 )
		flush_held(c);
	}

event http_header(c: connection, is_orig: bool, original_name: string,
    name: string, value: string)
	{
	if ( ! c?$mcp_state )
		return;

	local m = is_orig ? c$mcp_state$req : c$mcp_state$resp;

	# Headers of nested MIME parts are not ours.
	if ( m$in_body )
		return;

	# One hash lookup per header: most headers are none of these.
	switch ( name )
		{
		case "CONTENT-TYPE":
			m$content_type = to_lower(value);
			break;
		case "MCP-METHOD":
			m$mcp_method = cap(value, 128);
			break;
		case "MCP-NAME":
			m$mcp_name = cap(value, 256);
			break;
		case "MCP-SESSION-ID":
			m$session_id = cap(value, 256);
			break;
		case "MCP-PROTOCOL-VERSION":
			m$protocol_version = cap(value, 64);
			break;
		case "AUTHORIZATION":
			if ( is_orig )
				{
				m$auth = T;
				m$auth_scheme = cap(split_string1(strip(value), / /)[0], 32);
				}
			break;
		case "X-API-KEY":
			# A static key instead of OAuth: still a credential.
			if ( is_orig )
				{
				m$auth = T;
				m$auth_scheme = "X-API-Key";
				}
			break;
		case "WWW-AUTHENTICATE":
			if ( ! is_orig
			    && c$mcp_state$status_code == 401
			    && oauth_challenge_pattern in value )
				event MCP::oauth_discovery(c, "401 challenge names resource_metadata");
			break;
		}
	}

# Bodies come through the file analysis framework, which carries every HTTP
# body anyway: a data-event analyzer is attached only to JSON and SSE bodies,
# so other bodies (pages, downloads) cost no script event per chunk, as
# http_entity_data would (callgrind on the ordinary mix of bench/zeek_cost.py:
# 2,273 -> 2,214 million instructions for 20,000 packets).
event file_over_new_connection(f: fa_file, c: connection, is_orig: bool)
	{
	if ( ! c?$mcp_state || ! f?$source || f$source != "HTTP" )
		return;

	local m = is_orig ? c$mcp_state$req : c$mcp_state$resp;

	# The first file of a message is its body (or its first MIME part):
	# later headers belong to nested parts.
	if ( m$in_body )
		return;

	m$in_body = T;

	if ( /event-stream/ in m$content_type )
		m$kind = BODY_SSE;
	else if ( /json/ in m$content_type )
		m$kind = BODY_JSON;
	else
		return;

	Files::add_analyzer(f, Files::ANALYZER_DATA_EVENT, [
	    $stream_event=MCP::body_data]);
	}

event MCP::body_data(f: fa_file, data: string)
	{
	# An empty chunk marks the end of the file.
	if ( |data| == 0 || ! f?$is_orig )
		return;

	for ( _, c in f$conns )
		{
		if ( ! c?$mcp_state )
			next;

		local m = f$is_orig ? c$mcp_state$req : c$mcp_state$resp;

		if ( m$kind == BODY_JSON )
			{
			# Chunks are joined once at the end: appending to one
			# string would copy the body again with every chunk.
			if ( m$buffered >= max_body_bytes )
				return;

			m$chunks += data;
			m$buffered += |data|;
			}
		else if ( m$kind == BODY_SSE )
			feed_sse(c, f$is_orig, data);
		}
	}

event http_message_done(c: connection, is_orig: bool, stat: http_message_stat)
	{
	if ( ! c?$mcp_state )
		return;

	local m = is_orig ? c$mcp_state$req : c$mcp_state$resp;

	# Most bodies were never ours.
	if ( m$kind == BODY_NONE )
		return;

	if ( m$kind == BODY_JSON && m$buffered > 0 )
		{
		local text = join_string_vec(m$chunks, "");
		read_json(c, is_orig, m$buffered > max_body_bytes ? sub_bytes(text, 1,
		    max_body_bytes) : text);
		}
	else if ( m$kind == BODY_SSE && |m$buf| > 0 && ! m$overflow )
		read_sse_event(c, is_orig, m$buf);

	m$kind = BODY_NONE;
	m$buf = "";
	m$chunks = vector();
	m$buffered = 0;
	}

# Requests whose answer never came are written when the connection goes.
hook finalize_mcp(c: connection)
	{
	if ( c?$mcp_state && |c$mcp_state$held| > 0 )
		flush_held(c);
	}
