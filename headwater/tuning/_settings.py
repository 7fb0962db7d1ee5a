"""Where studies and trials stand, the settings a study keeps, and the Optuna samplers and
pruners it asks for (what a study asks for is checked in :mod:`headwater.spec`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from headwater.errors import TuningError

if TYPE_CHECKING:
    import optuna

    from headwater.spec import Space


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
    # The kind of executor the trials run on (None: the default, HEADWATER_EXECUTOR) and
    # the Ray cluster's address for ``ray`` (None: its default), and whether trial runs
    # are confined (a tune step of a run created through a server).
    executor: str | None = None
    ray_address: str | None = None
    confined: bool = False

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> StudySettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


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


def _grid_sampler(space: Space, seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    class Grid(optuna.samplers.GridSampler):
        """Optuna's grid sampler, which does not stop the study when the grid is used up
        (it may only do that inside ``optimize``): the study's budget is capped at the
        grid's size instead."""

        def after_trial(self, *args: Any, **kwargs: Any) -> None:
            return None

    return Grid(space.grid(), seed=seed)
