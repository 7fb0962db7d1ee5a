"""Many ``headwater run`` processes of a pipeline the store has never seen, started at once in
an empty HEADWATER_HOME: each registers the pipeline and its version (insert-or-get), so
every run is created, driven and recorded."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from headwater.states import RunStatus
from headwater.store import MetadataStore

PROCESSES = 20
HEADWATER = Path(sys.executable).with_name("headwater")

FLOW = textwrap.dedent(
    """
    from headwater import component, pipeline


    @component
    def hello(n: int) -> int:
        return n + 1


    @pipeline
    def never_seen_before(n: int = 1):
        hello(n=n)
    """
)


def test_twenty_parallel_first_runs_of_a_new_pipeline_are_all_created(tmp_path: Path) -> None:
    home = tmp_path / "home"  # empty: not even the database exists yet
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update(HEADWATER_HOME=str(home), NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1")
    logs = [tmp_path / f"run-{i}.log" for i in range(PROCESSES)]
    procs = []
    for i, log in enumerate(logs):
        with open(log, "wb") as out:
            procs.append(
                subprocess.Popen(
                    [str(HEADWATER), "run", str(flow), "-p", f"n={i}", "--max-parallel", "1"],
                    cwd=tmp_path,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    codes = [p.wait(timeout=600) for p in procs]

    failed = {i: logs[i].read_text()[-3000:] for i, code in enumerate(codes) if code != 0}
    assert failed == {}, failed
    store = MetadataStore.open(f"sqlite:///{home / 'headwater.db'}")
    try:
        runs = store.runs.list_runs(pipeline="never_seen_before", limit=1000)
        assert len(runs) == PROCESSES
        assert {r.status for r in runs} == {RunStatus.SUCCEEDED}
        assert sorted(r.parameters["n"] for r in runs) == list(range(PROCESSES))
        assert len(store.pipelines.list_versions("never_seen_before")) == 1
    finally:
        store.close()
