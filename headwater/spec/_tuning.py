"""What a hyperparameter study asks for, checked as plain data: its search space (which
pipeline parameters to tune, over what values), its objective and its settings.

They live in the spec because a tune step carries them (:class:`TuneImplementation`), so
``validate`` checks a study inside a pipeline as it checks everything else, before any
run exists; :mod:`headwater.tuning` drives studies with them.

A space maps parameter names to dimensions (in YAML, or a dict from Python)::

    lr:        {type: float, low: 1.0e-4, high: 0.1, log: true}
    layers:    {type: int, low: 1, high: 4}
    optimizer: {type: categorical, choices: [sgd, adam]}
    momentum:  {type: float, low: 0.0, high: 0.99, when: {optimizer: sgd}}

``type`` is ``int``, ``float`` or ``categorical`` (a dimension with ``choices`` and no
``type`` is categorical). Numbers take ``low`` and ``high`` (both included), ``log`` and
``step``; a float cannot have both. ``when`` makes a parameter conditional: it is tuned
only in trials where each named categorical parameter took the given value (or one of a
list of values); in other trials the pipeline's default is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import TuningError

if TYPE_CHECKING:
    import optuna

    from headwater.spec._models import PipelineSpec

SAMPLERS = ("tpe", "random", "grid", "cmaes", "qmc")
PRUNERS = ("median", "hyperband", "none")
DIRECTIONS = ("maximize", "minimize")
MAX_TRIALS = 100_000
MAX_PARALLEL = 256
KINDS = ("int", "float", "categorical")
_FIELDS = {
    "int": {"type", "low", "high", "log", "step", "when"},
    "float": {"type", "low", "high", "log", "step", "when"},
    "categorical": {"type", "choices", "when"},
}
_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Dimension:
    """One tuned parameter: its kind, its range or choices, and when it applies."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    when: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def applies(self, chosen: Mapping[str, Any]) -> bool:
        """Whether this parameter is tuned, given the values chosen so far."""
        return all(name in chosen and chosen[name] in values for name, values in self.when.items())

    def suggest(self, trial: optuna.trial.BaseTrial) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        assert self.low is not None and self.high is not None
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def grid(self) -> list[Any]:
        """Every value of this dimension, for the grid sampler."""
        if self.kind == "categorical":
            return list(self.choices)
        assert self.low is not None and self.high is not None
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            raise TuningError(
                f"search space: parameter '{self.name}' is a float without a step, which a "
                "grid cannot enumerate",
                hint=f"give '{self.name}' a step, or use another sampler (tpe, random)",
            )
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        return [round(self.low + i * self.step, 12) for i in range(count)]

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.kind}
        if self.kind == "categorical":
            data["choices"] = list(self.choices)
        else:
            data.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                data["step"] = self.step
        if self.when:
            data["when"] = {k: list(v) for k, v in self.when.items()}
        return data


@dataclass(frozen=True)
class Space:
    """The dimensions of a study, in the order they are suggested (conditions first)."""

    dimensions: tuple[Dimension, ...]

    def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """The parameter values of one trial (conditional parameters only where they apply)."""
        chosen: dict[str, Any] = {}
        for dim in self.dimensions:
            if dim.applies(chosen):
                chosen[dim.name] = dim.suggest(trial)
        return chosen

    def grid(self) -> dict[str, list[Any]]:
        if any(d.when for d in self.dimensions):
            names = ", ".join(d.name for d in self.dimensions if d.when)
            raise TuningError(
                f"search space: the grid sampler cannot search conditional parameters ({names})",
                hint="drop their 'when', or use another sampler (tpe, random)",
            )
        return {d.name: d.grid() for d in self.dimensions}

    def to_data(self) -> dict[str, Any]:
        return {d.name: d.to_data() for d in self.dimensions}

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]


