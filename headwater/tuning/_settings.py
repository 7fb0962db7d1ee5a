"""What a study asks for, checked before anything is created: objective, direction,
sampler, pruner, budget."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from headwater.errors import TuningError

if TYPE_CHECKING:
    import optuna

    from headwater.spec import PipelineSpec
    from headwater.tuning._space import Space

SAMPLERS = ("tpe", "random", "grid", "cmaes", "qmc")
PRUNERS = ("median", "hyperband", "none")
DIRECTIONS = ("maximize", "minimize")
MAX_TRIALS = 100_000
MAX_PARALLEL = 256


class StudyStatus(StrEnum):
    """Where a study stands. ``running`` is also what a killed tuner leaves behind; any
    study that is not ``completed``, ``goal_reached`` or ``failed`` can be resumed."""

    RUNNING = "running"
    COMPLETED = "completed"  # every trial of the budget ended
    GOAL_REACHED = "goal_reached"  # a trial reached the objective goal
    FAILED = "failed"  # too many trials failed, or the objective was never logged
    INTERRUPTED = "interrupted"  # stopped by the user (Ctrl-C)


STUDY_DONE = frozenset({StudyStatus.COMPLETED, StudyStatus.GOAL_REACHED, StudyStatus.FAILED})


class TrialState(StrEnum):
    """A trial's state as ``study_trials`` records it."""

    RUNNING = "running"
    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"
    # Its process was killed before its run could be found or finished: its parameters
    # are asked again by a new trial.
    LOST = "lost"


@dataclass(frozen=True)
class StudySettings:
    """The budget and stopping rules of a study, and the fixed parameters of its runs."""

    trials: int
    parallel: int = 1
    max_failed: int | None = None
    goal: float | None = None
    seed: int | None = None
    cache: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    version_id: str = ""
    source_root: str | None = None

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> StudySettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


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


def make_sampler(name: str, space: Space, seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return _grid_sampler(space, seed)
    if name == "cmaes":
        try:
            import cmaes  # noqa: F401  (Optuna's CMA-ES sampler needs it)
        except ImportError:
            raise TuningError(
                "the cmaes sampler needs the 'cmaes' package, which is not installed",
                hint="install it (pip install cmaes), or use another sampler (tpe, qmc)",
            ) from None
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def grid_size(space: Space) -> int:
    size = 1
    for values in space.grid().values():
        size *= len(values)
    return size


def _grid_sampler(space: Space, seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    class Grid(optuna.samplers.GridSampler):
        """Optuna's grid sampler, which does not stop the study when the grid is used up
        (it may only do that inside ``optimize``): the study's budget is capped at the
        grid's size instead."""

        def after_trial(self, *args: Any, **kwargs: Any) -> None:
            return None

    return Grid(space.grid(), seed=seed)
