"""``headwater namespaces`` and ``headwater members``: who works where."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, out

namespaces_app = typer.Typer(
    help="Namespaces: each holds its own pipelines, runs, artifacts, models and pools.",
    no_args_is_help=True,
)
members_app = typer.Typer(
    help="Who works in a namespace, and their role there (viewer, editor, admin).",
    no_args_is_help=True,
)
app.add_typer(namespaces_app, name="namespaces")
app.add_typer(members_app, name="members")

InNamespace = Annotated[
    str | None,
    typer.Option(
        "--namespace", help="The namespace (default: HEADWATER_NAMESPACE, else 'default')."
    ),
]


def _store() -> Any:
    from headwater.engine import Workspace

    return Workspace.open().store


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


@namespaces_app.command("create")
def namespaces_create(
    name: Annotated[str, typer.Argument(help="Lower-case letters, digits and dashes.")],
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Create a namespace (then give people a role in it with 'headwater members add')."""
    made = _store().namespaces.create(name, description)
    out.print(f"namespace {escape(made.name)} created")


@namespaces_app.command("list")
def namespaces_list() -> None:
    """Every namespace, with how many members it has."""
    store = _store()
    table = Table(title="namespaces", title_justify="left")
    for col in ("namespace", "members", "created", "description"):
        table.add_column(col)
    for ns in store.namespaces.list():
        members = len(store.namespaces.members(ns.name))
        table.add_row(escape(ns.name), str(members), _when(ns.created_at), escape(ns.description))
    out.print(table)


@namespaces_app.command("delete")
def namespaces_delete(name: Annotated[str, typer.Argument()]) -> None:
    """Delete an empty namespace with its memberships, pools and URI roots."""
    gone = _store().namespaces.delete(name)
    out.print(f"namespace {escape(gone.name)} deleted")


@members_app.command("add")
def members_add(
    user: Annotated[str, typer.Argument(help="The user (see 'headwater users list').")],
    role: Annotated[str, typer.Option("--role", help="viewer, editor or admin.")] = "editor",
    namespace: InNamespace = None,
) -> None:
    """Give a user a role in a namespace (or change the role they have there)."""
    store = _store()
    found = store.namespaces.set_member(namespace or store.namespace, user, role)
    out.print(f"{escape(found.user)} is {found.role} in namespace {escape(found.namespace)}")


@members_app.command("remove")
def members_remove(user: Annotated[str, typer.Argument()], namespace: InNamespace = None) -> None:
    """Take a user's role in a namespace away."""
    store = _store()
    gone = store.namespaces.remove_member(namespace or store.namespace, user)
    out.print(f"{escape(gone.user)} is no longer a member of {escape(gone.namespace)}")


@members_app.command("list")
def members_list(namespace: InNamespace = None) -> None:
    """The members of a namespace and their roles (server owners may act everywhere)."""
    store = _store()
    where = namespace or store.namespace
    store.namespaces.get(where)
    table = Table(title=f"members of namespace '{escape(where)}'", title_justify="left")
    for col in ("user", "role", "since"):
        table.add_column(col)
    for m in store.namespaces.members(where):
        table.add_row(escape(m.user), m.role, _when(m.created_at))
    out.print(table)
