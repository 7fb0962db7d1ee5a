"""Reading spec documents: anything that is not a spec this version reads is a SpecError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from headwater.errors import SpecError
from headwater.sdk import load_pipeline
from headwater.spec import SCHEMA_VERSION, PipelineSpec, dumps, load, loads

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


@pytest.fixture(scope="module")
def good_spec() -> PipelineSpec:
    return load_pipeline(str(PIPELINES / "good.py")).compile()


@pytest.fixture
def good_data(good_spec: PipelineSpec) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(dumps(good_spec))
    return data


def spec_error(text: str, source: str = "run.json") -> SpecError:
    with pytest.raises(SpecError) as info:
        loads(text, source=source)
    return info.value


def test_good_document_loads_back_equal(good_spec: PipelineSpec, tmp_path: Path) -> None:
    assert loads(dumps(good_spec)) == good_spec
    assert loads(dumps(good_spec, format="yaml")) == good_spec
    path = tmp_path / "good.json"
    path.write_text(dumps(good_spec), encoding="utf-8")
    assert load(path) == good_spec


def test_text_that_is_neither_json_nor_yaml() -> None:
    error = spec_error('{"schema_version": "headwater.pipeline/v1", "name": [')
    assert str(error).startswith("run.json is neither JSON nor YAML")
    assert "headwater compile" in (error.hint or "")


def test_document_that_is_not_an_object() -> None:
    error = spec_error("[1, 2, 3]")
    assert "run.json does not hold a pipeline spec (expected a JSON object)" in str(error)


def test_plain_text_is_not_a_spec() -> None:
    error = spec_error("hello world")
    assert "run.json does not hold a pipeline spec" in str(error)


def test_wrong_schema_version(good_data: dict[str, Any]) -> None:
    good_data["schema_version"] = "headwater.pipeline/v0"
    error = spec_error(json.dumps(good_data))
    assert (
        f"run.json has schema_version 'headwater.pipeline/v0'; this Headwater reads "
        f"'{SCHEMA_VERSION}'" in str(error)
    )
    assert "recompile" in (error.hint or "")


def test_missing_schema_version(good_data: dict[str, Any]) -> None:
    del good_data["schema_version"]
    error = spec_error(json.dumps(good_data))
    assert "run.json has schema_version None" in str(error)


def test_missing_field(good_data: dict[str, Any]) -> None:
    del good_data["root"]
    error = spec_error(json.dumps(good_data))
    assert "run.json is not a valid pipeline spec" in str(error)
    assert "root: Field required" in str(error)
    assert error.hint


def test_field_of_the_wrong_type(good_data: dict[str, Any]) -> None:
    good_data["name"] = 42
    error = spec_error(json.dumps(good_data))
    assert "name: Input should be a valid string" in str(error)


def test_unknown_field_deep_inside(good_data: dict[str, Any]) -> None:
    good_data["root"]["implementation"]["dag"]["nodes"][0]["colour"] = "red"
    error = spec_error(json.dumps(good_data))
    assert "nodes.0" in str(error)
    assert "colour: Extra inputs are not permitted" in str(error)


def test_spec_error_from_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(SpecError) as info:
        load(path)
    assert f"cannot read spec file {path}" in str(info.value)


def test_unknown_output_format(good_spec: PipelineSpec) -> None:
    with pytest.raises(SpecError) as info:
        dumps(good_spec, format="xml")
    assert "unknown spec format 'xml'" in str(info.value)
