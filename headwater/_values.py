"""Whether a value can be stored and served back as JSON text.

Everything a user gives Headwater (run parameters, request bodies, command-line
arguments) ends up in the metadata store and in API answers, which are UTF-8 JSON. A
Python string can hold what UTF-8 cannot encode: a lone surrogate, which is what an
undecodable byte in a command-line argument becomes and what a JSON escape such as
``"\\udcff"`` decodes to. Stored, such a string makes every later answer that includes
it fail to encode. NaN and infinities are not JSON numbers either, a NUL character is
refused by PostgreSQL's text and JSON types, and integers must fit 64 bits. So these
are refused where they come in, naming where they are.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["encoded_size", "json_problem", "shown", "text_problem"]

# Integers are 64-bit where they go: the database's integer columns, Kubeflow's
# NUMBER_INTEGER, most JSON readers (and Python will not even write one of 4,300 digits).
_INT64 = range(-(2**63), 2**63)


def shown(text: str, limit: int = 60) -> str:
    """``text`` quoted for an error message: escapes visible, cut to ``limit`` characters."""
    cut = text if len(text) <= limit else text[:limit] + "..."
    return repr(cut)


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as text (not valid Unicode, or a NUL), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        return (
            f"is not valid Unicode text: it holds {bad!r} at position {exc.start} (an "
            "undecodable byte or a lone surrogate)"
        )
    if "\x00" in text:
        return f"holds a NUL character (\\u0000) at position {text.index(chr(0))}"
    return None


def json_problem(value: Any, where: str, *, max_depth: int | None = None) -> tuple[str, str] | None:
    """Where in ``value`` (a path starting at ``where``) and why it is not storable JSON
    data, or None. Lists and objects may nest ``max_depth`` levels at most."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, at, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return at, problem
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if item not in _INT64:
                return at, "is an integer outside the 64-bit range (-2**63 to 2**63 - 1)"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return at, f"is {item!r}, which is not a JSON number"
        elif isinstance(item, dict | list | tuple):
            if max_depth is not None and depth >= max_depth:
                return at, f"nests lists and objects more than {max_depth} levels deep"
            if isinstance(item, dict):
                for key, inner in item.items():
                    if not isinstance(key, str):
                        return at, f"has the key {key!r}, which is not text"
                    problem = text_problem(key)
                    if problem:
                        return f"{at}[{shown(key)}]", f"has a key that {problem}"
                    stack.append((inner, f"{at}[{shown(key)}]", depth + 1))
            else:
                stack.extend((inner, f"{at}[{i}]", depth + 1) for i, inner in enumerate(item))
        else:
            return at, f"is a {type(item).__name__}, not JSON data"
    return None


def encoded_size(value: Any) -> int:
    """The size in bytes of ``value`` written as compact UTF-8 JSON (checked with
    :func:`json_problem` first)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return len(text.encode("utf-8"))
