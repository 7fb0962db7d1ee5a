"""``headwater notifications``: what the outbox holds, and sending what is due."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, out

notifications_app = typer.Typer(
    help="Notifications: queued with each run's changes, delivered with retries.",
    no_args_is_help=True,
)
app.add_typer(notifications_app, name="notifications")

_STATUSES = ("pending", "delivered", "failed")


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


@notifications_app.command("list")
def notifications_list(
    run: Annotated[str | None, typer.Option("--run", help="Only this run's.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivered or failed.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
) -> None:
    """Notifications, newest first: where each went, how often it was tried, the last error."""
    from headwater.engine import Workspace
    from headwater.errors import HeadwaterError
    from headwater.store import DeliveryStatus

    if status is not None and status not in _STATUSES:
        raise HeadwaterError(f"unknown --status '{status}'", hint="use " + ", ".join(_STATUSES))
    rows = Workspace.open().store.outbox.recent(
        run_id=run, status=DeliveryStatus(status) if status else None, limit=limit
    )
    table = Table(title="notifications", title_justify="left")
    for col in ("created", "run", "event", "task", "target", "status", "tries", "last error"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            _when(r.created_at),
            r.run_id or "-",
            r.event,
            escape(r.task or "-"),
            escape(f"{r.target.get('kind')} {r.target.get('target')}"),
            str(r.status),
            str(r.attempts),
            escape((r.last_error or "").splitlines()[0][:80] if r.last_error else ""),
        )
    out.print(table)


@notifications_app.command("send")
def notifications_send(
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Seconds to keep trying what is due (default 30)."),
    ] = 30.0,
) -> None:
    """Deliver the notifications that are due now (a scheduler does this on its own)."""
    from headwater.engine import Workspace
    from headwater.notify import Sender

    ws = Workspace.open()
    sender = Sender(ws.store)
    sender.stop(drain=wait)
    pending = ws.store.outbox.untried_due()
    out.print(
        "every due notification was tried"
        if not pending
        else f"{pending} notification(s) still due; run this again or start a scheduler"
    )
