"""Kubeflow Pipelines interop: IR in (run a pipeline the kfp SDK compiled) and out
(compile a Headwater pipeline to Kubeflow's pipeline IR).

``load_spec(target)`` is how every command reads a pipeline file: a Python file
(``file.py[:pipeline]``), Kubeflow Pipelines IR (``pipeline.yaml`` or ``.json`` as the
kfp v2 compiler writes it), or a Headwater spec document (``headwater compile``'s).

    from headwater.interop import to_kfp

    package = to_kfp(pipeline.compile(), base_image="python:3.11")
    Path("pipeline.yaml").write_text(package.text)

See docs/kubeflow.md for what maps to what, and what is refused. Only ``load_spec`` and
its helpers load with the package: every command reads its pipeline through it, and the
IR reader and writer are imported when a Kubeflow file is read or written.
"""

from typing import Any

from headwater.interop._load import DOCUMENT_SUFFIXES, is_document, load_spec

__all__ = [
    "DEFAULT_BASE_IMAGE",
    "DOCUMENT_SUFFIXES",
    "KFP_RUNTIME",
    "KfpPackage",
    "is_document",
    "is_kfp_ir",
    "load_kfp",
    "load_spec",
    "spec_from_kfp",
    "to_kfp",
]

_LAZY = {
    "DEFAULT_BASE_IMAGE": "headwater.interop._kfp_out",
    "KFP_RUNTIME": "headwater.interop._kfp_out",
    "KfpPackage": "headwater.interop._kfp_out",
    "to_kfp": "headwater.interop._kfp_out",
    "is_kfp_ir": "headwater.interop._kfp_in",
    "load_kfp": "headwater.interop._kfp_in",
    "spec_from_kfp": "headwater.interop._kfp_in",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'headwater.interop' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
