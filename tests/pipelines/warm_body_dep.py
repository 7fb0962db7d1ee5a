"""Stands for a library a component imports in its body (tests/pipelines/warm_flow.py)."""


def touch(x: int) -> int:
    return x
