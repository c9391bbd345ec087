##! Small JSON helpers for the MCP scripts.
##!
##! :zeek:see:`MCP::json_parse` walks a JSON text once and returns the raw text
##! of every value down to a given depth, keyed by its path, so a message is
##! taken apart in one pass and every later lookup is a table access. The
##! other helpers are built on it. They only use string built-in functions
##! that exist in every Zeek release from 6.0 LTS on, need no target type, and
##! tolerate truncated or garbled input: values that ended before the cut are
##! returned, nothing is reported. (Zeek's ``from_json`` needs one fixed target
##! type, raises a reporter error on every truncated or mistyped body, and
##! cannot return raw sub-texts; see zeek/README.md for the measurement.)
##! Callers only hand them bodies that are already bounded by
##! :zeek:see:`MCP::max_body_bytes`.

module MCP;

export {
	## Separates the members of a path in the table of
	## :zeek:see:`MCP::json_parse` (a byte that raw JSON text cannot hold).
	const json_sep = "\x1f";

	## Key of the parse status in a :zeek:see:`MCP::json_parse` table:
	## ``ok`` (one complete JSON value), ``cut`` (the text ended inside
	## it) or ``bad`` (not JSON: the walk stopped at the first token out of
	## place; what was recorded before it stays).
	const json_status = "\x1e";

	## Walks the JSON object or array in *s* once and returns the raw text
	## (stripped of surrounding whitespace; strings keep their quotes) of
	## every value nested at most *max_depth* levels deep, keyed by its path:
	## member names and array indexes joined by :zeek:see:`MCP::json_sep`.
	## Array elements are numbered from 0; the elements of a cut array end
	## at the first missing index. The outermost value itself is not
	## stored. A member name that occurs twice keeps its last value.
	global json_parse: function(s: string, max_depth: count): table[string] of
	    string;

	## The path of *key* below *parent* in a :zeek:see:`MCP::json_parse`
	## table.
	global json_key: function(parent: string, key: string): string;

	## Returns the members of the JSON object in *s* as name -> raw value.
	## Returns an empty table if *s* holds no object.
	global json_object: function(s: string): table[string] of string;

	## Returns the raw elements of the JSON array in *s*.
	global json_array: function(s: string): vector of string;

	## Follows *keys* through nested JSON objects starting at *s* and
	## returns the raw text found there, or the empty string.
	global json_path: function(s: string, keys: vector of string): string;

	## Returns the raw JSON value *s* with object members sorted by name and
	## the whitespace between tokens removed, so that two serialisations of
	## the same value compare equal. Values nested deeper than *depth*
	## levels are kept as they are.
	global json_canonical: function(s: string, depth: count): string;

	## Returns the text of a raw JSON string value without its quotes and
	## with the common escapes decoded; any other raw value is returned as
	## it is.
	global json_string: function(raw: string): string;

	## Decodes the JSON escapes that matter for pattern matching (quotes,
	## backslashes, slashes, control characters and the HTML-safe \\u
	## escapes of ``<``, ``>``, ``&`` and ``'``).
	global json_unescape: function(s: string): string;
}

# The tokens that structure JSON text: a whole string literal (escapes
# included) or one of the structural characters. Everything between two of
# them is a scalar or white space, so the walker visits one token per string
# instead of one per quote and escape.
# White space only (or nothing).
const json_space = /^[ \t\r\n]*$/;

function json_bad(doc: table[string] of string): table[string] of string
	{
	doc[json_status] = "bad";
	return doc;
	}

const json_token = /\"([^\"\\]|\\.)*\"|[\{\}\[\],:]/;

# An open object or array whose members are recorded.
type JsonFrame: record {
	path: string;
	is_obj: bool;
	# Objects: the next string is a member name.
	expect_key: bool;
	# A value has begun since the last separator.
	have_val: bool;
	# Byte offset (0-based) where the current value begins.
	val_start: count;
	# Raw name of the current member (objects).
	key: string &default="";
	# Index of the current element (arrays).
	n: count &default=0;
};

