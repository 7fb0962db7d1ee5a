"""The model registry: named models, their numbered versions, aliases and tags.

A version is an artifact registered under a model's name, from a task
(``register_model(...)`` or ``@component(register={"model": "churn"})``, registered by
the engine when the task succeeds), the CLI or the API. It records its flavour and
signature, inferred from the files without unpickling them (:func:`infer_flavor`), and
its run, task and metrics; its lineage leads back to the data. A pipeline imports one
with ``importer("models:/churn@champion", Model)``.
"""

from headwater.registry._flavors import FLAVORS, Flavor, infer_flavor, pickle_globals
from headwater.registry._json import change_json, model_json, version_json
from headwater.registry._refs import (
    MODELS_SCHEME,
    ModelRef,
    is_model_uri,
    parse_model_uri,
    parse_ref,
)
from headwater.registry._register import (
    REGISTER_KEY,
    Registration,
    check_registrations,
    describe,
    download,
    lineage,
    register_artifact,
    register_outputs,
    registrations,
    resolve,
)

__all__ = [
    "FLAVORS",
    "MODELS_SCHEME",
    "REGISTER_KEY",
    "Flavor",
    "ModelRef",
    "Registration",
    "change_json",
    "check_registrations",
    "describe",
    "download",
    "infer_flavor",
    "is_model_uri",
    "lineage",
    "model_json",
    "parse_model_uri",
    "parse_ref",
    "pickle_globals",
    "register_artifact",
    "register_outputs",
    "registrations",
    "resolve",
    "version_json",
]
