# ruff: noqa  (kfp reads these annotations: typing.List, NamedTuple calls and mutable defaults are how kfp pipelines are written)
"""Kubeflow pipelines written with the real kfp SDK: the corpus Headwater must run as
``kfp.local`` does. Imported only by the kfp peer (``tests/peers/kfp_peer.py``), in the
kfp peer environment; never by the project's own tests.

``CORPUS`` maps a name to (pipeline, arguments, whether the run succeeds, whether
``kfp.local`` can run it: its subprocess runner runs no container components, and there is
no Docker here, so those are checked against known outputs instead).
"""

from typing import Dict, List, NamedTuple, Optional

from kfp import dsl
from kfp.dsl import (
    HTML,
    Artifact,
    ClassificationMetrics,
    Dataset,
    Input,
    InputPath,
    Markdown,
    Metrics,
    Model,
    Output,
    OutputPath,
)

IMAGE = "python:3.11"

# --------------------------------------------------------------------------- parameters


@dsl.component(base_image=IMAGE)
def every_type(
    i: int,
    f: float,
    s: str,
    b: bool,
    xs: List[int],
    d: Dict[str, float],
    maybe: Optional[str] = None,
    dflt: int = 7,
) -> NamedTuple(
    "Typed",
    [("i", int), ("f", float), ("s", str), ("b", bool), ("xs", list), ("d", dict), ("text", str)],
):
    from collections import namedtuple

    text = f"{i!r} {f!r} {s!r} {b!r} {xs!r} {sorted(d.items())!r} {maybe!r} {dflt!r}"
    out = namedtuple("Typed", ["i", "f", "s", "b", "xs", "d", "text"])
    return out(i * 2, f / 2, s.upper(), not b, xs + [len(xs)], {**d, "n": len(d)}, text)


@dsl.component(base_image=IMAGE)
def describe(value: list, more: dict, flag: bool) -> str:
    return f"{value!r} {sorted(more.items())!r} {flag!r}"


@dsl.component(base_image=IMAGE)
def halve(x: float) -> float:
    return x / 2


@dsl.pipeline(name="params")
def params(
    i: int = 3,
    f: float = 1.5,
    s: str = "héllo",
    b: bool = True,
    xs: list = [1, 2],
    d: dict = {"a": 1.5},
):
    t = every_type(i=i, f=f, s=s, b=b, xs=xs, d=d)
    describe(value=t.outputs["xs"], more=t.outputs["d"], flag=t.outputs["b"])
    halve(x=t.outputs["f"])
    every_type(i=0, f=0.0, s="", b=False, xs=[], d={}, maybe="set", dflt=-1)


# --------------------------------------------------------------------------- artifacts


@dsl.component(base_image=IMAGE)
def produce(
    rows: int,
    data: Output[Dataset],
    model: Output[Model],
    scores: Output[Metrics],
    classes: Output[ClassificationMetrics],
    page: Output[HTML],
    notes: Output[Markdown],
    blob: Output[Artifact],
) -> str:
    with open(data.path, "w") as fh:
        fh.write("\n".join(f"{n},{n * n}" for n in range(rows)))
    data.metadata["rows"] = rows
    with open(model.path, "w") as fh:
        fh.write("weights")
    model.framework = "sklearn"
    model.metadata["version"] = 2
    scores.log_metric("accuracy", 0.9)
    scores.log_metric("loss", 0.25)
    classes.log_roc_curve(fpr=[0.0, 0.5, 1.0], tpr=[0.0, 0.8, 1.0], threshold=[1.0, 0.5, 0.0])
    classes.log_confusion_matrix(["cat", "dog"], [[3, 1], [0, 4]])
    with open(page.path, "w") as fh:
        fh.write("<h1>report</h1>")
    with open(notes.path, "w") as fh:
        fh.write("# notes")
    blob.metadata["kind"] = "empty"
    return data.path.rsplit("/", 1)[-1]


