"""A task's step-wise metrics are appended to the file a tuner names, as they are logged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headwater import Metrics


def test_each_step_is_appended_as_it_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = tmp_path / "task.steps"
    monkeypatch.setenv("HEADWATER_STEP_REPORTS", str(reports))
    metrics = Metrics(uri="file:///m", path=str(tmp_path / "m"))
    metrics.log_metric("loss", 0.5, step=0)
    metrics.log_metric("accuracy", 0.9)  # no step: nothing to prune on
    assert [json.loads(line) for line in reports.read_text().splitlines()] == [
        {"key": "loss", "value": 0.5, "step": 0}
    ]
    metrics.log_metric("loss", 0.25, step=1)
    assert len(reports.read_text().splitlines()) == 2
    assert [r.key for r in metrics.records] == ["loss", "accuracy", "loss"]


def test_nothing_is_written_outside_a_tuning_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEADWATER_STEP_REPORTS", raising=False)
    metrics = Metrics(uri="file:///m", path=str(tmp_path / "m"))
    metrics.log_metric("loss", 0.5, step=0)
    assert list(tmp_path.iterdir()) == []
