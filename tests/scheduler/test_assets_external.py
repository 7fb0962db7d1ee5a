"""External asset events (``store.assets.record_external_event``: an API call, the CLI, a
sensor) trigger the pipelines scheduled on the asset like a task's update, and the run
they trigger sees them, metadata included, in ``triggering_asset_events``. On SQLite and
PostgreSQL (see store_backends.py); time is passed to tick()."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import store_backends

from headwater.engine import Workspace, deploy
from headwater.errors import InvalidValue, LimitError, NotFound
from headwater.scheduler import tick
from headwater.sdk import compile_root, load_module

ws = store_backends.ws
postgres_url = store_backends.postgres_url

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
flow: Any = load_module(PIPELINES / "asset_events_flow.py")
ORDERS = "lake://orders"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def deployed(ws: Workspace) -> str:
    with compile_root(str(PIPELINES)):
        spec = flow.on_orders.compile()
    deploy(ws, spec, str(PIPELINES))
    return str(spec.name)


def test_an_external_event_triggers_one_run_that_sees_its_metadata(ws: Workspace) -> None:
    name = deployed(ws)
    event = ws.store.assets.record_external_event(
        ORDERS, source="sensor landing", metadata={"rows": 1200, "path": "s3://x/é"}
    )
    assert (event.kind, event.source, event.run_id, event.task_run_id) == (
        "external",
        "sensor landing",
        None,
        None,
    )
    (run,) = tick(ws, NOW)
    assert run.pipeline == name and run.trigger == "asset"
    assert tick(ws, NOW) == []  # used up: exactly one run
    (listed,) = ws.store.assets.asset_events(asset=ORDERS)
    assert listed.triggered == (run.id,)
    assert (listed.kind, listed.source, listed.metadata) == (
        "external",
        "sensor landing",
        {"rows": 1200, "path": "s3://x/é"},
    )
    seen = json.loads(ws.store.runs.get_run(run.id).parameters["events"])
    assert list(seen) == [ORDERS]
    (given,) = seen[ORDERS]
    assert given["id"] == event.id and given["kind"] == "external"
    assert given["source"] == "sensor landing" and given["metadata"]["rows"] == 1200

    second = ws.store.assets.record_external_event(ORDERS, source="cli me")
    (again,) = tick(ws, NOW)
    assert again.id != run.id and tick(ws, NOW) == []
    seen = json.loads(ws.store.runs.get_run(again.id).parameters["events"])
    assert [e["id"] for e in seen[ORDERS]] == [second.id]
    assert seen[ORDERS][0]["metadata"] is None


def test_a_manual_run_sees_no_triggering_events(ws: Workspace) -> None:
    from headwater.scheduler import trigger

    deployed(ws)
    run = trigger(ws, "on_orders", {})
    assert json.loads(run.parameters["events"]) == {}


@pytest.mark.parametrize(
    ("name", "source", "metadata", "error", "said"),
    [
        ("lake://nowhere", "me", None, NotFound, "no asset 'lake://nowhere'"),
        ("orders", "me", None, InvalidValue, "invalid asset name 'orders'"),
        ("lake://" + "x" * 600, "me", None, InvalidValue, "at most 512"),
        (ORDERS, "", None, InvalidValue, "source of an event on 'lake://orders' is empty"),
        (ORDERS, "x" * 300, None, InvalidValue, "at most 256"),
        (ORDERS, "me", [1, 2], InvalidValue, "is a list, not an object"),
        (ORDERS, "me", {"n": float("nan")}, InvalidValue, "metadata['n']"),
        (ORDERS, "me", {"s": "\udcff"}, InvalidValue, "not valid Unicode"),
        (ORDERS, "me", {1: "a"}, InvalidValue, "not text"),
        (ORDERS, "me", {"big": "x" * (64 << 10)}, LimitError, "more than the 65,536"),
    ],
)
def test_an_event_that_cannot_be_stored_is_refused_and_nothing_is_written(
    ws: Workspace,
    name: str,
    source: str,
    metadata: Any,
    error: type[Exception],
    said: str,
) -> None:
    deployed(ws)
    with pytest.raises(error) as raised:
        ws.store.assets.record_external_event(name, source=source, metadata=metadata)
    assert said in str(raised.value) and raised.value.hint  # type: ignore[attr-defined]
    assert ws.store.assets.asset_events() == []
    assert tick(ws, NOW) == []
