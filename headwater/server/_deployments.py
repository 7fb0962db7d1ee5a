"""Deployments: what ``headwater serve --deployment NAME`` answers, their revisions, and
which model version each served since when (the serving hop of lineage)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from headwater.errors import NotFound
from headwater.server._access import Permission, needs, scoped_state
from headwater.server._deps import ServerState, authenticated
from headwater.store import Authenticated

if TYPE_CHECKING:
    from headwater.store import (
        DeploymentRecord,
        DeploymentRevision,
        DeploymentStore,
        ServingRecord,
    )

router = APIRouter(prefix="/api/v1", tags=["deployments"])
St = Annotated[ServerState, Depends(scoped_state)]
Who = Annotated[Authenticated, Depends(authenticated)]
Name = Annotated[str, Path(max_length=128, description="The deployment's name.")]
Ref = Field(
    min_length=1, max_length=256, description="NAME@ALIAS, NAME:VERSION or NAME (its newest)."
)
Percent = Field(default=None, ge=0, le=100, description="The canary's share of requests.")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class DeploymentOut(_Out):
    name: str
    model: str
    canary: str | None
    canary_percent: float
    shadow: str | None
    revision: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    model_version: int | None = Field(
        description="The version number that ``model`` names now (null: none, e.g. its alias "
        "was removed)."
    )
    canary_version: int | None = Field(description="The version that ``canary`` names now.")
    shadow_version: int | None = Field(description="The version that ``shadow`` names now.")


class RevisionOut(_Out):
    revision: int
    action: str
    model: str
    canary: str | None
    canary_percent: float
    shadow: str | None
    actor: str | None
    created_at: datetime


class ServingOut(_Out):
    deployment: str
    role: str
    model: str
    version: int
    server: str
    since: datetime
    until: datetime | None


class CreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    model: str = Ref
    canary: str | None = Field(default=None, min_length=1, max_length=256)
    canary_percent: float | None = Percent
    shadow: str | None = Field(default=None, min_length=1, max_length=256)


class UpdateIn(BaseModel):
    """Fields left out keep their values; ``canary`` or ``shadow`` null removes it."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(default=None, min_length=1, max_length=256)
    canary: str | None = Field(default=None, min_length=1, max_length=256)
    canary_percent: float | None = Percent
    shadow: str | None = Field(default=None, min_length=1, max_length=256)


def _actor(who: Authenticated) -> str:
    return f"user {who.user.name}"


def _version(store: DeploymentStore, ref: str | None) -> int | None:
    if ref is None:
        return None
    try:
        return store.resolve(ref).version
    except NotFound:  # the alias or version is gone: the deployment names none now
        return None


def deployment_json(d: DeploymentRecord, store: DeploymentStore) -> dict[str, Any]:
    return {
        "name": d.name,
        "model": d.model,
        "canary": d.canary,
        "canary_percent": d.canary_percent,
        "shadow": d.shadow,
        "revision": d.revision,
        "created_by": d.created_by,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "model_version": _version(store, d.model),
        "canary_version": _version(store, d.canary),
        "shadow_version": _version(store, d.shadow),
    }


def _revision_json(r: DeploymentRevision) -> dict[str, Any]:
    return {
        "revision": r.revision,
        "action": r.action,
        "model": r.model,
        "canary": r.canary,
        "canary_percent": r.canary_percent,
        "shadow": r.shadow,
        "actor": r.actor,
        "created_at": r.created_at,
    }


def serving_json(s: ServingRecord) -> dict[str, Any]:
    return {
        "deployment": s.deployment,
        "role": s.role,
        "model": s.model,
        "version": s.version,
        "server": s.server,
        "since": s.since,
        "until": s.until,
    }


@router.get("/deployments", response_model=list[DeploymentOut], **needs(Permission.READ))
def list_deployments(s: St, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Any:
    """Deployments, by name."""
    return [
        deployment_json(d, s.ws.store.deployments)
        for d in s.ws.store.deployments.list_deployments(limit)
    ]


@router.post(
    "/deployments", response_model=DeploymentOut, status_code=201, **needs(Permission.SERVE)
)
def create(s: St, who: Who, body: CreateIn) -> Any:
    """A new deployment; each reference must name a model version now (409: the name is
    taken)."""
    return deployment_json(
        s.ws.store.deployments.create(
            body.name,
            body.model,
            canary=body.canary,
            canary_percent=body.canary_percent,
            shadow=body.shadow,
            actor=_actor(who),
        ),
        s.ws.store.deployments,
    )


@router.get("/deployments/{name}", response_model=DeploymentOut, **needs(Permission.READ))
def get(s: St, name: Name) -> Any:
    """A deployment: the references it follows."""
    return deployment_json(s.ws.store.deployments.get(name), s.ws.store.deployments)


@router.patch("/deployments/{name}", response_model=DeploymentOut, **needs(Permission.SERVE))
def update(s: St, who: Who, name: Name, body: UpdateIn) -> Any:
    """Change what a deployment serves; its servers follow within about a second."""
    changes = body.model_dump(include={"canary", "shadow"} & body.model_fields_set)
    return deployment_json(
        s.ws.store.deployments.update(
            name,
            model=body.model,
            canary_percent=body.canary_percent,
            actor=_actor(who),
            **changes,
        ),
        s.ws.store.deployments,
    )


@router.post("/deployments/{name}/promote", response_model=DeploymentOut, **needs(Permission.SERVE))
def promote(s: St, who: Who, name: Name) -> Any:
    """The canary becomes the main version."""
    return deployment_json(
        s.ws.store.deployments.promote(name, _actor(who)), s.ws.store.deployments
    )


@router.post(
    "/deployments/{name}/rollback", response_model=DeploymentOut, **needs(Permission.SERVE)
)
def rollback(s: St, who: Who, name: Name) -> Any:
    """Back to the main version served before the current one, pinned by number."""
    return deployment_json(
        s.ws.store.deployments.rollback(name, _actor(who)), s.ws.store.deployments
    )


@router.delete("/deployments/{name}", response_model=DeploymentOut, **needs(Permission.SERVE))
def delete(
    s: St,
    name: Name,
    force: Annotated[bool, Query(description="Even if a server says it serves it.")] = False,
) -> Any:
    """Delete a deployment and its history (409 while a server serves it)."""
    return deployment_json(s.ws.store.deployments.delete(name, force=force), s.ws.store.deployments)


@router.get(
    "/deployments/{name}/revisions", response_model=list[RevisionOut], **needs(Permission.READ)
)
def revisions(s: St, name: Name, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Any:
    """Every configuration the deployment had, newest first."""
    return [_revision_json(r) for r in s.ws.store.deployments.revisions(name, limit)]


@router.get(
    "/deployments/{name}/serving", response_model=list[ServingOut], **needs(Permission.READ)
)
def serving(s: St, name: Name, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Any:
    """What the deployment's servers served, in which role, since when, newest first."""
    return [serving_json(x) for x in s.ws.store.deployments.serving(name, limit=limit)]
