"""``packages=`` and ``requirements=``: requirements files read at compile time relative to
the file that names them, lines that point at this machine refused with the component
and the line named, and a pipeline-level default."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from headwater import component, pipeline
from headwater.errors import DefinitionError


def _load(folder: Path, source: str) -> object:
    """Import ``source`` as a module of its own in ``folder`` (requirements files beside it)."""
    import importlib.util

    name = f"reqs_{abs(hash(source))}"
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_a_requirements_file_is_read_relative_to_the_file_that_names_it(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "train.txt").write_text(
        "# pinned for training\npandas>=2.1  # data\n\nscikit-learn \\\n  ==1.5.2\n"
    )
    module = _load(
        tmp_path,
        """
        from headwater import component, pipeline

        @component(requirements="reqs/train.txt", packages=["tabulate"])
        def train() -> None: ...

        @pipeline
        def flow():
            train()
        """,
    )
    spec = module.flow.compile()  # type: ignore[attr-defined]
    assert spec.components["train"].options.packages == [
        "tabulate",
        "pandas>=2.1",
        "scikit-learn ==1.5.2",
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("-e ./mylib", "editable install"),
        ("--index-url https://example.org/simple", "--index-url"),
        ("./wheels/mylib-1.0-py3-none-any.whl", "local path"),
        ("mylib @ file:///srv/mylib", "local path"),
        ("pandas==2.2 --hash=sha256:abc", "--hash"),
    ],
)
def test_a_requirements_line_that_points_at_this_machine_is_refused_naming_it(
    tmp_path: Path, line: str, why: str
) -> None:
    (tmp_path / "requirements.txt").write_text(f"numpy\n{line}\n")
    with pytest.raises(DefinitionError) as info:
        _load(
            tmp_path,
            """
            from headwater import component

            @component(requirements="requirements.txt")
            def prepare() -> None: ...
            """,
        )
    message = str(info.value)
    assert "component 'prepare'" in message
    assert "requirements.txt', line 2" in message
    assert why in message


def test_a_missing_requirements_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"cannot read requirements file 'nope\.txt'"):
        _load(
            tmp_path,
            """
            from headwater import component

            @component(requirements="nope.txt")
            def prepare() -> None: ...
            """,
        )


def test_a_packages_entry_that_is_a_local_path_is_refused() -> None:
    with pytest.raises(DefinitionError, match=r"packages entry '\./lib' is a local path"):

        @component(packages=["./lib"])
        def local() -> None: ...


def test_a_pipeline_default_reaches_every_task_that_sets_none_of_its_own() -> None:
    @component
    def plain() -> None: ...

    @component(packages=["six==1.16.0"])
    def pinned() -> None: ...

    @pipeline(packages=["six==1.17.0"])
    def flow() -> None:
        plain()
        pinned()

    spec = flow.compile()
    assert spec.task_defaults.packages == ["six==1.17.0"]
    options = {
        name: spec.task_defaults.overlay(c.options).packages for name, c in spec.components.items()
    }
    assert options == {"plain": ["six==1.17.0"], "pinned": ["six==1.16.0"]}


def test_packages_on_the_pipeline_and_in_its_task_defaults_at_once_is_refused() -> None:
    with pytest.raises(DefinitionError, match="both on @pipeline and in its task_defaults"):

        @pipeline(packages=["six"], task_defaults={"packages": ["tabulate"]})
        def flow() -> None: ...
