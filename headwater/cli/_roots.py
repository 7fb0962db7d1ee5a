"""``headwater roots``: where the runs a server creates may read (see docs/adr/0009)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, out

roots_app = typer.Typer(
    help="The URI roots that runs created through a server may read, per namespace.",
    no_args_is_help=True,
)
app.add_typer(roots_app, name="roots")

Namespace = Annotated[
    str, typer.Option("--namespace", help="The namespace whose runs the roots apply to.")
]


def _store(namespace: str) -> tuple[Any, Any]:
    from headwater.engine import Workspace

    ws = Workspace.open()
    ws.store.namespaces.get(namespace)  # an unknown namespace is refused
    scoped = ws.scoped(namespace)
    return scoped, scoped.store


@roots_app.command("list")
def roots_list(namespace: Namespace = "default") -> None:
    """The roots of a namespace: its artifact root (always), then those an operator added."""
    from headwater.engine import uri_policy

    ws, store = _store(namespace)
    added = {r.root: r for r in store.roots.list()}
    policy = uri_policy(ws.settings, store)
    table = Table(title=f"URI roots of namespace '{escape(namespace)}'", title_justify="left")
    for col in ("root", "kind", "description"):
        table.add_column(col)
    for root in policy.roots:
        record = added.get(root)
        kind = "added" if record is not None else "artifact root"
        description = (record.description if record else None) or ""
        table.add_row(escape(root), kind, escape(description))
    out.print(table)
    out.print(
        f"never readable: Headwater's home {escape(policy.home or '-')} (but the artifact "
        "root) and its metadata database",
        soft_wrap=True,
    )


@roots_app.command("add")
def roots_add(
    root: Annotated[str, typer.Argument(help="An absolute path, or scheme://bucket/prefix.")],
    namespace: Namespace = "default",
    description: Annotated[str | None, typer.Option("--description")] = None,
) -> None:
    """Allow the namespace's server-created runs to read under ROOT (importers, and the
    artifacts served from there)."""
    from headwater.engine import uri_policy
    from headwater.errors import HeadwaterError, UriNotAllowed

    ws, store = _store(namespace)
    try:
        inside = uri_policy(ws.settings, store).within_state(root)
    except UriNotAllowed:
        inside = None  # the store says what is wrong with its form
    if inside is not None:
        raise HeadwaterError(
            f"root {root!r} cannot be allowed: it {inside}",
            hint="allow a folder outside HEADWATER_HOME; the artifact root is always allowed",
        )
    added = store.roots.add(root, description)
    out.print(f"namespace {escape(namespace)}: runs may read under {escape(added.root)}")


@roots_app.command("remove")
def roots_remove(root: Annotated[str, typer.Argument()], namespace: Namespace = "default") -> None:
    """Stop allowing ROOT; runs that have not read it yet are refused from now on."""
    _, store = _store(namespace)
    store.roots.remove(root)
    out.print(f"namespace {escape(namespace)}: root {escape(root)} removed")
