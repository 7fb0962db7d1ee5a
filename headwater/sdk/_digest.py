"""Code digests: what a component's cache key covers of its code.

The digest covers the component function and, transitively, the functions and
classes of the same module that it uses, plus the plain constants (numbers,
strings, tuples of them) it reads from that module. Source is normalised
through the AST, so comments, blank lines and the decorator's options do not
change the digest, while any change of behaviour does.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import marshal
import textwrap
import types
from collections.abc import Callable, Iterator
from typing import Any

from headwater.sdk._cells import class_source

_CONSTANT_TYPES = (int, float, str, bytes, bool, type(None))


def _source(obj: Any) -> str | None:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return class_source(obj) if isinstance(obj, type) else None  # a notebook's class


def _normalized_source(obj: Any) -> str:
    source = _source(obj)
    try:
        tree = ast.parse(textwrap.dedent(source)) if source is not None else None
    except SyntaxError:
        tree = None
    if tree is None:
        code = getattr(obj, "__code__", None)
        if code is not None:
            return marshal.dumps(code).hex()
        return repr(obj)
    for node in ast.walk(tree):
        if node is tree.body[0] and isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        ):
            node.decorator_list = []
    return ast.unparse(tree)


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _referenced_names(obj: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(obj, types.FunctionType):
        names.update(_code_names(obj.__code__))
    elif isinstance(obj, type):
        for value in vars(obj).values():
            func = value.__func__ if isinstance(value, classmethod | staticmethod) else value
            if isinstance(func, types.FunctionType):
                names.update(_code_names(func.__code__))
    return names


def _is_constant(value: Any) -> bool:
    if isinstance(value, _CONSTANT_TYPES):
        return True
    if isinstance(value, tuple | frozenset):
        return all(_is_constant(v) for v in value)
    return False


def code_digest(func: Callable[..., Any]) -> str:
    """``sha256:`` + hex digest of ``func`` and the same-module code it uses."""
    module = getattr(func, "__module__", None)
    globals_: dict[str, Any] = getattr(func, "__globals__", {})
    parts: dict[str, str] = {}
    seen: set[int] = set()
    pending: list[tuple[str, Any]] = [("<component>", func)]
    while pending:
        label, obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        parts[label] = _normalized_source(obj)
        for name in sorted(_referenced_names(obj)):
            if name not in globals_:
                continue
            value = globals_[name]
            inner = getattr(value, "python_func", None)
            if inner is not None and getattr(inner, "__module__", None) == module:
                value = inner
            if isinstance(value, types.FunctionType | type):
                if getattr(value, "__module__", None) == module:
                    pending.append((f"def {name}", value))
            elif _is_constant(value):
                parts[f"const {name}"] = repr(value)
    h = hashlib.sha256()
    for label in sorted(parts):
        h.update(label.encode())
        h.update(b"\0")
        h.update(parts[label].encode())
        h.update(b"\0")
    return "sha256:" + h.hexdigest()
