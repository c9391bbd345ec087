"""Editors that wrap (and unwrap) stdio server entries in a client config without touching anything else.

One editor per kind of file, all behind the same three calls (definitions, wrap/unwrap, dump):

- plain JSON: parsed with `json`, written back in the original's indentation (`render`);
- JSON with comments or trailing commas (Cursor, Zed, VS Code): json-five's model gives every value's exact
  character span; the new text is the old one with only the `command` value replaced and the tap's arguments
  inserted right after the `[` of `args`, so comments (inside `args` too), commas, line endings and layout stay;
- TOML (Codex) through tomlkit and YAML (Goose, Continue) through ruamel.yaml's round-trip mode, both of which
  keep comments, key order and layout; a YAML file that ruamel.yaml cannot dump back unchanged is not rewritten.

The libraries are imported when a file needs them: a missing one makes that file `Unsupported` with the
package to install, never a crash.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from . import jsonc
from .servers import iter_definitions

BOM = "\ufeff"


class Unsupported(Exception):
    """This file cannot be rewritten safely (syntax the editor cannot keep, or a library is missing)."""


@dataclass(frozen=True)
class Plan:
    """How one definition is wrapped: `target[key]` holds the command (Zed's nested form: command.path)."""

    key: str
    command: str
    leading: list[str]  # the tap's arguments, ending with the original command
    has_args: bool


def command_target(definition: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The mapping and key holding a stdio server's command: `command`, Goose's `cmd`, or Zed's older
    {"command": {"path", "args"}} (the same keys the scanner reads, servers.command_and_args)."""
    for key in ("command", "cmd"):
        value = definition.get(key)
        if isinstance(value, str):
            return definition, key
        if key == "command" and isinstance(value, dict) and isinstance(value.get("path"), str):
            return value, "path"
    return None


def is_wrapped(definition: dict[str, Any]) -> bool:
    found = command_target(definition)
    args = (found[0] if found else definition).get("args")
    return isinstance(args, list) and "tap" in args and "--" in args and args.index("tap") < args.index("--")


def plan_wrap(definition: dict[str, Any], client: str, name: str, prefix: list[str]) -> Plan | None:
    found = command_target(definition)
    if found is None or definition.get("url") or is_wrapped(definition):
        return None
    target, key = found
    command = target[key]
    args = target.get("args", [])
    if not command or not isinstance(args, list):
        return None
    original = [str(command)]
    if not args and " " in str(command).strip():
        # "npx -y pkg" in one string: the tap must run the program and its arguments as the scanner reads them
        try:
            original = shlex.split(str(command))
        except ValueError:
            return None
    leading = [*prefix[1:], "tap", "--client", client, "--server", name, "--", *original]
    return Plan(key, prefix[0], leading, "args" in target)


def original_of(definition: dict[str, Any]) -> tuple[str, int] | None:
    """(original command, index of it in args) of a wrapped definition."""
    if not is_wrapped(definition):
        return None
    found = command_target(definition)
    args = (found[0] if found else definition)["args"]
    at = args.index("--") + 1
    if at >= len(args) or not isinstance(args[at], str):
        return None
    return args[at], at


def unwrap_plan(definition: dict[str, Any]) -> tuple[dict[str, Any], str, str, int] | None:
    """(object holding the command, its key, original command, index of it in args) of a wrapped definition."""
    original = original_of(definition)
    found = command_target(definition)
    if original is None or found is None:
        return None
    return found[0], found[1], original[0], original[1]


class Editor(Protocol):
    def definitions(self, key_paths: tuple[tuple[str, ...], ...]) -> Iterator[tuple[str, dict[str, Any]]]: ...

    def wrap(self, definition: dict[str, Any], plan: Plan) -> None: ...

    def unwrap(self, definition: dict[str, Any]) -> bool: ...

    def dump(self) -> bytes: ...


def open_editor(fmt: str, data: bytes) -> Editor:
    """The editor for a file of this format; Unsupported when it cannot be rewritten safely."""
    text = data.decode("utf-8")
    bom = text.startswith(BOM)
    body = text[1:] if bom else text
    if fmt == "jsonc":
        return JsoncEditor(body, bom)
    if fmt == "json":
        try:
            doc = json.loads(body)
        except ValueError:  # people add comments to plain-JSON configs too (the scanner reads them)
            return JsoncEditor(body, bom)
        return JsonEditor(doc, body, bom)
    if fmt == "toml":
        return TomlEditor(body, bom)
    if fmt == "yaml":
        return YamlEditor(body, bom)
    raise Unsupported(f"{fmt} configs are not rewritten")


# -- plain JSON ---------------------------------------------------------------------------------------------

_INDENT = re.compile(r"\n([ \t]+)\S")


def render(doc: Any, original: str) -> str:
    """JSON in the original's style: its indentation (or none), its final newline, non-ASCII kept."""
    m = _INDENT.search(original)
    if m is None:
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ": ") if ": " in original else (",", ":"))
    else:
        unit = m.group(1)
        text = json.dumps(doc, ensure_ascii=False, indent="\t" if unit.startswith("\t") else len(unit))
    if original.endswith("\r\n"):
        text = text.replace("\n", "\r\n") + "\r\n"
    elif original.endswith("\n"):
        text += "\n"
    return text


