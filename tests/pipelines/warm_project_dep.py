"""A module of the project (beside the pipeline) imported inside a helper function: its
import may have effects each task needs, so warm workers never learn to preload it."""


def identity(x: int) -> int:
    return x
