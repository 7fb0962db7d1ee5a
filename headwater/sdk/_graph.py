"""The authoring graph: tasks, channels, conditions and groups built by a pipeline function.

Calling a component inside a ``@pipeline`` function creates a :class:`Task` in
the innermost open container (the pipeline body, or the body of an ``If``,
``ParallelFor`` or ``ExitHandler``). Values a task produces are
:class:`Channel` objects: passing one to another component wires the two tasks
together. Nothing here runs user code or knows about the spec format; the
compiler turns this graph into a spec.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from headwater.errors import PipelineDefinitionError
from headwater.sdk import _location
from headwater.sdk._location import Src
from headwater.sdk._options import merge, normalize
from headwater.sdk._template import Template

if TYPE_CHECKING:
    from headwater.sdk._assets import Asset
    from headwater.sdk._interface import Interface

__all__ = [
    "Channel",
    "Collected",
    "Cond",
    "Elif",
    "Else",
    "ExitHandler",
    "If",
    "MappedTask",
    "ParallelFor",
    "Task",
    "product",
    "zip_lists",
]


class Callee(Protocol):
    """Anything that can be called inside a pipeline to make a task."""

    @property
    def name(self) -> str: ...

    @property
    def options(self) -> dict[str, Any]: ...

    def interface(self) -> Interface: ...


def _error(
    message: str, src: Src | None, hint: str | None = None, task: str | None = None
) -> PipelineDefinitionError:
    return _graph_error(message, src, hint, task)


def _graph_error(
    message: str, src: Src | None, hint: str | None = None, task: str | None = None
) -> PipelineDefinitionError:
    builder = _current_or_none()
    loc = _location.loc(src, builder.pipeline_name if builder else None, task)
    return PipelineDefinitionError(message, location=loc, hint=hint)


# --------------------------------------------------------------------------- channels


class Channel:
    """A value known only when the pipeline runs: a task output, a parameter, a loop item.

    Compare it (``task.output > 0.9``) to build a condition for :class:`If`.
    """

    def describe(self) -> str:
        raise NotImplementedError

    def _cmp(self, op: str, other: Any) -> Cond:
        return Cond(op, [self, other], _location.caller())

    def __eq__(self, other: object) -> Cond:  # type: ignore[override]
        return self._cmp("==", other)

    def __ne__(self, other: object) -> Cond:  # type: ignore[override]
        return self._cmp("!=", other)

    def __lt__(self, other: Any) -> Cond:
        return self._cmp("<", other)

    def __le__(self, other: Any) -> Cond:
        return self._cmp("<=", other)

    def __gt__(self, other: Any) -> Cond:
        return self._cmp(">", other)

    def __ge__(self, other: Any) -> Cond:
        return self._cmp(">=", other)

    def is_in(self, values: Any) -> Cond:
        """Condition: this value is one of ``values``."""
        return self._cmp("in", values)

    def not_in(self, values: Any) -> Cond:
        return self._cmp("not_in", values)

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise _error(
            f"{self.describe()} has no value while the pipeline is being defined, so a "
            "Python 'if', 'and', 'or' or 'not' cannot test it",
            _location.caller(),
            "branch at run time with 'with headwater.If(value > 0.9):', and combine "
            "conditions with &, | and ~",
        )

    def _no_value(self, what: str) -> PipelineDefinitionError:
        return _error(
            f"{self.describe()} has no value while the pipeline is being defined, so {what}",
            _location.caller(),
            "pass it to a component and compute with it there; a task's inputs get the real "
            "values when it runs",
        )

    def __format__(self, spec: str) -> str:
        raise self._no_value("it cannot be formatted into a string")

    def _arith(self, other: Any) -> Any:
        raise self._no_value("no arithmetic or string operations can use it")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _arith
    __truediv__ = __rtruediv__ = __floordiv__ = __mod__ = __rmod__ = _arith

    def __iter__(self) -> Iterator[Any]:
        raise _error(
            f"{self.describe()} has no value while the pipeline is being defined, so it "
            "cannot be iterated",
            _location.caller(),
            "fan out over it at run time with 'with headwater.ParallelFor(value) as item:'",
        )


class TaskOutput(Channel):
    def __init__(self, task: Task, name: str) -> None:
        self.task = task
        self.name = name

    def describe(self) -> str:
        return f"output '{self.name}' of task '{self.task.name}'"

    def __repr__(self) -> str:
        return f"TaskOutput({self.task.name}.{self.name})"


class PipelineInput(Channel):
    def __init__(self, builder: DagBuilder, name: str) -> None:
        self.builder = builder
        self.name = name

    def describe(self) -> str:
        return f"pipeline parameter '{self.name}'"

    def __repr__(self) -> str:
        return f"PipelineInput({self.name})"


class LoopItem(Channel):
    """The current item of a ``ParallelFor``; ``item["key"]`` or ``item.key`` for dict items."""

    def __init__(self, loop: LoopGroup, key: str | None = None) -> None:
        self._loop = loop
        self._key = key

    def describe(self) -> str:
        key = f"['{self._key}']" if self._key else ""
        return f"item{key} of ParallelFor '{self._loop.name}'"

    def __getitem__(self, key: str) -> LoopItem:
        if self._key is not None:
            raise _error(
                "loop items support one level of key access",
                _location.caller(),
                "pass the whole item to a component and read nested keys there",
            )
        if not isinstance(key, str):
            raise _error(
                f"loop item keys must be str, not {type(key).__name__}", _location.caller()
            )
        return LoopItem(self._loop, key)

    def __getattr__(self, key: str) -> LoopItem:
        if key.startswith("_"):
            raise AttributeError(key)
        return self[key]


class Collected(Channel):
    """Every iteration's value of a task output inside a ``ParallelFor``, as one list.

    Use it after the loop::

        with ParallelFor(configs) as cfg:
            trained = train(config=cfg)
        pick_best(scores=Collected(trained.outputs["score"]))
    """

    def __init__(self, value: Any) -> None:
        src = _location.caller()
        if isinstance(value, Task):
            value = value.output
        if not isinstance(value, TaskOutput):
            raise _error(
                f"Collected(...) takes a task output, not {type(value).__name__}",
                src,
                "pass task.output or task.outputs['name'] of a task inside a ParallelFor",
            )
        self.source = value
        self.src = src

    def describe(self) -> str:
        return f"Collected({self.source.task.name}.{self.source.name})"


class Cond:
    """A condition on channel values, evaluated by the engine at run time (never with eval)."""

    def __init__(self, op: str, args: list[Any], src: Src | None) -> None:
        self.op = op
        self.args = args
        self.src = src

    def __and__(self, other: Cond) -> Cond:
        return Cond("and", [self, _as_cond(other)], _location.caller())

    def __or__(self, other: Cond) -> Cond:
        return Cond("or", [self, _as_cond(other)], _location.caller())

    def __invert__(self) -> Cond:
        return Cond("not", [self], _location.caller())

    def __bool__(self) -> bool:
        raise _error(
            "a condition on run-time values cannot be tested with Python 'if', 'and', "
            "'or' or 'not' while the pipeline is being defined",
            self.src,
            "use 'with headwater.If(cond):', and combine conditions with &, | and ~",
        )


def _as_cond(value: Any) -> Cond:
    if isinstance(value, Cond):
        return value
    if isinstance(value, Channel):
        return Cond("==", [value, True], _location.caller())
    raise _error(
        f"cannot combine a condition with {value!r}",
        _location.caller(),
        "combine conditions built from task outputs or parameters, e.g. "
        "(a.output > 1) & (b.output == 'ok')",
    )


# --------------------------------------------------------------------------- nodes


class Node:
    name: str
    src: Src | None
    builder: DagBuilder
    deps: list[Node]

    def after(self, *others: Node) -> Node:
        """Run after ``others`` finish, without passing data."""
        src = _location.caller()
        for other in others:
            group = getattr(other, "group", None)
            if not isinstance(other, Node) and isinstance(group, Group):
                other = group
            if not isinstance(other, Node):
                raise _error(
                    f".after() takes tasks or control-flow blocks (If, ParallelFor, "
                    f"ExitHandler) that have been entered, not {type(other).__name__}",
                    src,
                    "pass the task object a component call returned, e.g. b.after(a)",
                    task=self.name,
                )
            if other.builder is not self.builder:
                raise _error(
                    f".after({other.name}) refers to a task of another pipeline",
                    src,
                    task=self.name,
                )
            self.deps.append(other)
        return self


class Task(Node):
    """One call of a component inside a pipeline."""

    def __init__(
        self,
        callee: Callee,
        iface: Interface,
        args: dict[str, Any],
        builder: DagBuilder,
        src: Src | None,
    ) -> None:
        self.callee = callee
        self.iface = iface
        self.args = args
        self.builder = builder
        self.src = src
        self.deps = []
        self.overrides: dict[str, Any] = {}
        self.name = builder.unique_name(callee.name)

    def __repr__(self) -> str:
        return f"Task({self.name})"

    @property
    def output(self) -> TaskOutput:
        """The task's only output."""
        names = list(self.iface.outputs)
        if len(names) == 1:
            return TaskOutput(self, names[0])
        src = _location.caller()
        if not names:
            raise _error(
                f"component '{self.callee.name}' has no outputs",
                src,
                "return a value or declare an Output[...] parameter in the component",
                task=self.name,
            )
        raise _error(
            f"component '{self.callee.name}' has several outputs ({', '.join(names)}), so "
            ".output is ambiguous",
            src,
            f"pick one with .outputs['{names[0]}']",
            task=self.name,
        )

    @property
    def outputs(self) -> Mapping[str, TaskOutput]:
        """Every output by name: ``task.outputs["model"]``."""
        return _Outputs(self)

    # ---------------------------------------------------------------- options

    def set_options(self, **options: Any) -> Task:
        """Set any per-task option; the keywords are the same as ``@component``'s."""
        src = _location.caller()
        where = _location.loc(src, self.builder.pipeline_name, self.name)
        normalized = normalize(options, where, os.path.dirname(src.file) if src else None)
        for output in normalized.get("assets", {}):
            self._check_asset_output(output, src)
        self.overrides = merge(self.overrides, normalized)
        return self

    def _check_asset_output(self, output: str, src: Src | None) -> None:
        outputs = self.iface.outputs
        artifacts = ", ".join(n for n, io in outputs.items() if io.kind == "artifact") or "none"
        io = outputs.get(output)
        if io is None:
            raise _error(
                f"assets names unknown output '{output}' of component '{self.callee.name}' "
                f"(its artifact outputs: {artifacts})",
                src,
                "map an artifact output of the component to an asset, e.g. "
                "task.updates_asset('model', 'models://churn')",
                task=self.name,
            )
        if io.kind != "artifact":
            raise _error(
                f"assets maps output '{output}' of component '{self.callee.name}', which is a "
                f"parameter ({io.describe()}); only artifact outputs update assets",
                src,
                f"declare '{output}' as an artifact, e.g. {output}: Output[Model], or pick "
                f"one of: {artifacts}",
                task=self.name,
            )

    def set_retry(
        self,
        num_retries: int,
        delay: Any = None,
        backoff: float | bool | None = None,
        max_delay: Any = None,
    ) -> Task:
        return self.set_options(
            retries=num_retries, retry_delay=delay, retry_backoff=backoff, retry_max_delay=max_delay
        )

    def set_timeout(self, timeout: Any) -> Task:
        return self.set_options(timeout=timeout)

    def set_caching_options(self, enable_caching: bool, ttl: Any = None) -> Task:
        return self.set_options(cache=enable_caching, cache_ttl=ttl)

    def set_cpu_limit(self, cpu: float | str) -> Task:
        return self.set_options(cpu=cpu)

    def set_memory_limit(self, memory: int | str) -> Task:
        return self.set_options(memory=memory)

    def set_accelerator_limit(self, count: int) -> Task:
        return self.set_options(gpu=count)

    def set_accelerator_type(self, accelerator: str) -> Task:
        return self.set_options(accelerator=accelerator)

    def set_env_variable(self, name: str, value: str) -> Task:
        return self.set_options(env={name: value})

    def set_display_name(self, name: str) -> Task:
        return self.set_options(display_name=name)

    def set_trigger_rule(self, rule: str) -> Task:
        return self.set_options(trigger_rule=rule)

    def as_setup(self) -> Task:
        """Make this call a setup task (Airflow's ``as_setup()``): it creates what the
        tasks after it need, and its teardown cleans that up (see :meth:`as_teardown`)."""
        return self.set_options(setup=True)

    def as_teardown(
        self, setups: Task | Sequence[Task] = (), *, on_failure_fail_run: bool | None = None
    ) -> Task:
        """Make this call the teardown of ``setups`` (Airflow's ``as_teardown(setups=...)``).

        Each of ``setups`` becomes a setup, and this task runs after them (and after what
        it already waits for) however the work between them ends; it is skipped when its
        setups were, and upstream_failed when none succeeded (trigger rule
        ``all_done_setup_success``). Its own failure does not fail the run unless
        ``on_failure_fail_run=True``::

            cluster = create_cluster()
            train(cluster=cluster.output)
            delete_cluster(name=cluster.output).as_teardown(setups=cluster)
        """
        listed = [setups] if isinstance(setups, Task) else list(setups)
        for setup in listed:
            if not isinstance(setup, Task):
                src = _location.caller()
                raise _error(
                    f"as_teardown(setups=...) takes the setup tasks, got {setup!r}",
                    src,
                    "pass the task (or a list of tasks) that this teardown cleans up after, "
                    "e.g. .as_teardown(setups=cluster)",
                    task=self.name,
                )
            setup.set_options(setup=True)
        options: dict[str, Any] = {"teardown": True}
        if on_failure_fail_run is not None:
            options["on_failure_fail_run"] = on_failure_fail_run
        self.set_options(**options)
        return self.after(*listed) if listed else self

    def set_pool(self, name: str, slots: int = 1) -> Task:
        """Take ``slots`` slots of pool ``name`` while this task runs (Airflow pools)."""
        return self.set_options(pool=name, pool_slots=slots)

    def set_priority(self, priority: int) -> Task:
        """Higher runs first when tasks wait for pool slots or concurrency limits."""
        return self.set_options(priority=priority)

    def updates_asset(self, output: str, asset: Asset | str) -> Task:
        """When this task succeeds, its artifact output ``output`` updates ``asset``::

        train(...).updates_asset("model", Asset("models://churn"))
        """
        return self.set_options(assets={output: asset})

    def after(self, *others: Node) -> Task:
        super().after(*others)
        return self


