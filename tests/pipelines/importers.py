"""Pipelines that import files: the URI as a parameter (as docs/authoring.md shows), as a
constant, from an upstream task, in a loop, in a nested pipeline, on a schedule; and a
task whose output is a symbolic link. Used by tests/engine and tests/server."""

from __future__ import annotations

from headwater import Asset, Dataset, Input, Output, ParallelFor, component, importer, pipeline


@component
def count_bytes(data: Input[Dataset], log: str = "") -> int:
    """The imported data's size (a file or a folder); with ``log``, one line per run there."""
    import os

    if log:
        with open(log, "a") as f:
            f.write("ran\n")
    if os.path.isdir(data.path):
        return sum(
            os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(data.path) for f in files
        )
    return os.path.getsize(data.path)


@component
def name_a_path(path: str) -> str:
    return path


@pipeline
def import_uri(uri: str, log: str = ""):
    raw = importer(uri, Dataset, metadata={"source": "tests"})
    count_bytes(data=raw.output, log=log)


@pipeline
def reimport_uri(uri: str, log: str = ""):
    raw = importer(uri, Dataset, reimport=True)
    count_bytes(data=raw.output, log=log)


@pipeline
def import_from_output(path: str):
    named = name_a_path(path=path)
    raw = importer(named.output, Dataset)
    count_bytes(data=raw.output)


@pipeline
def import_constant():
    raw = importer("/etc/hostname", Dataset)
    count_bytes(data=raw.output)


@pipeline
def import_each(uris: list[str]):
    with ParallelFor(uris) as uri:
        raw = importer(uri, Dataset)
        count_bytes(data=raw.output)


@pipeline
def prepare(source: str):
    raw = importer(source, Dataset)
    return count_bytes(data=raw.output).output


@pipeline
def import_nested(uri: str):
    prepare(source=uri)


@pipeline(schedule="@daily", start_date="2026-01-01T00:00:00+00:00", catchup=False)
def import_daily(uri: str = "/etc"):
    raw = importer(uri, Dataset)
    count_bytes(data=raw.output)


@component
def link_out(target: str, data: Output[Dataset]) -> None:
    """An output that is a symbolic link to ``target`` instead of data."""
    import os

    os.symlink(target, data.path)


@pipeline
def link_output(target: str):
    link_out(target=target)


@pipeline(schedule=Asset("warehouse://imports"))
def import_on_asset(uri: str = "/etc/passwd"):
    raw = importer(uri, Dataset)
    count_bytes(data=raw.output)
