"""Spec documents read from JSON are held to the same rules as freshly compiled ones.

Each test edits a small hand-written spec the way a person or another tool might,
and checks that ``validate`` points at the task and the source line the document records.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from headwater.errors import ValidationError
from headwater.spec import SCHEMA_VERSION, PipelineSpec, from_data, validate

FILE = "flows/handmade.py"


def task(name: str, line: int, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "task",
        "name": name,
        "component": "step",
        "source": {"file": FILE, "line": line},
        **extra,
    }


def document(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "name": "handmade",
        "root": {
            "name": "handmade",
            "implementation": {"type": "dag", "dag": {"nodes": nodes}},
            "source": {"file": FILE, "line": 1},
        },
        "components": {
            "step": {
                "name": "step",
                "inputs": {
                    "n": {
                        "kind": "parameter",
                        "type": {"kind": "int"},
                        "has_default": True,
                        "default": 0,
                    }
                },
                "outputs": {"output": {"kind": "parameter", "type": {"kind": "int"}}},
                "implementation": {
                    "type": "python",
                    "module": "handmade",
                    "function": "step",
                    "file": FILE,
                    "code_digest": "sha256:0",
                    "returns": "single",
                    "return_outputs": ["output"],
                },
            }
        },
        "source": {"file": FILE, "line": 1},
    }


def problems_of(data: dict[str, Any]) -> ValidationError:
    spec = from_data(copy.deepcopy(data))
    with pytest.raises(ValidationError) as info:
        validate(spec)
    return info.value


def test_the_hand_written_document_is_valid() -> None:
    spec = validate(from_data(document([task("a", 3), task("b", 4, after=["a"])])))
    assert isinstance(spec, PipelineSpec)


def test_task_after_its_own_loop() -> None:
    loop = {
        "kind": "loop",
        "name": "fan",
        "items": {"kind": "constant", "value": [1, 2]},
        "nodes": [task("inner", 7, after=["fan"])],
        "source": {"file": FILE, "line": 6},
    }
    error = problems_of(document([loop]))
    assert len(error.problems) == 1, str(error)
    problem = error.problems[0]
    assert problem.code == "cycle"
    assert problem.location.task == "inner"
    assert (problem.location.file, problem.location.line) == (FILE, 7)
    assert "'inner' depends on its enclosing group 'fan'" in problem.message
    assert problem.hint


def test_task_in_a_branch_after_its_own_condition() -> None:
    cond = {
        "kind": "condition",
        "name": "gate",
        "branches": [
            {
                "condition": {
                    "kind": "compare",
                    "op": "==",
                    "left": {"kind": "constant", "value": 1},
                    "right": {"kind": "constant", "value": 1},
                },
                "nodes": [task("inside", 9, after=["gate"])],
            }
        ],
        "source": {"file": FILE, "line": 8},
    }
    error = problems_of(document([cond]))
    assert len(error.problems) == 1, str(error)
    problem = error.problems[0]
    assert problem.code == "cycle"
    assert (problem.location.task, problem.location.line) == ("inside", 9)
    assert "depends on its enclosing group 'gate'" in problem.message
    assert problem.hint


def test_group_after_a_task_inside_it() -> None:
    loop = {
        "kind": "loop",
        "name": "fan",
        "items": {"kind": "constant", "value": [1, 2]},
        "nodes": [task("inner", 7)],
        "after": ["inner"],
        "source": {"file": FILE, "line": 6},
    }
    error = problems_of(document([loop]))
    assert len(error.problems) == 1, str(error)
    problem = error.problems[0]
    assert problem.code == "cycle"
    assert (problem.location.task, problem.location.line) == ("fan", 6)
    assert "group 'fan' depends on 'inner', which is inside it" in problem.message
    assert problem.hint, f"no fix is suggested in: {problem}"


def test_cycle_through_task_outputs() -> None:
    a = task("a", 3, inputs={"n": {"kind": "task_output", "task": "b", "output": "output"}})
    b = task("b", 4, inputs={"n": {"kind": "task_output", "task": "a", "output": "output"}})
    error = problems_of(document([a, b]))
    assert len(error.problems) == 1, str(error)
    problem = error.problems[0]
    assert problem.code == "cycle"
    assert problem.location.task in {"a", "b"}
    assert problem.location.line == {"a": 3, "b": 4}[problem.location.task]
    assert "a -> b -> a" in problem.message or "b -> a -> b" in problem.message
    assert problem.hint


def test_duplicate_task_names() -> None:
    error = problems_of(document([task("twin", 3), task("twin", 5)]))
    assert len(error.problems) == 1, str(error)
    problem = error.problems[0]
    assert problem.code == "duplicate_name"
    assert (problem.location.task, problem.location.file, problem.location.line) == (
        "twin",
        FILE,
        5,
    )
    assert "two tasks or groups are named 'twin'" in problem.message
    assert problem.hint


def test_group_and_task_with_one_name() -> None:
    loop = {
        "kind": "loop",
        "name": "twin",
        "items": {"kind": "constant", "value": [1]},
        "nodes": [task("inner", 7)],
        "source": {"file": FILE, "line": 6},
    }
    error = problems_of(document([task("twin", 3), loop]))
    assert [p.code for p in error.problems] == ["duplicate_name"], str(error)
    assert error.problems[0].location.line == 6


def test_unknown_component_after_and_output() -> None:
    ghost = task("ghost", 3)
    ghost["component"] = "nowhere"
    late = task("late", 4, after=["never"])
    reader = task(
        "reader", 5, inputs={"n": {"kind": "task_output", "task": "late", "output": "nope"}}
    )
    error = problems_of(document([ghost, late, reader]))
    found = {(p.code, p.location.task, p.location.line) for p in error.problems}
    assert found == {
        ("unknown_component", "ghost", 3),
        ("unknown_task", "late", 4),
        ("unknown_output", "reader", 5),
    }, str(error)
    text = str(error)
    assert "unknown component 'nowhere'" in text
    assert "unknown task 'never'" in text
    assert "unknown output 'nope' of task 'late' (its outputs: output)" in text
