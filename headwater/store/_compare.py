"""Comparing runs: parameters and final metrics side by side, filtered by thresholds
(``accuracy>0.9``, ``params.lr<=0.01``), sorted, or narrowed to the best run.

A metric's column is its key (``accuracy``) when one task logs it across the compared
runs, and ``TASK.KEY`` (``train.accuracy``) for each task when several do; ``TASK.KEY``
is always accepted. A parameter's column is ``params.NAME``; a bare name that is no
metric but a parameter means the parameter.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from headwater.errors import InvalidValue
from headwater.store._records import RunResult

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
}
_CONDITION = re.compile(
    r"^\s*(?P<name>[^<>=!\s]+)\s*(?P<op>>=|<=|==|!=|>|<|=)\s*(?P<value>.*?)\s*$"
)
_MAX_CONDITION = 512


@dataclass(frozen=True)
class Condition:
    """One filter: ``column op value``, as the user wrote it in ``text``."""

    text: str
    name: str
    op: str
    value: Any


def parse_condition(text: str) -> Condition:
    """``accuracy>0.9``, ``params.optimizer=sgd``: a column, an operator, a value (a
    number where it reads as one, else text)."""
    found = _CONDITION.match(text) if len(text) <= _MAX_CONDITION else None
    if found is None or not found["value"]:
        raise InvalidValue(
            f"cannot read the filter {text[:80]!r}",
            hint="write COLUMN OP VALUE with OP one of > >= < <= = !=, "
            "as in 'accuracy>0.9' or 'params.optimizer=sgd'",
        )
    raw = found["value"].strip("'\"")
    value: Any = raw
    try:
        number = float(raw)
    except ValueError:
        pass
    else:
        if math.isfinite(number):
            value = number
    return Condition(text, found["name"], found["op"], value)


@dataclass(frozen=True)
class ComparedRun:
    """A run's row: the run, its parameters, and its final metrics by column."""

    run: RunResult
    parameters: dict[str, Any]
    metrics: dict[str, float]

    def value(self, column: str) -> Any:
        if column.startswith("params."):
            return self.parameters.get(column[len("params.") :])
        return self.metrics.get(column)


@dataclass(frozen=True)
class Comparison:
    """Runs side by side: the parameter and metric columns (of every run compared,
    before filters), the rows that passed the filters in order, and how many runs there
    were before them."""

    parameters: list[str]
    metrics: list[str]
    rows: list[ComparedRun]
    total: int

    def page(self, limit: int, offset: int = 0) -> dict[str, Any]:
        """The columns, ``limit`` rows from ``offset`` as plain data (the API's answer),
        how many rows matched and how many runs there were."""
        return {
            "parameters": self.parameters,
            "metrics": self.metrics,
            "total": self.total,
            "matched": len(self.rows),
            "runs": [
                {
                    "id": row.run.id,
                    "pipeline": row.run.pipeline,
                    "experiment": row.run.experiment,
                    "status": row.run.status,
                    "created_at": row.run.created_at.isoformat(),
                    "parameters": row.parameters,
                    "metrics": row.metrics,
                }
                for row in self.rows[offset : offset + limit]
            ],
        }


