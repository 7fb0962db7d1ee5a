"""``headwater envs``: the per-step environments built on this machine (docs/adr/0014)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, out

envs_app = typer.Typer(
    help="Per-step environments built for components' packages=.", no_args_is_help=True
)
app.add_typer(envs_app, name="envs")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _ago(when: float | None) -> str:
    if when is None:
        return "-"
    s = max(0.0, time.time() - when)
    if s < 120:
        return f"{s:.0f} s ago"
    if s < 7200:
        return f"{s / 60:.0f} min ago"
    if s < 2 * 86400:
        return f"{s / 3600:.0f} h ago"
    return f"{s / 86400:.0f} days ago"


@envs_app.command("list")
def envs_list() -> None:
    """Every environment: its digest, interpreter, packages, size, last use, and how many
    runs use it now."""
    from headwater.envs import envs_dir, list_envs

    found = list_envs()
    table = Table(title=f"environments in {escape(str(envs_dir()))}", title_justify="left")
    for col in ("digest", "python", "packages", "size", "last used", "runs using"):
        table.add_column(col, justify="right" if col in ("size", "runs using") else "left")
    for env in found:
        asked = ", ".join(env.requested or env.pinned) or "-"
        extra = len(env.pinned) - len(env.requested)
        if env.requested and extra > 0:
            asked += f" [dim](+{extra} dependencies)[/]"
        table.add_row(
            env.digest[:19] + ("" if env.ready else " [red](incomplete)[/]"),
            env.python,
            asked,
            _size(env.size),
            _ago(env.last_used),
            str(env.users),
        )
    out.print(table)
    total = sum(e.size for e in found)
    out.print(f"{len(found)} environment(s), {_size(total)}")


@envs_app.command("prune")
def envs_prune(
    older_than: Annotated[
        float,
        typer.Option("--older-than", min=0, help="Remove those unused for this many days."),
    ] = 30.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
    ] = False,
) -> None:
    """Remove environments no run used in --older-than days and none uses now (a run
    needing one again builds it again), and cached resolutions as old."""
    from headwater.envs import prune

    result = prune(older_than, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for env in result.envs:
        out.print(
            f"{verb} {env.digest[:19]} ({escape(', '.join(env.requested) or '-')}, "
            f"{_size(env.size)}, last used {_ago(env.last_used)})",
            highlight=False,
        )
    for env in result.kept_in_use:
        out.print(f"kept {env.digest[:19]}: in use by a running run", highlight=False)
    out.print(
        f"{verb} {len(result.envs)} environment(s) ({_size(result.freed)}) and "
        f"{result.locks} cached resolution(s)",
        highlight=False,
    )
