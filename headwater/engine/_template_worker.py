"""The template render process, and the date helpers (``macros``) templates call.

Run parameters may be Jinja templates, and anyone who may trigger a run writes them.
Jinja's ``SandboxedEnvironment`` keeps a template away from Python internals, but not
from work: nested loops, a recursive macro, ``'x' * 10**9`` or ``10**10**9`` run as
long and take as much memory as they like. So templates are rendered here, in a process
of their own with a cap on its address space, and the process that asked
(:mod:`headwater.engine._render`) kills it when a render passes its time limit.

This file runs as a script (``python -P _template_worker.py MEMORY_BYTES``) and imports
nothing from Headwater, so it starts in the time Jinja takes to import.

Protocol, over stdin and stdout:

- once ready, the process writes ``b"R"``;
- each request is a 4-byte big-endian length and a pickle of
  ``(template, context, max_bytes)`` from the parent (trusted: the parent builds it);
  a ``"macros"`` key in the context gets this process's :data:`MACROS`;
- each answer is a 4-byte length and UTF-8 JSON: ``{"ok": text}`` or
  ``{"error": message, "kind": kind}`` with kind ``security``, ``template`` (syntax,
  undefined name), ``size`` (past ``max_bytes``), ``memory`` or ``error`` (an
  exception raised by the template's own operations). The answer is JSON, never a
  pickle, so that a template that escaped the sandbox still cannot reach the parent;
- after a ``memory`` answer the process exits; at the end of stdin it exits.
"""

from __future__ import annotations

import datetime as _dt
import json
import pickle
import signal
import struct
import sys
from typing import Any

__all__ = ["MACROS", "Macros"]

_DS = "%Y-%m-%d"
_LENGTH = struct.Struct(">I")
_CACHED = 256  # compiled templates kept: a schedule renders the same ones every run


class Macros:
    """Date helpers that templates reach as ``macros.<name>`` (Airflow's names and meanings)."""

    __slots__ = ()

    datetime = _dt.datetime
    timedelta = _dt.timedelta

    @staticmethod
    def ds_add(ds: str, days: int) -> str:
        """``ds`` moved by ``days`` (negative goes back): ``ds_add('2026-03-01', -1)`` is
        ``'2026-02-28'``."""
        return (_parse_ds(ds, "ds_add") + _dt.timedelta(days=days)).strftime(_DS)

    @staticmethod
    def ds_format(ds: str, input_format: str, output_format: str) -> str:
        """``ds`` read with ``input_format`` and written with ``output_format`` (strftime codes):
        ``ds_format('2026-03-01', '%Y-%m-%d', '%d/%m/%Y')`` is ``'01/03/2026'``."""
        return _dt.datetime.strptime(ds, input_format).strftime(output_format)


MACROS = Macros()


def _parse_ds(ds: str, where: str) -> _dt.datetime:
    try:
        return _dt.datetime.strptime(ds, _DS)
    except (TypeError, ValueError):
        raise ValueError(f"{where} expects a date like '2026-03-01', got {ds!r}") from None


def _message(exc: BaseException) -> str:
    """``exc`` in one line of at most 500 characters (some messages quote huge values)."""
    try:
        text = str(exc)
    except Exception:  # a message that cannot be made is no reason to fail the answer
        text = ""
    text = " ".join(text.split())
    if len(text) > 500:
        text = text[:500] + "..."
    return text or type(exc).__name__


def _render(
    env: Any, cache: dict[str, Any], template: str, context: dict[str, Any], limit: int
) -> str:
    compiled = cache.get(template)
    if compiled is None:
        compiled = env.from_string(template)
        if len(cache) >= _CACHED:
            cache.clear()
        cache[template] = compiled
    parts: list[str] = []
    size = 0
    # Chunk by chunk, so that a template that writes too much is stopped as it goes.
    for chunk in compiled.generate(context):
        size += len(chunk)
        if size > limit:
            raise _TooLarge(size)
        parts.append(chunk)
    text = "".join(parts)
    encoded = len(text.encode("utf-8", "surrogatepass"))
    if encoded > limit:
        raise _TooLarge(encoded)
    return text


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _answer(
    template: str, context: dict[str, Any], limit: int, env: Any, cache: dict[str, Any]
) -> dict[str, str]:
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    if "macros" in context:
        context["macros"] = MACROS
    try:
        return {"ok": _render(env, cache, template, context, limit)}
    except _TooLarge as exc:
        return {
            "error": f"it renders to more than {limit:,} bytes ({exc.size:,} so far)",
            "kind": "size",
        }
    except MemoryError:
        return {"error": "it needs more memory than a render may use", "kind": "memory"}
    except SecurityError as exc:
        return {"error": _message(exc), "kind": "security"}
    except TemplateError as exc:
        return {"error": _message(exc), "kind": "template"}
    except RecursionError:
        return {
            "error": "it recurses too deeply (a macro or loop that calls itself)",
            "kind": "error",
        }
    except Exception as exc:  # what the template's own operations raise: 1/0, bad dates
        return {"error": f"{type(exc).__name__}: {_message(exc)}", "kind": "error"}


def _read(stream: Any, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main(memory: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent; stdin's end stops us
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    cache: dict[str, Any] = {}
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):  # no such limit here: the time limit still holds
        pass
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(b"R")
    stdout.flush()
    while True:
        head = _read(stdin, _LENGTH.size)
        if head is None:
            return
        payload = _read(stdin, _LENGTH.unpack(head)[0])
        if payload is None:
            return
        template, context, limit = pickle.loads(payload)
        answer = _answer(template, context, limit, env, cache)
        data = json.dumps(answer).encode("utf-8")
        stdout.write(_LENGTH.pack(len(data)) + data)
        stdout.flush()
        if answer.get("kind") == "memory":
            return  # the heap may be in a poor state: the parent starts a fresh process


if __name__ == "__main__":
    main(int(sys.argv[1]))
