"""What the routers share with the app: the server state, the bearer-token check, and
helpers for pages and times.

Routers import this module, and the app module imports the routers, so that imports run
one way: app, then routers, then this.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, overload

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from headwater.engine import Workspace
from headwater.errors import ApiError
from headwater.store import Authenticated


@dataclasses.dataclass
class ServerState:
    """What the routes share: the workspace, and the scheduler when one runs in-process."""

    ws: Workspace
    wake_scheduler: Callable[[], None] | None = None
    cancel_local: Callable[[str], bool] | None = None
    started_at: float = dataclasses.field(default_factory=time.time)


_bearer = HTTPBearer(auto_error=False, description="An API token: headwater tokens create")


def state(request: Request) -> ServerState:
    found: ServerState = request.app.state.headwater
    return found


def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Authenticated:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401,
            "this route needs a bearer token",
            hint="send 'Authorization: Bearer TOKEN'; create a token with "
            "'headwater tokens create --user NAME'",
        )
    found = state(request).ws.store.auth.authenticate(credentials.credentials)
    if isinstance(found, str):
        raise ApiError(401, found, hint="create a new token with 'headwater tokens create'")
    return found


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    nxt = offset + len(items)
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": nxt if nxt < total else None,
    }


@overload
def utc(value: datetime, name: str) -> datetime: ...
@overload
def utc(value: datetime | None, name: str) -> datetime | None: ...
def utc(value: datetime | None, name: str) -> datetime | None:
    """``value`` in UTC (a time without a zone is taken as UTC); a 422 naming ``name``
    when it cannot be written in UTC (an offset past year 1 or 9999)."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ApiError(
            422,
            f"{name}: {value.isoformat()} is out of range once in UTC",
            hint="give a date and time between the years 1 and 9999 in UTC",
        ) from None