class _Outputs(Mapping[str, TaskOutput]):
    def __init__(self, task: Task) -> None:
        self._task = task

    def __getitem__(self, key: str) -> TaskOutput:
        if key not in self._task.iface.outputs:
            known = ", ".join(self._task.iface.outputs) or "none"
            raise _error(
                f"component '{self._task.callee.name}' has no output '{key}' "
                f"(its outputs: {known})",
                _location.caller(),
                "use one of the output names listed",
                task=self._task.name,
            )
        return TaskOutput(self._task, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._task.iface.outputs)

    def __len__(self) -> int:
        return len(self._task.iface.outputs)


class Group(Node):
    kind = "group"
    label = "group"

    def __init__(self, name: str | None, src: Src | None) -> None:
        builder = current(f"{self.label}(...)", src)
        self.builder = builder
        self.src = src
        self.deps = []
        self.name = builder.group_name(self.kind, name, src)


class Branch:
    def __init__(self, cond: Cond | None, src: Src | None) -> None:
        self.cond = cond
        self.src = src
        self.nodes: list[Node] = []


class ConditionChain(Group):
    kind = "condition"
    label = "If"

    def __init__(self, name: str | None, src: Src | None) -> None:
        super().__init__(name, src)
        self.branches: list[Branch] = []


class LoopGroup(Group):
    kind = "loop"
    label = "ParallelFor"

    def __init__(
        self,
        items: Any,
        parallelism: int | None,
        name: str | None,
        src: Src | None,
        *,
        max_items: int | None = None,
        shape: tuple[list[str], dict[str, Any]] | None = None,
        mapped: bool = False,
    ) -> None:
        super().__init__(name, src)
        self.items = items  # a channel, a _Const list, or Combined lists
        self.parallelism = parallelism
        self.max_items = max_items
        self.shape = shape  # expand_kwargs: (required keys, optional keys with defaults)
        self.mapped = mapped
        self.nodes: list[Node] = []

    def literal_count(self) -> int | None:
        """How many items the loop has, when every list it runs over is a literal."""
        if isinstance(self.items, _Const):
            return len(self.items.value)
        if not isinstance(self.items, Combined):
            return None
        lists = list(self.items.lists.values())
        if not all(isinstance(v, _Const) for v in lists):
            return None
        lengths = [len(v.value) for v in lists]
        if self.items.kind == "product":
            count = 1
            for n in lengths:
                count *= n
            return count
        return max(lengths) if self.items.has_fill else min(lengths)


