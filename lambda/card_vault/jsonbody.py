"""Strict JSON for request bodies: bounded nesting, no duplicate keys, no NaN/Infinity.

`json.loads` recurses once per nesting level (2,000 levels exhaust the interpreter's stack, a
500 with a traceback) and lets the last of two equal keys win, so a body could mean one thing
to a proxy or WAF rule and another to the vault. `parse_object` checks the depth before parsing
(one pass over the characters, strings skipped) and refuses a repeated key at any level. Its
errors are fixed strings: nothing the client wrote is repeated (PCI DSS v4.0.1 6.2.4).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 8


class BodyError(ValueError):
    """The body is not acceptable JSON; `str(err)` is a fixed reason safe to answer with."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


def nesting_depth(raw: str) -> int:
    """The deepest `[`/`{` nesting of `raw` outside strings (no parsing, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BodyError("a key appears more than once in one object", 400)
        result[key] = value
    return result


def _no_constant(_: str) -> Any:
    raise BodyError("NaN and Infinity are not JSON", 400)


def parse_object(raw: str) -> dict[str, Any]:
    """The JSON object in `raw`; raises BodyError (400 for malformed, 422 for a non-object)."""
    if nesting_depth(raw) > MAX_DEPTH:
        raise BodyError(f"body is nested deeper than {MAX_DEPTH} levels", 400)
    try:
        body = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except BodyError:
        raise
    except (ValueError, RecursionError):
        raise BodyError("body is not valid JSON", 400) from None
    if not isinstance(body, dict):
        raise BodyError("body must be a JSON object", 422)
    return body
