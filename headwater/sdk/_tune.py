"""``tune_step``: a hyperparameter study as one step of a pipeline.

The step's trials are runs of another pipeline; the engine drives the study while the
run that holds the step goes on (docs/adr/0020). What the study asks for (space,
objective, settings) is checked here as far as the tuned pipeline's interface allows,
and in full by ``validate`` once the spec exists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError, PipelineDefinitionError
from headwater.sdk import _graph, _location

if TYPE_CHECKING:
    from headwater.sdk._interface import Interface

# The outputs of every tune step.
BEST_PARAMS, BEST_VALUE, BEST_RUN_ID, STUDY = "best_params", "best_value", "best_run_id", "study"


class TuneStep:
    """The component behind :func:`tune_step`."""

    def __init__(
        self,
        pipeline: Any,
        space: dict[str, Any],
        settings: dict[str, Any],
        src: _location.Src | None,
    ) -> None:
        self.pipeline = pipeline
        self.space = space
        self.settings = settings
        self.src = src
        self._iface: Interface | None = None

    @property
    def name(self) -> str:
        return f"tune-{self.pipeline.name}"

    @property
    def options(self) -> dict[str, Any]:
        return {}

    def interface(self) -> Interface:
        """Inputs: the tuned pipeline's parameters that are not searched (they fix the
        trials'); outputs: the best trial's parameters, value and run, and the study."""
        if self._iface is None:
            from headwater.sdk._interface import Interface
            from headwater.spec import IOSpec, ParamType

            inner = self.pipeline.interface()
            self._iface = Interface(
                inputs={n: io for n, io in inner.inputs.items() if n not in self.space},
                outputs={
                    BEST_PARAMS: IOSpec(kind="parameter", type=ParamType(kind="dict")),
                    BEST_VALUE: IOSpec(kind="parameter", type=ParamType(kind="float")),
                    BEST_RUN_ID: IOSpec(kind="parameter", type=ParamType(kind="str")),
                    STUDY: IOSpec(kind="parameter", type=ParamType(kind="str")),
                },
            )
        return self._iface


def tune_step(
    pipeline: Any,
    /,
    *,
    space: str | os.PathLike[str] | Mapping[str, Any],
    objective: str,
    direction: str = "maximize",
    trials: int = 20,
    parallel: int = 1,
    sampler: str = "tpe",
    pruner: str = "none",
    seed: int | None = None,
    max_failed: int | None = None,
    goal: float | None = None,
    study: str | None = None,
    cache: bool = True,
    **params: Any,
) -> _graph.Task:
    """A step that tunes ``pipeline`` (each trial a run of it) and outputs the best trial:
    ``best_params`` (a dict), ``best_value``, ``best_run_id`` and ``study`` (its name).

    It takes what :func:`headwater.tune` takes; ``space`` is a dict or a YAML file
    (relative to the calling file), and ``params`` fix the tuned pipeline's other
    parameters (constants, this pipeline's parameters, or upstream outputs). Each run of
    the pipeline holding the step starts a study of its own, named ``STUDY-RUNID-TASK``
    (``study`` defaults to the tuned pipeline's name)::

        @pipeline(schedule="@weekly")
        def weekly(data: str):
            best = tune_step(training, space="space.yaml", objective="train.accuracy",
                             trials=50, parallel=4, data=data)
            retrain(params=best.outputs["best_params"])
    """
    from headwater.spec import check_settings, load_space, parse_space

    src = _location.caller()
    # A @pipeline (not imported here: the compiler imports this module, and pipelines the
    # compiler).
    if not all(hasattr(pipeline, a) for a in ("graph", "interface", "compile", "python_func")):
        raise PipelineDefinitionError(
            f"tune_step tunes a @pipeline, not {type(pipeline).__name__}",
            location=_location.loc(src),
            hint="wrap the components to tune in a @pipeline and pass that",
        )
    try:
        check_settings(
            direction=direction,
            sampler=sampler,
            pruner=pruner,
            trials=trials,
            parallel=parallel,
            max_failed=max_failed,
            goal=goal,
            seed=seed,
        )
        if not isinstance(space, Mapping):
            space = Path(os.path.dirname(src.file) if src else "", space)
        data = load_space(space)
        parsed = parse_space(data)  # its parameters and types are checked with the spec
    except HeadwaterError as exc:
        raise PipelineDefinitionError(
            f"tune_step({pipeline.name}): {exc.message}",
            location=_location.loc(src),
            hint=exc.hint,
        ) from None
    if not isinstance(objective, str):
        raise PipelineDefinitionError(
            f"tune_step({pipeline.name}): objective must be 'TASK.METRIC', not {objective!r}",
            location=_location.loc(src),
        )
    settings = {
        "objective": objective,
        "direction": direction,
        "sampler": sampler,
        "pruner": pruner,
        "trials": trials,
        "parallel": parallel,
        "seed": seed,
        "max_failed": max_failed,
        "goal": None if goal is None else float(goal),
        "study": study,
        "cache": bool(cache),
    }
    tuned = {n for n in parsed.names if n in params}
    if tuned:
        raise PipelineDefinitionError(
            f"tune_step({pipeline.name}): parameter(s) {', '.join(sorted(tuned))} are both "
            "fixed and in the search space",
            location=_location.loc(src),
            hint="drop them from one or the other",
        )
    return _graph.call(TuneStep(pipeline, parsed.to_data(), settings, src), (), params)
