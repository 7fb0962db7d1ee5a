"""One pipeline with four unrelated mistakes, all reported together."""

from headwater import Dataset, Input, Model, Output, component, pipeline


@component
def count(n: int) -> int:
    return n


@component
def make_data(data: Output[Dataset]) -> None:
    pass


@component
def use_model(model: Input[Model]) -> None:
    pass


@pipeline(schedule="61 * * * *")  # mark: pipeline
def broken_many() -> None:
    count(n="three")  # mark: constant
    count()  # mark: missing
    data = make_data()
    use_model(model=data.outputs["data"])  # mark: artifact