function json_key(parent: string, key: string): string
	{
	return |parent| == 0 ? key : parent + json_sep + key;
	}

function new_frame(path: string, is_obj: bool, start: count): JsonFrame
	{
	return JsonFrame($path=path, $is_obj=is_obj, $expect_key=is_obj,
	    $have_val=! is_obj, $val_start=start);
	}

function json_parse(s: string, max_depth: count): table[string] of string
	{
	local doc: table[string] of string;
	local parts = split_string_all(s, json_token);
	local stack: vector of JsonFrame;
	# Containers open below the recorded frames.
	local deep = 0;
	# Whether the last token (or scalar) ended a value; else a value may
	# begin (at the start, after "{", "[", ":" or ",").
	local after_value = F;
	# Byte offset (0-based) of the current part inside s.
	local pos = 0;
	local i = 0;

	doc[json_status] = "cut";

	if ( max_depth == 0 )
		return doc;

	while ( i < |parts| )
		{
		local p = parts[i];

		if ( i % 2 == 0 )
			{
			# Between tokens: white space, or a scalar where a value may
			# begin.
			if ( |p| > 0 && json_space !in p )
				{
				if ( after_value )
					return json_bad(doc);

				after_value = T;
				}
			}
		else if ( |p| > 1 )
			{
			# A string literal: a member name or a value.
			if ( after_value )
				return json_bad(doc);

			after_value = T;

			if ( deep == 0 && |stack| > 0 && stack[|stack| - 1]$expect_key )
				stack[|stack| - 1]$key = sub_bytes(p, 2, |p| - 2);
			}
		else
			{
			# One structural character: one hash lookup, not a chain of
			# string comparisons.
			switch ( p )
				{
				case "{", "[":
					if ( after_value )
						return json_bad(doc);

					if ( deep > 0 || |stack| >= max_depth )
						++deep;
					else if ( |stack| == 0 )
						stack += new_frame("", p == "{", pos + 1);
					else
						{
						local top = stack[|stack| - 1];
						local child = top$is_obj ? top$key : cat(top$n);
						stack += new_frame(|top$path| == 0 ? child : top$path + json_sep + child, p ==
						    "{", pos + 1);
						}
					break;
				case ":":
					if ( ! after_value )
						return json_bad(doc);

					after_value = F;

					if ( deep == 0 && |stack| > 0 )
						{
						local kf = stack[|stack| - 1];

						if ( kf$is_obj && kf$expect_key )
							{
							kf$expect_key = F;
							kf$have_val = T;
							kf$val_start = pos + 1;
							}
						}
					break;
				case ",", "}", "]":
					local closing = p != ",";

					if ( ! closing && ! after_value )
						return json_bad(doc);

					after_value = closing;

					if ( deep > 0 )
						{
						if ( closing )
							--deep;
						break;
						}

					if ( |stack| == 0 )
						return json_bad(doc);

					local f = stack[|stack| - 1];

					# The value that ends here.
					if ( f$have_val && pos > f$val_start )
						{
						local v = strip(sub_bytes(s, f$val_start + 1, pos - f$val_start));

						if ( |v| > 0 )
							{
							if ( ! f$is_obj )
								{
								doc[|f$path| == 0 ? cat(f$n) : f$path + json_sep + cat(f$n)] = v;
								++f$n;
								}
							else if ( |f$key| > 0 )
								doc[|f$path| == 0 ? f$key : f$path + json_sep + f$key] = v;
							}
						}

					if ( ! closing )
						{
						f$key = "";
						f$expect_key = f$is_obj;
						f$have_val = ! f$is_obj;
						f$val_start = pos + 1;
						}
					else if ( |stack| == 1 )
						{
						# The outermost value is complete: only white
						# space may follow.
						if ( json_space !in sub_bytes(s, pos + 2, |s|) )
							return json_bad(doc);

						doc[json_status] = "ok";
						return doc;
						}
					else
						resize(stack, |stack| - 1);
					break;
				}
			}

		pos += |p|;
		++i;
		}

	return doc;
	}

