"""The runtime half of kfp.dsl that Kubeflow components run against inside a task: their
source loads with Headwater's ``kfp`` names, values follow Kubeflow's protobuf rules, and
the metrics classes write the metadata layout Kubeflow's UI reads."""

from __future__ import annotations

import sys

import pytest

from headwater.runtime._kfp import (
    ClassificationMetrics,
    SlicedClassificationMetrics,
    kfp_installed,
    load_source,
    protobuf_value,
)
from headwater.runtime._protocol import TaskError

SOURCE = """
import kfp
from kfp import dsl
from kfp.dsl import *
from typing import *

def f(x: int, data: Output[Dataset], status: dsl.PipelineTaskFinalStatus) -> str:
    from kfp.dsl import Dataset as D
    return D.schema_title
"""


def test_source_loads_against_headwaters_kfp_names_and_leaves_no_trace() -> None:
    before = {name: sys.modules.get(name) for name in ("kfp", "kfp.dsl")}
    func = load_source(SOURCE, "f", "comp")
    ann = func.__annotations__
    assert not isinstance(ann["x"], str)  # evaluated: not under this module's __future__
    assert ann["status"].__name__ == "PipelineTaskFinalStatus"
    assert {name: sys.modules.get(name) for name in ("kfp", "kfp.dsl")} == before
    with kfp_installed():
        assert func(1, None, None) == "system.Dataset"


def test_a_source_that_does_not_load_names_the_component() -> None:
    with pytest.raises(TaskError, match="component 'broken': its source failed to load"):
        load_source("def f(:\n", "f", "broken")
    with pytest.raises(TaskError, match="defines no function 'g'"):
        load_source("def f():\n    pass\n", "g", "comp")


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (3.0, "int", 3),
        (3, "float", 3.0),
        ([1, [2, {"a": 3}]], "list", [1.0, [2.0, {"a": 3.0}]]),
        ({"n": 1, "b": True}, "dict", {"n": 1.0, "b": True}),
        ("7", "str", "7"),
        (None, "int", None),
    ],
)
def test_values_cross_as_protobuf_values_do(value: object, kind: str, expected: object) -> None:
    got = protobuf_value(value, kind)
    assert got == expected
    assert repr(got) == repr(expected)


def test_classification_metrics_layout() -> None:
    m = ClassificationMetrics()
    m.log_roc_curve([0.0, 1.0], [0.5, 1.0], [1.0, 0.0])
    m.set_confusion_matrix_categories(["a", "b"])
    m.log_confusion_matrix_cell("a", "b", 3)
    assert m.metadata["confidenceMetrics"][1] == {
        "confidenceThreshold": 0.0,
        "recall": 1.0,
        "falsePositiveRate": 1.0,
    }
    assert m.metadata["confusionMatrix"] == {
        "annotationSpecs": [{"displayName": "a"}, {"displayName": "b"}],
        "rows": [{"row": [0, 3]}, {"row": [0, 0]}],
    }
    with pytest.raises(ValueError, match="unknown category 'c'"):
        m.log_confusion_matrix_row("c", [1, 2])
    with pytest.raises(ValueError, match="same length"):
        m.log_roc_curve([0.0], [0.5, 1.0], [1.0])


def test_sliced_classification_metrics_layout() -> None:
    m = SlicedClassificationMetrics()
    m.load_roc_readings("train", [[0.5, 0.8, 0.1]])
    m.load_confusion_matrix("test", ["x", "y"], [[1, 2], [3, 4]])
    slices = {s["slice"]: s["sliceClassificationMetrics"] for s in m.metadata["evaluationSlices"]}
    assert slices["train"]["confidenceMetrics"] == [
        {"confidenceThreshold": 0.5, "recall": 0.8, "falsePositiveRate": 0.1}
    ]
    assert slices["test"]["confusionMatrix"]["rows"] == [{"row": [1, 2]}, {"row": [3, 4]}]
