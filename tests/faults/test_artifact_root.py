"""The artifact root turns read-only, or fills up, in the middle of a run.

The root is a 1 MiB tmpfs mounted for the test. Tasks that cannot write their outputs
fail (after their retry) with the file system's own words, the run fails with them, and
nothing recorded before the fault is lost or run again.
"""

from __future__ import annotations

from fault_bench import MIDDLE, RUN_TIMEOUT, FaultBench, Mount


def test_an_artifact_root_turned_read_only_fails_the_run_clearly(
    bench: FaultBench, small_root: Mount
) -> None:
    bench.use_artifact_root(small_root.path)
    driver, run_id = bench.run_cli(hold=(MIDDLE,))
    bench.wait_started(run_id, MIDDLE)
    small_root.read_only()
    bench.fault(run_id, "artifact root read-only")
    bench.release(MIDDLE)
    assert driver.popen.wait(timeout=RUN_TIMEOUT) == 1, bench.explain()
    bench.check(run_id, expect="failed", reason="Read-only file system")


def test_a_full_artifact_root_fails_the_run_clearly(bench: FaultBench, small_root: Mount) -> None:
    small_root.require()
    bench.use_artifact_root(small_root.path)
    driver, run_id = bench.run_cli(hold=(MIDDLE,))
    bench.wait_started(run_id, MIDDLE)
    small_root.fill()
    bench.fault(run_id, "artifact root full")
    bench.release(MIDDLE)
    assert driver.popen.wait(timeout=RUN_TIMEOUT) == 1, bench.explain()
    bench.check(run_id, expect="failed", reason="No space left on device")
