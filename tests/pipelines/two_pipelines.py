"""Two pipelines in one file: the CLI needs FILE:NAME to pick one."""

from headwater import component, pipeline


@component
def hello(name: str = "world") -> str:
    return f"hello {name}"


@pipeline
def morning() -> None:
    hello(name="morning")


@pipeline(schedule="@daily")
def evening(name: str = "evening") -> None:
    hello(name=name)
