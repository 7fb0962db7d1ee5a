"""No silent options (DESIGN.md, contract 7): every option a task sets is honoured by the
engine or by the executor that runs the task, or the run is refused before it starts.

The engine honours its own options (:data:`ENGINE_OPTIONS`) on every executor. Every other
field of the spec's task options, and each field of its resources, depends on where a
task runs: the executor is asked (:meth:`~headwater.executors.Executor.refuse`), and
refuses what it cannot honour. Three rules are the engine's own, whatever the executor:

- a pipeline used as a step runs no process of its own: of the options set on it, only
  ``display_name``, ``trigger_rule`` and setup/teardown do anything;
- a tune step runs no process of its own either (its trials are runs of the tuned
  pipeline, whose own options are checked the same way): only ``display_name``,
  ``trigger_rule`` and setup/teardown do anything on it;
- an importer reuses the artifact recorded for its URI (unless ``reimport``), so
  ``cache`` set on it does nothing;
- the engine sets ``HEADWATER_RUN_ID``, ``HEADWATER_TASK`` and ``HEADWATER_ATTEMPT`` in
  every task's environment, and the executor sets a GPU task's ``CUDA_VISIBLE_DEVICES``,
  so ``env=`` may not set them.

``image=`` alone may be knowingly ignored (``headwater run --ignore-image``,
``HEADWATER_IGNORE_IMAGE=1``): the run goes ahead on the executor's own Python, and says
so once.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from headwater.engine._plan import pipeline_tasks
from headwater.errors import Location, OptionNotHonoured
from headwater.executors import EXECUTORS, Executor, executor_kind
from headwater.spec import (
    CachePolicy,
    DagImplementation,
    ImporterImplementation,
    PipelineSpec,
    RetryPolicy,
    TaskOptions,
    TaskSpec,
    TriggerImplementation,
    TuneImplementation,
)

ENGINE_OPTIONS = frozenset(
    {
        "display_name",
        "retry",
        "cache",
        "trigger_rule",
        "setup",
        "teardown",
        "on_failure_fail_run",
        "pool",
        "pool_slots",
        "priority",
        "assets",
        "register_models",
        "notifications",
        # Handed to the task process as environment variables, which every executor passes.
        "secrets",
        "connections",
        "variables",
        # A sensor's waiting: the engine's (deferred between checks, on every executor).
        "sensor",
    }
)
"""The task options the engine honours itself, on every executor."""

WAIT_OPTIONS = frozenset({"display_name", "trigger_rule", "sensor", "notifications", "priority"})
"""What a built-in wait (checked by the engine, no process) honours of its options."""

STEP_PIPELINE_OPTIONS = frozenset(
    {"display_name", "trigger_rule", "setup", "teardown", "on_failure_fail_run"}
)
"""What a pipeline used as a step honours of the options set on it."""

ENGINE_ENV = ("HEADWATER_RUN_ID", "HEADWATER_TASK", "HEADWATER_ATTEMPT")
"""Environment variables the engine sets in every task; ``env=`` may not set them."""

GPU_ENV = "CUDA_VISIBLE_DEVICES"

# The keyword a user writes for an option of the spec (``timeout=`` is timeout_seconds).
_KEYWORDS = {
    "retry": "retries",
    "timeout_seconds": "timeout",
    "notifications": "notify",
    "register_models": "register",
    "resources.cpu": "cpu",
    "resources.memory_bytes": "memory",
    "resources.gpu": "gpu",
    "resources.accelerator": "accelerator",
    "resources.custom": "resources",
}

IGNORE_IMAGE_FIX = (
    "pass --ignore-image to run it here anyway (HEADWATER_IGNORE_IMAGE=1 where a "
    "server or scheduler runs it)"
)


@dataclass(frozen=True)
class _Refusal:
    pipeline: str  # whose DAG holds the task
    task: TaskSpec
    message: str
    hint: str | None


def set_options(options: TaskOptions) -> list[tuple[str, object]]:
    """The options ``options`` sets, as ``(name, value)``: every field of the spec's
    task options that is set, and its resources field by field (``resources.gpu``)."""
    found: list[tuple[str, object]] = []
    for name in TaskOptions.model_fields:
        value = getattr(options, name)
        if value is None or (name == "env" and not value):
            continue
        if name == "resources":
            for field in type(value).model_fields:
                part = getattr(value, field)
                if part is not None and part != {}:  # custom={}: none asked for
                    found.append((f"resources.{field}", part))
        else:
            found.append((name, value))
    return found


def keyword(option: str) -> str:
    """How a user writes ``option`` (a spec field name) on a component or task."""
    return _KEYWORDS.get(option, option)


def _shown(option: str, value: object) -> str:
    """``option=value`` as a user writes it (``retries=2``, ``timeout=30.0``)."""
    if isinstance(value, RetryPolicy) and value.model_dump(exclude_defaults=True).keys() <= {
        "max_retries"
    }:
        value = value.max_retries
    elif isinstance(value, CachePolicy) and value.ttl_seconds is None:
        value = value.enabled
    elif isinstance(value, BaseModel):
        value = value.model_dump(exclude_defaults=True)
    elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
        value = [v.model_dump(exclude_defaults=True) for v in value]
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{keyword(option)}={text}"


def _split(reason: str) -> tuple[str, str | None]:
    """An executor's answer, ``why; what to do``, as its two parts."""
    why, sep, fix = reason.partition("; ")
    return why, (fix if sep else None)


