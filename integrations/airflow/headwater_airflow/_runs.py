"""What the provider reads from Headwater's REST API: whether a run has ended, why it did
not succeed, what it returned, where its page is in the web UI, and which errors are worth
waiting out. Shared by the operator, the sensors and the triggers; no Airflow imports, so
that the triggerer and the worker read a run the same way."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from headwater.states import RUN_DONE, RunStatus

DONE = frozenset(s.value for s in RUN_DONE)
SUCCEEDED = RunStatus.SUCCEEDED.value
# How long polling goes on through a server that cannot be reached (a restart, a deploy)
# before the wait fails; a refusal (401, 404, 422) fails it at once.
UNREACHABLE_GRACE_SECONDS = 120.0
# Failed tasks named in a failure message, at most.
_NAMED_TASKS = 5


def run_page(url: str, run_id: str) -> str:
    """The run's page in the Headwater web UI (which routes in the URL's fragment)."""
    return f"{url.rstrip('/')}/#/runs/{quote(run_id, safe='')}"


def output_parameters(run: dict[str, Any]) -> dict[str, Any]:
    """The values the run's pipeline returned (its outputs that are not artifacts)."""
    outputs = run.get("outputs") or {}
    return dict(outputs.get("parameters") or {})


def output_artifacts(run: dict[str, Any]) -> dict[str, Any]:
    """The artifacts the run's pipeline returned: an artifact id (or a list) by name."""
    outputs = run.get("outputs") or {}
    return dict(outputs.get("artifacts") or {})


def failed_tasks(run: dict[str, Any]) -> list[tuple[str, str]]:
    """``(task path, first line of its error)`` of each task whose latest attempt failed."""
    latest: dict[str, dict[str, Any]] = {}
    for task in run.get("tasks") or []:
        if task.get("cleared"):
            continue
        seen = latest.get(task["path"])
        if seen is None or task["attempt"] > seen["attempt"]:
            latest[task["path"]] = task
    found = []
    for path, task in latest.items():
        if task["status"] == "failed":
            error = (task.get("error") or "").strip()
            # The first line is the exception itself; a traceback follows it.
            found.append((path, error.splitlines()[0] if error else "failed"))
    return found


def not_succeeded(run: dict[str, Any], page: str | None = None) -> str:
    """Why an ended run did not succeed: the run, its status, its failed tasks and errors."""
    what = f"Headwater run {run['id']} of pipeline '{run.get('pipeline', '?')}' {run['status']}"
    failed = failed_tasks(run)
    if failed:
        named = "; ".join(f"{path}: {error}" for path, error in failed[:_NAMED_TASKS])
        more = len(failed) - _NAMED_TASKS
        what += f". Failed tasks: {named}" + (f" (and {more} more)" if more > 0 else "")
    elif run.get("error"):  # it names the failed tasks itself when there are some
        what += f": {run['error']}"
    if page:
        what += f". See {page}"
    return what


def deadline(timeout: float | None) -> float | None:
    """The wall-clock time (seconds since the epoch) a wait of ``timeout`` seconds ends."""
    return None if timeout is None else time.time() + timeout


def passed(end: float | None) -> bool:
    return end is not None and time.time() >= end


def transient(status: int) -> bool:
    """Whether an answer with this HTTP status (0: no answer) may change if asked again."""
    return status == 0 or status == 429 or status >= 500


class Patience:
    """Waits out a server that does not answer, for ``grace`` seconds in a row."""

    def __init__(self, grace: float = UNREACHABLE_GRACE_SECONDS) -> None:
        self.grace = grace
        self._since: float | None = None

    def lost(self) -> bool:
        """Note one failed poll; True once failures have lasted longer than the grace."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        return now - self._since > self.grace

    def answered(self) -> None:
        self._since = None


def parse_time(value: str | datetime) -> datetime:
    """A datetime with a time zone (UTC when none is given) from ISO 8601 text or a datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO 8601 date and time (e.g. 2026-01-31T12:00:00+00:00)"
            ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def newer_event(page: dict[str, Any], after: datetime) -> dict[str, Any] | None:
    """The newest asset event in an /asset-events page if it came after ``after``."""
    items = page.get("items") or []
    if not items:
        return None
    event: dict[str, Any] = items[0]
    return event if parse_time(event["created_at"]) > after else None