class ExitGroup(Group):
    kind = "exit-handler"
    label = "ExitHandler"

    def __init__(self, exit_task: Task, name: str | None, src: Src | None) -> None:
        super().__init__(name, src)
        self.exit_task = exit_task
        self.nodes: list[Node] = []


# --------------------------------------------------------------------------- builder


class DagBuilder:
    """The graph of one pipeline function while it is being called."""

    def __init__(self, pipeline_name: str) -> None:
        self.pipeline_name = pipeline_name
        self.nodes: list[Node] = []
        self._containers: list[list[Node]] = [self.nodes]
        self._names: set[str] = set()
        self._counters: dict[str, int] = {}

    @property
    def container(self) -> list[Node]:
        return self._containers[-1]

    def push(self, nodes: list[Node]) -> None:
        self._containers.append(nodes)

    def pop(self) -> None:
        self._containers.pop()

    def peek_name(self, base: str) -> str:
        """The name ``unique_name(base)`` would give, without taking it."""
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}-{n}"
        return name

    def unique_name(self, base: str) -> str:
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}-{n}"
        self._names.add(name)
        return name

    def group_name(self, kind: str, name: str | None, src: Src | None) -> str:
        if name is not None:
            if name in self._names:
                raise _error(
                    f"the name '{name}' is already used by another task or group",
                    src,
                    "pick a name not used elsewhere in this pipeline",
                )
            self._names.add(name)
            return name
        n = self._counters.get(kind, 0)
        while True:
            n += 1
            candidate = f"{kind}-{n}"
            if candidate not in self._names:
                break
        self._counters[kind] = n
        self._names.add(candidate)
        return candidate

    def add_task(
        self, callee: Callee, iface: Interface, args: dict[str, Any], src: Src | None
    ) -> Task:
        task = Task(callee, iface, args, self, src)
        self.container.append(task)
        return task


