"""Settings every test shares.

Per-step environments are built once per test session, in one folder
(``HEADWATER_ENVS_DIR``), however many tests each give their own ``HEADWATER_HOME``: a
second build of the same packages would only be slower. A test that needs to watch a
build happen sets a folder of its own.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
# Folders whose tests share one costly peer started once per worker (the two-node Ray
# cluster, the kfp and Airflow environments, the serving tests' one server, which later
# files find in the state earlier ones left): each runs whole on one worker.
WHOLE = ("executors", "interop", "airflow", "serving")


def _group(nodeid: str) -> str:
    """The worker group of a test: its file, or its folder for the folders of WHOLE."""
    parts = nodeid.split("::", 1)[0].split("/")
    if parts and parts[0] == "tests":
        parts = parts[1:]
    return parts[0] if len(parts) > 1 and parts[0] in WHOLE else "/".join(parts)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist's ``--dist loadscope``: a test file runs on one worker (its
    module fixtures, a server say, start once), and so does each folder of WHOLE.

    The grouping is the scheduler's own rather than ``xdist_group`` marks, which some
    pytest releases drop from the node ids xdist groups by."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid)

    return ByGroup(config, log)


@pytest.fixture(scope="session", autouse=True)
def _shared_envs_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    previous = os.environ.get("HEADWATER_ENVS_DIR")
    os.environ["HEADWATER_ENVS_DIR"] = str(tmp_path_factory.mktemp("envs"))
    yield
    if previous is None:
        os.environ.pop("HEADWATER_ENVS_DIR", None)
    else:
        os.environ["HEADWATER_ENVS_DIR"] = previous


# ---------------------------------------------------------------------- figures from workers
# The fault-injection and hostile-input suites count what they did and print it at the
# end (tests/faults, tests/security). Under pytest-xdist they run in workers: each worker
# hands its counts to the main process, which prints them merged.

_FROM_WORKERS: list[dict[str, Any]] = []


def _counts() -> dict[str, Any]:
    found: dict[str, Any] = {}
    faults = sys.modules.get("fault_bench")
    if faults is not None and faults.TALLY.runs:
        found["faults"] = [
            {
                "backend": r.backend,
                "kinds": dict(r.kinds),
                "ended_correctly": r.ended_correctly,
                "lost": r.lost,
                "twice": r.twice,
            }
            for r in faults.TALLY.runs
        ]
    hostile = sys.modules.get("hostile_inputs")
    if hostile is not None and hostile.TALLIES:
        found["hostile"] = {db: dict(t.counts) for db, t in hostile.TALLIES.items()}
    return found


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = getattr(session.config, "workeroutput", None)
    if out is not None:  # a worker: hand the counts over
        out["headwater_counts"] = json.dumps(_counts())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    data = getattr(node, "workeroutput", {}).get("headwater_counts")
    if data:
        _FROM_WORKERS.append(json.loads(data))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not any(_FROM_WORKERS):
        return
    from collections import Counter

    for folder in ("security", "faults", "server", "engine", "scheduler", "pipelines"):
        if str(HERE / folder) not in sys.path:
            sys.path.insert(0, str(HERE / folder))
    hostile: dict[str, Counter[str]] = {}
    runs: list[dict[str, Any]] = []
    for counts in _FROM_WORKERS:
        for db, c in counts.get("hostile", {}).items():
            hostile.setdefault(db, Counter()).update(c)
        runs += counts.get("faults", [])
    if hostile:
        from hostile_inputs import Tally as Hostile

        terminalreporter.section("hostile inputs")
        total = Hostile()
        for db, c in sorted(hostile.items()):
            terminalreporter.write_line(Hostile(counts=c).line(db))
            total.counts.update(c)
        if len(hostile) > 1:
            terminalreporter.write_line(total.line("all databases"))
    if runs:
        from fault_bench import Judged, Tally

        tally = Tally(runs=[Judged(**{**r, "kinds": Counter(r["kinds"])}) for r in runs])
        terminalreporter.section("fault injection")
        terminalreporter.write_line(tally.line())
        for line in tally.details():
            terminalreporter.write_line(line)