def check_options(
    spec: PipelineSpec,
    executor: str | Executor | None = None,
    *,
    ignore_image: bool = False,
) -> list[str]:
    """Refuse ``spec`` if one of its tasks sets an option that neither the engine nor
    ``executor`` (a kind of executor by name, None for the default, or an executor)
    honours: raises :class:`~headwater.errors.OptionNotHonoured` naming the pipeline, the
    task, the option, the executor and what to do. Returns the warnings to give once for
    the options knowingly ignored (``image=``, with ``ignore_image``)."""
    if executor is None or isinstance(executor, str):
        refuse = EXECUTORS[executor_kind(executor)].refuse
    else:
        refuse = executor.refuse
    refused: list[_Refusal] = []
    ignored: dict[str, list[str]] = {}
    warnings: list[str] = []
    for pipeline, task in pipeline_tasks(spec):
        comp = spec.components.get(task.component)
        if comp is None:
            continue  # validation reports it
        impl = comp.implementation
        if isinstance(impl, DagImplementation):
            refused.extend(_step_pipeline(pipeline, task, [comp.options, task.options]))
            continue
        if isinstance(impl, TuneImplementation):
            refused.extend(_tune_step(pipeline, task, [comp.options, task.options]))
            # Its trials run the tuned pipeline on the same kind of executor.
            warnings.extend(check_options(impl.pipeline, executor, ignore_image=ignore_image))
            continue
        if isinstance(impl, TriggerImplementation):
            refused.extend(_builtin_wait(pipeline, task, [comp.options, task.options]))
            continue
        if isinstance(impl, ImporterImplementation) and task.options.cache is not None:
            refused.append(
                _Refusal(
                    pipeline,
                    task,
                    f"task '{task.name}' sets {_shown('cache', task.options.cache)}, but "
                    "an importer does not cache: it reuses the artifact already recorded "
                    "for its URI",
                    "leave cache out; use importer(..., reimport=True) to read the URI "
                    "again on every run",
                )
            )
        options = spec.task_defaults.overlay(comp.options).overlay(task.options)
        refused.extend(_engine_env(pipeline, task, options))
        for option, value in set_options(options):
            if option in ENGINE_OPTIONS:
                continue
            reason = refuse(option, value)
            if reason is None:
                continue
            why, fix = _split(reason)
            if option == "image" and ignore_image:
                ignored.setdefault(why, []).append(f"'{task.name}' ({value})")
                continue
            if option == "image":
                fix = f"{fix}, or {IGNORE_IMAGE_FIX}" if fix else IGNORE_IMAGE_FIX
            message = f"task '{task.name}' sets {_shown(option, value)}, but {why}"
            refused.append(_Refusal(pipeline, task, message, fix))
    if refused:
        raise _error(refused)
    return warnings + [
        f"image= is ignored as asked (--ignore-image or HEADWATER_IGNORE_IMAGE=1): {why}"
        + (
            f", so tasks {_listed(tasks)} run there, not in their images"
            if len(tasks) > 1
            else f", so task {tasks[0]} runs there, not in its image"
        )
        for why, tasks in ignored.items()
    ]


