"""Code digests: editing one component's body changes its digest and no other."""

from __future__ import annotations

import itertools
from pathlib import Path

from headwater.sdk import load_module

_counter = itertools.count()

SOURCE = """
from headwater import component, Dataset, Input, Output

SCALE = 3


def shared(x):
    return x + 1


def only_for_a(x):
    return x * 2


@component(retries=1)
def comp_a(x: int) -> int:
    # a comment
    return only_for_a(shared(x))


@component
def comp_b(data: Input[Dataset], out: Output[Dataset], x: int = 1) -> int:
    return shared(x) * SCALE


@component
def comp_c(x: int) -> int:
    return x
"""


def digests(tmp_path: Path, source: str) -> dict[str, str]:
    path = tmp_path / f"digest_mod_{next(_counter)}.py"
    path.write_text(source)
    module = load_module(path)
    return {name: getattr(module, name).code_digest() for name in ("comp_a", "comp_b", "comp_c")}


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def test_same_source_gives_same_digests_in_any_file(tmp_path: Path) -> None:
    first, second = digests(tmp_path, SOURCE), digests(tmp_path, SOURCE)
    assert first == second
    assert len(set(first.values())) == 3
    assert all(d.startswith("sha256:") and len(d) == 7 + 64 for d in first.values())


def test_editing_one_body_changes_only_that_component(tmp_path: Path) -> None:
    before = digests(tmp_path, SOURCE)
    after = digests(tmp_path, SOURCE.replace("return x\n", "return x + 0\n"))
    assert changed(before, after) == {"comp_c"}


def test_editing_a_helper_changes_the_components_that_use_it(tmp_path: Path) -> None:
    before = digests(tmp_path, SOURCE)
    only_a = digests(tmp_path, SOURCE.replace("return x * 2", "return x * 4"))
    assert changed(before, only_a) == {"comp_a"}
    both = digests(tmp_path, SOURCE.replace("return x + 1", "return x + 2"))
    assert changed(before, both) == {"comp_a", "comp_b"}


def test_module_constants_are_covered(tmp_path: Path) -> None:
    before = digests(tmp_path, SOURCE)
    after = digests(tmp_path, SOURCE.replace("SCALE = 3", "SCALE = 4"))
    assert changed(before, after) == {"comp_b"}


def test_comments_formatting_and_options_do_not_change_digests(tmp_path: Path) -> None:
    before = digests(tmp_path, SOURCE)
    edited = (
        SOURCE.replace("# a comment", "# another comment, longer")
        .replace("@component(retries=1)", "@component(retries=5, timeout='1h')")
        .replace("return shared(x) * SCALE", "return shared( x )*SCALE")
    )
    assert changed(before, digests(tmp_path, edited)) == set()


def test_signature_changes_are_covered(tmp_path: Path) -> None:
    before = digests(tmp_path, SOURCE)
    after = digests(tmp_path, SOURCE.replace("x: int = 1", "x: int = 2"))
    assert changed(before, after) == {"comp_b"}


def test_compiled_spec_records_the_digest(tmp_path: Path) -> None:
    source = (
        SOURCE
        + """

from headwater import pipeline


@pipeline
def p(x: int = 1):
    comp_c(x=comp_a(x=x).output)
"""
    )
    path = tmp_path / f"digest_mod_{next(_counter)}.py"
    path.write_text(source)
    module = load_module(path)
    spec = module.p.compile()
    impl = spec.components["comp_a"].implementation
    assert impl.type == "python"
    assert impl.code_digest == module.comp_a.code_digest()
    assert impl.module == path.stem
    assert impl.function == "comp_a"
