"""``headwater models``: registered models, their versions and aliases."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, out
from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    from headwater.store import MetadataStore, ModelVersionRecord

models_app = typer.Typer(
    help="The model registry: models, versions, aliases.", no_args_is_help=True
)
alias_app = typer.Typer(help="Point an alias at a version, or remove it.", no_args_is_help=True)
models_app.add_typer(alias_app, name="alias")
app.add_typer(models_app, name="models")


def _store() -> MetadataStore:
    from headwater.engine import Workspace

    return Workspace.open().store


def _actor() -> str:
    import getpass

    try:
        return f"cli {getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _when(value: object) -> str:
    return str(value)[:19].replace("T", " ")


def _metrics(version: ModelVersionRecord) -> str:
    parts = [
        f"{task}.{key}={value:.4g}" if len(version.metrics) > 1 else f"{key}={value:.4g}"
        for task, values in sorted(version.metrics.items())
        for key, value in sorted(values.items())
    ]
    return ", ".join(parts[:6]) + (" ..." if len(parts) > 6 else "")


def _versions_table(title: str, versions: list[ModelVersionRecord]) -> Table:
    table = Table(title=escape(title), title_justify="left")
    for col in ("version", "aliases", "flavor", "run", "task", "created", "metrics"):
        table.add_column(col, justify="right" if col == "version" else "left")
    for v in versions:
        table.add_row(
            str(v.version),
            escape(", ".join(v.aliases)),
            escape(v.flavor or ""),
            v.run_id or "",
            v.task_run_id or "",
            _when(v.created_at),
            escape(_metrics(v)),
        )
    return table


@models_app.command("list")
def models_list(
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100,
) -> None:
    """Registered models, by name."""
    table = Table(title="models", title_justify="left")
    for col in ("model", "versions", "aliases", "updated", "description"):
        table.add_column(col, justify="right" if col == "versions" else "left")
    for m in _store().models.list_models(limit):
        aliases = ", ".join(f"{a}→{v}" for a, v in sorted(m.aliases.items()))
        table.add_row(
            escape(m.name),
            str(m.last_version),
            escape(aliases),
            _when(m.updated_at),
            escape(m.description or ""),
        )
    out.print(table)


@models_app.command("show")
def models_show(name: Annotated[str, typer.Argument(help="The model.")]) -> None:
    """A model: its aliases, versions and the history of its aliases."""
    store = _store()
    model = store.models.get_model(name)
    out.print(f"[bold]{escape(model.name)}[/bold]  {model.last_version} version(s)")
    if model.description:
        out.print(escape(model.description), highlight=False)
    for alias, version in sorted(model.aliases.items()):
        out.print(f"  @{escape(alias)} → version {version}", highlight=False)
    out.print(_versions_table("versions", store.models.versions(name)))
    history = store.models.alias_history(name, limit=20)
    if history:
        table = Table(title="alias history", title_justify="left")
        for col in ("when", "alias", "from", "to", "by"):
            table.add_column(col)
        for change in history:
            table.add_row(
                _when(change.created_at),
                escape(change.alias),
                "" if change.from_version is None else str(change.from_version),
                "deleted" if change.to_version is None else str(change.to_version),
                escape(change.actor or ""),
            )
        out.print(table)


@models_app.command("versions")
def models_versions(
    name: Annotated[str, typer.Argument(help="The model.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every version of a model, newest first, with its run's metrics side by side."""
    versions = _store().models.versions(name)
    if as_json:
        from headwater.registry import version_json

        out.print_json(json.dumps([version_json(v) for v in versions]))
        return
    out.print(_versions_table(f"model {name}", versions))


def _tags(values: list[str] | None) -> dict[str, str]:
    tags = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise HeadwaterError(
                f"--tag {item!r} is not KEY=VALUE", hint="write e.g. --tag team=growth"
            )
        tags[key] = value
    return tags


@models_app.command("register")
def models_register(
    artifact: Annotated[str, typer.Argument(help="The artifact id (or a unique prefix).")],
    name: Annotated[str, typer.Option("--name", "-n", help="The model's name.")],
    alias: Annotated[
        list[str] | None, typer.Option("--alias", "-a", help="Point this alias at it.")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="KEY=VALUE.")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
) -> None:
    """Register an artifact (a Model) as the next version of a model."""
    from headwater.registry import register_artifact

    version = register_artifact(
        _store(),
        name,
        artifact,
        aliases=alias or [],
        tags=_tags(tag),
        description=description,
        created_by=_actor(),
    )
    aliases = f" ({', '.join('@' + a for a in version.aliases)})" if version.aliases else ""
    out.print(
        f"registered {escape(name)} version {version.version}{escape(aliases)}: "
        f"{escape(version.flavor or 'flavour unknown')}",
        highlight=False,
    )


@alias_app.command("set")
def alias_set(
    name: Annotated[str, typer.Argument(help="The model.")],
    alias: Annotated[str, typer.Argument(help="The alias, e.g. champion.")],
    version: Annotated[int, typer.Argument(help="The version number it points at.")],
) -> None:
    """Point an alias at a version (it moves there if it pointed elsewhere)."""
    change = _store().models.set_alias(name, alias, version, actor=_actor())
    before = "" if change.from_version is None else f" (was version {change.from_version})"
    out.print(f"{escape(name)}@{escape(alias)} → version {version}{before}", highlight=False)


@alias_app.command("delete")
def alias_delete(
    name: Annotated[str, typer.Argument(help="The model.")],
    alias: Annotated[str, typer.Argument(help="The alias.")],
) -> None:
    """Remove an alias (its version stays)."""
    change = _store().models.delete_alias(name, alias, actor=_actor())
    out.print(
        f"removed {escape(name)}@{escape(alias)} (it pointed at version {change.from_version})",
        highlight=False,
    )


@models_app.command("download")
def models_download(
    ref: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME/VERSION.")],
    output: Annotated[str, typer.Option("--output", "-o", help="The folder to write into.")],
) -> None:
    """Copy a version's files into a folder."""
    from headwater.registry import download

    version, path = download(_store(), ref, output)
    out.print(f"{escape(version.model)} version {version.version} → {escape(path)}")


@models_app.command("lineage")
def models_lineage(
    ref: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME/VERSION.")],
) -> None:
    """What a version was made from, back to the data."""
    from headwater.registry import lineage, resolve

    store = _store()
    version = resolve(store, ref)
    table = Table(
        title=escape(f"{version.model} version {version.version}: upstream"), title_justify="left"
    )
    for col in ("hops", "artifact", "name", "type", "made by", "uri"):
        table.add_column(col)
    for node in lineage(store, ref):
        maker = node.producer
        table.add_row(
            str(node.depth),
            node.artifact.id,
            escape(node.artifact.name),
            escape(node.artifact.type),
            escape(f"{maker.path} (run {maker.run_id})") if maker else "",
            escape(node.artifact.uri),
        )
    out.print(table)
    served = store.deployments.serving(version_id=version.id)
    if served:
        downstream = Table(title="served by", title_justify="left")
        for col in ("deployment", "role", "since", "until", "server"):
            downstream.add_column(col)
        for x in served:
            downstream.add_row(
                escape(x.deployment),
                x.role,
                _when(x.since),
                _when(x.until) if x.until else "now",
                escape(x.server),
            )
        out.print(downstream)
