"""Parameter templates: rendered in a sandbox, strict about names, safe from escapes."""

from __future__ import annotations

import pytest

from headwater import component
from headwater.engine._templates import is_template, render_parameters, render_value
from headwater.errors import ParameterError


@component
def echo(text: str) -> str:
    return text


CONTEXT = {"ds": "2026-03-29", "ds_nodash": "20260329", "run_id": "r1"}


def test_templates_render_and_plain_values_pass_through() -> None:
    values = {
        "path": "s3://bucket/{{ ds_nodash }}/data.parquet",
        "n": 5,
        "names": ["a-{{ ds }}", "b"],
        "nested": {"when": "{{ ds }}"},
        "plain": "no braces here",
    }
    out = render_parameters(values, CONTEXT)
    assert out == {
        "path": "s3://bucket/20260329/data.parquet",
        "n": 5,
        "names": ["a-2026-03-29", "b"],
        "nested": {"when": "2026-03-29"},
        "plain": "no braces here",
    }
    assert (
        not is_template(5) and not is_template("{ not }") and is_template("{% if x %}{% endif %}")
    )


def test_templates_see_the_other_parameters_as_params() -> None:
    out = render_parameters(
        {"table": "sales", "query": "select * from {{ params.table }}"}, CONTEXT
    )
    assert out["query"] == "select * from sales"


def test_an_unknown_name_is_an_error_naming_the_parameter() -> None:
    with pytest.raises(ParameterError) as info:
        render_parameters({"path": "{{ dss }}/x"}, CONTEXT)
    assert "parameter 'path'" in info.value.message
    assert "'dss' is undefined" in info.value.message
    assert "ds_nodash" in (info.value.hint or "")


def test_a_syntax_error_is_an_error() -> None:
    with pytest.raises(ParameterError, match="cannot render the template"):
        render_value("{{ ds ", CONTEXT, "parameter 'p'")


@pytest.mark.parametrize(
    "attack",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ run_id.__class__.__base__.__subclasses__() }}",
        "{{ run_id.format.__globals__ }}",
        "{{ ds.__init__.__globals__['os'].popen('id').read() }}",
    ],
)
def test_a_template_cannot_reach_python_internals(attack: str) -> None:
    with pytest.raises(ParameterError) as info:
        render_value(attack, CONTEXT, "parameter 'p'")
    assert "parameter 'p'" in info.value.message
    assert "tried something templates may not do" in info.value.message
    assert "is unsafe" in info.value.message


def test_runs_store_rendered_parameters(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    import headwater
    from headwater import pipeline

    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))

    @pipeline
    def dated(
        day: str = "{{ ds }}",
        region: str = "eu",
        target: str = "out/{{ params.region }}/{{ ds_nodash }}/{{ run_id }}.csv",
    ):
        echo(text=target)

    run = headwater.run(dated)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert run.record.parameters["day"] == today
    nodash = today.replace("-", "")
    assert run.record.parameters["target"] == f"out/eu/{nodash}/{run.id}.csv"
    assert run.outputs("echo")["output"] == run.record.parameters["target"]


def test_cli_template_error_creates_no_run(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    from pathlib import Path

    from headwater.engine import Workspace

    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    (tmp_path / "templated_pipeline.py").write_text(
        "from headwater import component, pipeline\n\n\n"
        "@component\ndef echo(text: str) -> str:\n    return text\n\n\n"
        "@pipeline\ndef templated(path: str = 'x'):\n    echo(text=path)\n"
    )
    cli = str(Path(sys.executable).with_name("headwater"))
    bad = subprocess.run(
        [cli, "run", "templated_pipeline.py", "-p", "path={{ nope }}/x"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "parameter 'path'" in bad.stderr and "'nope' is undefined" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert Workspace.open().store.list_runs() == []
