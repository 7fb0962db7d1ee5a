"""Health, Prometheus metrics, who am I, pools."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from headwater._version import __version__
from headwater.server._app import ServerState, authenticated, state
from headwater.server._schemas import Health, Me, PoolIn, PoolOut, TokenOut
from headwater.store import Authenticated

public = APIRouter(prefix="/api/v1", tags=["system"])
router = APIRouter(prefix="/api/v1", tags=["system"])
St = Annotated[ServerState, Depends(state)]


@public.get("/health", response_model=Health)
def health(s: St, response: Response) -> Health:
    """Whether the server can reach its database (no token needed)."""
    import sqlalchemy as sa

    try:
        with s.ws.store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        db = "ok"
    except Exception as exc:  # report, do not raise: this is the health check
        db = f"unreachable: {type(exc).__name__}"
        response.status_code = 503
    return Health(status="ok" if db == "ok" else "degraded", version=__version__, database=db)


@router.get("/me", response_model=Me)
def me(who: Annotated[Authenticated, Depends(authenticated)]) -> Me:
    return Me(user=who.user.name, role=who.user.role, token=TokenOut.model_validate(who.token))


@router.get("/pools", response_model=list[PoolOut])
def pools(s: St) -> Any:
    return s.ws.store.pools()


@router.put("/pools/{name}", response_model=PoolOut)
def set_pool(s: St, name: str, body: PoolIn) -> Any:
    """Create a pool or change its slots (no ``slots``: unlimited)."""
    return s.ws.store.set_pool(name, body.slots, body.description)


@router.delete("/pools/{name}", status_code=204)
def delete_pool(s: St, name: str) -> Response:
    s.ws.store.delete_pool(name)
    return Response(status_code=204)


@router.get("/metrics", include_in_schema=True, response_class=Response)
def prometheus(s: St, request: Request) -> Response:
    """Prometheus metrics: runs and task attempts by status, pool use, scheduler state."""
    from headwater.server._prometheus import render

    body, content_type = render(s)
    return Response(body, media_type=content_type)
