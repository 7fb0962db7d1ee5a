"""Kubeflow Pipelines interop: compile Headwater pipelines to Kubeflow's pipeline IR.

    from headwater.interop import to_kfp

    package = to_kfp(pipeline.compile(), base_image="python:3.11")
    Path("pipeline.yaml").write_text(package.text)

See docs/kubeflow.md for what maps to what, and what is refused.
"""

from headwater.interop._kfp_out import DEFAULT_BASE_IMAGE, KFP_RUNTIME, KfpPackage, to_kfp

__all__ = ["DEFAULT_BASE_IMAGE", "KFP_RUNTIME", "KfpPackage", "to_kfp"]
