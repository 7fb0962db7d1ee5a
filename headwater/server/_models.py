"""The model registry: models, their versions and aliases, and the history of every
alias move. A version's lineage is its artifact's (``/artifacts/{id}/lineage``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from headwater.server._access import Permission, needs, scoped_state
from headwater.server._deps import ServerState, authenticated
from headwater.store import Authenticated

router = APIRouter(prefix="/api/v1", tags=["models"])
St = Annotated[ServerState, Depends(scoped_state)]
Who = Annotated[Authenticated, Depends(authenticated)]
Name = Annotated[str, Path(max_length=128, description="The model's name.")]
Alias = Annotated[str, Path(max_length=64, description="The alias, e.g. champion.")]
Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="The version number.")]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ModelOut(_Out):
    name: str
    description: str | None
    tags: dict[str, str]
    latest_version: int
    aliases: dict[str, int]
    created_at: datetime
    updated_at: datetime


class ModelVersionOut(_Out):
    model: str
    version: int
    artifact_id: str
    run_id: str | None
    task_run_id: str | None
    flavor: str | None
    signature: dict[str, Any] | None
    tags: dict[str, str]
    description: str | None
    metrics: dict[str, dict[str, float]]
    aliases: list[str]
    created_by: str | None
    created_at: datetime


class AliasChangeOut(_Out):
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str | None
    created_at: datetime


class RegisterIn(BaseModel):
    """An artifact (a Model of this namespace) to register as the model's next version."""

    model_config = ConfigDict(extra="forbid")
    artifact_id: str = Field(min_length=1, max_length=32)
    aliases: list[str] = Field(default=[], max_length=32)
    tags: dict[str, str] = Field(default={}, max_length=64)
    description: str | None = Field(default=None, max_length=10_000)


class AliasIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=2**31 - 1)


def _actor(who: Authenticated) -> str:
    return f"user {who.user.name}"


@router.get("/models", response_model=list[ModelOut], **needs(Permission.READ))
def list_models(
    s: St, limit: Annotated[int, Query(ge=1, le=10_000, description="Models.")] = 1000
) -> Any:
    """Registered models, by name."""
    from headwater.registry import model_json

    return [model_json(m) for m in s.ws.store.models.list_models(limit)]


@router.get("/models/{name}", response_model=ModelOut, **needs(Permission.READ))
def get_model(s: St, name: Name) -> Any:
    """A model, with its aliases (alias -> version number)."""
    from headwater.registry import model_json

    return model_json(s.ws.store.models.get_model(name))


@router.get(
    "/models/{name}/versions", response_model=list[ModelVersionOut], **needs(Permission.READ)
)
def list_versions(s: St, name: Name) -> Any:
    """Every version of a model, newest first, each with its run's metrics."""
    from headwater.registry import version_json

    return [version_json(v) for v in s.ws.store.models.versions(name)]


@router.post(
    "/models/{name}/versions",
    response_model=ModelVersionOut,
    status_code=201,
    **needs(Permission.MODELS),
)
def register(s: St, who: Who, name: Name, body: RegisterIn) -> Any:
    """Register an artifact as the model's next version (the model is created on first
    use), pointing ``aliases`` at it; its flavour and signature are inferred."""
    from headwater.registry import register_artifact, version_json

    return version_json(
        register_artifact(
            s.ws.store,
            name,
            body.artifact_id,
            aliases=body.aliases,
            tags=body.tags,
            description=body.description,
            created_by=_actor(who),
        )
    )


@router.get(
    "/models/{name}/versions/{version}", response_model=ModelVersionOut, **needs(Permission.READ)
)
def get_version(s: St, name: Name, version: Version) -> Any:
    """One version of a model."""
    from headwater.registry import version_json

    return version_json(s.ws.store.models.get_version(name, version))


@router.get(
    "/models/{name}/aliases/{alias}", response_model=ModelVersionOut, **needs(Permission.READ)
)
def by_alias(s: St, name: Name, alias: Alias) -> Any:
    """The version an alias points at (``latest``: the newest version)."""
    from headwater.registry import version_json

    return version_json(s.ws.store.models.by_alias(name, alias))


@router.put(
    "/models/{name}/aliases/{alias}", response_model=AliasChangeOut, **needs(Permission.MODELS)
)
def set_alias(s: St, who: Who, name: Name, alias: Alias, body: AliasIn) -> Any:
    """Point an alias at a version; it moves there, atomically, if it pointed elsewhere."""
    from headwater.registry import change_json

    return change_json(s.ws.store.models.set_alias(name, alias, body.version, _actor(who)))


@router.delete(
    "/models/{name}/aliases/{alias}", response_model=AliasChangeOut, **needs(Permission.MODELS)
)
def delete_alias(s: St, who: Who, name: Name, alias: Alias) -> Any:
    """Remove an alias (its version stays)."""
    from headwater.registry import change_json

    return change_json(s.ws.store.models.delete_alias(name, alias, _actor(who)))


@router.get("/models/{name}/history", response_model=list[AliasChangeOut], **needs(Permission.READ))
def alias_history(s: St, name: Name, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Any:
    """Every move of the model's aliases, newest first: from, to, by whom, when."""
    from headwater.registry import change_json

    return [change_json(c) for c in s.ws.store.models.alias_history(name, limit)]
