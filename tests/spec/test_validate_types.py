"""Type rules between tasks: artifacts by schema_title lineage, parameters by kind."""

from __future__ import annotations

from markers import assert_location, compile_error, line_of, only_problem

from headwater import Artifact, Dataset, Input, Model, Output, ParallelFor, component, pipeline
from headwater.spec import PipelineSpec, TaskOutputBinding, TaskSpec

HERE = __file__


class Images(Dataset):
    schema_title = "tests.types.Images"


@component
def make_dataset(data: Output[Dataset]) -> None:
    pass


@component
def make_images(images: Output[Images]) -> None:
    pass


@component
def use_model(model: Input[Model]) -> None:
    pass


@component
def use_dataset(data: Input[Dataset]) -> None:
    pass


@component
def use_anything(thing: Input[Artifact]) -> None:
    pass


@component
def word() -> str:
    return "seven"


@component
def number() -> int:
    return 7


@component
def maybe_number() -> int | None:
    return None


@component
def needs_int(n: int) -> int:
    return n


@component
def needs_float(x: float) -> float:
    return x


def tasks(spec: PipelineSpec) -> dict[str, TaskSpec]:
    return {n.name: n for n in spec.dag.nodes if isinstance(n, TaskSpec)}


# --------------------------------------------------------------------------- artifacts


def test_dataset_into_model_input_is_rejected() -> None:
    @pipeline
    def wrong_artifact() -> None:
        data = make_dataset()
        use_model(model=data.outputs["data"])  # mark: dataset-into-model

    problem = only_problem(compile_error(wrong_artifact), "type_mismatch")
    assert_location(
        problem,
        pipeline="wrong_artifact",
        task="use_model",
        file=HERE,
        line=line_of("dataset-into-model", HERE),
    )
    assert "input 'model' expects headwater.Model" in problem.message
    assert "headwater.Dataset" in problem.message


def test_artifact_input_given_a_constant_is_rejected() -> None:
    @pipeline
    def constant_artifact() -> None:
        use_dataset(data="s3://bucket/file.csv")  # mark: constant-artifact

    problem = only_problem(compile_error(constant_artifact), "type_mismatch")
    assert_location(
        problem,
        pipeline="constant_artifact",
        task="use_dataset",
        file=HERE,
        line=line_of("constant-artifact", HERE),
    )
    assert "'s3://bucket/file.csv'" in problem.message
    assert "importer" in (problem.hint or "")


def test_subclass_with_its_own_schema_title_fits_its_base() -> None:
    @pipeline
    def subclass_ok() -> None:
        images = make_images()
        use_dataset(data=images.outputs["images"])

    spec = subclass_ok.compile()
    assert tasks(spec)["use_dataset"].inputs["data"] == TaskOutputBinding(
        kind="task_output", task="make_images", output="images"
    )
    assert spec.artifact_types["tests.types.Images"].bases == [
        "headwater.Dataset",
        "headwater.Artifact",
    ]


def test_base_does_not_fit_a_subclass_input() -> None:
    @component
    def use_images(images: Input[Images]) -> None:
        pass

    @pipeline
    def base_into_subclass() -> None:
        data = make_dataset()
        use_images(images=data.outputs["data"])  # mark: base-into-subclass

    problem = only_problem(compile_error(base_into_subclass), "type_mismatch")
    assert_location(
        problem,
        pipeline="base_into_subclass",
        task="use_images",
        file=HERE,
        line=line_of("base-into-subclass", HERE),
    )
    assert "tests.types.Images" in problem.message


def test_input_artifact_accepts_any_artifact() -> None:
    @pipeline
    def anything_goes() -> None:
        use_anything(thing=make_dataset().outputs["data"])
        use_anything(thing=make_images().outputs["images"])

    spec = anything_goes.compile()
    assert set(tasks(spec)) == {"use_anything", "use_anything-2", "make_dataset", "make_images"}


