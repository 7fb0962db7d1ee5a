"""Runs: trigger, list, inspect, cancel, retry, clear; task attempts and their logs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from headwater.errors import ApiError
from headwater.server._access import Permission, needs, scoped_state
from headwater.server._deps import ServerState, page, utc
from headwater.server._schemas import (
    CancelOut,
    Cleared,
    ClearIn,
    GridOut,
    LogOut,
    MetricOut,
    Page,
    RunDetail,
    RunOut,
    SeriesOut,
    TaskOut,
    TriggerIn,
)
from headwater.states import RunStatus, TaskStatus
from headwater.store import RunFilter, TaskRunRecord

router = APIRouter(prefix="/api/v1", tags=["runs"])
St = Annotated[ServerState, Depends(scoped_state)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")]


def _task_out(r: TaskRunRecord) -> dict[str, Any]:
    return {**r.__dict__, "status": r.status.value, "cleared": r.cleared_at is not None}


@router.post(
    "/pipelines/{name}/runs", response_model=RunOut, status_code=201, **needs(Permission.RUN)
)
def trigger(s: St, name: str, body: TriggerIn) -> Any:
    """Queue a run of the pipeline's newest deployed version (or ``version``), with
    parameters checked against its schema; a scheduler starts it at once."""
    from headwater.scheduler import trigger as create

    run = create(
        s.ws,
        name,
        body.parameters,
        version=body.version,
        cache=body.cache,
        experiment=body.experiment,
    )
    if s.wake_scheduler is not None:
        s.wake_scheduler()
    return run


@router.get("/runs", response_model=Page[RunOut], **needs(Permission.READ))
def list_runs(
    s: St,
    limit: Limit = 50,
    offset: Offset = 0,
    pipeline: Annotated[str | None, Query(max_length=128)] = None,
    status: RunStatus | None = None,
    trigger: Annotated[
        str | None, Query(max_length=64, description="manual, api, schedule, asset, backfill")
    ] = None,
    version: Annotated[str | None, Query(max_length=32)] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    tag: Annotated[
        str | None, Query(max_length=128, description="Pipelines with this tag.")
    ] = None,
    experiment: Annotated[str | None, Query(max_length=128)] = None,
) -> Any:
    """Runs, newest first."""
    f = RunFilter(
        pipeline=pipeline,
        status=status.value if status else None,
        trigger=trigger,
        version_id=version,
        created_after=utc(created_after, "query.created_after"),
        created_before=utc(created_before, "query.created_before"),
        pipelines=s.ws.store.queries.pipelines_tagged(tag) if tag else None,
        experiment=experiment,
    )
    rows, total = s.ws.store.queries.page_runs(f, limit, offset)
    return page(rows, total, limit, offset)


@router.get("/runs/{run_id}", response_model=RunDetail, **needs(Permission.READ))
def get_run(s: St, run_id: str) -> Any:
    """A run with every task attempt (cleared attempts included, marked)."""
    run = s.ws.store.runs.get_run(run_id)
    return {**run.__dict__, "tasks": [_task_out(t) for t in s.ws.store.tasks.task_runs(run.id)]}


@router.post("/runs/{run_id}/cancel", response_model=CancelOut, **needs(Permission.RUN))
def cancel(s: St, run_id: str) -> Any:
    """Cancel a queued run at once, or ask the engine of a running one to stop it."""
    from headwater.scheduler import cancel as stop

    status = stop(s.ws, run_id)
    run = s.ws.store.runs.get_run(run_id)
    if s.cancel_local is not None:
        s.cancel_local(run.id)
    return {"run_id": run.id, "status": status.value}


@router.post("/runs/{run_id}/retry", response_model=Cleared, **needs(Permission.RUN))
def retry(s: St, run_id: str) -> Any:
    """Run the failed tasks of an ended run again (and the tasks they feed), with the
    run's own pipeline version."""
    from headwater.scheduler import retry_failed

    cleared = retry_failed(s.ws, run_id)
    # The run as the clear left it (queued), read before the woken scheduler claims it.
    run = s.ws.store.runs.get_run(run_id)
    if s.wake_scheduler is not None:
        s.wake_scheduler()
    return {"run_id": run.id, "cleared": cleared, "status": run.status.value}


@router.post("/runs/{run_id}/tasks/{task}/clear", response_model=Cleared, **needs(Permission.RUN))
def clear(s: St, run_id: str, task: str, body: ClearIn | None = None) -> Any:
    """Clear a task of an ended run, and (``downstream``) everything after it, and run
    them again with the run's own pipeline version."""
    from headwater.scheduler import clear as clear_tasks

    cleared = clear_tasks(s.ws, run_id, [task], downstream=body.downstream if body else True)
    # The run as the clear left it (queued), read before the woken scheduler claims it.
    run = s.ws.store.runs.get_run(run_id)
    if s.wake_scheduler is not None:
        s.wake_scheduler()
    return {"run_id": run.id, "cleared": cleared, "status": run.status.value}


