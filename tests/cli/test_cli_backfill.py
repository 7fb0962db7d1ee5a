"""'headwater backfill': runs for past intervals, with each reprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from headwater.engine import Workspace

PIPELINE = """
from headwater import component, pipeline


@component
def hour_of(hour: str) -> str:
    if hour == "01":
        raise ValueError("the 01:00 data is broken")
    return hour


@pipeline(schedule="@hourly", start_date="2026-01-01T00:00:00+00:00", catchup=False)
def backfilled(hour: str = "{{ data_interval_start.strftime('%H') }}"):
    hour_of(hour=hour)
"""


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("headwater")), *args],
        cwd=tmp_path,
        env=dict(os.environ, HEADWATER_HOME=str(tmp_path / "home")),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_backfill_reprocess_modes(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "backfill_pipeline.py").write_text(PIPELINE)
    assert cli(tmp_path, "deploy", "backfill_pipeline.py").returncode == 0
    window = ("--start", "2026-01-01T00:00", "--end", "2026-01-01T03:00")

    first = cli(tmp_path, "backfill", "backfilled", *window)
    assert first.returncode == 1, first.stdout + first.stderr  # the 01:00 interval fails
    assert "3 interval(s) to run, 0 already covered" in first.stdout
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    ws = Workspace.open()
    runs = ws.store.runs.list_runs()
    by_hour = {r.data_interval_start.hour: r.status for r in runs}
    assert by_hour == {0: "succeeded", 1: "failed", 2: "succeeded"}
    assert all(r.trigger.startswith("backfill-") for r in runs)

    none = cli(tmp_path, "backfill", "backfilled", *window, "--reprocess", "none")
    assert none.returncode == 0 and "0 interval(s) to run, 3 already covered" in none.stdout

    failed = cli(tmp_path, "backfill", "backfilled", *window, "--reprocess", "failed")
    assert "1 interval(s) to run, 2 already covered" in failed.stdout
    assert "01:00" in failed.stdout and "00:00" not in failed.stdout

    everything = cli(tmp_path, "backfill", "backfilled", *window, "--reprocess", "all")
    assert "3 interval(s) to run, 0 already covered" in everything.stdout
    assert len(ws.store.runs.list_runs()) == 3 + 1 + 3

    bad = cli(tmp_path, "backfill", "backfilled", "--start", "2026-01-02", "--end", "2026-01-01")
    assert bad.returncode == 1 and "is not after its start" in bad.stderr
    mode = cli(tmp_path, "backfill", "backfilled", *window, "--reprocess", "some")
    assert mode.returncode == 1 and "unknown --reprocess 'some'" in mode.stderr


IMAGED = """
from headwater import component, pipeline


@component(image="python:3.12-slim")
def contained() -> str:
    return "ran"


@pipeline(schedule="@hourly", start_date="2026-01-01T00:00:00+00:00", catchup=False)
def backfilled_imaged():
    contained()
"""


def test_a_backfill_of_a_task_the_executor_cannot_honour_creates_no_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "backfill_imaged.py").write_text(IMAGED)
    monkeypatch.setenv("HEADWATER_IGNORE_IMAGE", "1")  # deployed by someone who knows
    assert cli(tmp_path, "deploy", "backfill_imaged.py").returncode == 0
    monkeypatch.delenv("HEADWATER_IGNORE_IMAGE")

    window = ("--start", "2026-01-01T00:00", "--end", "2026-01-01T03:00")
    refused = cli(tmp_path, "backfill", "backfilled_imaged", *window)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "task 'contained' sets image='python:3.12-slim', but the local executor" in (
        refused.stderr
    )
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    assert Workspace.open().store.runs.list_runs() == []
