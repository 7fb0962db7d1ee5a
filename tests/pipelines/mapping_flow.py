"""Pipelines for task mapping at run time (tests/engine/test_engine_mapping.py): expand,
expand_kwargs, headwater.zip and headwater.product, partial, caps, empty lists, and
ParallelFor bodies over combined lists."""

from __future__ import annotations

from typing import Any

import headwater
from headwater import Collected, Dataset, If, ParallelFor, component, importer, pipeline


@component
def add(x: int, y: int, z: int = 0) -> int:
    return x + y + z


@component
def count_to(n: int) -> list[int]:
    return list(range(1, n + 1))


@component
def rows() -> list[dict[str, Any]]:
    return [{"x": 1}, {"x": 2, "z": 100}]


@component
def bad_rows() -> list[dict[str, Any]]:
    return [{"x": 1}, {"x": 2, "w": 3}]


@component
def gather(values: list[Any]) -> list[Any]:
    return values


@pipeline
def map_forms(ys: list[int] = [10, 20, 30]):  # noqa: B006
    # A cross product of a literal list and a list parameter: six tasks.
    cross = add.expand(x=[1, 2], y=ys)
    gather(values=cross.output)
    # zip stops at the shortest list; with fillvalue it pads to the longest.
    gather(values=add.expand_kwargs(headwater.zip(x=[1, 2, 3], y=[10, 20])).output)
    gather(values=add.expand_kwargs(headwater.zip(x=[1, 2, 3], y=[10, 20], fillvalue=0)).output)
    # One task per dict of an upstream output; y is fixed for all, z takes its default.
    gather(values=add.partial(y=5).expand_kwargs(rows()).output)
    # Fixed arguments and a list from an upstream task.
    gather(values=add.partial(y=100, z=1000).expand(x=count_to(n=3)).output)


@pipeline
def map_capped(n: int = 5):
    mapped = add.partial(y=0).expand(x=count_to(n=n)).set_max_items(3)  # mark: capped
    gather(values=mapped.output)


@pipeline
def loop_capped_by_default(n: int = 3):
    with ParallelFor(count_to(n=n)) as x:  # mark: default-cap
        add(x=x, y=1)


@pipeline
def map_bad_kwargs():
    add.partial(y=0).expand_kwargs(bad_rows())  # mark: bad-kwargs


@pipeline
def map_group(bs: list[int] = [10, 20]):  # noqa: B006
    # A mapped task group: two tasks and a nested If per combination of a and b.
    with ParallelFor(headwater.product(a=[1, 2], b=bs)) as item:
        first = add(x=item.a, y=item.b)
        second = add(x=first.output, y=1)
        with If(item.a > 1):
            add(x=second.output, y=1000)
    gather(values=Collected(second.output))


@pipeline
def map_zip_group(n: int = 3):
    with ParallelFor(headwater.zip(x=count_to(n=n), y=[10, 20])) as item:
        add(x=item.x, y=item.y)


@pipeline
def map_empty(n: int = 0):
    mapped = add.partial(y=1).expand(x=count_to(n=n))
    gather(values=mapped.output)
    gather(values=mapped.output).set_trigger_rule("none_failed")
    with ParallelFor(count_to(n=n)) as x:
        looped = add(x=x, y=2)
    gather(values=Collected(looped.output))


@pipeline
def map_literal():
    # Literal lists only: Kubeflow gets the combined items as a raw list of dicts.
    crossed = add.expand(x=[1, 2], y=[10, 20])
    zipped = add.expand_kwargs(headwater.zip(x=[1, 2, 3], y=[10, 20], fillvalue=0))
    kwargs = add.partial(y=5).expand_kwargs([{"x": 1}, {"x": 2, "z": 3}])
    gather(values=crossed.output)
    gather(values=zipped.output)
    gather(values=kwargs.output)


@pipeline
def doubled(x: int) -> Any:
    return add(x=x, y=x)


@pipeline
def map_nested(rows: list[list[int]] = [[1, 2], [3]]):  # noqa: B006
    # A pipeline used as a step is mapped too; and a mapping inside a ParallelFor maps over
    # the item of that iteration, its list collected within the iteration.
    gather(values=doubled.expand(x=[1, 2, 3]).output)
    with ParallelFor(rows) as row:
        sums = add.partial(y=0).expand(x=row)
        total = gather(values=sums.output)
    gather(values=Collected(total.output))


@pipeline
def map_imports(folders: list[str]):
    # An importer's URI from a zip item: a server checks the URIs before the run exists.
    with ParallelFor(headwater.zip(uri=folders, n=[1, 2]), name="importer-map") as item:
        importer(item.uri, Dataset)
