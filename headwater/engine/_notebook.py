"""Runs in a Jupyter notebook: a run's HTML view, and a live view while ``headwater.run`` runs.

Both are plain HTML sent through IPython's display machinery (a display id updated in
place), so no widget library is needed. Every text that comes from users or tasks
(task names, parameter values, errors) is escaped. Outside a notebook nothing here is
shown: a terminal keeps its plain output.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any, Protocol

from headwater.states import TASK_DONE, TASK_FAILURE

if TYPE_CHECKING:
    from headwater.store import ArtifactRecord, RunRecord, TaskRunRecord


class Run(Protocol):
    """What the views read of a :class:`headwater.engine.Run`."""

    @property
    def record(self) -> RunRecord: ...

    @property
    def tasks(self) -> dict[str, TaskRunRecord]: ...

    @property
    def metrics(self) -> dict[str, dict[str, float]]: ...

    def artifact_records(self, ids: list[str]) -> dict[str, ArtifactRecord]: ...


_COLOURS = {
    "queued": "#0e7490",
    "running": "#b45309",
    "succeeded": "#15803d",
    "cached": "#1d4ed8",
    "failed": "#b91c1c",
    "upstream_failed": "#dc2626",
    "cancelled": "#dc2626",
    "up_for_retry": "#a21caf",
}
_ROWS = 200  # tasks shown in a table; a larger fan-out is summed up in the counts line
_TEXT = 120  # characters of a value or an error shown in a cell
_CELL = "padding:2px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #ddd"


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (a terminal IPython is not one)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    return getattr(shell, "kernel", None) is not None


def server_url() -> str | None:
    """The Headwater server whose UI shows this machine's runs: ``HEADWATER_SERVER``."""
    url = os.environ.get("HEADWATER_SERVER", "").strip().rstrip("/")
    return url if url.startswith(("http://", "https://")) else None


