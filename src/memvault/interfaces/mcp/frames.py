"""Reading a JSON-RPC frame before the MCP SDK does, so that every frame gets an answer.

The SDK's stdio transport drops a frame it cannot parse without replying (a client waits
forever), and its JSON parser takes frames the rest of memvault cannot (a lone surrogate
escape such as ``"\\ud800"``, which no store can write back). :func:`screen` reads each frame
first: a frame that is not JSON or nests deeper than :data:`MAX_DEPTH` gets a -32700 parse
error, one with a lone surrogate a -32600 invalid-request error naming where it is (e.g.
``params.arguments.metadata.a``), both carrying the request's id when it can be read and
``null`` otherwise. Readable frames go on to the SDK unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

import mcp_types as types

__all__ = ["MAX_DEPTH", "screen"]

#: The deepest nesting of arrays and objects a frame may have (metadata is far shallower).
MAX_DEPTH = 128

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"(?P<colon>\s*:)?|[\[\]{}]', re.DOTALL)
_ID = re.compile(r'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")')
_SURROGATE = re.compile("[\ud800-\udfff]")


def _too_deep(text: str) -> str | None:
    """``None`` when ``text`` nests at most :data:`MAX_DEPTH` levels, else the dotted path of
    object keys (the first few) under which it goes deeper, e.g. ``params.arguments.metadata``."""
    keys: dict[int, str] = {}
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token[0] == '"':
            if match.group("colon"):
                keys[depth] = token[1:token.index('"', 1)] if '\\' not in token else "?"
            continue
        depth += 1 if token in "[{" else -1
        if depth > MAX_DEPTH:
            path = [keys[level] for level in range(1, 5) if level in keys]
            return ".".join(path) or "the frame"
    return None


def _raw_id(text: str) -> int | str | None:
    """The request id of a frame that could not be parsed, if it can be read."""
    found = _ID.search(_STRINGS.sub(lambda m: m.group() if m.group() == '"id"' else '""',
                                    text[:4096]))
    if found is None:
        return None
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return None
    return _usable_id(value)


def _usable_id(value: Any) -> int | str | None:
    """``value`` as a reply's id: an int or a string of text, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return None if isinstance(value, str) and _surrogate_in(value) else value


def _surrogate_in(value: str) -> bool:
    return _SURROGATE.search(value) is not None


def _lone_surrogate(value: Any) -> str | None:
    """The dotted path of the first string (or key) in ``value`` holding a lone surrogate."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _surrogate_in(item):
                return path or "the frame"
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if _surrogate_in(str(key)):
                    return f"{path or 'the frame'} (a key)"
                stack.append((where, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{n}]", child) for n, child in enumerate(item))
    return None


def _error(request_id: int | str | None, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=request_id,
                              error=types.ErrorData(code=code, message=message))


def screen(frame: str) -> types.JSONRPCError | None:
    """``None`` when ``frame`` may go on to the SDK, else the error to answer it with."""
    deep = _too_deep(frame)
    if deep is not None:
        return _error(_raw_id(frame), types.PARSE_ERROR,
                      f"Parse error: {deep} is nested deeper than {MAX_DEPTH} levels")
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError):
        return _error(_raw_id(frame), types.PARSE_ERROR, "Parse error: not valid JSON")
    request_id = _usable_id(message.get("id") if isinstance(message, dict) else None)
    where = _lone_surrogate(message)
    if where is not None:
        return _error(request_id, types.INVALID_REQUEST,
                      f"Invalid request: {where} holds a lone surrogate (\\ud800-\\udfff), "
                      "which is not text: send valid UTF-8")
    return None
