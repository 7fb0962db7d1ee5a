"""``headwater deployments``: what ``headwater serve --deployment NAME`` answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, out

if TYPE_CHECKING:
    from headwater.store import DeploymentRecord, MetadataStore

deployments_app = typer.Typer(
    help="Deployments: a name served by 'headwater serve --deployment', following a model "
    "alias, with a canary share and a shadow.",
    no_args_is_help=True,
)
app.add_typer(deployments_app, name="deployments")

Name = Annotated[str, typer.Argument(help="The deployment.")]
Canary = Annotated[
    str | None,
    typer.Option("--canary", metavar="MODEL", help="A version to try on a share of the requests."),
]
Percent = Annotated[
    float | None,
    typer.Option("--canary-percent", help="The canary's share of requests, 0 to 100 (default 10)."),
]
Shadow = Annotated[
    str | None,
    typer.Option("--shadow", metavar="MODEL", help="A version that gets a copy of every request."),
]


def _store() -> MetadataStore:
    from headwater.engine import Workspace

    return Workspace.open().store


def _actor() -> str:
    from headwater.cli._models import _actor as actor

    return actor()


def _when(value: object) -> str:
    return "" if value is None else str(value)[:19].replace("T", " ")


def _describe(d: DeploymentRecord) -> str:
    parts = [d.model]
    if d.canary:
        parts.append(f"canary {d.canary} {d.canary_percent:g}%")
    if d.shadow:
        parts.append(f"shadow {d.shadow}")
    return ", ".join(parts)


def _done(verb: str, d: DeploymentRecord) -> None:
    out.print(
        f"deployment '{escape(d.name)}' {verb} (revision {d.revision}): {escape(_describe(d))}",
        soft_wrap=True,
        highlight=False,
    )


@deployments_app.command("create")
def create(
    name: Name,
    model: Annotated[
        str,
        typer.Option(
            "--model", metavar="MODEL", help="The main version: NAME@ALIAS, NAME:VERSION or NAME."
        ),
    ],
    canary: Canary = None,
    canary_percent: Percent = None,
    shadow: Shadow = None,
) -> None:
    """Create a deployment: serve it with 'headwater serve --deployment NAME'."""
    d = _store().deployments.create(
        name,
        model,
        canary=canary,
        canary_percent=canary_percent,
        shadow=shadow,
        actor=_actor(),
    )
    _done("created", d)


@deployments_app.command("list")
def list_(limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100) -> None:
    """Deployments, by name, with what they follow and what is serving them."""
    store = _store()
    table = Table(title="deployments", title_justify="left")
    for col in ("deployment", "model", "canary", "shadow", "revision", "serving"):
        table.add_column(col)
    for d in store.deployments.list_deployments(limit):
        serving = store.deployments.serving(d.name, open_only=True)
        table.add_row(
            escape(d.name),
            escape(d.model),
            escape(f"{d.canary} ({d.canary_percent:g}%)" if d.canary else ""),
            escape(d.shadow or ""),
            str(d.revision),
            escape(", ".join(sorted({f"{s.role} {s.model}:{s.version}" for s in serving}))),
        )
    out.print(table)


@deployments_app.command("show")
def show(name: Name) -> None:
    """A deployment: what it follows, its revisions, and what was served since when."""
    store = _store()
    d = store.deployments.get(name)
    out.print(f"[bold]{escape(d.name)}[/bold]  revision {d.revision}", highlight=False)
    out.print(f"  main   {escape(d.model)}", highlight=False)
    if d.canary:
        out.print(f"  canary {escape(d.canary)} ({d.canary_percent:g}%)", highlight=False)
    if d.shadow:
        out.print(f"  shadow {escape(d.shadow)}", highlight=False)
    revisions = Table(title="revisions", title_justify="left")
    for col in ("revision", "action", "when", "by", "configuration"):
        revisions.add_column(col)
    for r in store.deployments.revisions(name, limit=20):
        config = [r.model]
        if r.canary:
            config.append(f"canary {r.canary} {r.canary_percent:g}%")
        if r.shadow:
            config.append(f"shadow {r.shadow}")
        revisions.add_row(
            str(r.revision),
            r.action,
            _when(r.created_at),
            escape(r.actor or ""),
            escape(", ".join(config)),
        )
    out.print(revisions)
    out.print(_serving_table(store.deployments.serving(name, limit=50)))


def _serving_table(rows: list) -> Table:  # type: ignore[type-arg]
    table = Table(title="served", title_justify="left")
    for col in ("deployment", "role", "model", "version", "since", "until", "server"):
        table.add_column(col)
    for s in rows:
        table.add_row(
            escape(s.deployment),
            s.role,
            escape(s.model),
            str(s.version),
            _when(s.since),
            _when(s.until) or "now",
            escape(s.server),
        )
    return table


@deployments_app.command("update")
def update(
    name: Name,
    model: Annotated[
        str | None, typer.Option("--model", metavar="MODEL", help="A new main version.")
    ] = None,
    canary: Canary = None,
    canary_percent: Percent = None,
    shadow: Shadow = None,
    no_canary: Annotated[bool, typer.Option("--no-canary", help="Remove the canary.")] = False,
    no_shadow: Annotated[bool, typer.Option("--no-shadow", help="Remove the shadow.")] = False,
) -> None:
    """Change what a deployment serves; its servers follow within a second or so."""
    from headwater.errors import InvalidValue

    if no_canary and (canary or canary_percent is not None):
        raise InvalidValue("--no-canary removes the canary: give no --canary with it")
    if no_shadow and shadow:
        raise InvalidValue("--no-shadow removes the shadow: give no --shadow with it")
    changes: dict[str, object] = {}
    if canary is not None or no_canary:
        changes["canary"] = None if no_canary else canary
    if shadow is not None or no_shadow:
        changes["shadow"] = None if no_shadow else shadow
    d = _store().deployments.update(
        name,
        model=model,
        canary_percent=canary_percent,
        actor=_actor(),
        **changes,  # type: ignore[arg-type]
    )
    _done("updated", d)


@deployments_app.command("promote")
def promote(name: Name) -> None:
    """The canary becomes the main version (it is loaded already: no reload)."""
    _done("promoted", _store().deployments.promote(name, _actor()))


@deployments_app.command("rollback")
def rollback(name: Name) -> None:
    """Back to the main version served before the current one, pinned by number."""
    _done("rolled back", _store().deployments.rollback(name, _actor()))


@deployments_app.command("delete")
def delete(
    name: Name,
    force: Annotated[
        bool, typer.Option("--force", help="Delete even if a server says it serves it.")
    ] = False,
) -> None:
    """Delete a deployment and its history (refused while a server serves it)."""
    d = _store().deployments.delete(name, force=force)
    out.print(f"deployment '{escape(d.name)}' deleted", highlight=False)
