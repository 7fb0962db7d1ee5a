"""Mapped tasks and combined loop items in the spec: JSON and YAML round trips, and the
rules a hand-written document is held to."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from test_validate_documents import FILE, document, problems_of, task

from headwater.errors import SpecError
from headwater.spec import (
    CombinedItems,
    LoopGroup,
    canonical_json,
    digest,
    dumps,
    from_data,
    loads,
    validate,
)

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
if str(PIPELINES) not in sys.path:
    sys.path.insert(0, str(PIPELINES))

import mapping_flow  # noqa: E402


@pytest.mark.parametrize("flow", [mapping_flow.map_forms, mapping_flow.map_group])
def test_mapped_pipelines_round_trip_through_json_and_yaml(flow: Any) -> None:
    spec = flow.compile()
    assert loads(dumps(spec)) == spec
    assert loads(dumps(spec, format="yaml")) == spec
    assert digest(loads(dumps(spec))) == digest(spec)
    # The lists keep their order (a cross product's order depends on it) in canonical JSON.
    again = from_data(json.loads(canonical_json(spec)))
    assert again == spec


def test_a_cross_of_two_lists_compiles_to_one_loop_with_named_lists() -> None:
    spec = mapping_flow.map_forms.compile()
    loop = spec.dag.nodes[0]
    assert isinstance(loop, LoopGroup) and loop.mapped
    assert isinstance(loop.items, CombinedItems) and loop.items.kind == "cross"
    assert [n.name for n in loop.items.lists] == ["x", "y"]
    inner = loop.nodes[0]
    assert inner.inputs["x"].model_dump() == {"kind": "loop_item", "loop": loop.name, "key": "x"}
    zips = [n for n in spec.dag.nodes if isinstance(n, LoopGroup) and n.items.kind == "zip"]
    zipped = zips[1]
    assert zipped.items.kind == "zip" and zipped.items.fill.value == 0
    kwargs = next(n for n in spec.dag.nodes if getattr(n, "item_shape", None) is not None)
    assert kwargs.item_shape.required == ["x"] and kwargs.item_shape.optional == {"z": 0}


def combined_loop(**extra: Any) -> dict[str, Any]:
    loop = {
        "kind": "loop",
        "name": "fan",
        "items": {
            "kind": "cross",
            "lists": [
                {"name": "a", "items": {"kind": "constant", "value": [1, 2]}},
                {"name": "b", "items": {"kind": "constant", "value": [3, 4, 5]}},
            ],
        },
        "nodes": [task("inner", 7, inputs={"n": {"kind": "loop_item", "loop": "fan", "key": "a"}})],
        "source": {"file": FILE, "line": 6},
    }
    loop.update(extra)
    return loop


def test_a_hand_written_cross_loop_is_valid() -> None:
    spec = validate(from_data(document([combined_loop()])))
    assert spec.dag.nodes[0].items.combine([[1, 2], [3, 4, 5]])[1] == {"a": 1, "b": 4}


def test_literal_items_over_max_items() -> None:
    error = problems_of(document([combined_loop(max_items=5)]))
    problem = error.problems[0]
    assert problem.code == "too_many_items"
    assert (problem.location.task, problem.location.line) == ("fan", 6)
    assert "ParallelFor 'fan' has 6 literal items, over its max_items of 5" in problem.message


def test_a_combined_list_that_is_not_a_list() -> None:
    loop = combined_loop()
    loop["items"]["lists"][1]["items"] = {"kind": "constant", "value": 3}
    problem = problems_of(document([loop])).problems[0]
    assert problem.code == "type_mismatch"
    assert "ParallelFor list 'b' must be a list, not int" in problem.message


def test_a_mapped_loop_must_hold_one_task() -> None:
    loop = combined_loop(mapped=True)
    loop["nodes"].append(task("other", 8))
    problem = problems_of(document([loop])).problems[0]
    assert "mapped loop 'fan' must hold exactly one task, not 2 node(s)" in problem.message
    assert problem.location.line == 6 and problem.hint


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fill": {"kind": "constant", "value": 0}}, "'fill' is only for zip items"),
        ({"lists": []}, "at least 1 item"),
        (
            {"lists": [{"name": "a", "items": {"kind": "constant", "value": [1]}}] * 2},
            "repeat the name(s) ['a']",
        ),
    ],
)
def test_malformed_combined_items_are_refused_when_read(
    change: dict[str, Any], message: str
) -> None:
    loop = combined_loop()
    loop["items"] = {**copy.deepcopy(loop["items"]), **change}
    with pytest.raises(SpecError, match=re.escape(message)):
        from_data(document([loop]))
