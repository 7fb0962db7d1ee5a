"""Who may do what: the one permission table, and the one check every API route makes.

Every route under ``/api/v1`` declares the permission it needs with :func:`needs`
(``@router.post("/runs/{run_id}/cancel", **needs(Permission.RUN))``); the app refuses to
start with a route that declares none. A request names its namespace in the
``X-Headwater-Namespace`` header (default: ``default``, or the caller's only namespace);
the caller's role there (their membership, or ``owner`` for a server owner) must grant the
permission. A namespace the caller is no member of answers 404, exactly as one that does
not exist: names in other namespaces are not revealed.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from headwater._config import NAMESPACE_RE
from headwater.errors import ApiError
from headwater.server._deps import ServerState, authenticated, state
from headwater.store import Authenticated

NAMESPACE_HEADER = "X-Headwater-Namespace"
# The OpenAPI extension each route's permission is published under (the role x route
# test reads it from the OpenAPI document).
PERMISSION_KEY = "x-headwater-permission"


class Permission(StrEnum):
    READ = "read"
    RUN = "run"
    DEPLOY = "deploy"
    SCHEDULE = "schedule"
    MODELS = "models"
    SERVE = "serve"
    VARIABLES = "variables"
    MEMBERS = "members"
    TOKENS = "tokens"
    POOLS = "pools"
    SECRETS = "secrets"
    CONNECTIONS = "connections"
    AUDIT = "audit"
    NAMESPACES = "namespaces"
    USERS = "users"


# What each permission covers, for the docs' table.
MEANING: dict[Permission, str] = {
    Permission.READ: "read pipelines, runs, logs, artifacts, metrics, models, studies",
    Permission.RUN: "trigger, cancel, retry and clear runs, and post asset events",
    Permission.DEPLOY: "deploy pipelines (runs their code on the server's workers)",
    Permission.SCHEDULE: "pause, resume and edit schedules; backfills",
    Permission.MODELS: "register model versions, set and delete aliases",
    Permission.SERVE: "create, change, promote, roll back and delete deployments",
    Permission.VARIABLES: "set and delete variables",
    Permission.MEMBERS: "add, change and remove the namespace's members",
    Permission.TOKENS: "see and revoke other users' tokens",
    Permission.POOLS: "create, resize and delete pools",
    Permission.SECRETS: "set and delete secrets (values are never read back)",
    Permission.CONNECTIONS: "add and delete connections",
    Permission.AUDIT: "read the audit log",
    Permission.NAMESPACES: "create and delete namespaces",
    Permission.USERS: "create users",
}

_VIEWER = frozenset({Permission.READ})
_EDITOR = _VIEWER | {
    Permission.RUN,
    Permission.DEPLOY,
    Permission.SCHEDULE,
    Permission.MODELS,
    Permission.SERVE,
    Permission.VARIABLES,
}
_ADMIN = _EDITOR | {
    Permission.MEMBERS,
    Permission.TOKENS,
    Permission.POOLS,
    Permission.SECRETS,
    Permission.CONNECTIONS,
    Permission.AUDIT,
}
# The permission table: a role grants exactly these. ``owner`` is server-wide.
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "viewer": _VIEWER,
    "editor": _EDITOR,
    "admin": _ADMIN,
    "owner": frozenset(Permission),
}
ROLES = tuple(ROLE_PERMISSIONS)


def least_role(permission: Permission) -> str:
    """The first role, least to most, that grants ``permission``."""
    return next(role for role in ROLES if permission in ROLE_PERMISSIONS[role])


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who is asking, in which namespace, holding which role there."""

    who: Authenticated
    namespace: str
    role: str

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def caller(
    request: Request,
    who: Annotated[Authenticated, Depends(authenticated)],
    namespace: Annotated[
        str | None,
        Header(
            alias=NAMESPACE_HEADER,
            description="The namespace to work in (default: 'default', or your only one).",
        ),
    ] = None,
) -> Caller:
    store = state(request).ws.store
    owner = who.user.role == "owner"
    roles = {} if owner else store.namespaces.roles_of(who.user.id)
    if namespace is None:
        if owner or "default" in roles or not roles:
            namespace = "default"
        elif len(roles) == 1:
            [namespace] = roles
        else:
            raise ApiError(
                400,
                f"user '{who.user.name}' works in several namespaces; say which one",
                hint=f"send the header {NAMESPACE_HEADER}: one of {', '.join(sorted(roles))} "
                "(headwater --namespace NAME, or HEADWATER_NAMESPACE)",
            )
    if not NAMESPACE_RE.match(namespace):
        raise ApiError(
            400,
            f"{NAMESPACE_HEADER}: {namespace[:80]!r} is not a namespace name",
            hint="use lower-case letters, digits and dashes, starting with a letter",
        )
    role = "owner" if owner else roles.get(namespace)
    if role is None or (owner and not store.namespaces.exists(namespace)):
        mine = sorted(store.namespaces.names() if owner else roles)
        raise ApiError(
            404,
            f"no namespace '{namespace}'",
            hint=f"your namespaces: {', '.join(mine)}"
            if mine
            else "you are no member of any namespace yet: ask an admin to add you",
        )
    found = Caller(who, namespace, role)
    request.state.caller = found
    request.state.namespace = namespace  # the audit log records it
    return found


Called = Annotated[Caller, Depends(caller)]


def scoped_state(request: Request, who: Called) -> ServerState:
    """The server's state for this request: its workspace scoped to the caller's
    namespace (queries, artifacts, URI roots)."""
    base = state(request)
    if who.namespace == base.ws.store.namespace:
        return base
    return dataclasses.replace(base, ws=base.ws.scoped(who.namespace))


class _Needs:
    """The dependency that checks one permission (one class, so routes can be listed
    with the permission they declare)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(self, who: Called) -> Caller:
        if not who.may(self.permission):
            role = least_role(self.permission)
            raise ApiError(
                403,
                f"user '{who.who.user.name}' is {_article(who.role)} {who.role} in namespace "
                f"'{who.namespace}', which may not {MEANING[self.permission]}",
                hint=f"ask an admin of '{who.namespace}' for the {role} role "
                f"(headwater members add {who.who.user.name} --role {role} "
                f"--namespace {who.namespace})",
            )
        return who


def needs(permission: Permission) -> dict[str, Any]:
    """The route options that make a route check ``permission`` and publish it in the
    OpenAPI document: ``@router.get(path, **needs(Permission.READ))``."""
    return {
        "dependencies": [Depends(_Needs(permission))],
        "openapi_extra": {PERMISSION_KEY: permission.value},
    }


def authenticated_only() -> dict[str, Any]:
    """The route options of a route any signed-in user may call, in no namespace (who am
    I): it declares that it needs no permission."""
    return {
        "dependencies": [Depends(authenticated)],
        "openapi_extra": {PERMISSION_KEY: "authenticated"},
    }


def _article(role: str) -> str:
    return "an" if role[0] in "aeiou" else "a"


def permission_table() -> str:
    """The permission table as Markdown (docs/teams-and-security.md holds this text; a
    test keeps the two the same)."""
    lines = ["| permission | what it allows | " + " | ".join(ROLES) + " |"]
    lines.append("|---|---|" + "---|" * len(ROLES))
    for permission in Permission:
        marks = " | ".join("yes" if permission in ROLE_PERMISSIONS[r] else "" for r in ROLES)
        lines.append(f"| `{permission.value}` | {MEANING[permission]} | {marks} |")
    return "\n".join(lines)
