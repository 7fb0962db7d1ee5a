"""secrets=, connections= and variables= on components and tasks: names only, checked
when the component is written (with its file and line) and again in spec documents."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
from test_validate_pools_assets import COMPONENT_LINE, TASK_LINE, assert_at, document, only_problem

import headwater
from headwater.errors import ComponentDefinitionError
from headwater.sdk import REF_NAME_HINT, secret_env
from headwater.sdk._secrets import REF_NAME_RE as SDK_RE
from headwater.spec import dumps, from_data, validate
from headwater.spec._validate._common import REF_NAME_RE as SPEC_RE


def test_the_sdk_and_the_spec_share_the_name_rule() -> None:
    assert SDK_RE.pattern == SPEC_RE.pattern


def test_names_round_trip_in_the_spec_and_only_names() -> None:
    data = document(
        component_options={"secrets": ["api_token"], "connections": ["warehouse"]},
        task_options={"variables": ["limits"]},
    )
    spec = from_data(data)
    validate(spec)
    assert from_data(json.loads(dumps(spec))) == spec


@pytest.mark.parametrize("key", ["secrets", "connections", "variables"])
@pytest.mark.parametrize("name", ["has space", "a-b", "a__b", "_x", "x" * 65])
def test_a_bad_name_in_a_document_names_the_task_and_line(key: str, name: str) -> None:
    problem = only_problem(document(task_options={key: [name]}), "invalid_name")
    assert_at(problem, task="train", line=TASK_LINE)
    assert problem.message == f"invalid name {name!r} in {key}"


def test_a_bad_name_on_a_component_in_a_document() -> None:
    problem = only_problem(document(component_options={"secrets": ["a b"]}), "invalid_name")
    assert_at(problem, task=None, line=COMPONENT_LINE)


def test_a_bad_name_is_refused_where_the_component_is_written() -> None:
    with pytest.raises(ComponentDefinitionError) as info:

        @headwater.component(secrets=["warehouse password"])
        def load() -> None: ...

    line = inspect.currentframe().f_lineno - 3  # type: ignore[union-attr]

    err = info.value
    assert "component 'load': secrets: name 'warehouse password' is not valid" in err.message
    assert err.hint == REF_NAME_HINT
    assert err.location is not None and err.location.file is not None
    assert Path(err.location.file).name == Path(__file__).name
    assert err.location.line == line


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("api_token", "secrets must be a list of names, got 'api_token'"),
        (["a", "A"], "secrets names 'A' twice"),
        ([1], "secrets: a name must be a str, got int"),
    ],
)
def test_other_bad_values_are_refused_with_a_fix(value: object, message: str) -> None:
    with pytest.raises(ComponentDefinitionError) as info:

        @headwater.component(secrets=value)
        def load() -> None: ...

    assert message in info.value.message
    assert info.value.hint


def test_env_names_are_the_upper_case_name() -> None:
    assert secret_env("warehouse_password") == "HEADWATER_SECRET_WAREHOUSE_PASSWORD"
    assert re.fullmatch(SPEC_RE, "warehouse_password")


def test_reading_an_undeclared_secret_in_a_task_says_how_to_declare_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HEADWATER_SECRET_NOPE", raising=False)
    with pytest.raises(headwater.errors.NotFound) as info:
        headwater.secret("nope")
    assert "@component(secrets=['nope'])" in (info.value.hint or "")
