"""Namespaces and their members over HTTP (docs/teams-and-security.md): what the
``headwater namespaces`` and ``headwater members`` commands do, for the web UI.

Members are those of the caller's namespace (the ``X-Headwater-Namespace`` header);
namespaces are server-wide, and only a server owner creates or deletes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from headwater.server._access import (
    Called,
    Permission,
    authenticated_only,
    needs,
)
from headwater.server._deps import ServerState, authenticated, state
from headwater.server._schemas import _Out
from headwater.store import Authenticated

router = APIRouter(prefix="/api/v1", tags=["teams"])
Raw = Annotated[ServerState, Depends(state)]
Who = Annotated[Authenticated, Depends(authenticated)]
UserName = Annotated[str, Path(min_length=1, max_length=128, description="The user's name.")]
NamespaceName = Annotated[str, Path(min_length=1, max_length=80, description="The namespace.")]


class MemberOut(_Out):
    """A user's role in the caller's namespace."""

    user: str
    role: str = Field(description="viewer, editor or admin.")
    namespace: str
    created_at: datetime


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(max_length=40, description="viewer, editor or admin.")


class NamespaceOut(_Out):
    name: str
    description: str
    created_at: datetime
    role: str = Field(description="The caller's role there (a server owner: owner).")


class NamespaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        max_length=80, description="Lower-case letters, digits and dashes, starting with a letter."
    )
    description: str = Field(default="", max_length=1024)


def _member(record: Any) -> dict[str, Any]:
    return {
        "user": record.user,
        "role": record.role,
        "namespace": record.namespace,
        "created_at": record.created_at,
    }


@router.get("/members", response_model=list[MemberOut], **needs(Permission.READ))
def list_members(s: Raw, who: Called) -> list[Any]:
    """The members of the namespace, with their roles (a server owner is everywhere
    without being listed)."""
    return [_member(m) for m in s.ws.store.namespaces.members(who.namespace)]


@router.put("/members/{user}", response_model=MemberOut, **needs(Permission.MEMBERS))
def set_member(user: UserName, body: MemberIn, s: Raw, who: Called) -> Any:
    """Give a user a role in the namespace, or change the role they have there."""
    return _member(s.ws.store.namespaces.set_member(who.namespace, user, body.role))


@router.delete("/members/{user}", status_code=204, **needs(Permission.MEMBERS))
def remove_member(user: UserName, s: Raw, who: Called) -> None:
    """Take a user out of the namespace (their tokens stay; they lose its access)."""
    s.ws.store.namespaces.remove_member(who.namespace, user)


@router.get("/namespaces", response_model=list[NamespaceOut], **authenticated_only())
def list_namespaces(s: Raw, who: Who) -> list[Any]:
    """The namespaces the caller works in, with their role in each (a server owner:
    every namespace)."""
    store = s.ws.store
    owner = who.user.role == "owner"
    roles = {} if owner else store.namespaces.roles_of(who.user.id)
    return [
        {
            "name": ns.name,
            "description": ns.description,
            "created_at": ns.created_at,
            "role": "owner" if owner else roles[ns.name],
        }
        for ns in store.namespaces.list()
        if owner or ns.name in roles
    ]


@router.post(
    "/namespaces", status_code=201, response_model=NamespaceOut, **needs(Permission.NAMESPACES)
)
def create_namespace(body: NamespaceIn, s: Raw) -> Any:
    """Create a namespace (then give people a role in it: PUT /members/{user} with the
    header naming it)."""
    made = s.ws.store.namespaces.create(body.name, body.description)
    return {
        "name": made.name,
        "description": made.description,
        "created_at": made.created_at,
        "role": "owner",
    }


@router.delete("/namespaces/{name}", status_code=204, **needs(Permission.NAMESPACES))
def delete_namespace(name: NamespaceName, s: Raw) -> None:
    """Delete an empty namespace with its memberships, pools, URI roots, secrets,
    connections and variables (409 while it holds pipelines, runs or the rest)."""
    s.ws.store.namespaces.delete(name)
