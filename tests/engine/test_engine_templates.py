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
    assert Workspace.open().store.runs.list_runs() == []


def test_a_runaway_template_is_stopped_and_the_next_one_renders() -> None:
    """Loops the sandbox cannot see (iterating a saved range) used to run for as long as
    they liked, in the server's own process."""
    import time

    from headwater._limits import configure, limits
    from headwater.errors import LimitError

    runaway = "{% set r = range(100000) %}{% for a in r %}{% for b in r %}{% endfor %}{% endfor %}"
    previous = configure(limits().replace(max_render_seconds=0.3))
    try:
        started = time.monotonic()
        with pytest.raises(LimitError) as info:
            render_value(runaway, CONTEXT, "parameter 'p'")
        assert time.monotonic() - started < 30  # stopped, not run to its end
        assert "parameter 'p'" in info.value.message
        assert "did not finish within 0.3 s" in info.value.message
        assert "HEADWATER_MAX_RENDER_SECONDS" in (info.value.hint or "")
        assert render_value("{{ ds }}", CONTEXT, "parameter 'p'") == "2026-03-29"
    finally:
        configure(previous)


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{{ 'x' * 10**10 }}", "more memory than a render may use"),
        ("{{ ('x' * 1000) * 1000 }}", "renders to more than 65,536 bytes"),
    ],
)
def test_a_template_that_needs_too_much_is_a_limit_error(template: str, says: str) -> None:
    from headwater.errors import LimitError

    with pytest.raises(LimitError, match=says):
        render_value(template, CONTEXT, "parameter 'p'")
    assert render_value("{{ run_id }}", CONTEXT, "parameter 'p'") == "r1"


def test_a_template_cannot_render_text_that_is_not_valid_unicode(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Jinja reads escapes in string literals: a template can make a lone surrogate."""
    import headwater
    from headwater import pipeline
    from headwater.engine import Workspace

    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))

    @pipeline
    def surrogate(text: str = "plain"):
        echo(text=text)

    with pytest.raises(ParameterError) as info:
        headwater.run(surrogate, text='{{ "\\udcff" }}')
    assert "parameter 'text', rendered from a template" in info.value.message
    assert "not valid Unicode" in info.value.message
    with pytest.raises(ParameterError, match="not valid Unicode"):
        headwater.run(surrogate, text="\udcff")
    assert Workspace.open().store.runs.list_runs() == []
