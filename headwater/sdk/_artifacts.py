"""Typed artifacts: files with metadata that flow between tasks.

Annotate a component parameter with ``Input[Dataset]`` to read an artifact an
upstream task wrote, or ``Output[Model]`` to write one. Inside the task, an
artifact has a local ``path`` to read or write, its ``uri`` in the artifact
store, and a ``metadata`` dict saved with it.

Subclass an artifact type to make your own; give it a stable ``schema_title``
(the name stored in specs and the database, which must not change when the
class is renamed)::

    class Images(Dataset):
        schema_title = "acme.Images"
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, TypeVar

from headwater.errors import ComponentDefinitionError, Location

__all__ = [
    "HTML",
    "Artifact",
    "ClassificationMetrics",
    "Dataset",
    "FinalStatus",
    "Input",
    "Markdown",
    "Metrics",
    "Model",
    "Output",
    "TensorBoardLogs",
]


class Artifact:
    """A file (or folder) produced by one task and consumed by others."""

    schema_title: ClassVar[str] = "headwater.Artifact"
    description: ClassVar[str | None] = "Any file or folder."

    def __init__(
        self,
        name: str = "",
        uri: str = "",
        metadata: dict[str, Any] | None = None,
        path: str | None = None,
    ) -> None:
        self.name = name
        self.uri = uri
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._path = path

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "schema_title" not in cls.__dict__:
            raise ComponentDefinitionError(
                f"artifact class {cls.__qualname__} does not declare a schema_title",
                location=_class_location(cls),
                hint=f'add  schema_title = "yourorg.{cls.__name__}"  to the class body; it is the '
                "name stored in specs and must stay the same when the class is renamed",
            )

    @property
    def path(self) -> str:
        """Where to read or write the artifact's bytes on this machine."""
        if self._path is not None:
            return self._path
        if self.uri.startswith("file://"):
            return self.uri[len("file://") :]
        if "://" not in self.uri and self.uri:
            return self.uri
        raise AttributeError(
            f"artifact '{self.name}' has no local path yet; paths exist only inside a running task"
        )

    @path.setter
    def path(self, value: str) -> None:
        self._path = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, uri={self.uri!r})"


class Dataset(Artifact):
    schema_title = "headwater.Dataset"
    description = "Tabular or other data to train or evaluate on."


class Model(Artifact):
    schema_title = "headwater.Model"
    description = "A trained model."


class HTML(Artifact):
    schema_title = "headwater.HTML"
    description = "An HTML page to show in the UI."


class Markdown(Artifact):
    schema_title = "headwater.Markdown"
    description = "A Markdown document to show in the UI."


class TensorBoardLogs(Artifact):
    """A folder of TensorBoard event files that a task writes itself (histograms, images,
    its own scalars). ``headwater tensorboard`` shows it beside the run's metrics.

    Point any summary writer at ``path``; it makes the folder::

        @component
        def train(logs: Output[TensorBoardLogs]) -> None:
            from tensorboard.summary import Writer

            writer = Writer(logs.path)
            writer.add_scalar("loss", 0.25, step=1)
            writer.close()
    """

    schema_title = "headwater.TensorBoardLogs"
    description = "A folder of TensorBoard event files."


@dataclass(frozen=True)
class MetricRecord:
    key: str
    value: float
    step: int | None
    time: float


class Metrics(Artifact):
    """Scalar metrics. ``log_metric`` records each value, with an optional step."""

    schema_title = "headwater.Metrics"
    description = "Scalar metrics such as accuracy or loss."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.records: list[MetricRecord] = []

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Record ``value`` for ``name``; the latest value is kept in ``metadata``."""
        if not isinstance(name, str) or not name:
            raise ValueError("metric name must be a non-empty string")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(
                f"metric '{name}' must be a number, not {type(value).__name__}; "
                "convert it with float(...)"
            )
        if not math.isfinite(value):
            raise ValueError(f"metric '{name}' is {value}; metrics must be finite numbers")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise TypeError(f"step of metric '{name}' must be an int, not {type(step).__name__}")
        self.metadata[name] = value
        self.records.append(MetricRecord(name, float(value), step, time.time()))
        if step is not None:
            _report_step(name, float(value), step)


# Where a task appends each step-wise metric as it is logged, when its run is a tuning
# trial (headwater.tuning sets it): the tuner reads it while the task runs, to prune.
STEP_REPORTS = "HEADWATER_STEP_REPORTS"


def _report_step(name: str, value: float, step: int) -> None:
    path = os.environ.get(STEP_REPORTS)
    if not path:
        return
    import json

    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"key": name, "value": value, "step": step}) + "\n")


class ClassificationMetrics(Metrics):
    """Metrics of a classifier: a confusion matrix and an ROC curve."""

    schema_title = "headwater.ClassificationMetrics"
    description = "Confusion matrix and ROC curve of a classifier."

    def log_confusion_matrix(self, categories: list[str], matrix: list[list[int]]) -> None:
        """``matrix[i][j]`` counts items of true class ``categories[i]`` predicted as ``j``."""
        n = len(categories)
        if len(matrix) != n or any(len(row) != n for row in matrix):
            raise ValueError(
                f"confusion matrix must be {n}x{n} for {n} categories, got "
                f"{len(matrix)} rows of lengths {[len(r) for r in matrix]}"
            )
        self.metadata["confusion_matrix"] = {
            "categories": [str(c) for c in categories],
            "matrix": [[int(v) for v in row] for row in matrix],
        }

    def log_roc_curve(self, fpr: list[float], tpr: list[float], threshold: list[float]) -> None:
        """Points of the ROC curve: false positive rate, true positive rate, threshold."""
        if not (len(fpr) == len(tpr) == len(threshold)):
            raise ValueError(
                f"fpr, tpr and threshold must have equal lengths, got "
                f"{len(fpr)}, {len(tpr)} and {len(threshold)}"
            )
        self.metadata["roc_curve"] = {
            "fpr": [float(v) for v in fpr],
            "tpr": [float(v) for v in tpr],
            "threshold": [float(v) for v in threshold],
        }


@dataclass
class FinalStatus:
    """What an ExitHandler's exit task receives: how the guarded tasks ended."""

    state: str
    pipeline: str = ""
    run_id: str = ""
    error_message: str | None = None
    failed_tasks: list[str] = field(default_factory=list)


class _IOMarker:
    def __init__(self, direction: str) -> None:
        self.direction = direction

    def __repr__(self) -> str:
        return f"<{self.direction}>"


INPUT = _IOMarker("input")
OUTPUT = _IOMarker("output")

T = TypeVar("T")

Input = Annotated[T, INPUT]
"""``Input[Dataset]``: an artifact this component reads."""

Output = Annotated[T, OUTPUT]
"""``Output[Model]``: an artifact this component writes to ``.path``."""


def artifact_lineage(cls: type[Artifact]) -> list[type[Artifact]]:
    """``cls`` and its artifact ancestors, nearest first."""
    return [c for c in cls.__mro__ if isinstance(c, type) and issubclass(c, Artifact)]


def _class_location(cls: type) -> Location:
    from headwater.sdk import _location

    # Called while the class statement runs: the caller's line is the class's line.
    return _location.loc(_location.caller())
