"""Artifact objects: paths, metadata, metrics and classification metrics."""

from __future__ import annotations

import math

import pytest

from headwater import Artifact, ClassificationMetrics, Dataset, Metrics, Model
from headwater.errors import ComponentDefinitionError


def test_path_comes_from_local_uri_or_is_set() -> None:
    assert Dataset(uri="file:///data/x.csv").path == "/data/x.csv"
    assert Dataset(uri="/data/y.csv").path == "/data/y.csv"
    remote = Model(name="m", uri="s3://bucket/m.joblib")
    with pytest.raises(AttributeError, match="no local path"):
        _ = remote.path
    remote.path = "/tmp/m.joblib"
    assert remote.path == "/tmp/m.joblib"


def test_log_metric_keeps_history_and_latest_value() -> None:
    m = Metrics(name="metrics")
    m.log_metric("loss", 0.5, step=1)
    m.log_metric("loss", 0.25, step=2)
    m.log_metric("accuracy", 1)
    assert m.metadata == {"loss": 0.25, "accuracy": 1}
    assert [(r.key, r.value, r.step) for r in m.records] == [
        ("loss", 0.5, 1),
        ("loss", 0.25, 2),
        ("accuracy", 1.0, None),
    ]


@pytest.mark.parametrize(
    ("value", "step", "error", "match"),
    [
        ("0.9", None, TypeError, "must be a number"),
        (True, None, TypeError, "must be a number"),
        (math.nan, None, ValueError, "finite"),
        (math.inf, None, ValueError, "finite"),
        (0.5, 1.5, TypeError, "step"),
    ],
)
def test_log_metric_rejects_bad_values(
    value: object, step: object, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        Metrics().log_metric("acc", value, step=step)  # type: ignore[arg-type]


def test_confusion_matrix_and_roc_curve() -> None:
    m = ClassificationMetrics()
    m.log_confusion_matrix(["cat", "dog"], [[5, 1], [2, 7]])
    m.log_roc_curve([0.0, 0.5, 1.0], [0.0, 0.8, 1.0], [1.0, 0.5, 0.0])
    assert m.metadata["confusion_matrix"] == {
        "categories": ["cat", "dog"],
        "matrix": [[5, 1], [2, 7]],
    }
    assert m.metadata["roc_curve"]["tpr"] == [0.0, 0.8, 1.0]
    with pytest.raises(ValueError, match="2x2"):
        m.log_confusion_matrix(["cat", "dog"], [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="equal lengths"):
        m.log_roc_curve([0.0], [0.0, 1.0], [1.0])


def test_user_artifact_types_need_a_stable_schema_title() -> None:
    class Images(Dataset):
        schema_title = "acme.Images"

    assert issubclass(Images, Artifact) and Images.schema_title == "acme.Images"
    with pytest.raises(ComponentDefinitionError, match="does not declare a schema_title") as info:

        class Unnamed(Dataset):
            pass

    assert "schema_title = " in str(info.value)
