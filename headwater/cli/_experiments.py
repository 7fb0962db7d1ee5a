"""``headwater experiments`` and ``headwater runs compare``: runs side by side."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, out
from headwater.cli._options import (
    Best,
    Columns,
    Descending,
    Direction,
    Format,
    Limit,
    Server,
    Sort,
    Token,
    Where,
)
from headwater.cli._progress import styled
from headwater.errors import HeadwaterError

experiments_app = typer.Typer(help="List experiments and compare their runs.", no_args_is_help=True)
app.add_typer(experiments_app, name="experiments")

FORMATS = ("table", "json", "csv")


def show(
    *,
    runs: list[str] | None,
    experiment: str | None,
    where: list[str] | None,
    sort: str | None,
    desc: bool,
    best: str | None,
    direction: str,
    limit: int,
    columns: str | None,
    fmt: str,
    server: str | None,
    token: str | None,
) -> None:
    """Compare runs here or on a server, and print the table (or JSON, or CSV)."""
    if fmt not in FORMATS:
        raise HeadwaterError(f"unknown format '{fmt[:40]}'", hint="use table, json or csv")
    if server:
        if runs or experiment is None:
            raise HeadwaterError(
                "with --server, runs are compared by experiment",
                hint="give --experiment NAME (and --where to narrow it down)",
            )
        from headwater.cli._options import client

        with client(server, token) as hw:
            data = hw.experiment_runs(
                experiment,
                where=where or [],
                sort=sort,
                order="desc" if desc else "asc",
                best=best,
                direction=direction,
                limit=limit,
            )
    else:
        found = _store().experiments.compare(
            experiment=experiment,
            runs=runs,
            where=where or [],
            sort=sort,
            descending=desc,
            best=best,
            direction=direction,
        )
        data = found.page(limit)
    _print(data, _chosen(data, columns), fmt, experiment)


def _store() -> Any:
    """This machine's store, opened without the engine: comparing reads only."""
    from headwater._config import Settings
    from headwater.store import MetadataStore

    return MetadataStore.open(Settings.from_env().database_url)


def _chosen(data: dict[str, Any], columns: str | None) -> list[str]:
    everything = [*(f"params.{p}" for p in data["parameters"]), *data["metrics"]]
    if columns is None:
        return everything
    wanted = [c.strip() for c in columns.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in everything and f"params.{c}" not in everything]
    if unknown:
        raise HeadwaterError(
            f"no column {', '.join(repr(c[:60]) for c in unknown)} in this comparison",
            hint="use some of: " + ", ".join(everything[:30]),
        )
    return [c if c in everything else f"params.{c}" for c in wanted]


def _cell(row: dict[str, Any], column: str) -> Any:
    if column.startswith("params."):
        return row["parameters"].get(column[len("params.") :])
    return row["metrics"].get(column)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value if isinstance(value, str) else json.dumps(value)


def _print(data: dict[str, Any], columns: list[str], fmt: str, experiment: str | None) -> None:
    rows = data["runs"]
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["run", "pipeline", "status", "created_at", *columns])
        for row in rows:
            cells = [_text(_cell(row, c)) for c in columns]
            writer.writerow([row["id"], row["pipeline"], row["status"], row["created_at"], *cells])
        return
    title = f"experiment {experiment}" if experiment else "runs compared"
    table = Table(title=escape(title), title_justify="left")
    table.add_column("run", no_wrap=True)
    several = len({row["pipeline"] for row in rows}) > 1
    if several:
        table.add_column("pipeline")
    table.add_column("state")
    for column in columns:
        table.add_column(
            escape(column), justify="left" if column.startswith("params.") else "right"
        )
    for row in rows:
        cells = [escape(_text(_cell(row, c))) for c in columns]
        lead = [row["id"], *([escape(row["pipeline"])] if several else []), styled(row["status"])]
        table.add_row(*lead, *cells)
    out.print(table)
    shown, matched, total = len(rows), data["matched"], data["total"]
    note = f"{shown} of {matched} run(s)" if shown < matched else f"{matched} run(s)"
    if matched < total:
        note += f" matching, of {total}"
    if shown < matched:
        note += " (--limit shows more)"
    out.print(note, highlight=False)


@experiments_app.command("list")
def experiments_list(
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100,
    server: Server = None,
    token: Token = None,
) -> None:
    """Experiments, the one with the newest run first."""
    if server:
        from headwater.cli._options import client

        with client(server, token) as hw:
            items = hw.experiments(limit=limit)
    else:
        items = [
            {
                "name": e.name,
                "runs": e.runs,
                "last_run_at": e.last_run_at.isoformat(),
                "pipelines": list(e.pipelines),
            }
            for e in _store().experiments.list_experiments(limit)
        ]
    table = Table(title="experiments", title_justify="left")
    for col in ("experiment", "runs", "last run", "pipelines"):
        table.add_column(col, justify="right" if col == "runs" else "left")
    for e in items:
        table.add_row(
            escape(e["name"]),
            str(e["runs"]),
            e["last_run_at"][:19].replace("T", " "),
            escape(", ".join(e["pipelines"])),
        )
    out.print(table)


@experiments_app.command("runs")
def experiments_runs(
    name: Annotated[str, typer.Argument(help="The experiment.")],
    where: Where = None,
    sort: Sort = None,
    desc: Descending = False,
    best: Best = None,
    direction: Direction = "maximize",
    limit: Limit = 50,
    columns: Columns = None,
    fmt: Format = "table",
    server: Server = None,
    token: Token = None,
) -> None:
    """The runs of an experiment with their parameters and final metrics."""
    show(
        runs=None,
        experiment=name,
        where=where,
        sort=sort,
        desc=desc,
        best=best,
        direction=direction,
        limit=limit,
        columns=columns,
        fmt=fmt,
        server=server,
        token=token,
    )
