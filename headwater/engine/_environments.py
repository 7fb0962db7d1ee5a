"""Per-step environments of a run (docs/adr/0014): which requirement sets its tasks ask
for, resolved into locks before anything runs, so a requirement no index can satisfy
fails the run's start with the component and the package named.

A task's requirements are its ``packages`` after the pipeline's task defaults, its
component's options and its own are laid over each other; ``None`` or an empty list
means the executor's own Python.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from headwater.engine._plan import spec_tasks
from headwater.errors import EnvError
from headwater.executors import Environment
from headwater.spec import PipelineSpec, TaskOptions

Requirements = tuple[str, ...]


@dataclass
class RequirementSet:
    """One normalised requirement set and who asks for it."""

    requirements: Requirements
    # Names for messages ("component 'train' (task 'train-2')"), and component keys.
    users: list[str] = field(default_factory=list)
    components: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class EnvProgress:
    """News of preparing a run's environments: ``stage`` is ``preparing`` (before),
    ``output`` (a line of the build's output, in ``line``) or ``ready`` (after
    ``seconds``)."""

    environment: Environment
    stage: str
    line: str = ""
    seconds: float = 0.0


EnvObserver = Callable[[EnvProgress], None]


def task_requirements(options: TaskOptions) -> Requirements | None:
    """The normalised requirements of a task with ``options``; None for none."""
    if not options.packages:
        return None
    from headwater.envs import normalize_requirements  # most runs have no packages=

    return normalize_requirements(options.packages)


def requirement_sets(spec: PipelineSpec) -> dict[Requirements, RequirementSet]:
    """Every distinct requirement set ``spec``'s tasks ask for.

    Raises :class:`~headwater.errors.EnvError` naming the component for a line that is
    no requirement (a local path, ``-e``) in a spec that was not made by the SDK.
    """
    sets: dict[Requirements, RequirementSet] = {}
    for task in spec_tasks(spec):
        comp = spec.components.get(task.component)
        if comp is None:
            continue
        layers = (spec.task_defaults, comp.options, task.options)
        if all(layer.packages is None for layer in layers):
            continue  # most tasks: no options to lay over each other
        options = spec.task_defaults.overlay(comp.options).overlay(task.options)
        who = f"component '{task.component}' (task '{task.name}')"
        try:
            key = task_requirements(options)
        except EnvError as exc:
            raise EnvError(f"{who}: {exc.message}", hint=exc.hint) from None
        if key is None:
            continue
        entry = sets.setdefault(key, RequirementSet(key))
        entry.users.append(who)
        entry.components.add(task.component)
    return sets


def environment_for(requirements: Requirements) -> Environment:
    """The environment of one requirement set (resolved, or from the resolution cache)."""
    from headwater.envs import resolve

    lock = resolve(requirements)
    return Environment(lock.digest, lock.pinned, lock.python, lock.requested)


def resolve_environments(spec: PipelineSpec) -> dict[Requirements, Environment]:
    """The environment of each requirement set of ``spec``, resolved (or taken from the
    resolution cache) for this interpreter.

    Raises :class:`~headwater.errors.EnvError` naming the component(s) and the package
    for a set that cannot be resolved.
    """
    out: dict[Requirements, Environment] = {}
    for key, entry in requirement_sets(spec).items():
        try:
            out[key] = environment_for(key)
        except EnvError as exc:
            who = ", ".join(entry.users[:3]) + (" and others" if len(entry.users) > 3 else "")
            raise EnvError(
                f"pipeline '{spec.name}', {who}: packages {list(key)}: {exc.message}",
                hint=exc.hint,
            ) from None
    return out


def prepare_environments(
    spec: PipelineSpec,
    environments: dict[Requirements, Environment],
    prepare: Callable[[Environment, list[str], Callable[[str], None]], None],
    observer: EnvObserver | None,
) -> None:
    """Call ``prepare(environment, component keys, report)`` for each environment, telling
    ``observer`` how it goes."""
    sets = requirement_sets(spec)
    for key, environment in environments.items():
        started = time.monotonic()
        if observer is not None:
            observer(EnvProgress(environment, "preparing"))

        def report(line: str, environment: Environment = environment) -> None:
            if observer is not None:
                observer(EnvProgress(environment, "output", line=line))

        components = sorted(sets[key].components) if key in sets else []
        try:
            prepare(environment, components, report)
        except EnvError as exc:
            users = sets[key].users if key in sets else []
            who = ", ".join(users[:3]) + (" and others" if len(users) > 3 else "")
            raise EnvError(
                f"pipeline '{spec.name}', {who}: the environment of {list(key)} cannot be "
                f"prepared: {exc.message}",
                hint=exc.hint,
            ) from None
        if observer is not None:
            observer(EnvProgress(environment, "ready", seconds=time.monotonic() - started))