def badge(status: str) -> str:
    colour = _COLOURS.get(status, "#6b7280")
    return (
        f'<span style="background:{colour};color:#fff;border-radius:4px;padding:1px 6px;'
        f'font-size:90%">{escape(status)}</span>'
    )


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _TEXT else text[: _TEXT - 1] + "…"


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def _span(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<th style="{_CELL}">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in row) + "</tr>"
        for row in rows
    )
    return (
        '<table style="border-collapse:collapse;margin:4px 0">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _counts(statuses: list[str]) -> str:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{n} {escape(s)}" for s, n in sorted(counts.items()))


def _outputs_cell(rec: TaskRunRecord, artifacts: dict[str, ArtifactRecord]) -> str:
    if not rec.outputs:
        return ""
    parts = [
        f"{escape(k)}=<code>{escape(_short(v))}</code>"
        for k, v in rec.outputs.get("parameters", {}).items()
    ]
    for name, ref in rec.outputs.get("artifacts", {}).items():
        refs = ref if isinstance(ref, list) else [ref]
        kinds = sorted({artifacts[r].type for r in refs if r in artifacts})
        parts.append(f"{escape(name)}: {escape(', '.join(kinds) or 'artifact')}")
    return "<br>".join(parts)


def _error_cell(error: str | None) -> str:
    if not error:
        return ""
    first = error.strip().splitlines()[0] if error.strip() else error
    return (
        f'<details><summary style="color:#b91c1c">{escape(_short(first))}</summary>'
        f'<pre style="white-space:pre-wrap;margin:0">{escape(error)}</pre></details>'
    )


def render_run(run: Run) -> str:
    """The HTML view of a run: its state, tasks, outputs and final metrics."""
    record = run.record
    tasks = run.tasks
    ids = [
        r
        for rec in tasks.values()
        if rec.outputs
        for ref in rec.outputs.get("artifacts", {}).values()
        for r in (ref if isinstance(ref, list) else [ref])
    ]
    artifacts = run.artifact_records(ids) if ids else {}
    took = _span(record.started_at, record.finished_at)
    head = [
        f"<b>Run</b> <code>{escape(record.id)}</code>",
        f"pipeline <b>{escape(record.pipeline)}</b>",
    ]
    if record.experiment and record.experiment != record.pipeline:
        head.append(f"experiment <b>{escape(record.experiment)}</b>")
    head.append(badge(str(record.status)))
    if took is not None:
        head.append(escape(seconds(took)))
    url = server_url()
    if url is not None:
        head.append(
            f'<a href="{escape(url)}/#/runs/{escape(record.id)}" target="_blank">open in the UI</a>'
        )
    parts = [f'<div class="headwater-run" style="font-family:inherit">{" · ".join(head)}</div>']
    if record.error:
        parts.append(f'<div style="color:#b91c1c">{escape(_short(record.error))}</div>')
    rows = []
    for path, rec in list(tasks.items())[:_ROWS]:
        rows.append(
            [
                escape(path),
                badge(str(rec.status)),
                str(rec.attempt),
                escape(seconds(_span(rec.started_at, rec.finished_at))),
                _outputs_cell(rec, artifacts),
                _error_cell(rec.error),
            ]
        )
    if rows:
        parts.append(_table(["task", "state", "attempt", "duration", "outputs", "error"], rows))
    if len(tasks) > _ROWS:
        counts = _counts([str(r.status) for r in tasks.values()])
        parts.append(f"<div>{len(tasks) - _ROWS} more tasks; all: {counts}</div>")
    metrics = run.metrics
    if metrics:
        parts.append("<div><b>metrics</b></div>" + metrics_html(metrics))
    return "\n".join(parts)


def metrics_html(metrics: dict[str, dict[str, float]]) -> str:
    rows = [
        [escape(path), escape(key), f"{value:.6g}"]
        for path, values in metrics.items()
        for key, value in values.items()
    ]
    return _table(["task", "metric", "value"], rows)


class MetricsByTask(dict[str, dict[str, float]]):
    """A run's final metrics by task path (a plain dict), shown as a table in a notebook."""

    def _repr_html_(self) -> str:
        return metrics_html(self)


class TaskOutputs(dict[str, Any]):
    """A task's outputs by name (a plain dict), shown as a table in a notebook."""

    def _repr_html_(self) -> str:
        rows = []
        for name, value in self.items():
            uri = getattr(value, "uri", None)
            kind = getattr(getattr(value, "record", None), "type", None) or "artifact"
            shown = f"{kind} at {uri}" if uri else _short(value)  # a whole URI, to copy
            rows.append([escape(name), f"<code>{escape(shown)}</code>"])
        return _table(["output", "value"], rows)


class LiveView:
    """An engine observer that keeps a notebook display of the run's tasks up to date."""

    def __init__(self, title: str, every: float = 0.25) -> None:
        from IPython.display import HTML, display

        self.title = title
        self.every = every
        self.state = "running"
        self.rows: dict[str, dict[str, Any]] = {}
        self.last = 0.0
        self._html = HTML
        self._display = display
        self.handle: Any = None  # shown at the first task's change

    def __call__(self, kind: str, unit: Any) -> None:
        if not getattr(unit, "is_task", False) or unit.status is None:
            return
        now = time.time()
        row = self.rows.setdefault(unit.path, {"started": None, "finished": None})
        status = str(unit.status)
        if status == "running" and row["started"] is None:
            row["started"] = now
        if unit.status in TASK_DONE:
            row["finished"] = now
        row.update(status=status, attempt=unit.attempt, error=unit.error)
        if now - self.last >= self.every or unit.status in TASK_FAILURE:
            self.update()

    def render(self) -> str:
        now = time.time()
        rows = []
        for path, row in list(self.rows.items())[:_ROWS]:
            start, end = row["started"], row["finished"]
            rows.append(
                [
                    escape(path),
                    badge(row["status"]),
                    str(row["attempt"]),
                    escape(seconds((end or now) - start if start else None)),
                    _error_cell(row.get("error")),
                ]
            )
        counts = _counts([r["status"] for r in self.rows.values()])
        head = f"<b>{escape(self.title)}</b> · {escape(self.state)}"
        head += f" · {counts}" if counts else ""
        table = _table(["task", "state", "attempt", "time", "error"], rows) if rows else ""
        return f'<div class="headwater-live">{head}</div>{table}'

    def update(self, html: str | None = None) -> None:
        self.last = time.time()
        page = self._html(html if html is not None else self.render())  # type: ignore[no-untyped-call]
        if self.handle is None:
            self.handle = self._display(page, display_id=True)  # type: ignore[no-untyped-call]
        else:
            self.handle.update(page)

    def finish(self, run: Run) -> None:
        """Show the finished run in place of the live table."""
        self.update(render_run(run))


@contextmanager
def live_view(title: str) -> Iterator[LiveView | None]:
    """In a notebook, a :class:`LiveView` titled ``title`` to pass as a run's observer;
    elsewhere, None (a terminal's output is unchanged)."""
    if not in_notebook():
        yield None
        return
    view = LiveView(title)
    try:
        yield view
    except BaseException as exc:
        if view.handle is not None:
            view.state = f"stopped: {type(exc).__name__}"
            view.update()
        raise
