"""Health, Prometheus metrics, who am I, pools, URI roots."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from headwater._version import __version__
from headwater.server._access import Permission, authenticated_only, needs, scoped_state
from headwater.server._deps import ServerState, authenticated, state
from headwater.server._schemas import Health, Me, PoolIn, PoolOut, TokenOut, UriRootsOut
from headwater.store import Authenticated

public = APIRouter(prefix="/api/v1", tags=["system"])
router = APIRouter(prefix="/api/v1", tags=["system"])
St = Annotated[ServerState, Depends(scoped_state)]
Raw = Annotated[ServerState, Depends(state)]


@public.get("/health", response_model=Health)
def health(s: Raw, response: Response) -> Health:
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


@router.get("/me", response_model=Me, **authenticated_only())
def me(s: Raw, who: Annotated[Authenticated, Depends(authenticated)]) -> Me:
    """Who this token belongs to, and the namespaces they may work in."""
    store = s.ws.store
    if who.user.role == "owner":
        roles: dict[str, str] = dict.fromkeys(store.namespaces.names(), "owner")
    else:
        roles = store.namespaces.roles_of(who.user.id)
    return Me(
        user=who.user.name,
        role=who.user.role,
        namespaces=roles,
        token=TokenOut.model_validate(who.token),
    )


@router.get("/permissions", response_model=dict[str, list[str]], **authenticated_only())
def permissions() -> dict[str, list[str]]:
    """The permission table: what each role grants (docs/teams-and-security.md), so a
    client can tell what the caller's role allows without copying the table."""
    from headwater.server._access import ROLE_PERMISSIONS

    return {
        role: [p.value for p in Permission if p in granted]
        for role, granted in ROLE_PERMISSIONS.items()
    }


@router.get("/pools", response_model=list[PoolOut], **needs(Permission.READ))
def pools(s: St) -> Any:
    return s.ws.store.pools.list()


@router.put("/pools/{name}", response_model=PoolOut, **needs(Permission.POOLS))
def set_pool(s: St, name: str, body: PoolIn) -> Any:
    """Create a pool or change its slots (no ``slots``: unlimited)."""
    return s.ws.store.pools.set_pool(name, body.slots, body.description)


@router.delete("/pools/{name}", status_code=204, **needs(Permission.POOLS))
def delete_pool(s: St, name: str) -> Response:
    s.ws.store.pools.delete_pool(name)
    return Response(status_code=204)


@router.get("/uri-roots", response_model=UriRootsOut, **needs(Permission.READ))
def uri_roots(s: St) -> Any:
    """Where the runs this server creates may read (importers, served artifacts): the
    artifact root, then the roots an operator added with 'headwater roots add'. Read-only:
    widening what every token can read is the operator's decision, made on the server."""
    from headwater.engine import uri_policy

    added = {r.root: r for r in s.ws.store.roots.list()}
    policy = uri_policy(s.ws.settings, s.ws.store)
    return {
        "namespace": s.ws.store.namespace,
        "roots": [
            {"root": root, "kind": "artifact root"}
            if root not in added
            else {
                "root": root,
                "kind": "added",
                "description": added[root].description,
                "created_at": added[root].created_at,
            }
            for root in policy.roots
        ],
    }


@router.get("/metrics", include_in_schema=True, response_class=Response, **needs(Permission.READ))
def prometheus(s: St, request: Request) -> Response:
    """Prometheus metrics: runs and task attempts by status, pool use, scheduler state."""
    from headwater.server._prometheus import render

    body, content_type = render(s)
    return Response(body, media_type=content_type)
