"""Pipelines for the option mapping and the refusals of ``to_kfp``
(tests/interop/test_kfp_export_mapping.py). Each line marked ``# mark: NAME`` is where a
problem must point."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from kfp_flow import number

from headwater import (
    Asset,
    Dataset,
    Else,
    ExitHandler,
    FinalStatus,
    If,
    Output,
    ParallelFor,
    component,
    importer,
    pipeline,
)

PATTERN = re.compile(r"\d+")
LIMITS = {"rows": [1, 2, 3], "name": "limits"}


# --------------------------------------------------------------------------- options


@component(
    retries=3,
    retry_delay="5s",
    retry_backoff=2,
    retry_max_delay="1m",
    timeout="90s",
    cpu="500m",
    memory="3Gi",
    gpu=2,
    accelerator="nvidia.com/gpu",
    env={"MODE": "fast"},
    packages=["tabulate==0.9.0"],
    image="python:3.12-slim",
    display_name="Heavy lifting",
    fresh_interpreter=True,
)
def heavy(x: int) -> int:
    return x


@component(cache_ttl="1d")
def expiring(x: int) -> int:
    return x


@component(cache=False)
def uncached(x: int) -> int:
    return x


@component
def plain(x: int) -> int:
    return x


@component
def pair(x: int, out: Output[Dataset]) -> int:
    with open(out.path, "w") as f:
        f.write(str(x))
    return x


@component
def lookup(rows: list[int], table: dict[str, int], name: str = LIMITS["name"]) -> int:
    return len(rows) + len(table) + len(name) + len(LIMITS)


@pipeline
def options_pipeline(x: int = 1):
    heavy(x=x)
    expiring(x=x)
    uncached(x=x)
    plain(x=x).set_display_name("Plain step")
    first = plain(x=x)
    plain(x=first.output).set_trigger_rule("all_done")
    plain(x=first.output).set_trigger_rule("none_failed")
    made = pair(x=x)
    lookup(rows=[1, 2], table={"a": 1})
    return made.outputs["output"]


@pipeline(cache=False)
def uncached_pipeline(x: int = 1):
    plain(x=x)


@pipeline
def single_output(x: int = 1):
    return plain(x=x).output


@pipeline(schedule="0 4 * * *", start_date="2026-01-01", catchup=False, max_active_runs=1)
def nightly(x: int = 1):
    plain(x=x)


@pipeline(schedule=timedelta(minutes=10))
def every_ten_minutes(x: int = 1):
    plain(x=x)


@pipeline(schedule="@daily", timezone="Europe/Paris", catchup=True)
def daily_in_paris(x: int = 1):
    plain(x=x)


@pipeline
def conditions(x: int = 1, mode: str = "it's"):
    n = plain(x=x)
    with If((n.output == 2) | (mode.is_in(["a", "b"])), name="either"):
        plain(x=1)
    with Else():
        plain(x=2)
    with If(~(n.output != 3) & (mode.not_in(["c"]))):
        plain(x=3)


@component
def calls_plain(x: int) -> int:
    return plain.python_func(x) + 1


@pipeline
def helper_component(x: int = 1):
    calls_plain(x=x)


# --------------------------------------------------------------------------- refusals


@pipeline(deadline="1h")  # mark: deadline
def with_deadline():
    plain(x=1)


@component(resources={"fast_disk": 1})
def disk_hungry(x: int) -> int:
    return x


@pipeline
def custom_resources():
    disk_hungry(x=1)  # mark: custom


@component(gpu=1, accelerator="nvidia-h100")
def on_h100(x: int) -> int:
    return x


@pipeline
def gpu_model():
    on_h100(x=1)  # mark: accelerator


@component
def anything(value: Any) -> int:
    return 1


@pipeline
def any_parameter():
    anything(value=1)  # mark: any


@component
def anything_out(x: int) -> Any:
    return x


@pipeline
def any_return():
    anything_out(x=1)  # mark: any-out


@component
def calls_number(x: float) -> float:
    return float(number.python_func(x))


@pipeline
def foreign_component():
    calls_number(x=1.0)  # mark: foreign


@component
def imports_component(x: int) -> int:
    from headwater import Dataset, component

    return x if component and Dataset else 0


@pipeline
def headwater_names():
    imports_component(x=1)  # mark: names


@component
def maybe(x: int) -> int | None:
    return None if x else 1


@pipeline
def optional_return():
    maybe(x=1)  # mark: optional


@component
def digits(text: str) -> int:
    return len(PATTERN.findall(text))


@pipeline
def module_value():
    digits(text="a1b2")  # mark: value


@component
def uses_headwater(x: int) -> str:
    return str(Asset(f"warehouse://{x}"))


@pipeline
def headwater_object():
    uses_headwater(x=1)  # mark: headwater


@component
def imports_headwater(x: int) -> str:
    import headwater

    return headwater.__version__


@pipeline
def headwater_import():
    imports_headwater(x=1)  # mark: import


@pipeline
def inner(x: int):
    return plain(x=x).output


@pipeline
def step_with_options():
    inner(x=1).set_options(retries=2)  # mark: step


@pipeline
def importer_with_options(uri: str):
    importer(uri, Dataset).set_options(retries=1)  # mark: importer


@pipeline
def loop_over_key(rows: list[dict[str, Any]]):
    with ParallelFor(rows) as row:
        plain(x=0)
        with ParallelFor(row["values"]):  # mark: keyed-loop
            plain(x=1)


@pipeline
def condition_on_key(rows: list[dict[str, Any]]):
    with ParallelFor(rows) as row, If(row["n"] > 1):  # mark: keyed-if
        plain(x=1)


@pipeline
def all_done_inside(xs: list[int]):
    first = plain(x=1)
    with ParallelFor(xs):
        plain(x=2).after(first).set_trigger_rule("all_done")  # mark: inside


@component
def report(status: FinalStatus) -> str:
    return status.state


@pipeline
def exit_after_if(flag: bool = True):
    n = plain(x=1)
    gate = If(n.output == 1, name="gate")
    with gate:
        plain(x=2)
    done = report()
    with ExitHandler(done):
        plain(x=3).after(gate)  # mark: skip
