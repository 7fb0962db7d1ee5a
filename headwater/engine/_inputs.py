"""Checks on the parameter values a run is given, before anything is created.

Every way of starting a run (the CLI's ``-p``, the API, the Python client and
``headwater.run``, a schedule's rendered defaults) goes through
:func:`headwater.engine.render_for_run`, which checks here the values it is given and
the values templates render to: text that is not valid Unicode, NaN, values nested
deeper or written larger than the limits (``HEADWATER_MAX_JSON_DEPTH``,
``HEADWATER_MAX_PARAMETER_BYTES``) are refused, naming the parameter.

:func:`check_schedule` holds a schedule to ``HEADWATER_MIN_SCHEDULE_INTERVAL`` where one
is deployed or edited, and where a scheduler is about to run it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater._limits import how_to_raise, limits
from headwater._values import encoded_size, json_problem, text_problem
from headwater.errors import LimitError, Location, ParameterError
from headwater.spec import PipelineSpec, shortest_interval

__all__ = ["check_parameters", "check_schedule"]


def check_parameters(values: Mapping[str, Any], *, rendered: bool = False) -> None:
    """Raise :class:`ParameterError` or :class:`LimitError` for the first value of
    ``values`` that cannot be stored or is too large; ``rendered`` values came from
    templates."""
    now = limits()
    source = "rendered from a template, " if rendered else ""
    for name, value in values.items():
        problem = text_problem(name) if isinstance(name, str) else "is not text"
        if problem:
            raise ParameterError(
                f"a parameter name {problem}",
                hint="parameter names are the pipeline's Python argument names",
            )
        where = f"parameter '{name}'"
        found = json_problem(value, where, max_depth=now.max_json_depth)
        if found is not None:
            at, why = found
            hint = "give text as UTF-8, numbers as finite JSON numbers"
            if "levels deep" in why:
                hint = "flatten the value, or " + how_to_raise("max_json_depth")
            raise ParameterError(f"{at}, {source}{why}", hint=hint)
        size = encoded_size(value)
        if size > now.max_parameter_bytes:
            raise LimitError(
                f"{where}, {source}is {size:,} bytes as JSON, more than the "
                f"{now.max_parameter_bytes:,} a parameter value may be",
                hint="pass a reference to the data (a path or URI) instead of the data, or "
                + how_to_raise("max_parameter_bytes"),
            )


def check_schedule(spec: PipelineSpec) -> None:
    """Raise :class:`LimitError` if ``spec``'s schedule would run more often than the
    minimum schedule interval allows."""
    sched = spec.schedule
    if sched is None:
        return
    gap = shortest_interval(sched.kind, sched.cron, sched.interval_seconds)
    minimum = limits().min_schedule_interval
    if gap is None or gap >= minimum:
        return
    raise LimitError(
        f"the schedule '{sched.describe()}' of pipeline '{spec.name}' runs every {gap:g} "
        f"seconds, more often than the {minimum:g} seconds a schedule may",
        location=Location(pipeline=spec.name),
        hint="schedule it less often, e.g. schedule=timedelta(minutes=5), or "
        + how_to_raise("min_schedule_interval"),
    )
