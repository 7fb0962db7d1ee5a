"""Secrets, connections and variables over HTTP (docs/teams-and-security.md).

Secret values and connection passwords are write-only: a request may set them, no
response ever holds them (a connection says only whether it has a password).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from headwater.server._access import Permission, needs, scoped_state
from headwater.server._deps import ServerState, authenticated
from headwater.store import Authenticated

router = APIRouter(prefix="/api/v1", tags=["secrets"])
St = Annotated[ServerState, Depends(scoped_state)]
Who = Annotated[Authenticated, Depends(authenticated)]
Name = Annotated[str, Path(max_length=64, description="The name.")]
NameField = Field(min_length=1, max_length=64, description="1 to 64 letters, digits and '_'.")
Description = Field(default=None, max_length=1024)


def _actor(who: Authenticated) -> str:
    return f"user {who.user.name}"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class SecretOut(_Out):
    """A secret's metadata: never its value."""

    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = NameField
    value: str = Field(min_length=1, max_length=64 * 1024, description="Write-only.")
    description: str | None = Description


class ConnectionOut(_Out):
    name: str
    type: str
    host: str | None
    port: int | None
    login: str | None
    schema_: str | None = Field(alias="schema")
    extras: dict[str, Any]
    description: str | None
    has_password: bool
    created_at: datetime | None
    updated_at: datetime | None
    created_by: str | None
    updated_by: str | None


class ConnectionIn(BaseModel):
    """A whole connection: from ``uri``, or from its parts (which override the URI's)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = NameField
    uri: str | None = Field(default=None, max_length=4096)
    type: str | None = Field(default=None, max_length=32)
    host: str | None = Field(default=None, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    login: str | None = Field(default=None, max_length=255)
    password: str | None = Field(default=None, max_length=64 * 1024, description="Write-only.")
    schema_: str | None = Field(default=None, alias="schema", max_length=255)
    extras: dict[str, JsonValue] | None = None
    description: str | None = Description


class VariableOut(_Out):
    name: str
    value: JsonValue
    description: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None


class VariableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = NameField
    value: JsonValue
    description: str | None = Description


def _connection_out(info: Any) -> dict[str, Any]:
    return dataclasses.asdict(info)  # has_password, never the password


@router.get("/secrets", response_model=list[SecretOut], **needs(Permission.READ))
def list_secrets(s: St) -> list[Any]:
    return [dataclasses.asdict(x) for x in s.ws.store.secrets.list()]


@router.put("/secrets", response_model=SecretOut, **needs(Permission.SECRETS))
def set_secret(body: SecretIn, s: St, who: Who) -> Any:
    """Create or change a secret; the response never holds the value."""
    info = s.ws.store.secrets.set(
        body.name, body.value, description=body.description, actor=_actor(who)
    )
    return dataclasses.asdict(info)


@router.delete("/secrets/{name}", status_code=204, **needs(Permission.SECRETS))
def delete_secret(name: Name, s: St) -> None:
    s.ws.store.secrets.delete(name)


@router.get("/connections", response_model=list[ConnectionOut], **needs(Permission.READ))
def list_connections(s: St) -> list[Any]:
    return [_connection_out(c) for c in s.ws.store.connections.list()]


@router.get("/connections/{name}", response_model=ConnectionOut, **needs(Permission.READ))
def get_connection(name: Name, s: St) -> Any:
    """One connection, without its password."""
    return _connection_out(s.ws.store.connections.info(name))


@router.put("/connections", response_model=ConnectionOut, **needs(Permission.CONNECTIONS))
def set_connection(body: ConnectionIn, s: St, who: Who) -> Any:
    """Create or replace a connection, from a URI and/or its parts."""
    from headwater.errors import InvalidValue
    from headwater.store import parse_connection_uri

    parts: dict[str, Any] = parse_connection_uri(body.uri) if body.uri else {}
    given = {
        "type": body.type,
        "host": body.host,
        "port": body.port,
        "login": body.login,
        "password": body.password,
        "schema": body.schema_,
    }
    parts.update({k: v for k, v in given.items() if v is not None})
    extras = {**(parts.get("extras") or {}), **(body.extras or {})}
    if not parts.get("type"):
        raise InvalidValue(
            f"connection '{body.name}' has no type", hint="give 'type' or a 'uri' with a scheme"
        )
    info = s.ws.store.connections.set(
        body.name,
        type=parts["type"],
        host=parts.get("host"),
        port=parts.get("port"),
        login=parts.get("login"),
        password=parts.get("password"),
        schema=parts.get("schema"),
        extras=extras,
        description=body.description,
        actor=_actor(who),
    )
    return _connection_out(info)


@router.delete("/connections/{name}", status_code=204, **needs(Permission.CONNECTIONS))
def delete_connection(name: Name, s: St) -> None:
    s.ws.store.connections.delete(name)


@router.get("/variables", response_model=list[VariableOut], **needs(Permission.READ))
def list_variables(s: St) -> list[Any]:
    return [dataclasses.asdict(v) for v in s.ws.store.variables.list()]


@router.get("/variables/{name}", response_model=VariableOut, **needs(Permission.READ))
def get_variable(name: Name, s: St) -> Any:
    return dataclasses.asdict(s.ws.store.variables.get(name))


@router.put("/variables", response_model=VariableOut, **needs(Permission.VARIABLES))
def set_variable(body: VariableIn, s: St, who: Who) -> Any:
    record = s.ws.store.variables.set(
        body.name, body.value, description=body.description, actor=_actor(who)
    )
    return dataclasses.asdict(record)


@router.delete("/variables/{name}", status_code=204, **needs(Permission.VARIABLES))
def delete_variable(name: Name, s: St) -> None:
    s.ws.store.variables.delete(name)
