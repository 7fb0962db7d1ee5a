"""Pipelines for what warm workers preload (tests/engine/test_warm_worker.py).

``heavy`` calls a helper that imports ``warm_helper_dep`` (a library, outside this
folder) and ``warm_project_dep`` (beside it) inside a function, which no reading of a
component's body finds; its other component imports ``warm_body_dep`` in its own body.
``light`` lives in the same file and imports none. Each component returns which of the
modules its process already held when it started, that is, which its worker preloaded.
"""

from __future__ import annotations

import sys

from headwater import component, pipeline

WATCHED = ("warm_helper_dep", "warm_body_dep", "warm_project_dep")


def _held() -> list[str]:
    return [name for name in WATCHED if name in sys.modules]


@component
def through_helper(seed: int = 0) -> list[str]:
    held = _held()
    import warm_helper

    warm_helper.compute(seed)
    return held


@component
def in_body(seed: int = 0) -> list[str]:
    held = _held()
    import warm_body_dep

    warm_body_dep.touch(seed)
    return held


@component
def probe(seed: int = 0) -> list[str]:
    return _held()


@pipeline
def heavy(seed: int = 0):
    through_helper(seed=seed)
    in_body(seed=seed)


@pipeline
def light(seed: int = 0):
    probe(seed=seed)
