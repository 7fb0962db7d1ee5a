"""What Kubeflow's IR cannot express of trigger rules and setup/teardown is refused, each
with where it is written and what to do instead (no kfp needed to see it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from headwater.errors import ExportError
from headwater.interop import to_kfp
from headwater.sdk._location import compile_root

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
if str(PIPELINES) not in sys.path:
    sys.path.insert(0, str(PIPELINES))

import engine_setup  # noqa: E402


def _refusal(p: object) -> ExportError:
    with compile_root(str(PIPELINES)):
        spec = p.compile()  # type: ignore[attr-defined]
    with pytest.raises(ExportError) as info:
        to_kfp(spec, root=str(PIPELINES))
    return info.value


def test_setup_and_teardown_tasks_are_refused_with_the_kubeflow_way() -> None:
    error = _refusal(engine_setup.engine_setup_teardown)

    by_task = {p.location.task: p for p in error.problems}
    assert set(by_task) == {"create_cluster", "delete_cluster"}
    assert "is a setup task (setup=True)" in by_task["create_cluster"].message
    assert "is a teardown task (teardown=True)" in by_task["delete_cluster"].message
    for problem in error.problems:
        assert "ExitHandler" in (problem.hint or "")
        assert problem.location.line is not None


@pytest.mark.parametrize("rule", ["one_done", "all_skipped", "all_done_min_one_success"])
def test_a_rule_kubeflow_lacks_is_refused(rule: str) -> None:
    from headwater import pipeline

    @pipeline
    def ruled() -> None:
        engine_setup.mark(label="x").after(engine_setup.ok()).set_trigger_rule(rule)

    error = _refusal(ruled)

    assert [p.message for p in error.problems] == [
        f"has trigger rule '{rule}', which Kubeflow has no equivalent of"
    ]
