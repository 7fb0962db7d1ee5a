"""``@pipeline``: a function whose component calls form a DAG, compiled to a spec."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, overload

from headwater.errors import DefinitionError, HeadwaterError, Location, PipelineDefinitionError
from headwater.sdk import _graph, _location
from headwater.sdk._assets import Asset, AssetCondition, asset_schedule, is_asset_schedule
from headwater.sdk._notify import notification_specs
from headwater.sdk._options import normalize, parse_duration

if TYPE_CHECKING:
    from headwater.sdk._interface import Interface
    from headwater.spec import PipelineSpec


class Pipeline(_graph.Mappable):
    """A ``@pipeline`` function. Compile it with :meth:`compile`, or call it inside
    another pipeline to use it as one step."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None,
        description: str | None,
        metadata: dict[str, Any],
    ) -> None:
        self.python_func = func
        self.src = _location.of_function(func)
        self._name = name or func.__name__
        self.description = description or _doc(func)
        self.metadata = metadata
        self._graph: tuple[_graph.DagBuilder, dict[str, Any]] | None = None
        self._building = False
        self._iface: Interface | None = None
        functools.update_wrapper(self, func)

    @property
    def name(self) -> str:
        return self._name

    @property
    def options(self) -> dict[str, Any]:
        return {}

    def location(self) -> Location:
        return _location.loc(self.src, self._name)

    def graph(self) -> tuple[_graph.DagBuilder, dict[str, Any]]:
        """Call the pipeline function once to record its tasks; cached."""
        if self._graph is not None:
            return self._graph
        if self._building:
            raise PipelineDefinitionError(
                f"pipeline '{self._name}' calls itself",
                location=self.location(),
                hint="a pipeline cannot contain itself; loop with ParallelFor instead",
            )
        from headwater.sdk._interface import pipeline_inputs

        inputs, _ = pipeline_inputs(self.python_func, self._name, self.src)
        builder = _graph.DagBuilder(self._name)
        args = {n: _graph.PipelineInput(builder, n) for n in inputs}
        self._building = True
        try:
            with _graph.building(builder):
                result = self.python_func(**args)
        except HeadwaterError:
            raise
        except Exception as exc:
            raise self._user_error(exc) from exc
        finally:
            self._building = False
        outputs = _pipeline_outputs(result, self)
        self._graph = (builder, outputs)
        return self._graph

    def _user_error(self, exc: Exception) -> PipelineDefinitionError:
        """An exception raised by the pipeline function itself, pointing at its line."""
        import traceback

        file = self.src.file if self.src else None
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == file]
        line = frames[-1].lineno if frames else (self.src.line if self.src else None)
        src = _location.Src(file, line or 0) if file else None
        return PipelineDefinitionError(
            f"building the pipeline raised {type(exc).__name__}: {exc}",
            location=_location.loc(src, self._name),
            hint="the pipeline function runs once to record its tasks; task outputs and "
            "parameters have no values then. Move the computation into a component",
        )

    def interface(self) -> Interface:
        if self._iface is None:
            from headwater.sdk._compile import pipeline_interface

            self._iface = pipeline_interface(self)
        return self._iface

    def compile(self) -> PipelineSpec:
        """The validated spec of this pipeline; raises ValidationError listing every problem."""
        from headwater.sdk._compile import compile_pipeline

        return compile_pipeline(self)

    def __call__(self, *args: Any, **kwargs: Any) -> _graph.Task:
        if _graph._current_or_none() is None:
            src = _location.caller()
            raise PipelineDefinitionError(
                f"pipeline '{self._name}' was called outside a pipeline",
                location=_location.loc(src),
                hint="run it with headwater.run(pipeline, **params) or 'headwater run FILE'; "
                "call it inside another @pipeline to use it as a step",
            )
        return _graph.call(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<pipeline {self._name}>"


def _doc(func: Callable[..., Any]) -> str | None:
    import inspect

    return inspect.cleandoc(func.__doc__).split("\n\n")[0].strip() if func.__doc__ else None


def _pipeline_outputs(result: Any, p: Pipeline) -> dict[str, Any]:
    if result is None:
        return {}
    if isinstance(result, _graph.Task | _graph.MappedTask):
        result = result.output
    if isinstance(result, _graph.TaskOutput | _graph.Collected):
        return {"output": result}
    items: dict[str, Any]
    if isinstance(result, tuple) and hasattr(result, "_fields"):
        items = dict(zip(result._fields, result, strict=True))
    elif isinstance(result, dict):
        items = dict(result)
    else:
        raise PipelineDefinitionError(
            f"pipeline '{p.name}' returns {type(result).__name__}",
            location=p.location(),
            hint="return a task output, a NamedTuple or dict of task outputs, or nothing",
        )
    for key, value in items.items():
        if isinstance(value, _graph.Task | _graph.MappedTask):
            items[key] = value = value.output
        if not isinstance(value, _graph.TaskOutput | _graph.Collected):
            raise PipelineDefinitionError(
                f"pipeline '{p.name}' output '{key}' is {type(value).__name__}, not a task output",
                location=p.location(),
                hint="a pipeline's outputs must come from its tasks",
            )
    return items


def _to_datetime(value: Any, what: str, tz: str, where: Location) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise DefinitionError(
                f"{what} {value!r} is not an ISO date or datetime",
                location=where,
                hint="write it like '2026-01-31' or '2026-01-31T06:00:00+00:00'",
            ) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise DefinitionError(
            f"{what} must be a datetime, date or ISO string, not {type(value).__name__}",
            location=where,
            hint="use e.g. datetime(2026, 1, 1, tzinfo=timezone.utc) or '2026-01-01'",
        )
    if value.tzinfo is None:
        import zoneinfo

        # A bad time zone is left for the validator to report with the others.
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
            value = value.replace(tzinfo=zoneinfo.ZoneInfo(tz))
    return str(value.isoformat())


def _schedule(value: Any, tz: str, where: Location) -> dict[str, Any] | None:
    if value is None:
        return None
    if is_asset_schedule(value):
        assets, mode = asset_schedule(value, where)
        return {"kind": "assets", "assets": assets, "asset_mode": mode, "timezone": tz}
    if isinstance(value, timedelta | int | float) and not isinstance(value, bool):
        seconds = parse_duration(value, "schedule interval", where)
        if seconds <= 0:
            raise DefinitionError(
                "schedule interval must be positive",
                location=where,
                hint="use e.g. schedule=timedelta(hours=6)",
            )
        return {"kind": "interval", "interval_seconds": seconds, "timezone": tz}
    if isinstance(value, str):
        if value.strip() == "@once":
            return {"kind": "once", "timezone": tz}
        if "://" in value:
            raise DefinitionError(
                f"schedule {value!r} looks like an asset name, not a cron expression",
                location=where,
                hint=f"to run when the asset is updated, write schedule=Asset({value.strip()!r})",
            )
        return {"kind": "cron", "cron": value.strip(), "timezone": tz}
    raise DefinitionError(
        f"schedule must be a cron string, a preset such as '@daily', '@once', a "
        f"timedelta, or assets, not {type(value).__name__}",
        location=where,
        hint="use e.g. schedule='0 3 * * *', schedule=timedelta(hours=6) or "
        "schedule=Asset('s3://lake/features')",
    )


def _metadata(
    *,
    schedule: Any,
    timezone: str,
    start_date: Any,
    end_date: Any,
    catchup: bool,
    max_active_runs: int | None,
    max_active_tasks: int | None,
    deadline: Any,
    tags: Sequence[str],
    owner: str | None,
    notify: Any,
    cache: bool,
    task_defaults: dict[str, Any] | None,
    where: Location,
    packages: list[str] | None = None,
    requirements: str | None = None,
    base_dir: str | None = None,
) -> dict[str, Any]:
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise DefinitionError(
            f"tags must be a list of str, got {tags!r}",
            location=where,
            hint="use e.g. tags=['churn', 'daily']",
        )
    if max_active_runs is not None and (
        isinstance(max_active_runs, bool)
        or not isinstance(max_active_runs, int)
        or max_active_runs < 1
    ):
        raise DefinitionError(
            f"max_active_runs must be a whole number >= 1, got {max_active_runs!r}",
            location=where,
            hint="use e.g. max_active_runs=1 to run one at a time, or leave it out",
        )
    if max_active_tasks is not None and (
        isinstance(max_active_tasks, bool)
        or not isinstance(max_active_tasks, int)
        or max_active_tasks < 1
    ):
        raise DefinitionError(
            f"max_active_tasks must be a whole number >= 1, got {max_active_tasks!r}",
            location=where,
            hint="use e.g. max_active_tasks=4 to run at most four of this pipeline's tasks "
            "at once across all its runs, or leave it out",
        )
    if not isinstance(catchup, bool):
        raise DefinitionError(
            f"catchup must be True or False, got {catchup!r}",
            location=where,
            hint="catchup=True creates the runs of past intervals since start_date",
        )
    if not isinstance(cache, bool):
        raise DefinitionError(
            f"cache must be True or False, got {cache!r}",
            location=where,
            hint="use cache=False to turn caching off for every task",
        )
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        if schedule is not None or (start_date is None and end_date is None):
            pass  # the validator reports it with the schedule's other problems
        else:
            raise DefinitionError(
                f"unknown time zone '{timezone}'",
                location=where,
                hint="use an IANA time zone name such as 'UTC' or 'Europe/Paris'",
            ) from None
    deadline_s = parse_duration(deadline, "deadline", where) if deadline is not None else None
    raw_defaults = dict(task_defaults or {})
    for key, value in (("packages", packages), ("requirements", requirements)):
        if value is None:
            continue
        if raw_defaults.get(key) is not None:
            raise DefinitionError(
                f"{key} is set both on @pipeline and in its task_defaults",
                location=where,
                hint=f"set {key}= in one place",
            )
        raw_defaults[key] = value
    defaults = normalize(raw_defaults, where, base_dir)
    if "assets" in defaults:
        raise DefinitionError(
            "task_defaults cannot set assets: each task has its own outputs",
            location=where,
            hint="set assets on the component or the task whose output updates the asset, "
            "e.g. task.updates_asset('model', 'models://churn')",
        )
    return {
        "schedule": _schedule(schedule, timezone, where),
        "start_date": _to_datetime(start_date, "start_date", timezone, where),
        "end_date": _to_datetime(end_date, "end_date", timezone, where),
        "catchup": catchup,
        "max_active_runs": max_active_runs,
        "max_active_tasks": max_active_tasks,
        "deadline_seconds": deadline_s,
        "tags": list(tags),
        "owner": owner,
        "notifications": notification_specs(notify, where, task=False),
        "cache_enabled": cache,
        "task_defaults": defaults,
    }


Schedule = str | timedelta | Asset | AssetCondition | Sequence[Asset | str] | None
"""What ``@pipeline(schedule=...)`` takes: a cron string or preset, an interval, or assets."""


@overload
def pipeline(func: Callable[..., Any], /) -> Pipeline: ...


@overload
def pipeline(
    *,
    name: str | None = None,
    description: str | None = None,
    schedule: Schedule = None,
    timezone: str = "UTC",
    start_date: datetime | date | str | None = None,
    end_date: datetime | date | str | None = None,
    catchup: bool = False,
    max_active_runs: int | None = None,
    max_active_tasks: int | None = None,
    deadline: Any = None,
    tags: Sequence[str] = (),
    owner: str | None = None,
    notify: Any = None,
    cache: bool = True,
    task_defaults: dict[str, Any] | None = None,
    packages: list[str] | None = None,
    requirements: str | None = None,
) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    schedule: Schedule = None,
    timezone: str = "UTC",
    start_date: datetime | date | str | None = None,
    end_date: datetime | date | str | None = None,
    catchup: bool = False,
    max_active_runs: int | None = None,
    max_active_tasks: int | None = None,
    deadline: Any = None,
    tags: Sequence[str] = (),
    owner: str | None = None,
    notify: Any = None,
    cache: bool = True,
    task_defaults: dict[str, Any] | None = None,
    packages: list[str] | None = None,
    requirements: str | None = None,
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Make a function a pipeline: each component call inside it becomes a task.

    Scheduling metadata (used by ``headwater scheduler``): ``schedule`` is a cron
    string with ``timezone``, a preset (``@hourly``, ``@daily``, ...),
    ``@once``, a ``timedelta``, or assets: ``Asset(...)``, ``a & b`` or a list
    (run when all were updated) or ``a | b`` (when any was; ``start_date``,
    ``catchup`` and ``timezone`` do not apply to them); ``start_date``/``end_date``,
    ``catchup``, ``max_active_runs``, ``max_active_tasks`` (tasks of this
    pipeline running at once, across all its runs), ``deadline``. Also ``tags``,
    ``owner``, ``notify`` (``Slack(...)``, ``Email(...)``, ``Webhook(...)`` or
    callables), ``cache`` (False turns caching off for every task) and
    ``task_defaults`` (component options applied to every task, like Airflow's
    ``default_args``). ``packages`` and ``requirements`` (a file, relative to this one)
    are the default environment of every task (a task default; a component's or task's
    own ``packages`` replace it, see docs/environments.md).

    Example::

        @pipeline(schedule="0 3 * * *", timezone="Europe/Paris", tags=["churn"])
        def churn(min_accuracy: float = 0.8):
            data = load()
            model = train(data=data.output)
    """

    def wrap(f: Callable[..., Any]) -> Pipeline:
        src = _location.of_function(f)
        where = _location.loc(src, name or f.__name__)
        meta = _metadata(
            schedule=schedule,
            timezone=timezone,
            start_date=start_date,
            end_date=end_date,
            catchup=catchup,
            max_active_runs=max_active_runs,
            max_active_tasks=max_active_tasks,
            deadline=deadline,
            tags=tags,
            owner=owner,
            notify=notify,
            cache=cache,
            task_defaults=task_defaults,
            where=where,
            packages=packages,
            requirements=requirements,
            base_dir=os.path.dirname(src.file) if src else None,
        )
        return Pipeline(f, name=name, description=description, metadata=meta)

    if func is not None:
        return wrap(func)
    return wrap