class _TreeEditor:
    """Editors over a mutable parsed document (json, tomlkit, ruamel.yaml)."""

    doc: Any

    def definitions(self, key_paths: tuple[tuple[str, ...], ...]) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, _label, definition in iter_definitions(self.doc, key_paths):
            yield name, definition

    def wrap(self, definition: dict[str, Any], plan: Plan) -> None:
        found = command_target(definition)
        if found is None:  # plan_wrap found one: cannot happen
            return
        target = found[0]
        target[plan.key] = plan.command
        if plan.has_args:
            target["args"] = self._prepend(target, plan.leading)
        else:
            self._add_args(target, plan.key, plan.leading)

    def unwrap(self, definition: dict[str, Any]) -> bool:
        plan = unwrap_plan(definition)
        if plan is None:
            return False
        target, key, command, at = plan
        target[key] = command
        target["args"] = self._drop_front(target, at + 1)
        return True

    def _add_args(self, target: dict[str, Any], after: str, leading: list[str]) -> None:
        target["args"] = leading

    def _prepend(self, target: dict[str, Any], leading: list[str]) -> Any:
        args = target["args"]
        for i, item in enumerate(leading):  # in place: comments attached to the list stay
            args.insert(i, item)
        return args

    def _drop_front(self, target: dict[str, Any], count: int) -> Any:
        args = target["args"]
        del args[:count]
        return args


class JsonEditor(_TreeEditor):
    def __init__(self, doc: Any, text: str, bom: bool) -> None:
        self.doc, self.text, self.bom = doc, text, bom

    def dump(self) -> bytes:
        return ((BOM if self.bom else "") + render(self.doc, self.text)).encode("utf-8")


# -- JSON with comments: splice at exact spans ---------------------------------------------------------------


@dataclass
class _Edit:
    start: int
    end: int
    text: str


