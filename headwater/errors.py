"""The one exception hierarchy of Headwater.

Every error a user can trigger says what was wrong, where (pipeline, task,
file and line where known) and how to fix it::

    HeadwaterError
    ├── DefinitionError            a component or pipeline is written wrongly
    │   ├── ComponentDefinitionError   bad @component signature or options
    │   └── PipelineDefinitionError    bad wiring found while the pipeline is built
    ├── ValidationError            a compiled spec breaks a rule (lists every problem)
    ├── SpecError                  a spec document cannot be read (bad JSON, schema version)
    ├── ExportError                a pipeline uses what another format cannot express (lists each)
    ├── ParameterError             run parameter values do not fit the pipeline's schema
    ├── LimitError                 a request goes past a configured limit (size, time, rate)
    ├── ConfigurationError         a HEADWATER_* setting or option holds an unusable value
    ├── LoadError                  a pipeline file or object cannot be loaded
    ├── BundleError                an uploaded source bundle: unsafe, too large, no compile
    ├── UriNotAllowed              a run names a URI outside the roots it may read
    ├── EnvError                   a step's environment cannot be resolved or built
    ├── OptionNotHonoured          a task sets an option its executor cannot honour
    ├── RunError                   a run cannot be started or resumed
    ├── TuningError                a study's space, objective or settings cannot be used
    │   └── LostRun                    another engine adopted the run; this one stops
    ├── ServingError               a model cannot be served, or an inference request is refused
    ├── StoreError                 the metadata store is unreachable or at an unknown revision
    ├── NotFound                   a run, task, artifact or pipeline the store does not have
    ├── InvalidValue               a value the store will not keep
    ├── Conflict                   the change clashes with what the store holds
    ├── IllegalTransition          a status change the state machine does not allow
    ├── NotifyError                a notification target could not be reached or failed
    ├── ApiError                   an API request refused, with its HTTP status
    └── ClientError                the server refused a client's request (HTTP status)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ApiError",
    "BundleError",
    "ClientError",
    "ComponentDefinitionError",
    "ConfigurationError",
    "Conflict",
    "DefinitionError",
    "EnvError",
    "ExportError",
    "HeadwaterError",
    "IllegalTransition",
    "InvalidValue",
    "LimitError",
    "LoadError",
    "Location",
    "LostRun",
    "NotFound",
    "NotifyError",
    "OptionNotHonoured",
    "ParameterError",
    "PipelineDefinitionError",
    "Problem",
    "RunError",
    "ServingError",
    "SpecError",
    "StoreError",
    "TuningError",
    "UriNotAllowed",
    "ValidationError",
]


@dataclass(frozen=True)
class Location:
    """Where in the user's code something was defined."""

    pipeline: str | None = None
    task: str | None = None
    file: str | None = None
    line: int | None = None

    def describe(self) -> str:
        parts = []
        if self.pipeline:
            parts.append(f"pipeline '{self.pipeline}'")
        if self.task:
            parts.append(f"task '{self.task}'")
        where = ", ".join(parts)
        if self.file:
            src = f"{self.file}:{self.line}" if self.line else self.file
            where = f"{where} ({src})" if where else src
        return where


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pipeline, with where it is and how to fix it."""

    message: str
    location: Location = Location()
    hint: str | None = None
    code: str = "invalid"

    def __str__(self) -> str:
        where = self.location.describe()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  fix: {self.hint}"
        return text


class HeadwaterError(Exception):
    """Root of every error Headwater raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.location = location or Location()
        self.hint = hint
        super().__init__(str(Problem(message, self.location, hint)))


class DefinitionError(HeadwaterError):
    """A component or pipeline definition is wrong."""


class ComponentDefinitionError(DefinitionError):
    """A ``@component`` function has an unsupported signature or bad options."""


class PipelineDefinitionError(DefinitionError):
    """A pipeline wires its tasks in a way that cannot work."""


class ValidationError(HeadwaterError):
    """A compiled pipeline spec breaks one or more rules; ``problems`` lists them all."""

    def __init__(self, pipeline: str, problems: list[Problem]) -> None:
        self.pipeline = pipeline
        self.problems = list(problems)
        count = len(self.problems)
        head = f"pipeline '{pipeline}' is invalid ({count} problem{'s' if count != 1 else ''}):"
        body = "\n".join(f"- {p}" for p in self.problems)
        Exception.__init__(self, f"{head}\n{body}")
        self.message = head
        self.location = Location(pipeline=pipeline)
        self.hint = None