class _Columns:
    """Which column a name means, over the runs being compared."""

    def __init__(self, results: Sequence[RunResult]) -> None:
        paths: dict[str, set[str]] = {}
        params: set[str] = set()
        for res in results:
            params.update(res.parameters)
            for path, values in res.metrics.items():
                for key in values:
                    paths.setdefault(key, set()).add(path)
        self.paths = paths
        self.parameters = sorted(params)
        self.metrics: list[str] = []
        for key in sorted(paths):
            if len(paths[key]) == 1:
                self.metrics.append(key)
            else:
                self.metrics += [f"{path}.{key}" for path in sorted(paths[key])]

    def row(self, res: RunResult) -> ComparedRun:
        metrics: dict[str, float] = {}
        for path, values in res.metrics.items():
            for key, value in values.items():
                metrics[key if len(self.paths[key]) == 1 else f"{path}.{key}"] = value
        return ComparedRun(res, res.parameters, metrics)

    def resolve(self, name: str, what: str) -> str:
        """The column ``name`` means; a clear error when it means none, or several."""
        if name.startswith("params."):
            if name[len("params.") :] in self.parameters:
                return name
            raise self._unknown(name, what)
        bare = name[len("metrics.") :] if name.startswith("metrics.") else name
        if bare in self.metrics:
            return bare
        if bare in self.paths:  # a key that several tasks log
            choices = ", ".join(f"{p}.{bare}" for p in sorted(self.paths[bare]))
            raise InvalidValue(
                f"{what} '{name}': several tasks log the metric '{bare}'",
                hint=f"name the task's: {choices}",
            )
        for key, paths in self.paths.items():  # TASK.KEY of a key one task logs
            if any(bare == f"{p}.{key}" for p in paths):
                return key
        if name in self.parameters:
            return f"params.{name}"
        raise self._unknown(name, what)

    def _unknown(self, name: str, what: str) -> InvalidValue:
        known = [*self.metrics, *(f"params.{p}" for p in self.parameters)]
        shown = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
        return InvalidValue(
            f"{what} '{name[:80]}' is no metric or parameter of the runs compared",
            hint=f"use one of: {shown}" if known else "the runs compared logged no metrics",
        )


def _matches(row: ComparedRun, column: str, cond: Condition) -> bool:
    value = row.value(column)
    if value is None:
        return False
    want = cond.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        value = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        want = want if isinstance(want, str) else _text(want)
        if cond.op not in ("=", "==", "!="):
            raise InvalidValue(
                f"filter {cond.text!r}: '{column}' holds text, which compares only with = or !=",
                hint="compare it with = or !=",
            )
    elif isinstance(want, str):
        raise InvalidValue(
            f"filter {cond.text!r}: '{column}' is a number and {want[:40]!r} is not",
            hint="compare it with a number",
        )
    return OPERATORS[cond.op](value, want)


def _text(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)


def _sort_key(column: str, descending: bool) -> Callable[[ComparedRun], Any]:
    """Numbers in order, then text; runs without a value last either way."""

    def key(row: ComparedRun) -> Any:
        value = row.value(column)
        if value is None:
            return (1, 0, 0.0, "")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, 0, -value if descending else value, "")
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return (0, 1, 0.0, text)

    return key


def compare(
    results: Sequence[RunResult],
    *,
    where: Sequence[str] = (),
    sort: str | None = None,
    descending: bool = False,
    best: str | None = None,
    direction: str = "maximize",
) -> Comparison:
    """``results`` side by side: only those matching every ``where`` condition; ordered
    by ``sort``; or only the run with the highest (``direction="minimize"``: lowest)
    ``best`` metric."""
    if direction not in ("maximize", "minimize"):
        raise InvalidValue(
            f"direction {direction[:40]!r} is neither maximize nor minimize",
            hint="use maximize or minimize",
        )
    conditions = [parse_condition(text) for text in where]
    columns = _Columns(results)
    rows = [columns.row(res) for res in results]
    for cond in conditions:
        column = columns.resolve(cond.name, "filter")
        rows = [row for row in rows if _matches(row, column, cond)]
    if sort is not None:
        column = columns.resolve(sort, "sort column")
        rows.sort(key=_sort_key(column, descending))
    if best is not None:
        column = columns.resolve(best, "best metric")
        if column.startswith("params."):
            raise InvalidValue(
                f"best '{best}' is a parameter; the best run is picked by a metric",
                hint=f"use one of: {', '.join(columns.metrics[:20])}",
            )
        scored = [row for row in rows if column in row.metrics]
        if scored:
            pick = max if direction == "maximize" else min
            rows = [pick(scored, key=lambda row: row.metrics[column])]
        else:
            rows = []
    return Comparison(columns.parameters, columns.metrics, rows, len(results))