class JsoncEditor:
    def __init__(self, text: str, bom: bool) -> None:
        try:
            from json5.parser import parse_source
        except ImportError as exc:
            raise Unsupported("JSON with comments needs the json-five library (pip install json-five)") from exc
        try:
            self.model = parse_source(text).value
        except (ValueError, RecursionError) as exc:
            raise Unsupported(f"not JSON with comments either ({str(exc).splitlines()[0][:120]})") from exc
        self.text, self.bom = text, bom
        # id(plain definition) -> (it, kept alive so the id stays its own; its JSONObject node)
        self.nodes: dict[int, tuple[dict[str, Any], Any]] = {}
        self.edited: set[int] = set()
        self.edits: list[_Edit] = []

    def _plain(self, node: Any) -> Any:
        # The scanner's own JSONC parser reads each value from its exact source span.
        try:
            return jsonc.loads(self.text[node._tok.index : node._end_tok.end])
        except ValueError as exc:  # JSON5-only syntax (single quotes, hex numbers): not what clients read
            raise Unsupported(f"JSON5 syntax the clients do not read (line {node._tok.lineno})") from exc

    def definitions(self, key_paths: tuple[tuple[str, ...], ...]) -> Iterator[tuple[str, dict[str, Any]]]:
        from json5.model import JSONArray, JSONObject

        for key_path in key_paths:
            for container in _walk_model(self.model, key_path):
                if isinstance(container, JSONObject):
                    items = list(_members(container).items())
                elif isinstance(container, JSONArray):
                    items = [(f"#{i}", v) for i, v in enumerate(container.values)]
                else:
                    continue
                for name, node in items:
                    if not isinstance(node, JSONObject):
                        continue
                    plain = self._plain(node)
                    if isinstance(container, JSONArray) and plain.get("name"):
                        name = str(plain["name"])
                    self.nodes[id(plain)] = (plain, node)
                    yield name, plain

    def _target(self, definition: dict[str, Any], key: str) -> Any:
        node = self.nodes[id(definition)][1]
        if id(node) in self.edited:  # the same entry reached twice: its edits are made already
            return None
        self.edited.add(id(node))
        return _members(node)["command"] if key == "path" else node

    def wrap(self, definition: dict[str, Any], plan: Plan) -> None:
        node = self._target(definition, plan.key)
        if node is None:
            return
        target = _members(node)
        value = target[plan.key]
        self.edits.append(_Edit(value._tok.index, value._end_tok.end, json.dumps(plan.command, ensure_ascii=False)))
        leading = ", ".join(json.dumps(x, ensure_ascii=False) for x in plan.leading)
        if plan.has_args:
            args = target["args"]
            at = args._tok.index + 1  # just after `[`: what the array held, comments included, follows
            glue = ("," if self.text[at : at + 1] in ("\r", "\n") else ", ") if args.values else ""
            self.edits.append(_Edit(at, at, leading + glue))
        else:
            at = value._end_tok.end
            self.edits.append(_Edit(at, at, f', "args": [{leading}]'))

    def unwrap(self, definition: dict[str, Any]) -> bool:
        plan = unwrap_plan(definition)
        node = self._target(definition, plan[1]) if plan else None
        if plan is None or node is None:
            return False
        _, key, command, at = plan
        target = _members(node)
        value, args = target[key], target["args"].values
        self.edits.append(_Edit(value._tok.index, value._end_tok.end, json.dumps(command, ensure_ascii=False)))
        # Take out what install put in: the tap's arguments through the original command, and the comma and
        # the one space that glued them to the rest.
        end = args[at]._end_tok.end
        if at + 1 < len(args) and (glue := re.match(r", ?", self.text[end:])):
            end += glue.end()
        self.edits.append(_Edit(args[0]._tok.index, end, ""))
        return True

    def dump(self) -> bytes:
        text = self.text
        for edit in sorted(self.edits, key=lambda e: e.start, reverse=True):
            text = text[: edit.start] + edit.text + text[edit.end :]
        return ((BOM if self.bom else "") + text).encode("utf-8")


def _key_name(key: Any) -> str:
    return str(key.characters if hasattr(key, "characters") else key.name)


def _members(node: Any) -> dict[str, Any]:
    """Key -> value node of a JSONObject (the last of duplicate keys wins, as in `json`)."""
    return {_key_name(kvp.key): kvp.value for kvp in node.key_value_pairs}


def _walk_model(node: Any, path: tuple[str, ...]) -> Iterator[Any]:
    from json5.model import JSONObject

    if not path:
        yield node
        return
    if not isinstance(node, JSONObject):
        return
    members = _members(node)
    head, rest = path[0], path[1:]
    if head == "*":
        for child in members.values():
            yield from _walk_model(child, rest)
    elif head in members:
        yield from _walk_model(members[head], rest)


# -- TOML (tomlkit) ------------------------------------------------------------------------------------------


class TomlEditor(_TreeEditor):
    def __init__(self, text: str, bom: bool) -> None:
        try:
            import tomlkit
            from tomlkit.exceptions import TOMLKitError
        except ImportError as exc:
            raise Unsupported("TOML configs need the tomlkit library (pip install tomlkit)") from exc
        try:
            self.doc = tomlkit.parse(text)
        except TOMLKitError as exc:
            raise Unsupported(f"invalid TOML ({exc})") from exc
        self.bom = bom

    def _add_args(self, target: dict[str, Any], after: str, leading: list[str]) -> None:
        from tomlkit.items import Table

        # Right under the command: appended, it would land after the blank line and comment of the next table.
        # Container._insert_at is tomlkit's own (private) insertion; any other table, or a tomlkit without it,
        # gets the key appended.
        container = target.value if isinstance(target, Table) else None
        body = getattr(container, "body", None) or []
        at = next((i for i, (k, _v) in enumerate(body) if k is not None and k.key == after), None)
        if at is not None and at + 1 < len(body) and container is not None and hasattr(container, "_insert_at"):
            container._insert_at(at + 1, "args", leading)  # (it inserts before an item: not at the end)
        else:
            target["args"] = leading

    def _prepend(self, target: dict[str, Any], leading: list[str]) -> Any:
        import tomlkit

        args = target["args"]
        if "\n" in args.as_string():  # a multi-line array (it may hold comments): insert in place
            return super()._prepend(target, leading)
        new = tomlkit.array()  # one line: a new array, as tomlkit spaces it (in-place inserts get no space)
        new.extend([*leading, *args])
        return new

    def dump(self) -> bytes:
        import tomlkit

        return ((BOM if self.bom else "") + tomlkit.dumps(self.doc)).encode("utf-8")