@dsl.component(base_image=IMAGE)
def consume(
    data: Input[Dataset],
    model: Input[Model],
    path_in: InputPath("Dataset"),
    count: OutputPath(str),
    copy: OutputPath("Dataset"),
) -> str:
    with open(data.path) as fh:
        lines = fh.read().splitlines()
    with open(path_in) as fh:
        same = fh.read().splitlines() == lines
    with open(count, "w") as fh:
        fh.write(str(len(lines)))
    with open(copy, "w") as fh:
        fh.write(lines[-1])
    return f"{len(lines)} {same} {data.metadata['rows']} {model.metadata['framework']} {model.metadata['version']}"


@dsl.component(base_image=IMAGE)
def grow(text: str, out: Output[Dataset]):
    with open(out.path, "w") as fh:
        fh.write(text * 2)
    out.metadata["length"] = len(text) * 2


@dsl.component(base_image=IMAGE)
def join_all(parts: Input[List[Dataset]]) -> str:
    return "|".join(open(p.path).read() for p in parts)


@dsl.pipeline(name="artifacts")
def artifacts(rows: int = 4):
    p = produce(rows=rows)
    consume(data=p.outputs["data"], model=p.outputs["model"], path_in=p.outputs["data"])
    with dsl.ParallelFor(["a", "bc"]) as text:
        g = grow(text=text)
    join_all(parts=dsl.Collected(g.outputs["out"]))


# --------------------------------------------------------------------------- control flow


@dsl.component(base_image=IMAGE)
def pick(n: int) -> int:
    return n * 3


@dsl.component(base_image=IMAGE)
def word(n: int) -> str:
    return ["zero", "one", "two"][n % 3]


@dsl.component(base_image=IMAGE)
def mark(label: str, n: int) -> str:
    return f"{label}:{n}"


@dsl.pipeline(name="branches")
def branches(n: int = 4):
    v = pick(n=n)
    w = word(n=n)
    with dsl.If(v.output > 10):
        mark(label="high", n=v.output)
    with dsl.Elif(v.output > 5):
        mark(label="mid", n=v.output)
    with dsl.Else():
        mark(label="low", n=v.output)
    with dsl.If(w.output == "one"):
        mark(label=w.output, n=1)
    with dsl.If(w.output != "one"):
        mark(label="not-one", n=0)
    with dsl.If(n >= 4):
        mark(label="param", n=n)


# --------------------------------------------------------------------------- loops


@dsl.component(base_image=IMAGE)
def rows() -> List[Dict[str, int]]:
    return [{"a": 1, "b": 10}, {"a": 2, "b": 20}, {"a": 3, "b": 30}]


@dsl.component(base_image=IMAGE)
def square(x: int) -> int:
    return x * x


@dsl.component(base_image=IMAGE)
def add(a: int, b: int) -> int:
    return a + b


@dsl.component(base_image=IMAGE)
def total(xs: List[int]) -> int:
    return int(sum(xs))


@dsl.pipeline(name="loops")
def loops(items: list = [5, 6]):
    r = rows()
    with dsl.ParallelFor(r.output, parallelism=2) as row:
        a = add(a=row.a, b=row.b)
    total(xs=dsl.Collected(a.output))
    with dsl.ParallelFor([1, 2, 3], parallelism=1) as x:
        s = square(x=x)
    total(xs=dsl.Collected(s.output))
    with dsl.ParallelFor(items) as item:
        square(x=item)


# --------------------------------------------------------------------------- exit handlers


@dsl.component(base_image=IMAGE)
def work(fail: bool) -> str:
    if fail:
        raise RuntimeError("asked to fail")
    return "done"


@dsl.component(base_image=IMAGE)
def report(status: dsl.PipelineTaskFinalStatus) -> str:
    return status.state


@dsl.pipeline(name="exit-ok")
def exit_ok():
    r = report()
    with dsl.ExitHandler(r):
        w = work(fail=False)
        mark(label=w.output, n=1)


@dsl.pipeline(name="exit-fail")
def exit_fail():
    r = report()
    with dsl.ExitHandler(r):
        work(fail=True).set_retry(num_retries=1, backoff_duration="0s")
        work(fail=False)


