"""Task mapping at run time: expand (a cross product), expand_kwargs, zip, partial, the cap
on items, empty lists, and ParallelFor bodies over combined lists."""

from __future__ import annotations

from pathlib import Path

import mapping_flow
import pytest
from engine_helpers import statuses
from markers import line_of

import headwater
from headwater.states import RunStatus

FLOWS = Path(mapping_flow.__file__)


def test_expand_zip_expand_kwargs_and_partial_map_one_task_per_item() -> None:
    run = headwater.run(mapping_flow.map_forms)

    assert run.status is RunStatus.SUCCEEDED, run.record.error
    got = statuses(run)
    # The cross product, in itertools.product order: the last list varies fastest.
    assert [p for p in got if p.startswith("add-map[")] == [f"add-map[{i}].add" for i in range(6)]
    assert run.outputs("gather")["output"] == [11, 21, 31, 12, 22, 32]
    assert run.outputs("gather-2")["output"] == [11, 22]
    assert run.outputs("gather-3")["output"] == [11, 22, 3]
    assert run.outputs("gather-4")["output"] == [6, 107]
    assert run.outputs("gather-5")["output"] == [1101, 1102, 1103]
    assert run.outputs("add-4-map[1].add-4")["output"] == 107


def test_a_mapped_task_over_its_cap_fails_before_any_task_is_made() -> None:
    run = headwater.run(mapping_flow.map_capped, n=5)

    assert run.status is RunStatus.FAILED
    got = statuses(run)
    assert not [p for p in got if p.startswith("add-map")], got
    assert got["count_to"] == "succeeded"
    assert got["gather"] == "upstream_failed"
    error = run.record.error or ""
    assert "mapped task 'add' (pipeline 'map_capped', " in error
    assert f"mapping_flow.py:{line_of('capped', FLOWS)})" in error
    assert "got 5 items, over the cap of 3 (its max_items=3)" in error
    assert "set_max_items" in error and "HEADWATER_MAX_MAP_LENGTH" in error


def test_the_engine_default_cap_comes_from_headwater_max_map_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEADWATER_MAX_MAP_LENGTH", "2")
    run = headwater.run(mapping_flow.loop_capped_by_default, n=3)

    assert run.status is RunStatus.FAILED
    assert not [p for p in statuses(run) if p.startswith("loop-1")]
    error = run.record.error or ""
    assert "ParallelFor 'loop-1' (pipeline 'loop_capped_by_default', " in error
    assert f"mapping_flow.py:{line_of('default-cap', FLOWS)})" in error
    assert "got 3 items, over the cap of 2 (HEADWATER_MAX_MAP_LENGTH=2)" in error

    monkeypatch.setenv("HEADWATER_MAX_MAP_LENGTH", "3")
    assert headwater.run(mapping_flow.loop_capped_by_default, n=3).status is RunStatus.SUCCEEDED


def test_expand_kwargs_refuses_a_dict_with_an_argument_the_task_does_not_take() -> None:
    run = headwater.run(mapping_flow.map_bad_kwargs)

    assert run.status is RunStatus.FAILED
    assert not [p for p in statuses(run) if p.startswith("add-map")]
    error = run.record.error or ""
    assert "mapped task 'add' (pipeline 'map_bad_kwargs', " in error
    assert f"mapping_flow.py:{line_of('bad-kwargs', FLOWS)})" in error
    assert "item 1 has argument(s) w that the task does not take (it takes: x, z)" in error


def test_a_parallel_for_over_a_product_runs_its_whole_body_per_combination() -> None:
    run = headwater.run(mapping_flow.map_group)

    assert run.status is RunStatus.SUCCEEDED, run.record.error
    got = statuses(run)
    combos = [(1, 10), (1, 20), (2, 10), (2, 20)]
    for i, (a, b) in enumerate(combos):
        assert run.outputs(f"loop-1[{i}].add")["output"] == a + b
        assert run.outputs(f"loop-1[{i}].add-2")["output"] == a + b + 1
        inner = got[f"loop-1[{i}].add-3"]
        assert inner == ("succeeded" if a > 1 else "skipped"), got
        if a > 1:
            assert run.outputs(f"loop-1[{i}].add-3")["output"] == a + b + 1001
    assert run.outputs("gather")["output"] == [a + b + 1 for a, b in combos]


def test_a_parallel_for_over_a_zip_of_an_upstream_output_stops_at_the_shortest() -> None:
    run = headwater.run(mapping_flow.map_zip_group, n=3)

    assert run.status is RunStatus.SUCCEEDED, run.record.error
    got = statuses(run)
    assert [p for p in got if p.startswith("loop-1")] == ["loop-1[0].add", "loop-1[1].add"]
    assert run.outputs("loop-1[1].add")["output"] == 22


def test_an_empty_expand_is_skipped_as_airflow_skips_a_zero_length_map() -> None:
    run = headwater.run(mapping_flow.map_empty, n=0)

    assert run.status is RunStatus.SUCCEEDED, run.record.error
    got = statuses(run)
    assert not [p for p in got if "[" in p], got
    # What needs every mapped task is skipped with it; a none_failed task gets [].
    assert got["gather"] == "skipped"
    assert got["gather-2"] == "succeeded"
    assert run.outputs("gather-2")["output"] == []
    # An empty ParallelFor succeeds with nothing in it (as Kubeflow's), and its fan-in runs.
    assert got["gather-3"] == "succeeded"
    assert run.outputs("gather-3")["output"] == []


def test_a_pipeline_step_maps_and_a_mapping_inside_a_parallel_for_maps_per_iteration() -> None:
    run = headwater.run(mapping_flow.map_nested)

    assert run.status is RunStatus.SUCCEEDED, run.record.error
    assert run.outputs("gather")["output"] == [2, 4, 6]
    assert statuses(run)["doubled-map[2].doubled.add"] == "succeeded"
    assert run.outputs("loop-1[0].gather-2")["output"] == [1, 2]
    assert run.outputs("gather-3")["output"] == [[1, 2], [3]]


def test_importer_uris_are_known_through_a_mapping_over_combined_lists() -> None:
    from headwater.engine import importer_uris

    spec = mapping_flow.map_imports.compile()
    found = importer_uris(spec, {"folders": ["/data/a", "/data/b"]})
    assert sorted((u.task, u.uri) for u in found) == [
        ("importer-map[0].importer", "/data/a"),
        ("importer-map[1].importer", "/data/b"),
    ]
    assert "key 'uri'" in found[0].source