def _listed(names: list[str], most: int = 5) -> str:
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _step_pipeline(pipeline: str, task: TaskSpec, layers: list[TaskOptions]) -> list[_Refusal]:
    found = []
    for layer in layers:
        for option, value in set_options(layer):
            if option in STEP_PIPELINE_OPTIONS:
                continue
            found.append(
                _Refusal(
                    pipeline,
                    task,
                    f"task '{task.name}' sets {_shown(option, value)}, but '{task.name}' "
                    f"is a pipeline used as a step, which runs no process of its own: of "
                    "the options set on it only display_name, trigger_rule and setup/teardown "
                    "do anything",
                    f"set {keyword(option)} on the components or tasks inside pipeline "
                    f"'{task.component}' (or in task_defaults of the pipeline that runs)",
                )
            )
    return found


def _tune_step(pipeline: str, task: TaskSpec, layers: list[TaskOptions]) -> list[_Refusal]:
    return [
        _Refusal(
            pipeline,
            task,
            f"task '{task.name}' sets {_shown(option, value)}, but '{task.name}' is a tune "
            "step, which runs no process of its own: of the options set on it only "
            "display_name, trigger_rule and setup/teardown do anything",
            f"set {keyword(option)} on the tasks of the tuned pipeline (each trial is a run "
            "of it), or pass the study's settings (trials, parallel, ...) to tune_step",
        )
        for layer in layers
        for option, value in set_options(layer)
        if option not in STEP_PIPELINE_OPTIONS
    ]


def _builtin_wait(pipeline: str, task: TaskSpec, layers: list[TaskOptions]) -> list[_Refusal]:
    return [
        _Refusal(
            pipeline,
            task,
            f"task '{task.name}' sets {_shown(option, value)}, but '{task.name}' is a built-in "
            "wait, which the engine checks itself with no process, slot or pool: of the "
            "options set on it only " + ", ".join(sorted(WAIT_OPTIONS)) + " do anything",
            f"drop {keyword(option)}; to run a check of your own in a task process (with its "
            "resources, retries and pool), write it as an @sensor function",
        )
        for layer in layers
        for option, value in set_options(layer)
        if option not in WAIT_OPTIONS
    ]


def _engine_env(pipeline: str, task: TaskSpec, options: TaskOptions) -> list[_Refusal]:
    taken = [name for name in ENGINE_ENV if name in options.env]
    gpu = options.resources is not None and bool(options.resources.gpu)
    if gpu and GPU_ENV in options.env:
        taken.append(GPU_ENV)
    if not taken:
        return []
    names = ", ".join(taken)
    return [
        _Refusal(
            pipeline,
            task,
            f"task '{task.name}' sets env {names}, but Headwater sets {names} itself in "
            "this task's environment (its run, task and attempt, and a GPU task's own "
            "devices), so the value would be lost",
            "use other names for your own variables; read Headwater's to know the run, "
            "task and attempt",
        )
    ]


def _error(refused: list[_Refusal]) -> OptionNotHonoured:
    first = refused[0]
    src = first.task.source
    message = first.message
    others = refused[1:]
    if others:
        listed = "; ".join(r.message.split(", but ")[0] for r in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        message += f" (also refused: {listed}{more})"
    return OptionNotHonoured(
        message,
        location=Location(
            pipeline=first.pipeline,
            task=first.task.name,
            file=src.file if src else None,
            line=src.line if src else None,
        ),
        hint=first.hint,
    )
