"""Sensors: tasks that wait for something outside the pipeline (docs/sensors-and-events.md).

Two kinds, both waiting in the ``deferred`` state between checks, holding no process,
task slot or pool slot:

- the built-in waits (:func:`wait_for_path`, :func:`wait_for_http`, :func:`wait_for_sql`,
  :func:`wait_for_run`, :func:`wait_for_asset`, :func:`wait_until`): the engine checks
  them itself, on one event loop for all of a process's waits, and no task process runs;
- ``@sensor`` functions: each check (a "poke") is a short task attempt that returns
  whether the condition holds (Airflow's sensors in ``reschedule`` mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from headwater.errors import ComponentDefinitionError
from headwater.sdk import _graph, _location
from headwater.sdk._component import Component

if TYPE_CHECKING:
    from headwater.sdk._interface import Interface

# The keywords every sensor takes, and the task option each one sets.
POLICY_WORDS = {
    "poke_interval": "poke_interval",
    "timeout": "wait_timeout",
    "soft_fail": "soft_fail",
    "exponential_backoff": "exponential_backoff",
    "max_poke_interval": "max_poke_interval",
    "updates": "updates_asset",
}


def _policy(words: dict[str, Any]) -> dict[str, Any]:
    """The task options for the sensor keywords given (those not None)."""
    return {POLICY_WORDS[k]: v for k, v in words.items() if v is not None}


class SensorComponent(Component):
    """An ``@sensor`` function: a component whose call is one poke."""

    def interface(self) -> Interface:
        if self._iface is None:
            iface = super().interface()
            _check_sensor_returns(self, iface)
        return super().interface()


def _check_sensor_returns(comp: Component, iface: Interface) -> None:
    out = iface.outputs.get("output")
    ok = iface.returns == "single" and out is not None and out.type is not None
    if ok and out is not None and out.type is not None:
        ok = out.type.kind == "bool" or out.type.optional
    if not ok:
        raise ComponentDefinitionError(
            f"sensor '{comp.name}' must return bool (whether its condition holds) or "
            "'X | None' (a value once it holds, None until then)",
            location=_location.loc(comp.src),
            hint="annotate the return, e.g. '-> bool' or '-> str | None'",
        )


@overload
def sensor(func: Callable[..., Any], /) -> SensorComponent: ...


@overload
def sensor(
    *,
    poke_interval: Any = None,
    timeout: Any = None,
    soft_fail: bool | None = None,
    exponential_backoff: bool | None = None,
    max_poke_interval: Any = None,
    updates: Any = None,
    name: str | None = None,
    description: str | None = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], SensorComponent]: ...


def sensor(
    func: Callable[..., Any] | None = None,
    /,
    *,
    poke_interval: Any = None,
    timeout: Any = None,
    soft_fail: bool | None = None,
    exponential_backoff: bool | None = None,
    max_poke_interval: Any = None,
    updates: Any = None,
    name: str | None = None,
    description: str | None = None,
    **options: Any,
) -> SensorComponent | Callable[[Callable[..., Any]], SensorComponent]:
    """Make a function a sensor: a check ("poke") run every ``poke_interval`` until it
    returns True (or, annotated ``-> X | None``, a value other than None, which becomes
    the task's output), for up to ``timeout`` (then the task fails, or is skipped with
    ``soft_fail=True``). ``exponential_backoff`` doubles the interval after each false
    poke, up to ``max_poke_interval``. ``updates`` (an :class:`Asset` or its name) is
    marked updated when the condition holds, triggering the pipelines scheduled on it.
    Between pokes the task is deferred: it holds no
    process and no slot. Other keywords are ``@component``'s options::

        @sensor(poke_interval="30s", timeout="6h", soft_fail=True)
        def partition_ready(table: str, day: str) -> bool:
            return day in list_partitions(table)
    """
    policy = _policy(
        {
            "poke_interval": poke_interval,
            "timeout": timeout,
            "soft_fail": soft_fail,
            "exponential_backoff": exponential_backoff,
            "max_poke_interval": max_poke_interval,
            "updates": updates,
        }
    )

    def wrap(f: Callable[..., Any]) -> SensorComponent:
        return SensorComponent(f, name=name, description=description, options={**options, **policy})

    if func is not None:
        return wrap(func)
    return wrap


# ---------------------------------------------------------------------- built-in waits


class BuiltinSensor:
    """The component behind a built-in wait: the engine checks it (``check``); no task
    process runs it."""

    def __init__(self, check: str, inputs: dict[str, tuple[str, bool]], output: str | None) -> None:
        self.check = check
        self._inputs = inputs  # name -> (type kind, optional)
        self._output = output
        self._iface: Interface | None = None

    @property
    def name(self) -> str:
        return f"wait_for_{self.check}" if self.check != "time" else "wait_until"

    @property
    def options(self) -> dict[str, Any]:
        return {}

    def interface(self) -> Interface:
        if self._iface is None:
            from headwater.sdk._interface import Interface
            from headwater.spec import IOSpec, ParamType

            def param(kind: str, optional: bool = False) -> IOSpec:
                items = ParamType(kind="str") if kind == "list" else None
                return IOSpec(
                    kind="parameter",
                    type=ParamType(kind=kind, optional=optional, items=items),
                    has_default=optional,
                    default=None,
                )

            self._iface = Interface(
                inputs={n: param(k, opt) for n, (k, opt) in self._inputs.items()},
                outputs={"output": param(self._output)} if self._output else {},
                returns="single" if self._output else "none",
                return_outputs=[],
            )
        return self._iface


_CHECKS: dict[str, BuiltinSensor] = {}


def _builtin(check: str, inputs: dict[str, tuple[str, bool]], output: str | None) -> BuiltinSensor:
    # One component per kind of check in a process: each pipeline's spec has it once.
    found = _CHECKS.get(check)
    if found is None:
        found = _CHECKS[check] = BuiltinSensor(check, inputs, output)
    return found


def _wait(
    check: BuiltinSensor, args: dict[str, Any], policy: dict[str, Any], name: str | None
) -> _graph.Task:
    given = {k: v for k, v in args.items() if v is not None}
    task = _graph.call(check, (), given)
    options = _policy(policy)
    if name is not None:
        options["display_name"] = name
    if options:
        task.set_options(**options)
    return task


def wait_for_path(
    url: Any,
    *,
    poke_interval: Any = None,
    timeout: Any = None,
    soft_fail: bool | None = None,
    exponential_backoff: bool | None = None,
    max_poke_interval: Any = None,
    updates: Any = None,
    name: str | None = None,
) -> _graph.Task:
    """Wait until ``url`` exists: a local path or any fsspec URL (``s3://``, ``gs://``,
    ``ftp://``...). A URL with ``*``, ``?`` or ``[`` is a glob: it waits for a first
    match. The task's output is the list of paths found::

        landed = wait_for_path(Template("s3://raw/{{ ds }}/_SUCCESS"), timeout="6h")
    """
    return _wait(
        _builtin("path", {"url": ("str", False)}, "list"),
        {"url": url},
        _only_policy(locals()),
        name,
    )


def wait_for_http(
    url: Any,
    *,
    method: Any = None,
    status: Any = None,
    contains: Any = None,
    headers: Any = None,
    poke_interval: Any = None,
    timeout: Any = None,
    soft_fail: bool | None = None,
    exponential_backoff: bool | None = None,
    max_poke_interval: Any = None,
    updates: Any = None,
    name: str | None = None,
) -> _graph.Task:
    """Wait until an HTTP(S) endpoint answers ``status`` (default 200) to ``method``
    (default GET), with ``contains`` in its body if given; the output is the body. A
    refused connection or a timeout is "not yet", as any other status."""
    return _wait(
        _builtin(
            "http",
            {
                "url": ("str", False),
                "method": ("str", True),
                "status": ("int", True),
                "contains": ("str", True),
                "headers": ("dict", True),
            },
            "str",
        ),
        {"url": url, "method": method, "status": status, "contains": contains, "headers": headers},
        _only_policy(locals()),
        name,
    )


def wait_for_sql(
    connection: Any,
    sql: Any,
    *,
    poke_interval: Any = None,
    timeout: Any = None,
    soft_fail: bool | None = None,
    exponential_backoff: bool | None = None,
    max_poke_interval: Any = None,
    updates: Any = None,
    name: str | None = None,
) -> _graph.Task:
    """Wait until ``sql`` returns a row whose first value is truthy, on the database of
    stored connection ``connection`` (``headwater connections add``); the output is
    that row's values."""
    return _wait(
        _builtin("sql", {"connection": ("str", False), "sql": ("str", False)}, "list"),
        {"connection": connection, "sql": sql},
        _only_policy(locals()),
        name,
    )


def wait_for_run(
    pipeline: Any,
    *,
    task: Any = None,
    states: Any = None,
    failed_states: Any = None,
    same_interval: Any = None,
    poke_interval: Any = None,
    timeout: Any = None,
    soft_fail: bool | None = None,
    exponential_backoff: bool | None = None,
    max_poke_interval: Any = None,
    updates: Any = None,
    name: str | None = None,
) -> _graph.Task:
    """Wait until a run of ``pipeline`` (or its task ``task``) ends in one of ``states``
    (default ``["succeeded"]``), as Airflow's ExternalTaskSensor. The run is the one with
    this run's data interval when this run has one (``same_interval``, default True),
    else the newest. If it ends in one of ``failed_states`` (default ``["failed",
    "cancelled"]`` for a run, ``["failed", "upstream_failed"]`` for a task) the sensor
    fails at once. The output is that run's ID."""
    return _wait(
        _builtin(
            "run",
            {
                "pipeline": ("str", False),
                "task": ("str", True),
                "states": ("list", True),
                "failed_states": ("list", True),
                "same_interval": ("bool", True),
            },
            "str",
        ),
        {
            "pipeline": pipeline,
            "task": task,
            "states": states,
            "failed_states": failed_states,
            "same_interval": same_interval,
        },
        _only_policy(locals()),
        name,
    )


def wait_for_asset(
    asset: Any,
    *,
    poke_interval: Any = None,
    timeout: Any = None,
    soft_fail: bool | None = None,
    exponential_backoff: bool | None = None,
    max_poke_interval: Any = None,
    updates: Any = None,
    name: str | None = None,
) -> _graph.Task:
    """Wait for a new event of ``asset`` (an :class:`Asset` or its name): one recorded
    after this run was created. The output is the event's number."""
    from headwater.sdk._assets import Asset

    if isinstance(asset, Asset):
        asset = asset.name
    return _wait(
        _builtin("asset", {"asset": ("str", False)}, "int"),
        {"asset": asset},
        _only_policy(locals()),
        name,
    )


def wait_until(
    moment: Any,
    *,
    timeout: Any = None,
    soft_fail: bool | None = None,
    updates: Any = None,
    name: str | None = None,
) -> _graph.Task:
    """Wait until ``moment``: an ISO 8601 date and time (with a UTC offset, else UTC),
    often a template such as ``Template("{{ data_interval_end }}")``. No check runs in
    between: the wait wakes at that moment."""
    return _wait(
        _builtin("time", {"moment": ("str", False)}, None),
        {"moment": moment},
        {"timeout": timeout, "soft_fail": soft_fail, "updates": updates},
        name,
    )


def _only_policy(words: dict[str, Any]) -> dict[str, Any]:
    return {k: words[k] for k in POLICY_WORDS if k in words}
