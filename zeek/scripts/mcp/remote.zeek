##! Public remote MCP services (mcp.notion.com, api.githubcopilot.com/mcp ...)
##! through the Intel framework: the catalogue detections/remote/endpoints.yaml
##! becomes Intel::DOMAIN items for hosts dedicated to MCP and Intel::URL items
##! (host + path) for the MCP paths of shared hosts, seen in DNS requests, TLS
##! SNI, server certificates (CN and SAN, before TLS 1.3 encrypts them; not
##! when the client's SNI asked for another name), HTTP Host headers (proxy
##! CONNECT included) and HTTP URLs. A hit on one of these items goes to
##! ``mcp_remote.log`` instead of ``intel.log``, so a SOC's threat-intel
##! pipeline never mistakes a sanctioned SaaS for an indicator of compromise,
##! and MCP use is counted apart. Zeek 7 computes no JA3/JA4 itself: a site
##! running a JA4 package has it in ssl.log under the same uid.

@load base/frameworks/intel
@load frameworks/intel/seen/dns
@load frameworks/intel/seen/ssl
@load frameworks/intel/seen/x509
@load frameworks/intel/seen/http-headers
@load frameworks/intel/seen/http-url

module MCP;

export {
	redef enum Log::ID += { REMOTE_LOG };

	## A default logging policy hook for ``mcp_remote.log``.
	global log_policy_remote: Log::PolicyHook;

	## ``meta.source`` of the Intel items this script inserts. An Intel
	## file a site loads with this source (``mcpeeker catalogue update
	## --sensors``) is treated the same way; ``meta.desc`` starts with
	## the service id.
	const remote_intel_source = "mcpeeker-remote-mcp" &redef;

	## One line per sighting of a remote MCP service.
	type RemoteInfo: record {
		ts: time &log;
		uid: string &log &optional;
		id: conn_id &log &optional;
		## The catalogue's service id.
		service: string &log;
		## The indicator that matched: a host name or host + path.
		indicator: string &log;
		## How it was seen: dns, tls_sni, certificate, http_host or url.
		seen: string &log;
		## Where in Zeek (``DNS::IN_REQUEST``, ``SSL::IN_SERVER_NAME`` ...).
		where: string &log;
		## True for a host dedicated to MCP, false for a URL on a shared
		## host.
		dedicated: bool &log;
	};
}

@load ./remote-endpoints

const seen_kinds: table[string] of string = {
	["DNS::IN_REQUEST"] = "dns",
	["SSL::IN_SERVER_NAME"] = "tls_sni",
	["X509::IN_CERT"] = "certificate",
	["HTTP::IN_HOST_HEADER"] = "http_host",
	["HTTP::IN_URL"] = "url",
};

event zeek_init() &priority=5
	{
	Log::create_stream(MCP::REMOTE_LOG, Log::Stream($columns=RemoteInfo,
	    $path="mcp_remote", $policy=log_policy_remote));
	# Inserted here rather than read from a file: the Input framework reads
	# asynchronously, so a short pcap could end before an Intel file loads.
	for ( host, spec in remote_endpoints )
		{
		# "<service> dedicated|shared <path> ...": a dedicated host is an
		# Intel::DOMAIN, a shared one only host + path (Intel::URL).
		local parts = split_string(spec, / /);
		local meta = Intel::MetaData($source=remote_intel_source, $desc=parts[0]);
		if ( parts[1] == "dedicated" )
			Intel::insert([$indicator=host, $indicator_type=Intel::DOMAIN, $meta=meta]);
		else
			for ( i in parts )
				if ( i >= 2 )
					Intel::insert([$indicator=host + parts[i], $indicator_type=Intel::URL,
					    $meta=meta]);
		}
	}

# After the framework's own handler (priority 5) filled in uid and id.
hook Intel::extend_match(info: Intel::Info, s: Intel::Seen, items: set[
    Intel::Item]) &priority=-5
	{
	local others = 0;
	for ( item in items )
		{
		if ( item$meta$source != remote_intel_source )
			{
			++others;
			next;
			}
		# A certificate often names several hosts (a vendor's or a CDN's
		# multi-name certificate): when the client asked for another name
		# (SNI), the certificate merely also covers the MCP host. Without
		# SNI (a client connecting by address) it is the only name there is.
		if ( s$where == X509::IN_CERT
		    && s?$conn
		    && s$conn?$ssl
		    && s$conn$ssl?$server_name
		    && to_lower(s$conn$ssl$server_name) != to_lower(item$indicator) )
			next;
		local where = cat(s$where);
		local rec = RemoteInfo($ts=info$ts, $service=split_string1(item$meta$desc,
		    / /)[0], $indicator=item$indicator,
		    $seen=where in seen_kinds ? seen_kinds[where] : "other",
		    $where=where,
		    $dedicated=item$indicator_type == Intel::DOMAIN);
		if ( info?$uid )
			rec$uid = info$uid;
		if ( info?$id )
			rec$id = info$id;
		Log::write(MCP::REMOTE_LOG, rec);
		}
	# Only MCP catalogue items matched: not threat intel, keep it out of
	# intel.log.
	if ( others == 0 )
		break;
	}
