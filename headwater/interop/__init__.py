"""Kubeflow Pipelines interop: IR in (run a pipeline the kfp SDK compiled) and out.

``load_spec(target)`` is how every command reads a pipeline file: a Python file
(``file.py[:pipeline]``), Kubeflow Pipelines IR (``pipeline.yaml`` or ``.json`` as the
kfp v2 compiler writes it), or a Headwater spec document (``headwater compile``'s).
"""

from __future__ import annotations

from headwater.interop._kfp_in import is_kfp_ir, load_kfp, spec_from_kfp
from headwater.interop._load import DOCUMENT_SUFFIXES, is_document, load_spec

__all__ = [
    "DOCUMENT_SUFFIXES",
    "is_document",
    "is_kfp_ir",
    "load_kfp",
    "load_spec",
    "spec_from_kfp",
]
