"""The audit log: recording every mutating API call, and reading the log back.

:class:`AuditLog` is an ASGI middleware, outside every other, so that it sees the status
the client got, whoever answered: a route, an error handler, validation (401, 403, 404,
422), the body guard (400, 413) or an unhandled exception (500). For each POST, PUT,
PATCH or DELETE under ``/api/v1/`` it records who (the bearer token's user, or
``anonymous`` when it gave none or was refused 401), when, the route template and path
parameters, a summary of the body, the status and error message, the client's address,
the request id (``X-Request-ID``, echoed back or made) and the duration.

The summary never holds a secret or a whole upload: values under keys that name secrets
(``password``, ``token``, ``secret``, ``api_key``, ...) and strings that look like API
tokens are replaced by ``[redacted]``; long strings, long lists, deep objects and
anything that is not JSON are replaced by their size; the whole summary is bounded.

The row is written after the response has been sent, in a worker thread: a slow or
failing audit write never delays or fails the request. A failed write is logged in one
line (``headwater.server``) and dropped. Rows older than
``HEADWATER_AUDIT_RETENTION_DAYS`` are purged by the first write after the server
starts and then at most once an hour.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query

from headwater.errors import ApiError
from headwater.server._access import Permission, needs, scoped_state
from headwater.server._deps import ServerState, page, utc
from headwater.server._guard import App, Message, Receive, Scope, Send
from headwater.server._schemas import Page, _Out
from headwater.store import (
    AuditFilter,
    AuditStore,
    Database,
    MetadataStore,
    NewAuditEvent,
    new_id,
)

log = logging.getLogger("headwater.server")

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFIX = "/api/v1/"
ANONYMOUS = "anonymous"
REDACTED = "[redacted]"
PURGE_EVERY = 3600.0
WRITERS = 4  # threads writing audit rows at once

# Keys whose values are never recorded (matched anywhere in the key, any case): a key
# such as 'db_password' or 'max_tokens' is redacted too; erring that way costs little.
_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|token|secret|api[_-]?key|auth|credential|private[_-]?key|"
    r"access[_-]?key|cookie|session|signature",
    re.IGNORECASE,
)
_TOKEN_VALUE = re.compile(r"^(hw_|Bearer\s)", re.IGNORECASE)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_MAX_STRING = 200  # characters of one string value
_MAX_ITEMS = 20  # items of one list or keys of one object
_MAX_DEPTH = 4  # levels of nesting kept
_MAX_KEY = 64  # characters of one key
_MAX_SUMMARY = 4096  # characters of the whole summary, as JSON
_MAX_PARSED = 1 << 20  # bytes of a body read to summarise it; past this, only its size
_MAX_ERROR = 1000  # characters of an error message
_MAX_ERROR_BODY = 16 << 10  # bytes of an error response read for its message


# ---------------------------------------------------------------------- summaries


def _clean(text: str) -> str:
    """``text`` as a database takes it: no NUL, no lone surrogates."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _shrink(value: Any, depth: int) -> Any:
    if isinstance(value, dict):
        if depth >= _MAX_DEPTH:
            return f"<object of {len(value)} keys>"
        kept: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i == _MAX_ITEMS:
                kept["..."] = f"<{len(value) - _MAX_ITEMS} more keys>"
                break
            name = _clean(str(key)[:_MAX_KEY])
            kept[name] = REDACTED if _SECRET_KEY.search(name) else _shrink(item, depth + 1)
        return kept
    if isinstance(value, list):
        if depth >= _MAX_DEPTH:
            return f"<list of {len(value)} items>"
        items = [_shrink(item, depth + 1) for item in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            items.append(f"<{len(value) - _MAX_ITEMS} more items>")
        return items
    if isinstance(value, str):
        if _TOKEN_VALUE.match(value):
            return REDACTED
        if len(value) > _MAX_STRING:
            return f"<{len(value)} characters>"
        return _clean(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and infinities are not JSON
    return value


def summarize(body: bytes, size: int, content_type: str) -> Any:
    """What the audit log keeps of a request body of ``size`` bytes (``body`` holds its
    first bytes): a bounded JSON summary with secrets removed, or only its size."""
    if size == 0:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    is_json = not media or media == "application/json" or media.endswith("+json")
    if not is_json:
        return {"content_type": media[:100], "bytes": size}
    if size > _MAX_PARSED or len(body) < size:
        return {"bytes": size, "summary": "too large to summarise"}
    try:
        data = json.loads(body)
    except RecursionError:
        return {"bytes": size, "summary": "nested too deeply to summarise"}
    except ValueError:
        return {"bytes": size, "summary": "not JSON"}
    summary = _shrink(data, 0)
    if len(json.dumps(summary)) <= _MAX_SUMMARY:
        return summary
    outline: dict[str, Any] = {"bytes": size, "summary": "too large to summarise"}
    if isinstance(data, dict):
        outline["keys"] = [_clean(str(k)[:_MAX_KEY]) for k in list(data)[:_MAX_ITEMS]]
    return outline


def _error_of(body: bytes) -> str:
    """The message of an error response (the API's ``error`` field, or its text)."""
    try:
        found = json.loads(body)
    except ValueError:
        found = None
    if isinstance(found, dict) and isinstance(found.get("error"), str):
        text: str = found["error"]
    else:
        text = body.decode("utf-8", "replace")
    return _clean(text[:_MAX_ERROR])


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            text: str = value.decode("latin-1")
            return text
    return None


# ---------------------------------------------------------------------- recording


class Recorder:
    """Writes audit rows for one server (and purges old ones), logging what fails."""

    def __init__(self, store: MetadataStore, retention_days: int) -> None:
        self.store = store
        self.retention = timedelta(days=retention_days)
        self._purged_at: float | None = None
        self._lock = threading.Lock()

    def _area(self, namespace: str | None) -> AuditStore:
        if namespace is None or namespace == self.store.namespace:
            return self.store.audit
        return AuditStore(Database(self.store.engine, namespace))

    def who(self, authorization: str | None, status: int) -> tuple[str | None, str]:
        """The user behind the request's bearer token, or anonymous."""
        if status == 401 or not authorization:
            return None, ANONYMOUS
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return None, ANONYMOUS
        found = self.store.auth.authenticate(secret.strip())
        if isinstance(found, str):
            return None, ANONYMOUS
        return found.user.id, found.user.name

    def write(
        self,
        event: Callable[[], dict[str, Any]],
        authorization: str | None,
        namespace: str | None,
    ) -> None:
        """Record one request (its facts from ``event()``); never raises: a failure is
        logged in one line."""
        facts: dict[str, Any] = {}
        try:
            facts = event()
            user_id, user = self.who(authorization, facts["status"])
            self._area(namespace).record(NewAuditEvent(user_id=user_id, user=user, **facts))
        except Exception as exc:  # the request is answered already; the log says what broke
            log.warning(
                "audit: could not record %s %r (%s) of request %r: %s",
                facts.get("method", "?"),
                facts.get("route", "?"),
                facts.get("status", "?"),
                facts.get("request_id", "?"),
                (str(exc).strip().splitlines() or [type(exc).__name__])[0],
            )
        self.purge_due()

    def purge_due(self) -> None:
        """Purge rows past the retention, once an hour at most."""
        moment = time.monotonic()
        with self._lock:
            if self._purged_at is not None and moment - self._purged_at < PURGE_EVERY:
                return
            self._purged_at = moment
        try:
            purged = self.store.audit.purge(datetime.now(UTC) - self.retention)
            if purged:
                log.info("audit: purged %d row(s) older than %s", purged, self.retention)
        except Exception as exc:
            log.warning(
                "audit: could not purge old rows: %s",
                (str(exc).strip().splitlines() or [type(exc).__name__])[0],
            )


class AuditLog:
    """The ASGI middleware (see the module docstring)."""

    def __init__(self, app: App, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder
        # Audit writes get threads of their own: on a slow database they queue here,
        # and never take the worker threads that the routes run in.
        self._limiter: anyio.CapacityLimiter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in MUTATING
            or not scope.get("path", "").startswith(PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        at = datetime.now(UTC)
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else new_id()
        body = bytearray()
        size = 0
        status = 500
        error_body = bytearray()

        async def reading() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                size += len(chunk)
                if len(body) <= _MAX_PARSED:
                    body.extend(chunk[: _MAX_PARSED + 1 - len(body)])
            return message

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and status >= 400:
                room = _MAX_ERROR_BODY - len(error_body)
                if room > 0:
                    error_body.extend(message.get("body", b"")[:room])
            await send(message)

        failure: str | None = None
        try:
            await self.app(scope, reading, sending)
        except Exception as exc:
            status, failure = 500, f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]
            raise
        finally:
            duration_ms = (time.perf_counter() - started) * 1000

            def event() -> dict[str, Any]:
                route = scope.get("route")
                template = getattr(route, "path", None) or scope["path"]
                client = scope.get("client")
                params = scope.get("path_params", {})
                if getattr(route, "name", None) == NO_SUCH_ROUTE:  # the API's own 404
                    template, params = scope["path"], {}
                return {
                    "at": at,
                    "method": scope["method"],
                    "route": _clean(template[:512]),
                    "status": status,
                    "request_id": request_id,
                    "duration_ms": duration_ms,
                    "path_params": {
                        _clean(str(k)): _clean(str(v)[:_MAX_STRING]) for k, v in params.items()
                    },
                    "body": summarize(bytes(body), size, _header(scope, b"content-type") or ""),
                    "error": _clean(failure)
                    if failure
                    else (_error_of(bytes(error_body)) if status >= 400 else None),
                    "client": str(client[0])[:64] if client else None,
                }

            found: MutableMapping[str, Any] = scope.get("state") or {}
            namespace = found.get("namespace")
            # After the response: the client has its answer; a hung database holds a
            # worker thread, not the request. Shielded: a client that went away is
            # audited too.
            if self._limiter is None:
                self._limiter = anyio.CapacityLimiter(WRITERS)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(
                    self.recorder.write,
                    event,
                    _header(scope, b"authorization"),
                    namespace if isinstance(namespace, str) else None,
                    limiter=self._limiter,
                )


# ---------------------------------------------------------------------- reading

router = APIRouter(prefix="/api/v1", tags=["audit"])
# The name of the app's catch-all that answers a path naming no API route (404): its
# requests are recorded under the path asked for.
NO_SUCH_ROUTE = "_no_such_route"
St = Annotated[ServerState, Depends(scoped_state)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")]


class AuditOut(_Out):
    """One mutating API call: who, when, what, and how it ended."""

    id: int
    namespace: str
    at: datetime
    user_id: str | None
    user: str
    method: str
    route: str
    path_params: dict[str, Any] | None
    body: Any
    status: int
    outcome: Literal["ok", "error"]
    error: str | None
    client: str | None
    request_id: str
    duration_ms: float


@router.get("/audit", response_model=Page[AuditOut], **needs(Permission.AUDIT))
def list_audit(
    s: St,
    limit: Limit = 50,
    offset: Offset = 0,
    user: Annotated[
        str | None, Query(max_length=256, description="Only calls by this user (or anonymous).")
    ] = None,
    method: Annotated[
        Literal["POST", "PUT", "PATCH", "DELETE"] | None,
        Query(description="Only calls with this method."),
    ] = None,
    route: Annotated[
        str | None,
        Query(max_length=512, description="Only routes that start with this, as /api/v1/runs."),
    ] = None,
    outcome: Annotated[
        Literal["ok", "error"] | None,
        Query(description="ok: answered below 400; error: 400 and above."),
    ] = None,
    since: Annotated[datetime | None, Query(description="Only calls at or after this.")] = None,
    until: Annotated[datetime | None, Query(description="Only calls before this.")] = None,
) -> Any:
    """Mutating API calls (POST, PUT, PATCH, DELETE), newest first."""
    if route is not None and not route.startswith("/"):
        raise ApiError(
            422,
            f"query.route: {route!r} is not a route prefix",
            hint="give a path that starts with '/', such as /api/v1/runs",
        )
    since_utc, until_utc = utc(since, "query.since"), utc(until, "query.until")
    if since_utc is not None and until_utc is not None and since_utc >= until_utc:
        raise ApiError(
            422,
            f"query.since ({since_utc.isoformat()}) is not before query.until "
            f"({until_utc.isoformat()})",
            hint="give a since that is earlier than until, or leave one out",
        )
    f = AuditFilter(user, method, route, outcome, since_utc, until_utc)
    rows, total = s.ws.store.audit.page(f, limit, offset)
    items = [{**r.__dict__, "outcome": "ok" if r.ok else "error"} for r in rows]
    return page(items, total, limit, offset)
