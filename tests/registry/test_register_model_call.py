"""``register_model`` inside a task: bad arguments raise at the call, in the task; what
it records names an output of the task, or the URI of an input."""

from __future__ import annotations

import pytest

from headwater import Dataset, Model, register_model
from headwater.sdk import clear_registrations, take_registrations


@pytest.fixture(autouse=True)
def _clean() -> None:
    clear_registrations()


@pytest.mark.parametrize(
    ("args", "kwargs", "kind", "text"),
    [
        ((Dataset(name="d"), "churn"), {}, TypeError, "registers a Model artifact"),
        (("a path", "churn"), {}, TypeError, "not str"),
        ((Model(name="m"), "bad name"), {}, ValueError, "model name 'bad name' is not valid"),
        ((Model(name="m"), "churn"), {"aliases": "champion"}, TypeError, "list of names"),
        ((Model(name="m"), "churn"), {"aliases": ["latest"]}, ValueError, "reserved"),
        ((Model(name="m"), "churn"), {"aliases": ["a b"]}, ValueError, "alias 'a b'"),
        ((Model(name="m"), "churn"), {"tags": {"k": 1}}, ValueError, "tag 'k' must be text"),
        ((Model(name="m"), "churn"), {"description": 3}, TypeError, "description"),
    ],
)
def test_bad_arguments_raise_at_the_call(
    args: tuple[object, ...], kwargs: dict[str, object], kind: type[Exception], text: str
) -> None:
    with pytest.raises(kind, match=None) as caught:
        register_model(*args, **kwargs)  # type: ignore[arg-type]
    assert text in str(caught.value)
    assert take_registrations({}) == []


def test_a_call_names_an_output_or_an_inputs_uri() -> None:
    out = Model(name="model", uri="/staging/model")
    read = Model(name="champion", uri="/artifacts/run/train/model-1")
    register_model(out, "churn", aliases=["challenger"], tags={"c": "1"}, description="d")
    register_model(read, "churn-prod")
    assert take_registrations({"model": out}) == [
        {
            "name": "churn",
            "aliases": ["challenger"],
            "tags": {"c": "1"},
            "description": "d",
            "output": "model",
            "uri": None,
        },
        {
            "name": "churn-prod",
            "aliases": [],
            "tags": {},
            "description": None,
            "output": None,
            "uri": "/artifacts/run/train/model-1",
        },
    ]
    assert take_registrations({"model": out}) == []  # taken once
