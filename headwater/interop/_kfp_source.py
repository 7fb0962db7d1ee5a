"""Reading and rewriting Python source: the globals a function reads, literal values, and
edits of a function's text that keep its body as written (comments included)."""

from __future__ import annotations

import ast
import dis
import importlib.util
import io
import sys
import textwrap
import tokenize
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


def global_reads(code: types.CodeType) -> Iterator[str]:
    """Names a function's code reads or writes as globals, nested code included."""
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME"):
            yield str(ins.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from global_reads(const)


def ast_names(nodes: list[ast.AST]) -> Iterator[str]:
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                yield sub.id


def is_literal(value: Any) -> bool:
    """Plain data whose repr is Python source for an equal value."""
    try:
        return bool(ast.literal_eval(repr(value)) == value) and type(value) in (
            int,
            float,
            str,
            bytes,
            bool,
            type(None),
            tuple,
            list,
            dict,
            set,
            frozenset,
        )
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def module_file(name: str) -> str | None:
    module = sys.modules.get(name)
    if module is not None:
        return getattr(module, "__file__", None)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None


@dataclass
class Edit:
    start: tuple[int, int]  # (line, column), 1-based line
    end: tuple[int, int]
    text: str


def _offsets(lines: list[str]) -> list[int]:
    out, total = [0], 0
    for line in lines:
        total += len(line)
        out.append(total)
    return out


def apply_edits(source: str, edits: list[Edit]) -> str:
    lines = source.splitlines(keepends=True)
    starts = _offsets(lines)
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        a = starts[edit.start[0] - 1] + edit.start[1]
        b = starts[edit.end[0] - 1] + edit.end[1]
        source = source[:a] + edit.text + source[b:]
    return source


def header_span(source: str) -> tuple[int, int]:
    """Offsets of a function's header in ``source``: from ``def`` (or ``async``) to just
    after the colon that ends its signature."""
    lines = source.splitlines(keepends=True)
    starts = _offsets(lines)
    depth, begin = 0, None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if begin is None:
            if tok.type == tokenize.NAME and tok.string in ("def", "async"):
                begin = starts[tok.start[0] - 1] + tok.start[1]
            continue
        if tok.type == tokenize.OP:
            if tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth -= 1
            elif tok.string == ":" and depth == 0:
                return begin, starts[tok.end[0] - 1] + tok.end[1]
    raise ValueError("no function header found")


def plain_header(fn: ast.FunctionDef | ast.AsyncFunctionDef, source: str) -> str:
    """``fn``'s header without annotations: a helper's annotations are never evaluated
    where its module postpones them, and need not be importable here."""
    args = fn.args

    def default(node: ast.expr) -> str:
        return ast.get_source_segment(source, node) or ast.unparse(node)

    parts: list[str] = []
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    for i, arg in enumerate(positional):
        text = arg.arg
        if i >= first_default:
            text += "=" + default(args.defaults[i - first_default])
        parts.append(text)
        if args.posonlyargs and i == len(args.posonlyargs) - 1:
            parts.append("/")
    if args.vararg is not None:
        parts.append("*" + args.vararg.arg)
    elif args.kwonlyargs:
        parts.append("*")
    for arg, dflt in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        parts.append(arg.arg + ("=" + default(dflt) if dflt is not None else ""))
    if args.kwarg is not None:
        parts.append("**" + args.kwarg.arg)
    prefix = "async def" if isinstance(fn, ast.AsyncFunctionDef) else "def"
    return f"{prefix} {fn.name}({', '.join(parts)}):"


def parse_def(source: str) -> tuple[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """``source`` dedented and parsed; one-line functions are spread over lines first, so
    that statements can be put at the top of their body."""
    source = textwrap.dedent(source)
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        _, end = header_span(source)
        header_line = source.count("\n", 0, end) + 1
        if node.body[0].lineno == header_line:
            source = ast.unparse(node) + "\n"
            node = ast.parse(source).body[0]
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    return source, node


def classes_in(ann: Any) -> Iterator[type]:
    """Every class inside an annotation such as ``Annotated[list[Images], ...]``."""
    import typing

    if isinstance(ann, type):
        yield ann
    for arg in typing.get_args(ann):
        yield from classes_in(arg)
