"""Two tasks that wait for each other."""

from headwater import component, pipeline


@component
def step() -> None:
    pass


@pipeline
def broken_cycle() -> None:
    first = step()  # mark: first
    second = step()  # mark: second
    first.after(second)
    second.after(first)
