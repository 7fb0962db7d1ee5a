"""What ``headwater run`` shows while a run goes on, and the table at its end."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from headwater.states import TASK_DONE, TASK_FAILURE, TASK_LIVE, TaskStatus

if TYPE_CHECKING:
    from rich.console import RenderableType

    from headwater.engine import EnvProgress
    from headwater.store import TaskRunRecord

STYLES = {
    "pending": "dim",
    "queued": "cyan",
    "running": "yellow",
    "succeeded": "green",
    "cached": "blue",
    "failed": "bold red",
    "upstream_failed": "red",
    "skipped": "dim",
    "up_for_retry": "magenta",
    "cancelled": "red",
}


def styled(status: str) -> str:
    style = STYLES.get(status, "")
    return f"[{style}]{status}[/]" if style else status


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


class Progress:
    """A live table of tasks on a terminal; one line per change elsewhere."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.title = title
        self.rows: dict[str, dict[str, Any]] = {}
        self.live: Live | None = None
        # Environments being built: digest -> (what, its latest line of output).
        self.building: dict[str, tuple[str, str]] = {}

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            # The table is rebuilt from the current rows at every refresh.
            self.live = Live(console=self.console, refresh_per_second=8, get_renderable=self._view)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.refresh()
            self.live.__exit__(None, None, None)

    def __call__(self, kind: str, unit: Any) -> None:
        if not getattr(unit, "is_task", False) or unit.status is None:
            return
        if kind == "requeued":
            self.console.print(
                f"  {escape(unit.path)}: attempt {unit.attempt} had not started when the "
                "previous engine stopped; queued again (not a failure, no retry used)",
                highlight=False,
            )
        row = self.rows.setdefault(unit.path, {"started": None, "finished": None, "attempt": 0})
        status = str(unit.status)
        now = time.time()
        if status == "running" and row["started"] is None:
            row["started"] = now
        if unit.status in TASK_DONE:
            row["finished"] = now
        row["status"] = status
        row["attempt"] = unit.attempt
        if self.live is None and unit.status not in TASK_LIVE:
            # Not a terminal: one plain line per task outcome, cheap even for big fan-outs.
            extra = f" (attempt {unit.attempt})" if unit.attempt > 1 else ""
            self.console.file.write(f"  {unit.path}: {status}{extra}\n")

    def warning(self, text: str) -> None:
        """Say what the run knowingly ignores (an ``image=``, with ``--ignore-image``)."""
        self.console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)

    def environment(self, ev: EnvProgress) -> None:
        """Show that a per-step environment is being built: a spinner and its latest line
        of output on a terminal, a line when it starts and ends elsewhere."""
        digest = ev.environment.digest
        what = escape(ev.environment.describe())
        if ev.stage == "output":
            if digest not in self.building and self.live is None:
                self.console.print(f"  building environment {what}...", highlight=False)
            self.building[digest] = (what, escape(ev.line.strip()[:100]))
        elif ev.stage == "ready" and digest in self.building:
            del self.building[digest]
            self.console.print(
                f"  environment {what} built in {seconds(ev.seconds)}", highlight=False
            )

    def _view(self) -> RenderableType:
        if not self.building:
            return self._table()
        from rich.console import Group
        from rich.spinner import Spinner

        lines = [
            Spinner("dots", text=f"building environment {what}  [dim]{line}[/]")
            for what, line in list(self.building.values())
        ]
        return Group(*lines, self._table())

    def _table(self) -> Table:
        table = Table(title=self.title, title_justify="left", expand=False)
        table.add_column("task")
        table.add_column("state")
        table.add_column("attempt", justify="right")
        table.add_column("time", justify="right")
        now = time.time()
        for path, row in list(self.rows.items()):  # the refresh thread reads while tasks change
            start, end = row["started"], row["finished"]
            took = (end or now) - start if start else None
            table.add_row(
                escape(path),
                styled(row.get("status", "")),
                str(row["attempt"] or ""),
                seconds(took),
            )
        return table


_INDEX = re.compile(r"\[\d+\]")
_COPY = re.compile(r"-\d+(?=$|\.)")


def summary(
    tasks: dict[str, TaskRunRecord],
    title: str,
    sources: dict[str, TaskRunRecord] | None = None,
    *,
    nodes: bool = False,
) -> Table:
    """The final table: every task's state, duration, attempts and cache source (and, with
    ``nodes``, the machine its latest attempt ran on).

    Loop iterations of one task fold into one row (``loop-1[*].fit``) when there are many.
    """
    if len(tasks) > 30:
        # Many tasks: one row per loop body task, then per component called many times.
        groups: dict[str, list[TaskRunRecord]] = {}
        for path, rec in tasks.items():
            groups.setdefault(_INDEX.sub("[*]", path), []).append(rec)
        if len(groups) > 30:
            regrouped: dict[str, list[TaskRunRecord]] = {}
            for pattern, recs in groups.items():
                regrouped.setdefault(_COPY.sub("-*", pattern), []).extend(recs)
            groups = regrouped
        if len(groups) < len(tasks):
            return _folded(groups, title, nodes)
    table = Table(title=title, title_justify="left")
    table.add_column("task")
    table.add_column("state")
    table.add_column("attempts", justify="right")
    table.add_column("duration", justify="right")
    if nodes:
        table.add_column("node")
    table.add_column("note")
    for path, rec in tasks.items():
        took = rec.duration.total_seconds() if rec.duration else None
        note = ""
        if rec.status is TaskStatus.CACHED and rec.cached_from:
            source = (sources or {}).get(rec.cached_from)
            note = f"cache hit from run {source.run_id}" if source else "cache hit"
        elif rec.error and rec.status in TASK_FAILURE:
            note = escape(rec.error.splitlines()[0][:80])
        where = [escape(rec.node or "")] if nodes else []
        table.add_row(
            escape(path), styled(str(rec.status)), str(rec.attempt), seconds(took), *where, note
        )
    return table


def _folded(groups: dict[str, list[TaskRunRecord]], title: str, nodes: bool = False) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("task")
    table.add_column("tasks", justify="right")
    table.add_column("states")
    table.add_column("median duration", justify="right")
    if nodes:
        table.add_column("nodes")
    for pattern, recs in groups.items():
        counts: dict[str, int] = {}
        for r in recs:
            counts[str(r.status)] = counts.get(str(r.status), 0) + 1
        states = ", ".join(f"{n} {styled(s)}" for s, n in counts.items())
        took = sorted(r.duration.total_seconds() for r in recs if r.duration)
        mid = took[len(took) // 2] if took else None
        where = []
        if nodes:
            seen = sorted({r.node for r in recs if r.node})
            where = [escape(seen[0]) if len(seen) == 1 else f"{len(seen)} nodes" if seen else ""]
        table.add_row(escape(pattern), str(len(recs)), states, seconds(mid), *where)
    return table
