"""Pools belong to a namespace: their slots, and who holds them, are counted there only.

Store-level, on SQLite and PostgreSQL (see store_backends.py): attempts are recorded as
the engine records them, and slots are asked for as its grant step asks.
"""

from __future__ import annotations

import store_backends

from headwater.engine import Workspace
from headwater.states import TaskStatus
from headwater.store import MetadataStore, SlotRequest, TaskRunRecord

# Fixtures: every test taking ``ws`` runs on SQLite and on PostgreSQL.
ws = store_backends.ws
postgres_url = store_backends.postgres_url


def attempt(
    store: MetadataStore, status: TaskStatus, pool: str, priority: int = 0
) -> TaskRunRecord:
    version = store.pipelines.register_version("pooled", None, "sha256:pooled", {"name": "p"}, None)
    run = store.runs.create_run(version, {})
    return store.tasks.add_task_run(
        run.id, "t", "t", "t", 1, status, pool=pool, pool_slots=1, priority=priority
    )


def ask(store: MetadataStore, waiting: TaskRunRecord) -> tuple[list[str], dict[str, str]]:
    run = store.runs.get_run(waiting.run_id)
    request = SlotRequest(waiting.id, "gpu", 1, waiting.priority or 0)
    return store.pools.grant_slots(
        [request], pipeline_id=run.pipeline_id, pipeline_limit=None, global_limit=None
    )


def test_a_free_slot_is_granted_and_a_taken_one_is_not(ws: Workspace) -> None:
    # The same-namespace baseline for the test below.
    ws.store.pools.set_pool("gpu", 1)
    first = attempt(ws.store, TaskStatus.WAITING, "gpu")
    assert ask(ws.store, first) == ([first.id], {})
    second = attempt(ws.store, TaskStatus.WAITING, "gpu")
    assert ask(ws.store, second) == ([], {})
    assert ws.store.pools.get_pool("gpu").occupied == 1


def test_tasks_of_another_namespace_do_not_take_this_namespaces_pool_slots(
    ws: Workspace,
) -> None:
    other = MetadataStore(ws.store.engine, namespace="team-b")
    ws.store.pools.set_pool("gpu", 1)
    other.pools.set_pool("gpu", 1)
    attempt(ws.store, TaskStatus.RUNNING, "gpu")  # the default namespace's gpu slot is taken
    attempt(ws.store, TaskStatus.WAITING, "gpu", priority=10)

    mine = attempt(other, TaskStatus.WAITING, "gpu")
    assert other.pools.get_pool("gpu").occupied == 0
    assert ask(other, mine) == ([mine.id], {})
