"""``headwater audit``: what was done through the API, by whom, with what outcome."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, out
from headwater.cli._options import Server, Token
from headwater.errors import HeadwaterError

audit_app = typer.Typer(
    help="The audit log of mutating API calls (POST, PUT, PATCH, DELETE).", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")

FORMATS = ("table", "json")
_AGO = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A time from '90s', '30m', '1h', '2d', '1w' (that long ago) or an ISO date and time
    (UTC unless it says otherwise)."""
    found = _AGO.match(text)
    moment = now or datetime.now(UTC)
    if found:
        return moment - timedelta(seconds=int(found.group(1)) * _UNIT[found.group(2)])
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise HeadwaterError(
            f"--since {text[:40]!r} is neither a duration nor a date",
            hint="give how long ago, as in 30m, 1h, 2d or 1w, or a date such as 2026-01-31 "
            "or 2026-01-31T08:00:00",
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _when(value: Any) -> str:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def _rows_here(
    user: str | None, since: datetime | None, failed: bool, limit: int
) -> tuple[list[dict[str, Any]], int]:
    from headwater.engine import Workspace
    from headwater.store import AuditFilter

    f = AuditFilter(user=user, outcome="error" if failed else None, since=since)
    records, total = Workspace.open().store.audit.page(f, limit, 0)
    rows = [
        {**r.__dict__, "at": r.at.isoformat(), "outcome": "ok" if r.ok else "error"}
        for r in records
    ]
    return rows, total


@audit_app.command("list")
def audit_list(
    user: Annotated[
        str | None, typer.Option("--user", help="Only calls by this user.", show_default=False)
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only calls since: 30m, 1h, 2d, 1w or a date.", show_default=False
        ),
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Only calls answered 400 or above.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Rows shown.")] = 50,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    server: Server = None,
    token: Token = None,
) -> None:
    """The newest mutating API calls (from this machine's store, or a server's with --server)."""
    if fmt not in FORMATS:
        raise HeadwaterError(f"unknown format '{fmt[:40]}'", hint="use table or json")
    start = parse_since(since) if since else None
    if server:
        from headwater.cli._options import client

        with client(server, token) as hw:
            found = hw.audit(
                user=user,
                outcome="error" if failed else None,
                since=start.isoformat() if start else None,
                limit=limit,
            )
        rows, total = found["items"], found["total"]
    else:
        rows, total = _rows_here(user, start, failed, limit)
    if fmt == "json":
        sys.stdout.write(json.dumps({"items": rows, "total": total}, indent=2) + "\n")
        return
    where = f" on {server}" if server else ""
    table = Table(title=f"audit log{where} ({total} in all)", title_justify="left")
    for col in ("at", "user", "method", "route", "status", "error", "client", "ms"):
        table.add_column(col, no_wrap=col in ("at", "method", "status"))
    for r in rows:
        route = r["route"]
        for key, value in (r.get("path_params") or {}).items():
            route = route.replace("{" + key + "}", str(value))
        table.add_row(
            _when(r["at"]),
            escape(r["user"]),
            r["method"],
            escape(route),
            str(r["status"]) if r["status"] < 400 else f"[red]{r['status']}[/]",
            escape(r["error"] or ""),
            escape(r["client"] or ""),
            f"{r['duration_ms']:.0f}",
        )
    out.print(table)
