"""What a sensor cannot honour is refused before anything runs, each with where and how
to fix it; and a wait sees only its own namespace: another namespace's runs and asset
events never satisfy it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from engine_helpers import cli_env, headwater_command, write_pipeline

from headwater import component, pipeline, sensor, wait_for_path
from headwater.engine import Workspace, create_run
from headwater.engine._checks import CheckContext, make_check
from headwater.engine._triggerer import triggerer
from headwater.errors import ComponentDefinitionError, DefinitionError, ValidationError
from headwater.states import RunStatus
from headwater.store import RunRecord


def _run(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    flow = write_pipeline(tmp_path, "refused_flow", source)
    return subprocess.run(
        [*headwater_command(), "run", str(flow)],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_option_a_built_in_wait_cannot_honour_is_refused_before_the_run(
    tmp_path: Path, home: Path
) -> None:
    done = _run(
        tmp_path,
        """
        from headwater import pipeline, wait_for_path

        @pipeline
        def refused():
            wait_for_path("/tmp/x").set_options(cpu=2, retries=3)
        """,
    )
    said = " ".join(done.stderr.split())
    assert done.returncode == 1, done.stderr
    assert "is a built-in wait, which the engine checks itself" in said
    assert "cpu=2" in said and "@sensor" in said
    assert not (home / "headwater.db").exists() or _runs(home) == 0


def _runs(home: Path) -> int:
    ws = Workspace.open()
    try:
        return len(ws.store.runs.list_runs(limit=10))
    finally:
        ws.close()


def test_sensor_options_on_a_plain_component_are_a_definition_error() -> None:
    @component
    def plain() -> int:
        return 1

    @pipeline
    def not_a_sensor():
        plain().set_options(poke_interval="5s")

    with pytest.raises(ValidationError) as info:
        not_a_sensor.compile()
    assert "apply to sensors; component 'plain' is not one" in str(info.value)


def test_a_sensor_returning_neither_bool_nor_optional_is_refused() -> None:
    @sensor
    def counts() -> int:
        return 3

    @pipeline
    def bad_return():
        counts()

    with pytest.raises(ComponentDefinitionError, match="must return bool"):
        bad_return.compile()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"poke_interval": -1}, "poke_interval must not be negative"),
        ({"timeout": "0s"}, "wait_timeout must be positive"),
        ({"poke_interval": "soon"}, "poke_interval"),
        ({"soft_fail": "yes"}, "soft_fail must be True or False"),
        ({"updates": "not an asset"}, "updates"),
    ],
)
def test_bad_sensor_policies_are_refused_where_they_are_written(
    options: dict[str, object], message: str
) -> None:
    @pipeline
    def bad_policy():
        wait_for_path("/tmp/x", **options)  # type: ignore[arg-type]

    with pytest.raises(DefinitionError, match=message):
        bad_policy.compile()


def test_a_wait_sees_only_its_own_namespace(home: Path) -> None:
    """An asset event and a run in namespace 'a' do not satisfy waits of a run in 'b'."""
    ws = Workspace.open()
    try:
        ws.store.namespaces.create("a")
        ws.store.namespaces.create("b")
        wa, wb = ws.scoped("a"), ws.scoped("b")
        a, b = wa.store, wb.store
        for store in (a, b):
            store.assets.register_assets(["lake://shared/name"])
        mine = _a_run(wb, "consumer")
        checks = {
            kind: make_check(
                kind,
                args,
                CheckContext(store=b, run=mine, triggerer=triggerer(), interval=1.0),
            )[0]
            for kind, args in (
                ("asset", {"asset": "lake://shared/name"}),
                ("run", {"pipeline": "producer"}),
            )
        }
        a.assets.record_external_event("lake://shared/name", source="test")
        theirs = _a_run(wa, "producer")
        a.runs.set_run_status(theirs.id, RunStatus.QUEUED, RunStatus.RUNNING)
        a.runs.set_run_status(theirs.id, RunStatus.RUNNING, RunStatus.SUCCEEDED)
        for kind, check in checks.items():
            assert not triggerer().check_once(check).done, kind  # namespace 'a' is not 'b'
        b.assets.record_external_event("lake://shared/name", source="test")
        assert triggerer().check_once(checks["asset"]).done
    finally:
        ws.close()


def _a_run(ws: Workspace, pipeline_name: str) -> RunRecord:
    @component
    def step() -> int:
        return 1

    @pipeline(name=pipeline_name)
    def flow():
        step()

    return create_run(ws, flow.compile(), {}, source_root=str(Path(__file__).parent))
