"""Reading a pipeline file, whatever it holds: Python, Kubeflow IR, or a Headwater spec."""

from __future__ import annotations

from pathlib import Path

from headwater.errors import LoadError
from headwater.interop._read import read_document
from headwater.spec import PipelineSpec

DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")


def is_document(path: Path) -> bool:
    """Whether ``path`` names a pipeline document (IR or spec) rather than Python."""
    return path.suffix.lower() in DOCUMENT_SUFFIXES


def load_spec(target: str) -> tuple[PipelineSpec, Path]:
    """The spec of ``target`` and the folder its code is relative to.

    ``target`` is ``file.py[:pipeline]``, a Kubeflow pipeline (``.yaml``/``.yml``/``.json``
    IR), or a spec document written by ``headwater compile``."""
    from headwater.sdk import compile_root, load_pipeline, split_target

    path, name = split_target(target)
    root = path.resolve().parent
    if not is_document(path):
        with compile_root(str(root)):
            return load_pipeline(target).compile(), path
    if name is not None:
        raise LoadError(
            f"{path} holds one pipeline: ':{name}' cannot pick another",
            hint=f"pass {path} alone",
        )
    if not path.exists():
        raise LoadError(f"no such file: {path}", hint="pass a pipeline file")
    import yaml

    from headwater.interop._kfp_in import is_kfp_ir, load_kfp

    hint = "pass a YAML or JSON pipeline"
    text = read_document(path, hint)
    try:
        first = next(yaml.safe_load_all(text), None)
    except yaml.YAMLError as exc:
        raise LoadError(f"cannot read {path}: {exc}", hint=hint) from None
    if is_kfp_ir(first):
        return load_kfp(path), path
    if isinstance(first, dict) and "schema_version" in first:
        from headwater.spec import load

        return load(path), path
    raise LoadError(
        f"{path} is neither a Kubeflow pipeline nor a Headwater spec",
        hint="pass a pipeline compiled by the kfp SDK, or one written by 'headwater compile'",
    )