function json_object(s: string): table[string] of string
	{
	if ( /^[ \t\r\n]*\{/ !in s )
		{
		local none: table[string] of string;
		return none;
		}

	local doc = json_parse(s, 1);
	delete doc[json_status];
	return doc;
	}

function json_array(s: string): vector of string
	{
	local res: vector of string;

	if ( /^[ \t\r\n]*\[/ !in s )
		return res;

	local doc = json_parse(s, 1);
	local i = 0;

	while ( cat(i) in doc )
		{
		res += doc[cat(i)];
		++i;
		}

	return res;
	}

function json_path(s: string, keys: vector of string): string
	{
	local cur = s;

	for ( i in keys )
		{
		local obj = json_object(cur);

		if ( keys[i] !in obj )
			return "";

		cur = obj[keys[i]];
		}

	return cur;
	}

function json_unescape(s: string): string
	{
	if ( strstr(s, "\\") == 0 )
		return s;

	# Park escaped backslashes first so that "\\n" stays a backslash
	# followed by "n".
	local r = gsub(s, /\\\\/, "\x00");
	r = gsub(r, /\\\"/, "\"");
	r = gsub(r, /\\\//, "/");
	r = gsub(r, /\\n/, "\n");
	r = gsub(r, /\\r/, "\r");
	r = gsub(r, /\\t/, "\t");
	r = gsub(r, /\\u003[cC]/, "<");
	r = gsub(r, /\\u003[eE]/, ">");
	r = gsub(r, /\\u0026/, "&");
	r = gsub(r, /\\u0027/, "'");
	return gsub(r, /\x00/, "\\");
	}

function json_string(raw: string): string
	{
	if ( |raw| >= 2
	    && sub_bytes(raw, 1, 1) == "\""
	    && sub_bytes(raw, |raw|, 1) == "\"" )
		return json_unescape(sub_bytes(raw, 2, |raw| - 2));

	return raw;
	}

# The canonical text of the value *raw* at *path* of a json_parse table, whose
# object member names are listed by parent path in *names*.
function json_canonical_at(doc: table[string] of string, names: table[string] of
    vector of string, path: string, raw: string, depth: count): string
	{
	if ( depth == 0 )
		return raw;

	local out: vector of string;
	local first = sub_bytes(raw, 1, 1);

	if ( first == "{" )
		{
		if ( path in names )
			{
			local keys = names[path];
			sort(keys, strcmp);

			for ( _, k in keys )
				{
				local kp = json_key(path, k);
				out += "\"" + k + "\":" + json_canonical_at(doc, names, kp, doc[kp], depth - 1);
				}
			}

		return "{" + join_string_vec(out, ",") + "}";
		}

	if ( first == "[" )
		{
		local i = 0;

		while ( json_key(path, cat(i)) in doc )
			{
			local ip = json_key(path, cat(i));
			out += json_canonical_at(doc, names, ip, doc[ip], depth - 1);
			++i;
			}

		return "[" + join_string_vec(out, ",") + "]";
		}

	return raw;
	}

function json_canonical(s: string, depth: count): string
	{
	local v = strip(s);
	local first = sub_bytes(v, 1, 1);

	if ( depth == 0 || ( first != "{" && first != "[" ) )
		return v;

	# One walk of the whole value; then the member names of each object,
	# by the path of the object.
	local doc = json_parse(v, depth);
	local names: table[string] of vector of string;

	for ( k, _ in doc )
		{
		if ( k == json_status )
			next;

		local parts = split_string(k, /\x1f/);
		local name = parts[|parts| - 1];
		local parent = |parts| == 1 ? "" : sub_bytes(k, 1, |k| - |name| - 1);

		if ( parent !in names )
			names[parent] = vector();

		names[parent] += name;
		}

	return json_canonical_at(doc, names, "", v, depth);
	}
