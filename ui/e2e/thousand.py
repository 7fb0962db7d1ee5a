"""A generated pipeline of 1,000 tasks (a tree, fan-out 3), for the UI's scale test."""

from headwater import component, pipeline


@component
def step(x: int) -> int:
    return x + 1


@pipeline(tags=["scale"])
def thousand() -> None:
    tasks = [step(x=0)]
    while len(tasks) < 1000:
        parent = tasks[(len(tasks) - 1) // 3]
        tasks.append(step(x=parent.output))
