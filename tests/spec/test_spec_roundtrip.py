"""Every spec field round-trips: compile -> JSON (and YAML) -> load -> equal.

Hypothesis generates whole pipelines: random wiring of typed components,
constants of every JSON kind, per-task options (pools, priorities, task
notifications and assets included), If/Elif/Else, ParallelFor with Collected,
ExitHandler, importers, nested pipelines and pipeline metadata (asset schedules
and max_active_tasks included).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import headwater
from headwater import (
    Asset,
    Collected,
    Dataset,
    Elif,
    Else,
    Email,
    ExitHandler,
    FinalStatus,
    If,
    Input,
    Metrics,
    Model,
    Output,
    ParallelFor,
    Slack,
    Webhook,
    component,
    importer,
    pipeline,
)
from headwater.spec import PipelineSpec, canonical_json, digest, dumps, loads


class Pair(NamedTuple):
    total: int
    label: str


@component
def make(n: int = 1, data: Output[Dataset] = None) -> int:  # type: ignore[assignment]
    return n


@component
def fit(data: Input[Dataset], model: Output[Model], rate: float = 0.1) -> float:
    return rate


@component
def score(model: Input[Model], metrics: Output[Metrics], weights: dict[str, float] = {}) -> Pair:  # noqa: B006
    return Pair(1, "a")


@component
def add(a: int, b: int = 0, tags: list[str] | None = None) -> int:
    return a + b


@component
def combine(values: list[int], models: Input[list[Model]] | None = None) -> int:
    return sum(values)


@component
def finish(status: FinalStatus, note: str = "") -> None:
    return None


@component(
    pool="io",
    pool_slots=2,
    priority=-1,
    assets={"report": Asset("reports://daily")},
    notify=[Slack("https://hooks.example.test/T2", on=["success", "retry"])],
)
def publish(model: Input[Model], report: Output[Dataset]) -> None:
    return None


@pipeline
def inner(x: int = 2, data: Input[Dataset] = None) -> Any:  # type: ignore[assignment]
    first = add(a=x)
    return add(a=first.output, b=x)


# Text a spec may hold: any Unicode but NUL, which PostgreSQL cannot store, and lone
# surrogates (both of which the validator refuses).
storable = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
json_scalars = st.one_of(
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(storable, max_size=12),
    st.booleans(),
)
json_values = st.recursive(
    st.one_of(st.none(), json_scalars),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(storable, max_size=6), inner, max_size=3),
    ),
    max_leaves=8,
)
durations = st.one_of(
    st.integers(1, 10_000),
    st.sampled_from(["90s", "5m", "1h30m", "2d"]),
    st.just(timedelta(minutes=3)),
)
asset_names = st.from_regex(r"[A-Za-z][A-Za-z0-9+.-]{0,6}://[^\s\x00]{1,24}", fullmatch=True)
assets = st.one_of(asset_names, asset_names.map(Asset))
task_notifications = st.lists(
    st.sampled_from(
        [
            Slack("https://hooks.example.test/T1", on=["success"], channel="#ml"),
            Email("ml@example.test", on=["failure", "retry"], subject="task"),
            Webhook("https://example.test/task", on=["retry"], headers={"X-Key": "k"}),
        ]
    ),
    max_size=2,
)
options = st.fixed_dictionaries(
    {},
    optional={
        "retries": st.integers(0, 5),
        "retry_delay": durations,
        "retry_backoff": st.one_of(st.booleans(), st.floats(1.0, 4.0)),
        "retry_max_delay": durations,
        "timeout": durations,
        "cache": st.booleans(),
        "cache_ttl": durations,
        "cpu": st.one_of(st.floats(0.1, 64), st.sampled_from(["500m", "2000m"])),
        "memory": st.one_of(st.integers(1, 2**40), st.sampled_from(["512Mi", "4G", "2GiB"])),
        "gpu": st.integers(0, 8),
        "accelerator": st.sampled_from(["nvidia-h100", "nvidia-l4"]),
        "env": st.dictionaries(
            st.from_regex(r"[A-Z_][A-Z0-9_]{0,6}", fullmatch=True),
            st.text(storable, max_size=5),
            max_size=2,
        ),
        "display_name": st.text(storable, max_size=10),
        "packages": st.lists(
            st.sampled_from(["numpy", "pandas>=2", "scikit-learn==1.5"]), max_size=2
        ),
        "image": st.sampled_from(["python:3.11-slim", "ghcr.io/acme/train:1"]),
        "trigger_rule": st.sampled_from(
            [
                "all_success",
                "all_done",
                "one_failed",
                "none_failed",
                "always",
                "all_failed",
                "one_done",
                "all_skipped",
                "none_failed_min_one_success",
                "all_done_min_one_success",
            ]
        ),
        "pool": st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True),
        "pool_slots": st.integers(1, 16),
        "priority": st.integers(-(2**31), 2**31),
        "notify": task_notifications,
    },
)


@st.composite
def asset_schedules(draw: st.DrawFn) -> Any:
    names = draw(st.lists(asset_names, min_size=1, max_size=3, unique=True))
    items = [Asset(n) if draw(st.booleans()) else n for n in names]
    first = Asset(names[0])
    form = draw(st.sampled_from(["one", "list", "all", "any"]))
    if form == "one":
        return first
    if form == "list":
        return items
    expr: Any = first
    for item in items[1:]:
        expr = expr & item if form == "all" else expr | item
    return expr


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "add",
                        "make_fit_score",
                        "if",
                        "loop",
                        "exit",
                        "nested",
                        "importer",
                        "publish",
                    ]
                ),
                json_values,
                options,
                st.integers(0, 100),
                st.one_of(st.none(), assets),
            ),
            min_size=1,
            max_size=6,
        )
    )
    meta = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "schedule": st.one_of(
                    st.sampled_from(
                        ["0 3 * * *", "@daily", "*/5 * * * 1-5", "@once", timedelta(hours=6)]
                    ),
                    asset_schedules(),
                ),
                "timezone": st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]),
                "start_date": st.datetimes(
                    datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)
                ),
                "catchup": st.booleans(),
                "max_active_runs": st.integers(1, 10),
                "max_active_tasks": st.integers(1, 10),
                "deadline": durations,
                "tags": st.lists(st.text("abcxyz-", min_size=1, max_size=5), max_size=3),
                "owner": st.text("abcdef", min_size=1, max_size=6),
                "notify": st.lists(
                    st.sampled_from(
                        [
                            Slack("https://hooks.example.test/T0", on=["failure", "retry"]),
                            Email(["ml@example.test"], on=["success"]),
                            Webhook("http://127.0.0.1:9/hook", on=["deadline_missed"]),
                        ]
                    ),
                    max_size=2,
                ),
                "cache": st.booleans(),
                "task_defaults": options,  # assets are per task: options never draws them
            },
        )
    )
    return {
        "steps": steps,
        "meta": meta,
        "name": draw(st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True)),
    }


def build(plan: dict[str, Any]) -> headwater.sdk.Pipeline:
    def body(n: int = 3, items: list[int] = [1, 2, 3], label: str = "x") -> None:  # noqa: B006
        last: Any = n
        previous: Any = None
        for kind, value, opts, number, asset in plan["steps"]:
            if kind == "add":
                last = add(a=last, b=number, tags=[str(value)]).set_options(**opts).output
            elif kind == "make_fit_score":
                made = make(n=number)
                fitted = fit(data=made.outputs["data"], rate=number / 7).set_options(**opts)
                if asset is not None:
                    fitted.updates_asset("model", asset)
                scored = score(model=fitted.outputs["model"], weights={"w": number / 3})
                last = scored.outputs["total"]
            elif kind == "if":
                with If((last > number) & (label != str(value))):
                    add(a=last).set_options(**opts)
                with Elif(label.is_in(["a", "b"])):
                    add(a=number)
                with Else():
                    add(a=n)
            elif kind == "loop":
                with ParallelFor(items, parallelism=(number % 4) + 1) as item:
                    made_in_loop = make(n=item)
                    if asset is not None:
                        made_in_loop.set_options(assets={"data": asset})
                    trained = fit(data=made_in_loop.outputs["data"]).set_options(**opts)
                    looped = add(a=item, b=number)
                combine(values=Collected(looped.output), models=Collected(trained.outputs["model"]))
            elif kind == "exit":
                done = finish(note=str(value)[:20])
                with ExitHandler(done):
                    guarded = add(a=last)
                    if previous is not None:
                        guarded.after(previous)
                previous = done
            elif kind == "publish":
                fitted = fit(data=make(n=number).outputs["data"])
                published = publish(model=fitted.outputs["model"]).set_options(**opts)
                if asset is not None:
                    published.updates_asset("report", asset)
            elif kind == "nested":
                last = inner(x=last, data=make(n=number).outputs["data"]).output
            else:
                importer(f"file:///data/{number}.csv", Dataset, metadata={"v": value})

    body.__name__ = plan["name"]
    return pipeline(name=plan["name"], **plan["meta"])(body)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_generated_pipelines_round_trip(plan: dict[str, Any]) -> None:
    spec = build(plan).compile()
    again = loads(dumps(spec))
    assert again == spec
    assert loads(dumps(spec, format="yaml")) == spec
    assert PipelineSpec.model_validate_json(again.model_dump_json()) == spec
    assert canonical_json(again) == canonical_json(spec)
    assert digest(again) == digest(spec)


@settings(max_examples=20, deadline=None)
@given(plans())
def test_compiling_twice_gives_the_same_digest(plan: dict[str, Any]) -> None:
    assert digest(build(plan).compile()) == digest(build(plan).compile())


def test_digest_is_sha256_of_canonical_json() -> None:
    import hashlib
    import json

    spec = build({"steps": [("make_fit_score", 1, {}, 3, None)], "meta": {}, "name": "p"}).compile()
    expected = hashlib.sha256(canonical_json(spec).encode()).hexdigest()
    assert digest(spec) == f"sha256:{expected}"
    text = canonical_json(spec)
    compact = json.dumps(
        json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert text == compact
    assert text.startswith('{"artifact_types":')