# --------------------------------------------------------------------------- nested pipelines


@dsl.component(base_image=IMAGE)
def consume_one(data: Input[Dataset]) -> str:
    return open(data.path).read() + str(data.metadata["length"])


@dsl.pipeline(name="inner")
def inner(x: int) -> NamedTuple("InnerOut", [("sq", int), ("data", Dataset)]):
    s = square(x=x)
    g = grow(text=word(n=x).output)
    from collections import namedtuple

    return namedtuple("InnerOut", ["sq", "data"])(s.output, g.outputs["out"])


@dsl.pipeline(name="nested")
def nested(x: int = 2):
    i = inner(x=x)
    add(a=i.outputs["sq"], b=x)
    consume_one(data=i.outputs["data"])


# --------------------------------------------------------------------------- importer, options, containers


@dsl.component(base_image=IMAGE)
def env_and_more(name: str) -> str:
    import os

    return f"{name}={os.environ.get(name, '')}"


@dsl.component(base_image=IMAGE, packages_to_install=["PyYAML"])
def with_package(text: str) -> str:
    import yaml

    return yaml.safe_dump({"text": text}).strip()


@dsl.container_component
def shell(text: str, out: dsl.OutputPath(str), data: Output[Dataset]):
    return dsl.ContainerSpec(
        image="alpine:3",
        command=["sh", "-c", 'printf "%s!" "$0" > "$1" && printf "%s" "$0$0" > "$2"'],
        args=[text, out, data.path],
    )


@dsl.component(base_image=IMAGE)
def consume_one_text(data: Input[Dataset]) -> str:
    return open(data.path).read().strip() + " " + str(sorted(data.metadata.items()))


@dsl.pipeline(name="options")
def options(uri: str = "", text: str = "abc"):
    imp = dsl.importer(artifact_uri=uri, artifact_class=Dataset, metadata={"source": "given"})
    consume_one_text(data=imp.output)
    e = env_and_more(name="GREETING").set_env_variable("GREETING", "hi").set_display_name("Env")
    e.set_caching_options(False)
    e.set_cpu_limit("1").set_memory_limit("512M").set_retry(num_retries=2, backoff_duration="0s")
    with_package(text=text)


@dsl.pipeline(name="containers")
def containers(text: str = "abc"):
    shell(text=text)


CORPUS = {
    "params": (params, {}, True, True),
    "artifacts": (artifacts, {}, True, True),
    "branches": (branches, {}, True, True),
    "branches-low": (branches, {"n": 1}, True, True),
    "loops": (loops, {}, True, True),
    "exit-ok": (exit_ok, {}, True, True),
    "exit-fail": (exit_fail, {}, False, True),
    "nested": (nested, {}, True, True),
    "options": (options, {"uri": "{data}/imported.txt"}, True, True),
    "containers": (containers, {}, True, False),
}


# --------------------------------------------------------------------------- refusals
# Pipelines using what cannot run here: each must be refused before anything runs, with
# the task and the feature named. REFUSALS maps a name to (pipeline, words the error says).


@dsl.pipeline(name="gpu")
def gpu():
    square(x=2).set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)


@dsl.pipeline(name="own-cache-key")
def own_cache_key():
    square(x=2).set_caching_options(True, cache_key="mine")


@dsl.pipeline(name="one-of")
def one_of(n: int = 1) -> int:
    with dsl.If(n > 0):
        a = square(x=n)
    with dsl.Else():
        b = square(x=0)
    return dsl.OneOf(a.output, b.output)


@dsl.component(base_image=IMAGE, pip_index_urls=["https://example.invalid/simple"])
def from_own_index(x: int) -> int:
    return x


@dsl.pipeline(name="own-index")
def own_index():
    from_own_index(x=1)


REFUSALS = {
    "gpu": (gpu, ["square", "gpu"]),
    "own-cache-key": (own_cache_key, ["square", "cache key"]),
    "one-of": (one_of, ["dsl.OneOf"]),
    "own-index": (own_index, ["from-own-index", "pip_index_urls"]),
}
