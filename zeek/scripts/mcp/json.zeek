##! Small JSON helpers for the MCP scripts.
##!
##! These helpers take one level of a JSON text apart at a time: an object
##! becomes a table of member name to raw member text, an array a vector of raw
##! element texts. They only use string built-in functions that exist in every
##! Zeek release from 6.0 LTS on, need no target type, and tolerate truncated
##! input (members that ended before the cut are returned). Callers only hand
##! them bodies that are already bounded by :zeek:see:`MCP::max_body_bytes`.

module MCP;

export {
	## One member of a JSON object (*key* set) or one element of a JSON
	## array (*key* empty). *value* is the raw JSON text of the value,
	## stripped of surrounding whitespace (strings keep their quotes).
	type JsonItem: record {
		key: string;
		value: string;
	};

	## Splits the outermost JSON object or array in *s* into its members or
	## elements.
	global json_items: function(s: string): vector of JsonItem;

	## Returns the members of the JSON object in *s* as name -> raw value.
	## A name that occurs twice keeps its last value, as most JSON readers
	## do. Returns an empty table if *s* holds no object.
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

# The characters that structure JSON text. Everything between two of them is
# either string content or a scalar, so the scanner walks these tokens instead
# of single bytes.
const json_structural = /[\"\\\{\}\[\],:]/;

function json_items(s: string): vector of JsonItem
	{
	local res: vector of JsonItem;
	local parts = split_string_all(s, json_structural);
	local depth = 0;
	local in_str = F;
	local esc = F;
	local is_obj = F;
	local expect_key = F;
	local have_val = F;
	local key = "";
	local key_start = 0;
	local val_start = 0;
	# Byte offset (0-based) of the current part inside s.
	local pos = 0;
	local i = 0;

	while ( i < |parts| )
		{
		local p = parts[i];

		if ( i % 2 == 0 )
			{
			# Text between structural characters: an escaped character
			# at its start has been consumed.
			if ( esc && |p| > 0 )
				esc = F;
			}
		else if ( in_str )
			{
			if ( esc )
				esc = F;
			else if ( p == "\\" )
				esc = T;
			else if ( p == "\"" )
				{
				in_str = F;

				if ( depth == 1 && is_obj && expect_key )
					key = sub_bytes(s, key_start + 1, pos - key_start);
				}
			}
		else if ( p == "\"" )
			{
			in_str = T;

			if ( depth == 1 && is_obj && expect_key )
				key_start = pos + 1;
			}
		else if ( p == "{" || p == "[" )
			{
			++depth;

			if ( depth == 1 )
				{
				is_obj = p == "{";
				expect_key = is_obj;
				have_val = ! is_obj;
				val_start = pos + 1;
				}
			}
		else if ( p == "}" || p == "]" )
			{
			if ( depth == 1 )
				{
				if ( have_val && pos > val_start )
					{
					local last = strip(sub_bytes(s, val_start + 1, pos - val_start));

					if ( |last| > 0 && ( ! is_obj || |key| > 0 ) )
						res[|res|] = JsonItem($key=key, $value=last);
					}

				return res;
				}

			if ( depth > 0 )
				--depth;
			}
		else if ( depth == 1 )
			{
			if ( p == ":" && is_obj && expect_key )
				{
				expect_key = F;
				have_val = T;
				val_start = pos + 1;
				}
			else if ( p == "," )
				{
				if ( have_val && pos > val_start )
					{
					local v = strip(sub_bytes(s, val_start + 1, pos - val_start));

					if ( |v| > 0 && ( ! is_obj || |key| > 0 ) )
						res[|res|] = JsonItem($key=key, $value=v);
					}

				key = "";
				expect_key = is_obj;
				have_val = ! is_obj;
				val_start = pos + 1;
				}
			}

		pos += |p|;
		++i;
		}

	return res;
	}

function json_object(s: string): table[string] of string
	{
	local res: table[string] of string;

	if ( /^[ \t\r\n]*\{/ !in s )
		return res;

	local items = json_items(s);

	for ( i in items )
		res[items[i]$key] = items[i]$value;

	return res;
	}

function json_array(s: string): vector of string
	{
	local res: vector of string;

	if ( /^[ \t\r\n]*\[/ !in s )
		return res;

	local items = json_items(s);

	for ( i in items )
		res[|res|] = items[i]$value;

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

function json_canonical(s: string, depth: count): string
	{
	local v = strip(s);

	if ( depth == 0 )
		return v;

	if ( /^\{/ in v )
		{
		local obj = json_object(v);
		local keys: vector of string;

		for ( k in obj )
			keys[|keys|] = k;

		sort(keys, strcmp);
		local members: vector of string;

		for ( i in keys )
			members[|members|] = "\"" + keys[i] + "\":" + json_canonical(obj[keys[i]],
			    depth - 1);

		return "{" + join_string_vec(members, ",") + "}";
		}

	if ( /^\[/ in v )
		{
		local elems = json_array(v);
		local out: vector of string;

		for ( j in elems )
			out[|out|] = json_canonical(elems[j], depth - 1);

		return "[" + join_string_vec(out, ",") + "]";
		}

	return v;
	}
