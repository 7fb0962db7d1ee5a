"""What every request goes through before a route sees it.

A path or query string whose %-escapes decode to bytes that are not UTF-8 is answered
400 (Starlette would read such bytes as U+FFFD and carry on).

:class:`BodyGuard` is an ASGI middleware. It reads the body up to the request size
limit (``HEADWATER_MAX_REQUEST_BYTES``; for a source bundle posted to
``/api/v1/pipelines``, the larger of it and ``HEADWATER_MAX_BUNDLE_BYTES``) and answers
413 past it, whether the client declared its length or streams it. A JSON body (or one
without a content type, which FastAPI reads as JSON; not a source bundle) must be UTF-8
and may not hold NaN or infinities, text that is not valid Unicode (lone surrogates
from ``\\udcff`` escapes) or NUL characters, or nest deeper than
``HEADWATER_MAX_JSON_DEPTH``: such a body is answered 400 or 422 here, in the API's
error shape, before any route runs, so nothing is created and nothing that cannot be
served back is stored. The route then reads the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from headwater._limits import how_to_raise, limits
from headwater._values import json_problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_BUNDLE_ROUTE = "/api/v1/pipelines"  # POST: a source bundle (headwater.server._catalog)
_KEY = re.compile(r"\['((?:[^'\\]|\\.)*)'\]")
_JSON_HINT = "send a JSON body of UTF-8 text; see /api/openapi.json for the expected fields"


class _NotJson(Exception):
    def __init__(self, constant: str) -> None:
        super().__init__(constant)
        self.constant = constant


def _constant(name: str) -> Any:
    raise _NotJson(name)


def _field(path: str) -> str:
    """``body['parameters']['s']`` as ``parameters.s`` (the API's way to name a field)."""
    dotted = _KEY.sub(lambda m: "." + m.group(1), path).removeprefix("body")
    return dotted.lstrip(".") or "body"


def body_problem(body: bytes, max_depth: int) -> tuple[int, str, str] | None:
    """(status, error, hint) for a JSON body Headwater must not read, or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            400,
            f"the request body is not UTF-8 text: byte 0x{body[exc.start]:02x} at offset "
            f"{exc.start}",
            _JSON_HINT,
        )
    try:
        data = json.loads(text, parse_constant=_constant)
    except _NotJson as exc:
        return 422, f"the request body holds {exc.constant}, which is not a JSON number", _JSON_HINT
    except RecursionError:
        return (
            422,
            "the request body nests too deeply",
            "flatten it; " + how_to_raise("max_json_depth"),
        )
    except ValueError:
        return None  # not JSON at all: the route's validation says so, in its own words
    found = json_problem(data, "body", max_depth=max_depth)
    if found is None:
        return None
    at, why = found
    hint = _JSON_HINT
    if "levels deep" in why:
        hint = "flatten it, or " + how_to_raise("max_json_depth")
    return 422, f"invalid request: {_field(at)} {why}", hint


async def _answer(send: Send, status: int, error: str, hint: str) -> None:
    body = json.dumps({"error": error, "hint": hint}).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 413:  # the rest of the body is not read: this connection cannot go on
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _target_problem(scope: Scope) -> tuple[str, str] | None:
    """Why the request's path or query string cannot be read as text, or None: a
    percent-escape that decodes to bytes that are not UTF-8 (which Starlette would quietly
    turn into U+FFFD)."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
    for part, raw in (("path", raw_path), ("query string", scope.get("query_string", b""))):
        try:
            # A NUL is each route's to judge (an artifact route names it in its refusal).
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            return (
                f"the request's {part} is not UTF-8 text once its %-escapes are decoded "
                f"(byte {exc.start})",
                "percent-encode UTF-8 text only (a name, an id, a filter value)",
            )
    return None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return not media or media == "application/json" or media.endswith("+json")


class BodyGuard:
    """The ASGI middleware (see the module docstring)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = _target_problem(scope)
        if target is not None:
            await _answer(send, 400, *target)
            return
        now = limits()
        most = now.max_request_bytes
        bundle = scope.get("method") == "POST" and scope.get("path") == _BUNDLE_ROUTE
        if bundle:  # a source bundle has a limit of its own
            most = max(most, now.max_bundle_bytes)
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        too_large = (
            f"the request body is larger than the {most:,} bytes the server reads",
            "send less (a path or URI to large data instead of the data), or "
            + how_to_raise("max_request_bytes"),
        )
        if bundle:
            too_large = (
                f"the source bundle is larger than the {most:,} bytes the server reads",
                "deploy fewer or smaller files (data belongs in artifacts), or "
                + how_to_raise("max_bundle_bytes"),
            )
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > most:
            await _answer(send, 413, *too_large)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before it sent its body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > most:
                await _answer(send, 413, *too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if body and _is_json(content_type) and not bundle:
            found = body_problem(body, now.max_json_depth)
            if found is not None:
                await _answer(send, *found)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect a stream waits for

        await self.app(scope, replay, send)