@router.get("/runs/{run_id}/tasks", response_model=Page[TaskOut], **needs(Permission.READ))
def list_tasks(
    s: St,
    run_id: str,
    limit: Limit = 500,
    offset: Offset = 0,
    status: TaskStatus | None = None,
    task: Annotated[str | None, Query(max_length=512, description="A task path.")] = None,
) -> Any:
    """A run's task attempts, oldest first."""
    run = s.ws.store.runs.get_run(run_id)
    rows = [
        r
        for r in s.ws.store.tasks.task_runs(run.id)
        if (status is None or r.status is status) and (task is None or r.path == task)
    ]
    return page([_task_out(r) for r in rows[offset : offset + limit]], len(rows), limit, offset)


def _attempt(s: ServerState, run_id: str, task: str, attempt: int | None) -> TaskRunRecord:
    run = s.ws.store.runs.get_run(run_id)
    rows = [r for r in s.ws.store.tasks.task_runs(run.id) if r.path == task]
    if not rows:
        raise ApiError(
            404,
            f"run {run.id} has no task '{task}'",
            hint=f"list them at /api/v1/runs/{run.id}/tasks",
        )
    if attempt is None:
        return rows[-1]
    for r in rows:
        if r.attempt == attempt:
            return r
    raise ApiError(
        404,
        f"task '{task}' of run {run.id} has no attempt {attempt}",
        hint=f"its attempts are {', '.join(str(r.attempt) for r in rows)}",
    )


@router.get("/runs/{run_id}/tasks/{task}/logs", response_model=LogOut, **needs(Permission.READ))
def logs(
    s: St,
    run_id: str,
    task: str,
    attempt: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    offset: Annotated[
        int, Query(ge=-(1 << 40), le=1 << 40, description="Byte offset; negative: from the end.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=8 << 20)] = 1 << 20,
) -> Any:
    """A byte range of an attempt's log (the latest attempt unless ``attempt``)."""
    from headwater.scheduler import read_log

    return read_log(_attempt(s, run_id, task, attempt), offset, limit).__dict__


@router.get(
    "/runs/{run_id}/tasks/{task}/logs/follow",
    response_class=StreamingResponse,
    **needs(Permission.READ),
)
def follow(
    s: St,
    run_id: str,
    task: str,
    attempt: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    offset: Annotated[int, Query(ge=0, le=1 << 40)] = 0,
) -> StreamingResponse:
    """Server-sent events: the log as it grows (``data`` is a JSON chunk), until the
    attempt ends; the event ``end`` closes the stream."""
    from headwater.scheduler import read_log

    first = _attempt(s, run_id, task, attempt)

    def stream() -> Iterator[str]:
        position = offset
        record = first
        idle = 0.0
        while True:
            chunk = read_log(record, position, 256 << 10)
            if chunk.text:
                position = chunk.next_offset
                idle = 0.0
                yield f"data: {json.dumps({'text': chunk.text, 'offset': chunk.offset})}\n\n"
                continue
            if chunk.complete:
                yield "event: end\ndata: {}\n\n"
                return
            time.sleep(0.25)
            idle += 0.25
            if idle >= 15:
                idle = 0.0
                yield ": keep-alive\n\n"
            record = s.ws.store.tasks.get_task_run(record.id)

    return StreamingResponse(stream(), media_type="text/event-stream")


@router.get("/runs/{run_id}/metrics", response_model=list[MetricOut], **needs(Permission.READ))
def metrics(
    s: St,
    run_id: str,
    key: Annotated[str | None, Query(max_length=256)] = None,
    task: Annotated[str | None, Query(max_length=512)] = None,
) -> Any:
    """Every metric point the run's tasks logged, in logging order."""
    run = s.ws.store.runs.get_run(run_id)
    return [
        {"task": path, **point.__dict__}
        for path, point in s.ws.store.lineage.metrics(run.id)
        if (key is None or point.key == key) and (task is None or path == task)
    ]


@router.get("/grid", response_model=GridOut, **needs(Permission.READ))
def grid(
    s: St,
    pipeline: Annotated[str, Query(max_length=128)],
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
    status: RunStatus | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    version: Annotated[str | None, Query(max_length=32)] = None,
) -> Any:
    """A pipeline's newest runs by its tasks, each cell the task's latest state (the
    Airflow grid)."""
    f = RunFilter(
        pipeline=pipeline,
        status=status.value if status else None,
        version_id=version,
        created_after=utc(created_after, "query.created_after"),
        created_before=utc(created_before, "query.created_before"),
    )
    rows, _ = s.ws.store.queries.page_runs(f, limit, 0)
    states = s.ws.store.queries.task_states([r.id for r in rows])
    tasks: dict[str, None] = {}
    for r in reversed(rows):
        for path in states.get(r.id, {}):
            tasks.setdefault(path, None)
    return {"runs": rows, "tasks": list(tasks), "states": states}


@router.get(
    "/runs/{run_id}/metric-series", response_model=list[SeriesOut], **needs(Permission.READ)
)
def metric_series(s: St, run_id: str) -> Any:
    """The run's metrics as one series per task and key (arrays of steps and values): the
    compact form for charts; 100,000 points are a few hundred kilobytes."""
    run = s.ws.store.runs.get_run(run_id)
    return [
        {"task": task, "key": key, "step": steps, "value": values}
        for task, key, steps, values in s.ws.store.queries.metric_series(run.id)
    ]