def test_parameter_into_artifact_input_is_rejected() -> None:
    @pipeline
    def param_into_artifact() -> None:
        use_dataset(data=number().output)  # mark: param-into-artifact

    problem = only_problem(compile_error(param_into_artifact), "type_mismatch")
    assert_location(
        problem,
        pipeline="param_into_artifact",
        task="use_dataset",
        file=HERE,
        line=line_of("param-into-artifact", HERE),
    )
    assert "input 'data' expects headwater.Dataset but is given int" in problem.message


# --------------------------------------------------------------------------- parameters


def test_constant_str_into_int_input_is_rejected() -> None:
    @pipeline
    def constant_str() -> None:
        needs_int(n="seven")  # mark: constant-str

    problem = only_problem(compile_error(constant_str), "type_mismatch")
    assert_location(
        problem,
        pipeline="constant_str",
        task="needs_int",
        file=HERE,
        line=line_of("constant-str", HERE),
    )
    assert "input 'n'" in problem.message
    assert "'seven'" in problem.message and "int" in problem.message


def test_upstream_str_into_int_input_is_rejected() -> None:
    @pipeline
    def upstream_str() -> None:
        w = word()
        needs_int(n=w.output)  # mark: upstream-str

    problem = only_problem(compile_error(upstream_str), "type_mismatch")
    assert_location(
        problem,
        pipeline="upstream_str",
        task="needs_int",
        file=HERE,
        line=line_of("upstream-str", HERE),
    )
    assert "input 'n' expects int but is given str" in problem.message


def test_str_pipeline_parameter_into_int_input_is_rejected() -> None:
    @pipeline
    def param_str(label: str = "x") -> None:
        needs_int(n=label)  # mark: param-str

    problem = only_problem(compile_error(param_str), "type_mismatch")
    assert_location(
        problem, pipeline="param_str", task="needs_int", file=HERE, line=line_of("param-str", HERE)
    )
    assert "expects int but is given str" in problem.message


def test_str_loop_items_into_int_input_are_rejected() -> None:
    @pipeline
    def loop_str() -> None:
        with ParallelFor(["a", "b"]) as item:
            needs_int(n=item)  # mark: loop-str

    problem = only_problem(compile_error(loop_str), "type_mismatch")
    assert_location(
        problem, pipeline="loop_str", task="needs_int", file=HERE, line=line_of("loop-str", HERE)
    )


def test_int_into_float_is_accepted() -> None:
    @pipeline
    def widening(k: int = 3) -> None:
        needs_float(x=number().output)
        needs_float(x=2)
        needs_float(x=k)

    spec = widening.compile()
    assert set(tasks(spec)) == {"number", "needs_float", "needs_float-2", "needs_float-3"}


def test_float_into_int_is_rejected() -> None:
    @pipeline
    def narrowing() -> None:
        needs_int(n=2.5)  # mark: narrowing

    problem = only_problem(compile_error(narrowing), "type_mismatch")
    assert_location(
        problem, pipeline="narrowing", task="needs_int", file=HERE, line=line_of("narrowing", HERE)
    )
    assert "2.5" in problem.message


def test_optional_source_into_required_input_is_rejected() -> None:
    @pipeline
    def optional_source() -> None:
        m = maybe_number()
        needs_int(n=m.output)  # mark: optional-source

    problem = only_problem(compile_error(optional_source), "type_mismatch")
    assert_location(
        problem,
        pipeline="optional_source",
        task="needs_int",
        file=HERE,
        line=line_of("optional-source", HERE),
    )
    assert "Optional[int]" in problem.message


def test_none_constant_into_required_input_is_rejected() -> None:
    @pipeline
    def none_constant() -> None:
        needs_int(n=None)  # mark: none-constant

    problem = only_problem(compile_error(none_constant), "type_mismatch")
    assert_location(
        problem,
        pipeline="none_constant",
        task="needs_int",
        file=HERE,
        line=line_of("none-constant", HERE),
    )
    assert "None" in problem.message


def test_optional_source_into_optional_input_is_accepted() -> None:
    @component
    def maybe_int(n: int | None = None) -> None:
        pass

    @pipeline
    def optional_ok() -> None:
        maybe_int(n=maybe_number().output)
        maybe_int(n=number().output)

    assert "maybe_int-2" in tasks(optional_ok.compile())