def load_space(source: str | Path | Mapping[str, Any], where: str = "search space") -> Any:
    """The raw space from a YAML file (a path) or a mapping given in Python."""
    if isinstance(source, Mapping):
        return dict(source)
    import yaml

    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TuningError(
            f"cannot read the search space {path}: {exc.strerror or exc}",
            hint="give the path of a YAML file that maps parameter names to their ranges",
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TuningError(
            f"the search space {path} is not valid YAML: {exc}",
            hint="fix the YAML; each parameter maps to {type: ..., low: ..., high: ...}",
        ) from None


def parse_space(data: Any, spec: PipelineSpec | None = None, where: str = "search space") -> Space:
    """Check a raw space and return it; every problem names the parameter and field.

    With ``spec``, each parameter must be one of the pipeline's, and each value its type
    allows."""
    if isinstance(data, Mapping) and set(data) == {"parameters"}:
        data = data["parameters"]
    if not isinstance(data, Mapping) or not data:
        raise TuningError(
            f"{where}: expected a mapping of parameter names to ranges, got "
            f"{type(data).__name__ if data is not None else 'nothing'}",
            hint="write e.g.  lr: {type: float, low: 0.001, high: 0.1, log: true}",
        )
    params = spec.parameters if spec is not None else None
    problems: list[str] = []
    dims: dict[str, Dimension] = {}
    for name, body in data.items():
        try:
            dims[str(name)] = _dimension(str(name), body, where)
        except TuningError as exc:
            problems.append(exc.message)
    for name, dim in dims.items():
        if params is not None and name not in params:
            known = ", ".join(sorted(params)) or "none"
            problems.append(
                f"{where}: parameter '{name}' is not a parameter of pipeline "
                f"'{spec.name if spec else ''}' (it takes: {known})"
            )
        elif params is not None:
            problems.extend(_type_problems(dim, params[name].type, where))
        for other, values in dim.when.items():
            cond = dims.get(other)
            if cond is None or cond.kind != "categorical":
                problems.append(
                    f"{where}: parameter '{name}', field 'when': '{other}' is not a categorical "
                    "parameter of this space"
                )
            elif other == name:
                problems.append(f"{where}: parameter '{name}', field 'when' names itself")
            else:
                bad = [v for v in values if v not in cond.choices]
                if bad:
                    problems.append(
                        f"{where}: parameter '{name}', field 'when': {bad!r} is not among the "
                        f"choices of '{other}' ({list(cond.choices)!r})"
                    )
    if problems:
        raise TuningError(
            "bad search space:\n  " + "\n  ".join(problems),
            hint="see docs/experiments-and-tuning.md for the fields each kind of parameter takes",
        )
    return Space(tuple(_ordered(dims)))


def _ordered(dims: dict[str, Dimension]) -> list[Dimension]:
    """Dimensions with every condition before the parameters that depend on it."""
    done: dict[str, Dimension] = {}

    def visit(dim: Dimension, seen: tuple[str, ...]) -> None:
        if dim.name in done:
            return
        if dim.name in seen:
            raise TuningError(
                f"search space: conditions form a cycle: {' -> '.join((*seen, dim.name))}",
                hint="a parameter's 'when' cannot depend, directly or not, on itself",
            )
        for other in dim.when:
            visit(dims[other], (*seen, dim.name))
        done[dim.name] = dim

    for dim in dims.values():
        visit(dim, ())
    return list(done.values())


def _dimension(name: str, body: Any, where: str) -> Dimension:
    at = f"{where}: parameter '{name}'"
    if not isinstance(body, Mapping):
        raise TuningError(f"{at}: expected a mapping such as {{type: int, low: 1, high: 8}}")
    kind = body.get("type", "categorical" if "choices" in body else None)
    if kind not in KINDS:
        raise TuningError(
            f"{at}, field 'type': {kind!r} is not one of {', '.join(KINDS)}"
            if kind is not None
            else f"{at}: field 'type' is missing (int, float or categorical)"
        )
    unknown = sorted(set(body) - _FIELDS[kind])
    if unknown:
        raise TuningError(
            f"{at}: unknown field(s) {', '.join(map(repr, unknown))} for a {kind} parameter "
            f"(it takes: {', '.join(sorted(_FIELDS[kind]))})"
        )
    when = _when(at, body.get("when"))
    if kind == "categorical":
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices:
            raise TuningError(f"{at}, field 'choices': expected a non-empty list of values")
        bad = [c for c in choices if not isinstance(c, _SCALARS)]
        if bad:
            raise TuningError(
                f"{at}, field 'choices': {bad[0]!r} is not a string, number, boolean or null"
            )
        if len({repr(c) for c in choices}) != len(choices):
            raise TuningError(f"{at}, field 'choices': a value is listed twice")
        return Dimension(name, kind, choices=tuple(choices), when=when)
    for key in ("low", "high"):
        if key not in body:
            raise TuningError(f"{at}: field '{key}' is missing")
        value = body[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TuningError(f"{at}, field '{key}': {value!r} is not a number")
        if kind == "int" and not isinstance(value, int):
            raise TuningError(f"{at}, field '{key}': {value!r} is not an integer")
        if not math.isfinite(value):
            raise TuningError(f"{at}, field '{key}': {value!r} is not a finite number")
    low, high = body["low"], body["high"]
    if low > high:
        raise TuningError(f"{at}: field 'low' ({low}) is greater than field 'high' ({high})")
    log = body.get("log", False)
    if not isinstance(log, bool):
        raise TuningError(f"{at}, field 'log': {log!r} is not true or false")
    if log and low <= 0:
        raise TuningError(f"{at}, field 'log': a log range needs 'low' above 0 (it is {low})")
    step = body.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, int | float) or step <= 0:
            raise TuningError(f"{at}, field 'step': {step!r} is not a number above 0")
        if kind == "int" and not isinstance(step, int):
            raise TuningError(f"{at}, field 'step': {step!r} is not an integer")
        if log and (kind == "float" or step != 1):
            raise TuningError(
                f"{at}: fields 'log' and 'step' cannot be used together",
                hint="drop one of them",
            )
    return Dimension(
        name,
        kind,
        low=int(low) if kind == "int" else float(low),
        high=int(high) if kind == "int" else float(high),
        log=log,
        step=None if step is None else (int(step) if kind == "int" else float(step)),
        when=when,
    )


def _when(at: str, value: Any) -> dict[str, tuple[Any, ...]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not value:
        raise TuningError(
            f"{at}, field 'when': expected a mapping such as {{optimizer: sgd}}",
        )
    out: dict[str, tuple[Any, ...]] = {}
    for other, wanted in value.items():
        values = tuple(wanted) if isinstance(wanted, list) else (wanted,)
        if not values or any(not isinstance(v, _SCALARS) for v in values):
            raise TuningError(
                f"{at}, field 'when': the value for '{other}' must be a choice or a list of choices"
            )
        out[str(other)] = values
    return out


def _type_problems(dim: Dimension, io_type: Any, where: str) -> list[str]:
    """Whether the pipeline parameter's type takes every value of ``dim``."""
    kind = getattr(io_type, "kind", None)
    at = f"{where}: parameter '{dim.name}'"
    if kind is None or kind in ("any", "json"):
        return []
    if dim.kind == "int" and kind not in ("int", "float"):
        return [f"{at} is an int range, but the pipeline's parameter is {kind}"]
    if dim.kind == "float" and kind != "float":
        return [f"{at} is a float range, but the pipeline's parameter is {kind}"]
    if dim.kind == "categorical":
        ok = {
            "str": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool),
        }.get(kind)
        if ok is not None:
            bad = [c for c in dim.choices if not ok(c)]
            if bad:
                return [
                    f"{at}, field 'choices': {bad[0]!r} is not a {kind}, as the pipeline's "
                    "parameter is"
                ]
    return []


# ---------------------------------------------------------------------- objective, settings


def check_objective(spec: PipelineSpec, objective: str) -> tuple[str, str]:
    """``(task, metric)`` from ``TASK.METRIC``, the task being one of the pipeline's."""
    task, dot, metric = str(objective).rpartition(".")
    tasks = sorted(_task_names(spec.dag.nodes))
    if not dot or not task or not metric:
        raise TuningError(
            f"objective {objective!r} is not TASK.METRIC",
            hint=f"name a task and the metric it logs, e.g. {(tasks or ['train'])[0]}.accuracy",
        )
    if task.rpartition(".")[2].split("[")[0] not in tasks:
        raise TuningError(
            f"objective {objective!r}: pipeline '{spec.name}' has no task '{task}'",
            hint="its tasks: " + (", ".join(tasks) or "none"),
        )
    return task, metric


def _task_names(nodes: list[Any]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        if getattr(node, "kind", None) == "task":
            names.add(node.name)
        names |= _task_names(getattr(node, "nodes", None) or [])
        for branch in getattr(node, "branches", None) or []:
            names |= _task_names(branch.nodes)
    return names


def check_settings(
    *,
    direction: str,
    sampler: str,
    pruner: str,
    trials: int,
    parallel: int,
    max_failed: int | None,
    goal: float | None,
    seed: int | None,
) -> None:
    """A clear error for the first setting that cannot be used."""
    if direction not in DIRECTIONS:
        raise TuningError(
            f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}",
            hint="say whether a higher objective is better (maximize) or a lower (minimize)",
        )
    if sampler not in SAMPLERS:
        raise TuningError(
            f"sampler {sampler!r} is not one of {', '.join(SAMPLERS)}",
            hint="tpe is a good default; random and qmc explore evenly; grid tries every value",
        )
    if pruner not in PRUNERS:
        raise TuningError(
            f"pruner {pruner!r} is not one of {', '.join(PRUNERS)}",
            hint="median stops a trial whose step-wise objective is below the median of "
            "earlier trials at the same step",
        )
    for name, value, low, high in (
        ("trials", trials, 1, MAX_TRIALS),
        ("parallel", parallel, 1, MAX_PARALLEL),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise TuningError(
                f"{name} must be a whole number from {low} to {high}, not {value!r}",
            )
    if max_failed is not None and (
        isinstance(max_failed, bool) or not isinstance(max_failed, int) or max_failed < 1
    ):
        raise TuningError(f"max failed trials must be a whole number above 0, not {max_failed!r}")
    if goal is not None and (isinstance(goal, bool) or not isinstance(goal, int | float)):
        raise TuningError(f"the objective goal must be a number, not {goal!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise TuningError(f"seed must be a whole number from 0 up, not {seed!r}")


def grid_size(space: Space) -> int:
    size = 1
    for values in space.grid().values():
        size *= len(values)
    return size