class SpecError(HeadwaterError):
    """A spec document cannot be read: bad JSON, an unknown schema version, bad fields."""


class ExportError(HeadwaterError):
    """A pipeline uses something that the format it is compiled to (Kubeflow's pipeline IR)
    cannot express; ``problems`` lists every such use, each with where it is and what to
    do instead."""

    def __init__(self, pipeline: str, target: str, problems: list[Problem]) -> None:
        self.pipeline = pipeline
        self.target = target
        self.problems = list(problems)
        count = len(self.problems)
        head = (
            f"pipeline '{pipeline}' cannot be compiled to {target} "
            f"({count} problem{'s' if count != 1 else ''}):"
        )
        body = "\n".join(f"- {p}" for p in self.problems)
        Exception.__init__(self, f"{head}\n{body}")
        self.message = head
        self.location = Location(pipeline=pipeline)
        self.hint = None


class ParameterError(HeadwaterError):
    """Run parameter values do not fit the pipeline's parameter schema."""


class LimitError(HeadwaterError):
    """A request goes past a configured limit: a body, a parameter value or a template
    render too large or too slow, a schedule too frequent, too many runs at once. The
    message names the limit; the hint says how to raise it."""


class LoadError(HeadwaterError):
    """A pipeline file or object cannot be found or imported."""


class BundleError(HeadwaterError):
    """An uploaded source bundle (``POST /api/v1/pipelines``) is refused before anything
    is stored. ``kind`` says why: ``"unsafe"`` (an entry that could write outside the
    bundle, a link, a device, a name that is not UTF-8, too many files), ``"too_large"``
    (past the bundle size limit once unpacked), ``"reference"`` (``FILE[:PIPELINE]``
    names nothing in it) or ``"compile"`` (importing or compiling the pipeline failed,
    or took too long)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        self.kind = kind


class ConfigurationError(HeadwaterError):
    """A setting (``HEADWATER_HOME``, ``HEADWATER_ARTIFACT_ROOT``, ...) has a value
    Headwater cannot use; the message names the setting and its value."""


class UriNotAllowed(HeadwaterError):
    """A run created through a server names a URI (an importer's, an input's) that it may not
    read: outside its namespace's allowed roots, inside Headwater's own state, or in a form
    that cannot be checked."""


class EnvError(HeadwaterError):
    """A per-step environment cannot be resolved (a package or version no index has, a
    conflict) or built (an install that failed); the message names the requirements."""


class OptionNotHonoured(HeadwaterError):
    """A task sets an option that the executor which would run it cannot honour (an
    ``image=`` on the local executor), or that does nothing where it is set (``retries``
    on a pipeline used as a step). Raised before the run is created; the message names the
    task, the option and the executor, the hint what to do instead."""


class NotifyError(HeadwaterError):
    """A notification could not be delivered (the target failed, timed out or refused)."""


class RunError(HeadwaterError):
    """A run cannot be started or resumed."""


class TuningError(HeadwaterError):
    """A tuning study's search space, objective or settings cannot be used, or a study
    cannot be started or resumed."""


class ServingError(HeadwaterError):
    """A model cannot be loaded or served, or an inference request is refused (the Open
    Inference Protocol's errors). ``status`` is the HTTP status of the answer: 400 bad
    input, 404 an unknown model or version, 413 a request over the size limit, 500 the
    model failed, 503 the model is not ready or its worker stopped; gRPC answers with the
    matching status code."""

    def __init__(self, status: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class LostRun(RunError):
    """Another engine adopted this run (ours was silent too long); this one stops."""


class StoreError(HeadwaterError):
    """The metadata store cannot be reached or is at an unknown schema version."""


class NotFound(HeadwaterError):
    """A run, task, artifact or pipeline that the store does not have."""


class InvalidValue(HeadwaterError):
    """A value the store will not keep (a malformed name, a negative count)."""


class Conflict(HeadwaterError):
    """The change clashes with what the store holds (a name taken, a state moved on)."""


class IllegalTransition(HeadwaterError):
    """A status change the state machine does not allow (a bug, or a race lost)."""


class ApiError(HeadwaterError):
    """An API request refused, with its HTTP status."""

    def __init__(self, status: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ClientError(HeadwaterError):
    """The server refused a request (``status`` is the HTTP status; 0 if it was not
    reached, or the request was not sent because it holds what no server would take)."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
