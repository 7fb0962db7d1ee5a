"""The FastAPI application: error mapping, the routers, and bearer-token auth on them."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from headwater._version import __version__
from headwater.engine import Workspace
from headwater.errors import (
    ApiError,
    BundleError,
    Conflict,
    HeadwaterError,
    InvalidValue,
    LimitError,
    NotFound,
    OptionNotHonoured,
    ParameterError,
    SpecError,
    UriNotAllowed,
    ValidationError,
)
from headwater.server._deps import ServerState, authenticated
from headwater.store import MetadataStore

_HTTP_HINTS = {
    400: "send a JSON body (Content-Type: application/json); see /api/openapi.json",
    404: "see the routes at /api/docs",
    405: "see the methods each route takes at /api/docs",
}


_BUNDLE_STATUS = {"unsafe": 400, "too_large": 413, "reference": 422, "compile": 422}


def _status(exc: HeadwaterError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, BundleError):
        return _BUNDLE_STATUS.get(exc.kind, 400)
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, UriNotAllowed):
        return 403
    if isinstance(exc, ParameterError | SpecError | ValidationError | InvalidValue | LimitError):
        return 422
    if isinstance(exc, OptionNotHonoured):
        return 422
    return 400


def _explain(exc: HeadwaterError) -> tuple[str, str | None]:
    """The message and hint of ``exc``; a ValidationError's are those of its problems
    (its own message is only a heading)."""
    if not isinstance(exc, ValidationError) or not exc.problems:
        return exc.message, exc.hint
    details = "; ".join(
        f"{p.location.describe()}: {p.message}" if p.location.describe() else p.message
        for p in exc.problems
    )
    hints = list(dict.fromkeys(p.hint for p in exc.problems if p.hint))
    return f"{exc.message} {details}", "; ".join(hints) or exc.hint


def problem(status: int, message: str, hint: str | None = None, where: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message, "hint": hint}
    if where:
        body["where"] = where
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(ws: Workspace, *, ui_dir: str | None = None, **state_args: Any) -> FastAPI:
    """The API over ``ws`` (its own store object over the same database)."""
    from headwater.server import (
        _artifacts,
        _audit,
        _catalog,
        _deployments,
        _experiments,
        _members,
        _models,
        _runs,
        _secrets,
        _studies,
        _system,
    )
    from headwater.server._guard import BodyGuard

    api_ws = Workspace(
        ws.settings, MetadataStore(ws.store.engine, ws.store.namespace), ws.artifacts
    )
    app = FastAPI(
        title="Headwater",
        version=__version__,
        description="Pipelines, runs, tasks, artifacts, lineage, metrics, schedules and "
        "assets. Every route but /api/v1/health needs a bearer token.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.headwater = ServerState(api_ws, **state_args)
    app.add_middleware(BodyGuard)
    # Added last, so outermost: it sees the status of every answer, the guard's included.
    app.add_middleware(
        _audit.AuditLog,
        recorder=_audit.Recorder(api_ws.store, ws.settings.audit_retention_days),
    )

    @app.exception_handler(HeadwaterError)
    def _domain(request: Request, exc: HeadwaterError) -> JSONResponse:
        where = {k: v for k, v in dataclasses.asdict(exc.location).items() if v is not None}
        message, hint = _explain(exc)
        return problem(_status(exc), message, hint, where or None)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Errors FastAPI raises itself (unknown route, wrong method, unreadable body),
        in the same shape as every other error."""
        response = problem(exc.status_code, str(exc.detail), _HTTP_HINTS.get(exc.status_code))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(sa.exc.DataError)
    def _unstorable(request: Request, exc: sa.exc.DataError) -> JSONResponse:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return problem(
            422,
            f"the request holds a value the database cannot take: {reason}",
            "remove NUL characters (\\u0000) from text, and keep numbers within 64 bits",
        )

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        parts = [
            f"{'.'.join(str(x) for x in e.get('loc', ()) if x != 'body') or 'body'}: {e.get('msg')}"
            for e in errors[:5]
        ]
        return problem(
            422,
            "invalid request: " + "; ".join(parts),
            "see the OpenAPI document at /api/openapi.json for the expected fields",
        )

    auth = [Depends(authenticated)]
    app.include_router(_system.public)
    app.include_router(_system.router, dependencies=auth)
    app.include_router(_catalog.router, dependencies=auth)
    app.include_router(_runs.router, dependencies=auth)
    app.include_router(_experiments.router, dependencies=auth)
    app.include_router(_models.router, dependencies=auth)
    app.include_router(_deployments.router, dependencies=auth)
    app.include_router(_studies.router, dependencies=auth)
    app.include_router(_artifacts.router, dependencies=auth)
    app.include_router(_audit.router, dependencies=auth)
    app.include_router(_secrets.router, dependencies=auth)
    app.include_router(_members.router, dependencies=auth)
    _every_route_declares_a_permission(app, public=_system.public)

    # A path under /api/v1 that names no route is the API's 404, whatever the method,
    # not the web UI's answer (its files take GET only).
    @app.api_route(
        "/api/v1/{rest:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    def _no_such_route(request: Request, rest: str) -> JSONResponse:
        from starlette.routing import Match, Mount

        routes = [
            r
            for r in request.app.router.routes
            if not isinstance(r, Mount) and getattr(r, "name", None) != "_no_such_route"
        ]
        allowed = [
            method
            for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
            if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
        ]
        if allowed:  # the route exists, for other methods
            answer = problem(405, "Method Not Allowed", f"this route takes {', '.join(allowed)}")
            answer.headers["allow"] = ", ".join(allowed)
            return answer
        return problem(
            404,
            f"no API route /api/v1/{rest[:200]}",
            "see the routes in the OpenAPI document at /api/openapi.json",
        )

    if ui_dir is not None:
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=ui_dir, html=True), name="ui")
    else:

        @app.get("/", include_in_schema=False)
        def _root() -> RedirectResponse:
            return RedirectResponse("/api/docs")

    return app


def _every_route_declares_a_permission(app: FastAPI, public: APIRouter) -> None:
    """Refuse to build an app with an API route that declares no permission: a route
    added without ``**needs(...)`` would otherwise be open to every role. Read from the
    OpenAPI document, where each route publishes the permission it declared."""
    from fastapi.routing import APIRoute

    from headwater.server._access import PERMISSION_KEY

    open_paths = {r.path for r in public.routes if isinstance(r, APIRoute)}
    for path, operations in app.openapi()["paths"].items():
        if path in open_paths or not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if not operation.get(PERMISSION_KEY):
                raise RuntimeError(
                    f"API route {method.upper()} {path} declares no permission: add "
                    "**needs(Permission.X) to its decorator (headwater/server/_access.py)"
                )
