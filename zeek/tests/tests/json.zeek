# @TEST-DOC: The JSON helpers split objects and arrays, keep escapes inside strings and decode strings.
# @TEST-EXEC: zeek -b $PACKAGE/mcp/json.zeek %INPUT >output 2>&1
# @TEST-EXEC: ! grep FAIL output
# @TEST-EXEC: grep -qx 'ALL PASS' output

global failures = 0;

function check(what: string, got: string, want: string)
	{
	if ( got != want )
		{
		print fmt("FAIL %s: got '%s', want '%s'", what, got, want);
		++failures;
		}
	}

event zeek_init()
	{
	local msg = "{\"method\":\"tools/call\",\"params\":{\"name\":\"read_file\",\"arguments\":{\"path\":\"~/.ssh/id_rsa\"}},\"jsonrpc\":\"2.0\",\"id\":2}";
	local o = MCP::json_object(msg);
	check("member count", cat(|o|), "4");
	check("method", MCP::json_string(o["method"]), "tools/call");
	check("id", o["id"], "2");
	check("jsonrpc", MCP::json_string(o["jsonrpc"]), "2.0");
	check("nested", MCP::json_string(MCP::json_path(msg, vector("params",
	    "arguments", "path"))), "~/.ssh/id_rsa");
	check("missing", MCP::json_path(msg, vector("params", "nope")), "");

	# Structural characters and escapes inside strings do not split.
	local tricky = "{\"a\":\"x\\\"y,}{][:\",\"b\":[1,\"\\\\\",{\"c\":\"\\\\\"}],\"d\":\"line\\nnext\"}";
	local t = MCP::json_object(tricky);
	check("tricky count", cat(|t|), "3");
	check("tricky a", MCP::json_string(t["a"]), "x\"y,}{][:");
	check("tricky b", t["b"], "[1,\"\\\\\",{\"c\":\"\\\\\"}]");
	check("tricky d", MCP::json_string(t["d"]), "line\nnext");

	local arr = MCP::json_array(t["b"]);
	check("array count", cat(|arr|), "3");
	check("array 0", arr[0], "1");
	check("array 1", MCP::json_string(arr[1]), "\\");
	check("array 2", MCP::json_string(MCP::json_path(arr[2], vector("c"))), "\\");

	# A batch and whitespace.
	local batch = MCP::json_array(" [ {\"jsonrpc\": \"2.0\", \"id\": 1} , {\"jsonrpc\":\"2.0\",\"id\":\"x\"} ] ");
	check("batch count", cat(|batch|), "2");
	check("batch 1 id", MCP::json_string(MCP::json_path(batch[1], vector("id"))),
	    "x");

	# A truncated body still yields the members that ended.
	local cut = MCP::json_object("{\"jsonrpc\":\"2.0\",\"method\":\"tools/list\",\"params\":{\"cursor\":\"ab");
	check("truncated method", MCP::json_string(cut["method"]), "tools/list");
	check("truncated params", cat("params" in cut), "F");

	# Not JSON at all.
	check("not an object", cat(|MCP::json_object("hello")|), "0");
	check("not an array", cat(|MCP::json_array("{}")|), "0");

	# HTML-safe escapes are decoded for pattern matching.
	check("unescape", MCP::json_unescape(
	    "\\u003cIMPORTANT\\u003e \\/etc\\/shadow"),
	    "<IMPORTANT> /etc/shadow");

	# Canonical form: sorted members, no whitespace between tokens.
	check("canonical", MCP::json_canonical(
	    "{ \"b\": [1, {\"y\":2, \"x\":1}], \"a\": \"s p\" }", 16),
	    "{\"a\":\"s p\",\"b\":[1,{\"x\":1,\"y\":2}]}");
	check("canonical depth", MCP::json_canonical("{\"b\":{\"y\":2,\"x\":1}}", 1),
	    "{\"b\":{\"y\":2,\"x\":1}}");

	if ( failures == 0 )
		print "ALL PASS";
	}
