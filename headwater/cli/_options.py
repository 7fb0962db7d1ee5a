"""Options and helpers that several command modules share.

They live apart from any command module so that importing one command (``headwater
run`` imports only :mod:`headwater.cli._runs`) does not import and register others.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

Server = Annotated[
    str | None,
    typer.Option(
        "--server", envvar="HEADWATER_SERVER", help="Talk to this Headwater server (a URL)."
    ),
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="HEADWATER_TOKEN", help="API token for --server."),
]

# A schedule's settings, as 'schedules set' edits them and 'deploy' sets them.
Cron = Annotated[str | None, typer.Option("--cron", help="Cron or preset (@daily).")]
Every = Annotated[float | None, typer.Option("--every", help="Interval in seconds.")]
TimeZone = Annotated[str | None, typer.Option("--timezone", help="IANA time zone.")]
Start = Annotated[str | None, typer.Option("--start", help="ISO start_date.")]
End = Annotated[str | None, typer.Option("--end", help="ISO end_date.")]
Catchup = Annotated[bool | None, typer.Option("--catchup/--no-catchup")]
MaxActiveRuns = Annotated[int | None, typer.Option("--max-active-runs", min=1, max=1_000_000)]


def _limit_flag(field: str) -> Any:
    from headwater._limits import LIMITS, Limits

    limit = next(x for x in LIMITS if x.field == field)
    default = getattr(Limits, field)
    shown = f"{default:,}" if isinstance(default, int) else f"{default:g}"
    return typer.Option(
        limit.flag,
        help=f"Limit on the {limit.about}, in {limit.unit} (default {shown}; env {limit.env}).",
        show_default=False,
    )


MaxRequestBytes = Annotated[int | None, _limit_flag("max_request_bytes")]
MaxParameterBytes = Annotated[int | None, _limit_flag("max_parameter_bytes")]
MaxJsonDepth = Annotated[int | None, _limit_flag("max_json_depth")]
MaxRenderSeconds = Annotated[float | None, _limit_flag("max_render_seconds")]
MaxRenderBytes = Annotated[int | None, _limit_flag("max_render_bytes")]
MaxRenderMemory = Annotated[int | None, _limit_flag("max_render_memory_bytes")]
MinScheduleInterval = Annotated[float | None, _limit_flag("min_schedule_interval")]
MaxRunsPerPass = Annotated[int | None, _limit_flag("max_runs_per_pass")]
MaxBackfillRuns = Annotated[int | None, _limit_flag("max_backfill_runs")]
MaxBundleBytes = Annotated[int | None, _limit_flag("max_bundle_bytes")]
MaxBundleFiles = Annotated[int | None, _limit_flag("max_bundle_files")]
MaxCompileSeconds = Annotated[float | None, _limit_flag("max_compile_seconds")]
MaxCompileMemory = Annotated[int | None, _limit_flag("max_compile_memory_bytes")]


def apply_limits(**flags: float | None) -> None:
    """The limits of this process: the environment's, with the flags given laid over."""
    from headwater._limits import configure, limits

    configure(limits().replace(**flags))


def client(server: str, token: str | None) -> Any:
    from headwater.client import Client

    return Client(server, token)


# How runs are compared (headwater runs compare, headwater experiments runs).
Where = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        "-w",
        help="Only runs where COLUMN OP VALUE holds, as in 'accuracy>0.9' or "
        "'params.optimizer=sgd' (repeat: all must hold).",
        show_default=False,
    ),
]
Sort = Annotated[
    str | None,
    typer.Option("--sort", help="Order by this metric or params.NAME.", show_default=False),
]
Descending = Annotated[bool, typer.Option("--desc", help="Sort from the highest value down.")]
Best = Annotated[
    str | None,
    typer.Option(
        "--best",
        help="Only the run with the best value of this metric (see --direction).",
        show_default=False,
    ),
]
Direction = Annotated[
    str,
    typer.Option("--direction", help="What --best means: maximize or minimize."),
]
Limit = Annotated[int, typer.Option("--limit", min=1, max=1_000_000, help="Rows shown.")]
Columns = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="Only these parameter and metric columns, comma-separated "
        "(as in 'params.lr,accuracy').",
        show_default=False,
    ),
]
Format = Annotated[str, typer.Option("--format", help="table, json or csv.")]
