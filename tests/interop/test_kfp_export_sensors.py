"""Sensors cannot be exported to Kubeflow (it has no deferred state): each one is refused,
saying where it is written and what to do instead (no kfp needed to see it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater import component, pipeline, sensor, wait_for_http, wait_for_path
from headwater.errors import ExportError
from headwater.interop import to_kfp
from headwater.sdk._location import compile_root

HERE = Path(__file__).resolve().parent


@sensor(poke_interval="1m")
def table_ready(table: str) -> bool:
    return bool(table)


@component
def load(paths: list[str]) -> int:
    return len(paths)


@pipeline
def kfp_sensors(url: str = "s3://raw/_SUCCESS"):
    landed = wait_for_path(url)
    wait_for_http("http://127.0.0.1:9/health")
    table_ready(table="events")
    load(paths=landed.output)


def test_each_sensor_is_refused_with_where_and_what_to_do() -> None:
    with compile_root(str(HERE)):
        spec = kfp_sensors.compile()
    with pytest.raises(ExportError) as info:
        to_kfp(spec, root=str(HERE))
    by_task = {p.location.task: p for p in info.value.problems}
    assert set(by_task) == {"wait_for_path", "wait_for_http", "table_ready"}
    assert "a built-in wait (path)" in by_task["wait_for_path"].message
    assert "a built-in wait (http)" in by_task["wait_for_http"].message
    assert "an @sensor" in by_task["table_ready"].message
    for problem in info.value.problems:
        assert "Kubeflow Pipelines has no deferred state" in problem.message
        assert problem.hint and problem.location.line is not None
