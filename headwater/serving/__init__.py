"""Serving registered models over the Open Inference Protocol (V2): REST and gRPC.

``headwater serve churn@champion iris:3`` loads each model version from the registry into
worker processes of its own and answers V2 requests for them (docs/serving.md,
docs/adr/0021-serving.md). The modules:

- ``_server``: the front process (REST and gRPC in one event loop), start-up and shut-down;
- ``_rest`` and ``_grpc``: the protocol's two transports, over one ``_repository``;
- ``_repository``: the served models by name and version, loaded from the registry;
- ``_deployments``: deployments served by name, routed in front of the repository;
- ``_supervisor``: ``headwater serve`` as a supervised child of ``standalone``;
- ``_served`` and ``_workers``: a served version's worker processes, supervised;
- ``_worker`` and ``_runtimes``: inside a worker, the model loaded and called;
- ``_tensors``, ``_checks``, ``_types``, ``_wire``: tensors, request checks, plain data,
  and the messages between front and workers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.serving._repository import parse_model_ref
    from headwater.serving._server import Bound, ServeOptions, serve, serve_async
    from headwater.serving._supervisor import ServeSupervisor
    from headwater.serving._tensors import DATATYPES

__all__ = [
    "DATATYPES",
    "Bound",
    "ServeOptions",
    "ServeSupervisor",
    "parse_model_ref",
    "serve",
    "serve_async",
]

# Imported when first used: a model worker imports this package too, and needs none of
# the front's modules (the registry, the store, uvicorn, gRPC).
_HOMES = {
    "DATATYPES": "_tensors",
    "Bound": "_server",
    "ServeOptions": "_server",
    "ServeSupervisor": "_supervisor",
    "parse_model_ref": "_repository",
    "serve": "_server",
    "serve_async": "_server",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'headwater.serving' has no attribute {name!r}")
    return getattr(importlib.import_module(f"headwater.serving.{home}"), name)
