"""Pipelines for the trigger rules that do not wait (``always``, ``one_done``) and for
setup/teardown tasks at run time (tests/engine/test_engine_setup_teardown.py).

Waiting is shown without timing: a task waits for a marker file that only the task
under test writes, so it ends well only if that task ran while it was still running.
"""

from __future__ import annotations

from headwater import component, pipeline


@component
def waits_for(marker: str, seconds: float = 30.0) -> str:
    """Wait until ``marker`` exists; fail if it does not appear within ``seconds``."""
    import time
    from pathlib import Path

    deadline = time.time() + seconds
    while not Path(marker).exists():
        if time.time() > deadline:
            raise TimeoutError(f"{marker} did not appear: the task that writes it did not run")
        time.sleep(0.05)
    return "seen"


@component
def touch(marker: str) -> str:
    from pathlib import Path

    Path(marker).write_text("here")
    return marker


@component
def ok() -> int:
    return 1


@component
def boom() -> int:
    raise RuntimeError("boom")


@component
def mark(label: str) -> str:
    return label


@pipeline
def engine_always(marker: str):
    slow = waits_for(marker=marker)
    touch(marker=marker).after(slow).set_trigger_rule("always")


@pipeline
def engine_one_done(marker: str):
    first = ok()
    second = waits_for(marker=marker)
    touch(marker=marker).after(first, second).set_trigger_rule("one_done")


# Setup and teardown set on the components (the same may be set per call).


@component(setup=True)
def create_cluster(fail: bool = False) -> str:
    if fail:
        raise RuntimeError("no cluster today")
    return "cluster-1"


@component
def work(cluster: str, fail: bool = False) -> str:
    if fail:
        raise RuntimeError("work broke")
    return f"worked on {cluster}"


@component(teardown=True)
def delete_cluster(fail: bool = False) -> str:
    if fail:
        raise RuntimeError("teardown broke")
    return "deleted"


@pipeline
def engine_setup_teardown(
    setup_fails: bool = False,
    work_fails: bool = False,
    teardown_fails: bool = False,
):
    cluster = create_cluster(fail=setup_fails)
    done = work(cluster=cluster.output, fail=work_fails)
    delete_cluster(fail=teardown_fails).after(done, cluster)


@pipeline
def engine_teardown_fails_run():
    """A teardown whose failure fails the run (Airflow's on_failure_fail_dagrun)."""
    cluster = create_cluster()
    done = work(cluster=cluster.output)
    delete_cluster(fail=True).after(done, cluster).set_options(on_failure_fail_run=True)


@pipeline
def engine_indirect_setup():
    """``later`` (all_done) is in the setup's scope without waiting for it directly: a
    failed setup leaves it upstream_failed (Airflow's setup constraint)."""
    cluster = create_cluster(fail=True)
    done = work(cluster=cluster.output)
    later = mark(label="later").after(done).set_trigger_rule("all_done")
    delete_cluster().after(later, cluster)


@pipeline
def engine_as_teardown():
    """Plain components made a setup and its teardown per call, as Airflow's
    ``as_teardown(setups=...)`` does."""
    start = ok()
    failing = boom().after(start)
    mark(label="cleaned").after(failing).as_teardown(setups=start)
