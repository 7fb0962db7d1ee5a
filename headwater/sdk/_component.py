"""``@component``: a typed Python function that runs as one task, in its own process."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from headwater.errors import ComponentDefinitionError, DefinitionError, PipelineDefinitionError
from headwater.sdk import _graph, _location
from headwater.sdk._options import normalize

if TYPE_CHECKING:
    from headwater.sdk._artifacts import Artifact
    from headwater.sdk._interface import Interface


class Component(_graph.Mappable):
    """A ``@component`` function. Call it inside a ``@pipeline`` to create a task.

    ``python_func`` is the undecorated function, handy for unit tests.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        options: dict[str, Any],
    ) -> None:
        if not callable(func) or not hasattr(func, "__code__"):
            raise ComponentDefinitionError(
                f"@component decorates functions, not {type(func).__name__}",
                hint="put @component on a 'def' function",
            )
        self.python_func = func
        self.src = _location.of_function(func)
        self._name = name or func.__name__
        self.description = description or _first_paragraph(func.__doc__)
        where = _location.loc(self.src)
        try:
            base = os.path.dirname(self.src.file) if self.src else None
            self._options = normalize(options, where, base)
        except DefinitionError as exc:
            raise ComponentDefinitionError(
                f"component '{self._name}': {exc.message}", location=exc.location, hint=exc.hint
            ) from None
        self._iface: Interface | None = None
        self._digest: str | None = None
        functools.update_wrapper(self, func)

    @property
    def name(self) -> str:
        return self._name

    @property
    def options(self) -> dict[str, Any]:
        return self._options

    def interface(self) -> Interface:
        if self._iface is None:
            from headwater.sdk._interface import component_interface

            self._iface = component_interface(self.python_func, self._name, self.src)
        return self._iface

    def code_digest(self) -> str:
        from headwater.sdk._cells import in_cell
        from headwater.sdk._digest import code_digest

        if in_cell(self.python_func):
            # A notebook's helpers change under the component as cells are run again.
            return code_digest(self.python_func)
        if self._digest is None:
            self._digest = code_digest(self.python_func)
        return self._digest

    def __call__(self, *args: Any, **kwargs: Any) -> _graph.Task:
        if _graph._current_or_none() is None:
            src = _location.caller()
            raise PipelineDefinitionError(
                f"component '{self._name}' was called outside a pipeline",
                location=_location.loc(src),
                hint=f"call it inside a @pipeline function; to run the plain function, call "
                f"{self.python_func.__name__}.python_func(...)",
            )
        return _graph.call(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<component {self._name}>"


def _first_paragraph(doc: str | None) -> str | None:
    if not doc:
        return None
    import inspect

    return inspect.cleandoc(doc).split("\n\n")[0].strip() or None


@overload
def component(func: Callable[..., Any], /) -> Component: ...


@overload
def component(
    *, name: str | None = None, description: str | None = None, **options: Any
) -> Callable[[Callable[..., Any]], Component]: ...


def component(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    **options: Any,
) -> Component | Callable[[Callable[..., Any]], Component]:
    """Make a typed Python function a pipeline component.

    Options (each may be overridden per task with ``task.set_options(...)``):
    ``retries``, ``retry_delay``, ``retry_backoff`` (True or a factor),
    ``retry_max_delay``, ``timeout``, ``cache``, ``cache_ttl``, ``cpu``,
    ``memory``, ``gpu``, ``accelerator``, ``env``, ``display_name``,
    ``packages`` (requirements from the package index: the task runs in a virtual
    environment with exactly these, see docs/environments.md), ``requirements`` (a
    requirements file, relative to this file, read now into ``packages``), ``image``,
    ``trigger_rule`` (one of Airflow's 13), ``setup`` / ``teardown`` (a setup task, or the
    teardown that runs after its setups however the work ends) and
    ``on_failure_fail_run`` (a teardown whose failure fails the run),
    ``fresh_interpreter``; ``pool``
    and ``pool_slots`` (slots of a named pool the task holds while it runs),
    ``priority`` (higher runs first when tasks wait for slots), ``assets``
    (artifact output name -> :class:`Asset` or name it updates on success) and
    ``notify`` (targets told of the task's success, failure or retry). Durations
    are seconds, a ``timedelta`` or text such as ``"5m"``; memory is bytes or
    text such as ``"4Gi"``.

    Example::

        @component(retries=3, retry_delay="10s", timeout="1h", pool="gpu",
                   assets={"model": Asset("models://churn")})
        def train(data: Input[Dataset], model: Output[Model], lr: float = 0.1) -> float: ...
    """

    def wrap(f: Callable[..., Any]) -> Component:
        return Component(f, name=name, description=description, options=options)

    if func is not None:
        return wrap(func)
    return wrap


class Importer:
    """The component behind :func:`importer`: brings a URI in as an artifact."""

    def __init__(
        self, artifact_class: type[Artifact], metadata: dict[str, Any], reimport: bool
    ) -> None:
        self.artifact_class = artifact_class
        self.metadata = metadata
        self.reimport = reimport
        self._iface: Interface | None = None

    @property
    def name(self) -> str:
        return "importer"

    @property
    def options(self) -> dict[str, Any]:
        return {}

    def interface(self) -> Interface:
        if self._iface is None:
            from headwater.sdk._interface import Interface
            from headwater.spec import IOSpec, ParamType

            self._iface = Interface(
                inputs={"uri": IOSpec(kind="parameter", type=ParamType(kind="str"))},
                outputs={
                    "artifact": IOSpec(
                        kind="artifact", artifact_type=self.artifact_class.schema_title
                    )
                },
                artifact_classes={self.artifact_class},
            )
        return self._iface


def importer(
    uri: Any,
    artifact_type: type[Artifact],
    metadata: dict[str, Any] | None = None,
    reimport: bool = False,
) -> _graph.Task:
    """Bring an existing file or URL into the pipeline as a typed artifact.

    ``uri`` is a string or a pipeline parameter. The task's ``.output`` is the
    artifact; ``reimport=False`` reuses the artifact already recorded for the URI.

        raw = importer("s3://bucket/iris.csv", Dataset, metadata={"source": "uci"})
    """
    from headwater.sdk._artifacts import Artifact

    src = _location.caller()
    if not (isinstance(artifact_type, type) and issubclass(artifact_type, Artifact)):
        raise PipelineDefinitionError(
            f"importer artifact_type must be an artifact class, got {artifact_type!r}",
            location=_location.loc(src),
            hint="pass a class such as Dataset or Model",
        )
    meta = _graph.to_json_constant(metadata or {}, "importer metadata", src)
    if not isinstance(meta, dict):
        raise PipelineDefinitionError(
            "importer metadata must be a dict",
            location=_location.loc(src),
        )
    return _graph.call(Importer(artifact_type, meta, bool(reimport)), (), {"uri": uri})