_active: list[DagBuilder] = []


def _current_or_none() -> DagBuilder | None:
    return _active[-1] if _active else None


def current(what: str, src: Src | None) -> DagBuilder:
    builder = _current_or_none()
    if builder is None:
        raise PipelineDefinitionError(
            f"{what} was used outside a pipeline",
            location=_location.loc(src),
            hint="use it inside a function decorated with @headwater.pipeline",
        )
    return builder


class building:
    """Context manager: make ``builder`` the pipeline being defined."""

    def __init__(self, builder: DagBuilder) -> None:
        self.builder = builder

    def __enter__(self) -> DagBuilder:
        _active.append(self.builder)
        return self.builder

    def __exit__(self, *exc: object) -> None:
        _active.pop()


def to_json_constant(value: Any, what: str, src: Src | None, task: str | None = None) -> Any:
    """A constant argument as JSON data, or a clear error if it is not one."""
    if isinstance(value, tuple):
        value = list(value)
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        if _holds_template(value):
            raise _error(
                f"{what} gets a headwater.Template inside a list or dict",
                src,
                "a Template must be a whole task argument (of a str input): pass each "
                "templated value as an argument of its own, or template a pipeline parameter",
                task=task,
            ) from None
        raise _error(
            f"{what} gets {value!r} ({type(value).__name__}), which is neither a task output, "
            "a parameter nor a JSON value",
            src,
            "pass numbers, strings, booleans, None, lists or dicts of those, or a task's .output",
            task=task,
        ) from None