# -- YAML (ruamel.yaml round trip) ---------------------------------------------------------------------------

# Indentation styles tried until one dumps the unedited file back byte for byte: (mapping, sequence, offset).
_YAML_STYLES = [(m, s, o) for m in (2, 4, 3) for s, o in ((2, 0), (4, 2), (2, 2), (4, 0), (3, 1))]


class YamlEditor(_TreeEditor):
    def __init__(self, text: str, bom: bool) -> None:
        try:
            from ruamel.yaml import YAML
            from ruamel.yaml.error import YAMLError
        except ImportError as exc:
            raise Unsupported("YAML configs need the ruamel.yaml library (pip install ruamel.yaml)") from exc
        self.bom = bom
        for mapping, sequence, offset in _YAML_STYLES:
            yaml = YAML(typ="rt")
            yaml.preserve_quotes = True
            yaml.width = 1 << 20  # never fold a long line
            yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
            if "\r\n" in text:
                yaml.line_break = "\r\n"  # type: ignore[assignment]  # typed as None in ruamel.yaml
            try:
                doc = yaml.load(text)
            except YAMLError as exc:
                raise Unsupported(f"invalid YAML ({str(exc).splitlines()[0][:120]})") from exc
            _keep_anchors(doc)
            self.yaml, self.doc = yaml, doc
            if self._text() == text:
                return
        raise Unsupported("ruamel.yaml cannot write this YAML back unchanged; not rewritten")

    def _text(self) -> str:
        out = io.StringIO()
        self.yaml.dump(self.doc, out)
        return out.getvalue()

    def _own(self, target: dict[str, Any], key: str) -> bool:
        """The mapping's own key holding a list no anchor shares (merged keys and aliased lists are copied, so
        the other entries using them stay as they were)."""
        own = dict(target.non_merged_items()) if hasattr(target, "non_merged_items") else target
        anchor = getattr(own.get(key), "anchor", None)
        return key in own and not (anchor is not None and anchor.value)

    def _add_args(self, target: dict[str, Any], after: str, leading: list[str]) -> None:
        from ruamel.yaml.comments import CommentedMap
        from ruamel.yaml.tokens import CommentToken

        if not isinstance(target, CommentedMap) or after not in list(target.keys()):
            target["args"] = leading
            return
        target.insert(list(target.keys()).index(after) + 1, "args", _like(None, leading, flow=True))
        # ruamel.yaml hangs the comment lines below a key on that key: they move below the new `args`, the
        # comment on the command's own line stays there.
        token = (target.ca.items.get(after) or [None, None, None, None])[2]
        if token is not None:
            first, newline, rest = token.value.partition("\n")
            if rest:
                token.value = first + newline
                target.ca.items["args"] = [None, None, CommentToken("\n" + rest, token.start_mark, None), None]

    def _prepend(self, target: dict[str, Any], leading: list[str]) -> Any:
        if self._own(target, "args"):
            return super()._prepend(target, leading)
        return _like(target["args"], [*leading, *target["args"]])

    def _drop_front(self, target: dict[str, Any], count: int) -> Any:
        if self._own(target, "args"):
            return super()._drop_front(target, count)
        return _like(target["args"], list(target["args"])[count:])

    def dump(self) -> bytes:
        return ((BOM if self.bom else "") + self._text()).encode("utf-8")


def _like(seq: Any, items: list[Any], flow: bool = False) -> Any:
    """A new sequence of `items` in `seq`'s flow or block style (flow when `flow`)."""
    from ruamel.yaml.comments import CommentedSeq

    out = CommentedSeq(items)
    if flow or (getattr(seq, "fa", None) is not None and seq.fa.flow_style()):
        out.fa.set_flow_style()
    return out


def _keep_anchors(node: Any) -> None:
    """Keep every `&anchor` in the output even when an edit leaves it with no alias."""
    stack, seen = [node], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        anchor = getattr(item, "anchor", None)
        if anchor is not None and anchor.value:
            anchor.always_dump = True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
