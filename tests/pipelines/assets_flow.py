"""Producers of assets and pipelines scheduled on them (tests/scheduler/test_assets_*)."""

from __future__ import annotations

from headwater import Asset, Dataset, Output, component, pipeline

A = Asset("warehouse://a")
B = Asset("warehouse://b")


@component(assets={"out": "warehouse://a"})
def produce_a(label: str, out: Output[Dataset]) -> None:
    from pathlib import Path

    Path(out.path).write_text(label)


@component
def produce(label: str, out: Output[Dataset]) -> None:
    from pathlib import Path

    Path(out.path).write_text(label)


@component
def consume() -> str:
    return "consumed"


@pipeline
def assets_make_a(label: str = "a"):
    produce_a(label=label)


@pipeline
def assets_make_b(label: str = "b"):
    produce(label=label).updates_asset("out", B)


@pipeline(schedule=A & B)
def assets_all():
    consume()


@pipeline(schedule=A | B)
def assets_any():
    consume()


@pipeline(schedule=A | B, max_active_runs=1)
def assets_any_one_at_a_time():
    consume()