def _holds_template(value: Any) -> bool:
    if isinstance(value, Template):
        return True
    if isinstance(value, list | tuple):
        return any(_holds_template(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_template(v) for v in value.values())
    return False


def call(callee: Callee, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Task:
    """Create a task for ``callee`` called with ``args`` and ``kwargs`` in the open pipeline."""
    src = _location.caller()
    builder = current(f"{callee.name}(...)", src)
    iface = callee.interface()
    would_be = builder.peek_name(callee.name)

    def _error(message: str, src: Src | None, hint: str | None = None) -> PipelineDefinitionError:
        return _graph_error(message, src, hint, task=would_be)

    inputs = [n for n, io in iface.inputs.items() if io.kind != "final_status"]
    bound: dict[str, Any] = {}
    if len(args) > len(inputs):
        raise _error(
            f"{callee.name}() takes {len(inputs)} input(s) but {len(args)} were given positionally",
            src,
            f"its inputs are: {', '.join(inputs) or 'none'}",
        )
    for name, value in zip(inputs, args, strict=False):
        bound[name] = value
    for name, value in kwargs.items():
        if name in bound:
            raise _error(
                f"{callee.name}() got input '{name}' twice",
                src,
                f"pass '{name}' either by position or by keyword, not both",
            )
        if name in iface.outputs and name not in iface.inputs:
            raise _error(
                f"'{name}' is an output of {callee.name}; outputs are not passed in",
                src,
                f"read it after the call as task.outputs['{name}']",
            )
        if name not in iface.inputs or iface.inputs[name].kind == "final_status":
            raise _error(
                f"{callee.name}() has no input '{name}'",
                src,
                f"its inputs are: {', '.join(inputs) or 'none'}",
            )
        bound[name] = value
    for name, value in list(bound.items()):
        if isinstance(value, Task | MappedTask):
            bound[name] = value.output
        elif isinstance(value, Cond):
            raise _error(
                f"input '{name}' of {callee.name}() gets a condition",
                src,
                "conditions go in 'with headwater.If(...)'; pass plain values to tasks",
            )
        elif isinstance(value, Template):
            continue  # compiled to a template binding: rendered when a run is created
        elif not isinstance(value, Channel):
            bound[name] = _Const(
                to_json_constant(value, f"input '{name}' of {callee.name}()", src, would_be)
            )
    return builder.add_task(callee, iface, bound, src)


class _Const:
    """A constant argument, already converted to JSON data."""

    def __init__(self, value: Any) -> None:
        self.value = value


# --------------------------------------------------------------------------- control flow


class _ConditionContext:
    def __init__(self, cond: Any, name: str | None, kind: str) -> None:
        self.src = _location.caller()
        self.kind = kind
        self.name = name
        if kind != "Else":
            if isinstance(cond, Channel):
                cond = Cond("==", [cond, True], self.src)
            if not isinstance(cond, Cond):
                raise _error(
                    f"{kind}(...) needs a condition on task outputs or parameters, got {cond!r}",
                    self.src,
                    f"write e.g. {kind}(task.output > 0.9); for values known now use a plain "
                    "Python 'if'",
                )
        self.cond: Cond | None = cond
        self.builder = current(f"{kind}(...)", self.src)
        self._chain: ConditionChain | None = None
        self.group: ConditionChain | None = None

    def __enter__(self) -> None:
        container = self.builder.container
        if self.kind == "If":
            chain = ConditionChain(self.name, self.src)
            container.append(chain)
        else:
            last = container[-1] if container else None
            if not isinstance(last, ConditionChain):
                raise _error(
                    f"{self.kind} must come right after an If or Elif block",
                    self.src,
                    f"place 'with {self.kind}(...):' directly after 'with If(...):'",
                )
            if last.branches and last.branches[-1].cond is None:
                raise _error(
                    f"{self.kind} cannot follow an Else block",
                    self.src,
                    "Else must be the last block of an If/Elif chain",
                )
            chain = last
        branch = Branch(self.cond, self.src)
        chain.branches.append(branch)
        self._chain = chain
        self.group = chain
        self.builder.push(branch.nodes)

    def __exit__(self, *exc: object) -> None:
        self.builder.pop()


class If(_ConditionContext):
    """Run the tasks in this block only if ``cond`` holds at run time::

    with If(evaluate.outputs["accuracy"] >= 0.9):
        register(model=train.outputs["model"])
    """

    def __init__(self, cond: Any, name: str | None = None) -> None:
        super().__init__(cond, name, "If")


class Elif(_ConditionContext):
    """Run this block if no earlier branch ran and ``cond`` holds."""

    def __init__(self, cond: Any) -> None:
        super().__init__(cond, None, "Elif")


class Else(_ConditionContext):
    """Run this block if no earlier branch of the If/Elif chain ran."""

    def __init__(self) -> None:
        super().__init__(None, None, "Else")


class ParallelFor:
    """Run the block once per item of ``items``, at most ``parallelism`` at once::

        with ParallelFor([0.01, 0.1, 1.0], parallelism=2) as lr:
            train(learning_rate=lr)

    ``items`` is a literal list, a list parameter, a task output typed ``list[...]``, or
    several lists combined: ``headwater.product(lr=..., batch=...)`` (every combination)
    or ``headwater.zip(lr=..., batch=...)`` (position by position), whose items are dicts
    read as ``item.lr``. More than ``max_items`` items (default ``HEADWATER_MAX_MAP_LENGTH``,
    1024) fail the loop before any iteration runs.
    """

    def __init__(
        self,
        items: Any,
        parallelism: int | None = None,
        name: str | None = None,
        max_items: int | None = None,
    ) -> None:
        src = _location.caller()
        _check_count(parallelism, "ParallelFor parallelism", src)
        _check_count(max_items, "ParallelFor max_items", src)
        if not isinstance(items, Combined):
            items = _loop_list(items, "ParallelFor items", src, None)
        self.group = LoopGroup(items, parallelism, name, src, max_items=max_items)

    def __enter__(self) -> LoopItem:
        builder = self.group.builder
        builder.container.append(self.group)
        builder.push(self.group.nodes)
        return LoopItem(self.group)

    def __exit__(self, *exc: object) -> None:
        self.group.builder.pop()


def _check_count(value: Any, what: str, src: Src | None, task: str | None = None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise _error(
            f"{what} must be a whole number >= 1, got {value!r}",
            src,
            "leave it out for the default",
            task=task,
        )


def _loop_list(value: Any, what: str, src: Src | None, task: str | None) -> Any:
    """One list a loop runs over: a channel, or a literal list as a constant."""
    if isinstance(value, Task):
        value = value.output
    if isinstance(value, MappedTask | Collected):
        raise _error(
            f"{what} is the list of a mapped task's or loop's outputs, which a loop cannot "
            "run over",
            src,
            "pass that list to a task that returns it (typed list[...]) and map over the "
            "task's output",
            task=task,
        )
    if isinstance(value, Combined):
        raise _error(
            f"{what} is a headwater.{value.kind}(...) of lists, which only the items of a "
            "ParallelFor or of expand_kwargs(...) can be",
            src,
            "write ParallelFor(headwater.zip(a=..., b=...)) or "
            "component.expand_kwargs(headwater.zip(a=..., b=...))",
            task=task,
        )
    if isinstance(value, Cond):
        raise _error(f"{what} is a condition, not a list", src, task=task)
    if isinstance(value, Channel | _Const):
        return value
    const = _Const(to_json_constant(value, what, src, task))
    if not isinstance(const.value, list):
        raise _error(
            f"{what} must be a list, got {type(const.value).__name__} {const.value!r}",
            src,
            "pass a list, a list parameter, or a task output typed list[...]; to give every "
            "task the same value, fix it with .partial(name=value)",
            task=task,
        )
    return const


class ExitHandler:
    """Run ``exit_task`` after the block whatever happens, giving it the final status::

    notify = send_status()             # takes a `status: FinalStatus` input
    with ExitHandler(notify):
        train(...)
    """

    def __init__(self, exit_task: Task, name: str | None = None) -> None:
        src = _location.caller()
        if not isinstance(exit_task, Task):
            raise _error(
                f"ExitHandler(...) takes a task, got {type(exit_task).__name__}",
                src,
                "create the exit task first, e.g. cleanup = notify(), then "
                "'with ExitHandler(cleanup):'",
            )
        builder = current("ExitHandler(...)", src)
        container = builder.container
        if exit_task not in container:
            raise _error(
                f"exit task '{exit_task.name}' must be created just before the ExitHandler, "
                "in the same block",
                src,
                "create the exit task right before 'with ExitHandler(task):', in the same "
                "block, and do not use it anywhere else",
                task=exit_task.name,
            )
        container.remove(exit_task)
        self.group = ExitGroup(exit_task, name, src)

    def __enter__(self) -> None:
        builder = self.group.builder
        builder.container.append(self.group)
        builder.push(self.group.nodes)

    def __exit__(self, *exc: object) -> None:
        self.group.builder.pop()


# --------------------------------------------------------------------------- task mapping

_NO_FILL: Any = object()


class Combined:
    """Named lists combined into loop items: one dict per combination (``product``) or per
    position (``zip``). Made by :func:`product` and :func:`zip_lists`."""

    def __init__(self, kind: str, lists: dict[str, Any], fill: Any, src: Src | None) -> None:
        self.kind = kind
        self.src = src
        self.has_fill = fill is not _NO_FILL
        self.fill = to_json_constant(fill, "zip fillvalue", src) if self.has_fill else None
        if not lists:
            raise _error(
                f"headwater.{kind}() needs at least one named list",
                src,
                f"write headwater.{kind}(lr=[0.1, 0.01], batch=[32, 64])",
            )
        self.lists = {
            name: _loop_list(value, f"{kind} list '{name}'", src, None)
            for name, value in lists.items()
        }


def _named_only(kind: str, args: tuple[Any, ...], src: Src | None) -> None:
    if args:
        raise _error(
            f"headwater.{kind}() takes named lists, got {len(args)} positional argument(s)",
            src,
            f"name each list after the argument it feeds: headwater.{kind}(lr=[...], "
            "batch=[...]); each item is then a dict with those keys",
        )


def product(*args: Any, **lists: Any) -> Combined:
    """Every combination of the named lists, as dicts (the last list varies fastest)::

    with ParallelFor(headwater.product(lr=[0.1, 0.01], batch=[32, 64])) as cfg:
        train(lr=cfg.lr, batch=cfg.batch)        # four iterations
    """
    src = _location.caller()
    _named_only("product", args, src)
    return Combined("product", lists, _NO_FILL, src)


def zip_lists(*args: Any, fillvalue: Any = _NO_FILL, **lists: Any) -> Combined:
    """The named lists position by position, as dicts (``headwater.zip``)::

    train.expand_kwargs(headwater.zip(lr=[0.1, 0.01], batch=[32, 64]))   # two tasks

    As Python's and Airflow's ``zip``: as many items as the shortest list has, or, with
    ``fillvalue`` given, as many as the longest, the shorter lists padded with it.
    """
    src = _location.caller()
    _named_only("zip", args, src)
    return Combined("zip", lists, fillvalue, src)


class Mappable:
    """What a component (or a pipeline used as a step) offers to map it over lists at run
    time, as Airflow's dynamic task mapping: ``.partial(...)``, ``.expand(...)`` and
    ``.expand_kwargs(...)``."""

    def partial(self, **fixed: Any) -> Partial:
        """Fix arguments every mapped task gets: ``train.partial(data=d).expand(lr=[...])``."""
        return Partial(self, fixed, _location.caller())  # type: ignore[arg-type]

    def expand(self, *args: Any, **lists: Any) -> MappedTask:
        """One task per combination of the lists (a cross product): ``train.expand(lr=[...])``."""
        src = _location.caller()
        return Partial(self, {}, src, "expand").expand_at(args, lists, src)  # type: ignore[arg-type]

    def expand_kwargs(self, items: Any) -> MappedTask:
        """One task per dict of arguments in ``items``."""
        src = _location.caller()
        partial = Partial(self, {}, src, "expand_kwargs")  # type: ignore[arg-type]
        return partial.expand_kwargs_at(items, src)


class Partial:
    """A component with some arguments fixed, waiting for ``.expand(...)``."""

    def __init__(
        self, callee: Callee, fixed: dict[str, Any], src: Src | None, method: str = "partial"
    ) -> None:
        self.callee = callee
        self.fixed = fixed
        self.src = src
        self.builder = current(f"{callee.name}.{method}(...)", src)
        self.would_be = self.builder.peek_name(callee.name)
        self.iface = callee.interface()
        for name in fixed:
            self._check_input(name, "partial()", src)

    def _inputs(self) -> list[str]:
        return [n for n, io in self.iface.inputs.items() if io.kind != "final_status"]

    def _error(self, message: str, src: Src | None, hint: str | None = None) -> Exception:
        return _error(message, src, hint, task=self.would_be)

    def _check_input(self, name: str, where: str, src: Src | None) -> None:
        inputs = self._inputs()
        if name not in inputs:
            raise self._error(
                f"{self.callee.name}.{where} got '{name}', which is not an input of "
                f"{self.callee.name}",
                src,
                f"its inputs are: {', '.join(inputs) or 'none'}",
            )

    def _check_free(self, name: str, where: str, src: Src | None) -> None:
        self._check_input(name, where, src)
        if name in self.fixed:
            raise self._error(
                f"input '{name}' of {self.callee.name} is fixed by partial() and mapped by {where}",
                src,
                f"pass '{name}' to one of them: partial() for one value for every task, "
                f"{where} for a list to map over",
            )

    def expand(self, *args: Any, **lists: Any) -> MappedTask:
        """One task per combination of the lists (a cross product)."""
        return self.expand_at(args, lists, _location.caller())

    def expand_kwargs(self, items: Any) -> MappedTask:
        """One task per dict of arguments in ``items``."""
        return self.expand_kwargs_at(items, _location.caller())

    def expand_at(
        self, args: tuple[Any, ...], lists: dict[str, Any], src: Src | None
    ) -> MappedTask:
        name = self.callee.name
        if args:
            raise self._error(
                f"{name}.expand() takes lists by argument name, got {len(args)} positional "
                "argument(s)",
                src,
                f"write {name}.expand(arg=[...]); for a list of dicts of arguments use "
                f"{name}.expand_kwargs(...)",
            )
        if not lists:
            raise self._error(
                f"{name}.expand() needs at least one list to map over",
                src,
                f"write {name}.expand(arg=[...]), or call {name}(...) for a single task",
            )
        sources: dict[str, Any] = {}
        for arg, value in lists.items():
            self._check_free(arg, "expand()", src)
            sources[arg] = _loop_list(
                value, f"expand() argument '{arg}' of {name}", src, self.would_be
            )
        if len(sources) == 1:
            ((arg, items),) = sources.items()
            group = self._group(items, src)
            return self._make(group, {arg: LoopItem(group)}, src)
        group = self._group(Combined("product", sources, _NO_FILL, src), src)
        return self._make(group, {arg: LoopItem(group, arg) for arg in sources}, src)

    def expand_kwargs_at(self, items: Any, src: Src | None) -> MappedTask:
        name = self.callee.name
        if isinstance(items, Combined):
            for arg in items.lists:
                self._check_free(arg, f"expand_kwargs({items.kind}(...))", src)
            group = self._group(items, src)
            return self._make(group, {arg: LoopItem(group, arg) for arg in items.lists}, src)
        items = _loop_list(items, f"expand_kwargs() items of {name}", src, self.would_be)
        required: list[str] = []
        optional: dict[str, Any] = {}
        for arg in self._inputs():
            io = self.iface.inputs[arg]
            if arg in self.fixed:
                continue
            if io.kind == "artifact":
                if io.has_default:
                    continue
                raise self._error(
                    f"expand_kwargs() cannot give artifact input '{arg}' of {name}: its "
                    "dicts hold plain values",
                    src,
                    f"fix it for every task with {name}.partial({arg}=...)",
                )
            if io.has_default:
                optional[arg] = io.default
            else:
                required.append(arg)
        if isinstance(items, _Const):
            for i, item in enumerate(items.value):
                self._check_kwargs(i, item, required, optional, src)
        group = self._group(items, src, shape=(required, optional))
        args = {arg: LoopItem(group, arg) for arg in [*required, *optional]}
        return self._make(group, args, src)

    def _check_kwargs(
        self,
        index: int,
        item: Any,
        required: list[str],
        optional: dict[str, Any],
        src: Src | None,
    ) -> None:
        name = self.callee.name
        if not isinstance(item, dict):
            raise self._error(
                f"expand_kwargs() item {index} of {name} is {type(item).__name__} {item!r}, "
                "not a dict of arguments",
                src,
                "give one dict per task, e.g. [{'lr': 0.1}, {'lr': 0.01}]",
            )
        for arg in item:
            self._check_free(arg, f"expand_kwargs() item {index}", src)
            if arg not in required and arg not in optional:
                raise self._error(
                    f"expand_kwargs() item {index} gives artifact input '{arg}' of {name}",
                    src,
                    f"fix it for every task with {name}.partial({arg}=...)",
                )
        missing = [arg for arg in required if arg not in item]
        if missing:
            raise self._error(
                f"expand_kwargs() item {index} of {name} lacks required input(s) "
                f"{', '.join(missing)}",
                src,
                "give them in every dict, or fix them for every task with .partial(...)",
            )

    def _group(
        self, items: Any, src: Src | None, shape: tuple[list[str], dict[str, Any]] | None = None
    ) -> LoopGroup:
        name = self.builder.peek_name(f"{self.would_be}-map")
        return LoopGroup(items, None, name, src, shape=shape, mapped=True)

    def _make(self, group: LoopGroup, args: dict[str, Any], src: Src | None) -> MappedTask:
        builder = self.builder
        builder.container.append(group)
        builder.push(group.nodes)
        try:
            task = call(self.callee, (), {**self.fixed, **args})
        finally:
            builder.pop()
        return MappedTask(group, task)


class MappedTask:
    """A component mapped over lists: one task per item when the pipeline runs.

    Downstream, ``.output`` (or ``.outputs["name"]``) is the list of every mapped task's
    value, in item order, as ``Collected`` gives. Task options (``set_retry``,
    ``set_cpu_limit``, ...) apply to each mapped task; ``set_parallelism`` and
    ``set_max_items`` to the mapping.
    """

    def __init__(self, group: LoopGroup, task: Task) -> None:
        self.group = group
        self.task = task

    @property
    def name(self) -> str:
        return self.task.name

    def __repr__(self) -> str:
        return f"MappedTask({self.task.name})"

    @property
    def output(self) -> Collected:
        """Every mapped task's only output, as one list."""
        return Collected(self.task.output)

    @property
    def outputs(self) -> Mapping[str, Collected]:
        """Every output by name, each as the list of the mapped tasks' values."""
        return {name: Collected(out) for name, out in self.task.outputs.items()}

    def after(self, *others: Any) -> MappedTask:
        """Start mapping only after ``others`` finish."""
        self.group.after(*others)
        return self

    def set_parallelism(self, parallelism: int) -> MappedTask:
        """Run at most ``parallelism`` of the mapped tasks at once."""
        _check_count(parallelism, "mapped task parallelism", _location.caller(), self.name)
        self.group.parallelism = parallelism
        return self

    def set_max_items(self, max_items: int) -> MappedTask:
        """Allow up to ``max_items`` mapped tasks (default ``HEADWATER_MAX_MAP_LENGTH``)."""
        _check_count(max_items, "mapped task max_items", _location.caller(), self.name)
        self.group.max_items = max_items
        return self

    def __getattr__(self, attr: str) -> Any:
        # Task options (set_retry, set_cpu_limit, updates_asset, ...) reach the mapped task.
        if not (attr.startswith("set_") or attr == "updates_asset"):
            raise AttributeError(attr)
        method = getattr(self.task, attr)

        def apply(*args: Any, **kwargs: Any) -> MappedTask:
            if attr == "set_trigger_rule" or "trigger_rule" in kwargs:
                # The mapping opens once its lists and .after() tasks succeed, whatever
                # rule its task has: a rule there would be half honoured.
                raise _error(
                    "a mapped task takes no trigger rule: the mapping starts once the tasks "
                    "its lists come from and its .after() tasks have succeeded",
                    _location.caller(),
                    "leave the rule out, or put the task in a 'with ParallelFor(...)' body "
                    "and set the rule there",
                    task=self.name,
                )
            method(*args, **kwargs)
            return self

        return apply
