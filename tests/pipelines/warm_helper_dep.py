"""Stands for a heavy library imported inside a helper function (tests/pipelines/warm_flow.py)."""


def square(x: int) -> int:
    return x * x
