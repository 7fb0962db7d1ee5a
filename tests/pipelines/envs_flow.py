"""Pipelines whose steps run in per-step environments (tests/engine/test_engine_envs.py)."""

from __future__ import annotations

import sys

from headwater import component, pipeline


@component(packages=["tabulate==0.9.0"])
def envs_table() -> str:
    """Render a table with tabulate, which the engine's environment lacks."""
    import tabulate

    print(tabulate.tabulate([["a", 1]], headers=["name", "n"]))
    return str(tabulate.__version__)


@component(packages=["tabulate==0.8.10"])
def envs_old_table() -> str:
    import tabulate

    return str(tabulate.__version__)


@component(packages=["tabulate==0.9.0"])
def envs_engine_packages() -> str:
    """Which of the engine's packages this step can import."""
    import importlib.util

    found = [m for m in ("sqlalchemy", "pydantic", "fastapi") if importlib.util.find_spec(m)]
    return ",".join(found) or "none"


@component(packages=["tabulate==0.9.0"], fresh_interpreter=True)
def envs_fresh_prefix() -> str:
    import tabulate  # noqa: F401

    return sys.prefix


@component
def envs_join(a: str, b: str) -> str:
    return f"{a}/{b}"


@component
def envs_version() -> str:
    """The version of six, in whatever environment the task is given."""
    import six

    return str(six.__version__)


@pipeline
def envs_two_pins():
    new = envs_table()
    old = envs_old_table()
    envs_join(a=new.output, b=old.output)


@pipeline
def envs_isolation():
    envs_engine_packages()
    envs_fresh_prefix()


@component(packages=["no-such-package-hw-xyz==1.0"])
def envs_broken() -> str:
    return "never"


@pipeline
def envs_bad_requirement():
    envs_table()
    envs_broken()


@pipeline
def envs_six_16():
    envs_version().set_options(packages=["six==1.16.0"])
    envs_join(a="x", b="y")


@pipeline
def envs_six_17():
    envs_version().set_options(packages=["six==1.17.0"])
    envs_join(a="x", b="y")


@pipeline(packages=["six==1.17.0"])
def envs_pipeline_default():
    envs_version()
    envs_version().set_options(packages=["six==1.16.0"])
