"""GPU accounting with no GPU present: HEADWATER_GPUS says how many the machine has."""

from __future__ import annotations

from pathlib import Path

import engine_misc
import pytest
from engine_helpers import statuses

import headwater
from headwater.states import RunStatus


def test_gpu_tasks_get_distinct_devices_and_a_third_waits_for_a_free_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_GPUS", "2")
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    run = headwater.run(engine_misc.engine_gpus, stamp_dir=str(stamps), max_parallel=4)

    assert run.status is RunStatus.SUCCEEDED, statuses(run)
    seen = {}
    for task, label in (("on_gpu", "g1"), ("on_gpu-2", "g2"), ("on_gpu-3", "g3")):
        start, end, device = (stamps / f"{label}.stamp").read_text().split()
        assert run.outputs(task)["output"] == device
        seen[label] = (float(start), float(end), device)
    assert {device for _, _, device in seen.values()} <= {"0", "1"}

    pairs = [(a, b) for a in seen for b in seen if a < b]
    overlapping = [(a, b) for a, b in pairs if seen[a][0] < seen[b][1] and seen[b][0] < seen[a][1]]
    assert overlapping, "no two GPU tasks ever ran at once"
    for a, b in overlapping:
        assert seen[a][2] != seen[b][2], f"{a} and {b} shared GPU {seen[a][2]} at the same time"
    assert len(overlapping) < 3, "three gpu=1 tasks ran at once on two GPUs"
    first_end = min(end for _, end, _ in seen.values())
    last_start = max(start for start, _, _ in seen.values())
    assert last_start >= first_end, "the third task did not wait for a GPU to be freed"
