"""Content-addressed caching (DESIGN.md, contract 6): whether it applies to a task, the
cache key, and finding and taking an earlier task run's outputs for that key.

The key covers the component's code digest, its environment (image, packages, and the
lock digest of its per-step environment), its parameter values and the content digests
of its input artifacts. A hit needs the cached outputs to still exist, so an upstream
step that reproduces identical bytes lets every downstream step hit the cache.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from headwater.engine._units import ArtifactValue, Unit, artifact_links, jsonable, load_outputs
from headwater.spec import (
    ContainerImplementation,
    PipelineSpec,
    PythonImplementation,
    TaskOptions,
)
from headwater.states import TaskStatus
from headwater.store import ArtifactStore, MetadataStore, RunRecord, TaskRunRecord

T = TaskStatus


def caching_applies(run: RunRecord, spec: PipelineSpec, options: TaskOptions) -> bool:
    """Whether the run, the pipeline and the task all leave caching on."""
    enabled = options.cache.enabled if options.cache else True
    return run.cache_enabled and spec.cache_enabled and enabled


def cache_key(
    impl: PythonImplementation | ContainerImplementation,
    options: TaskOptions,
    values: dict[str, Any],
    environment: str | None = None,
) -> str:
    """The cache key of a task run with input ``values``: ``sha256:`` and a hex digest.

    ``environment`` is the digest of the lock of the task's per-step environment: a
    changed pin is a new key for exactly the tasks using it. (A task without one keeps
    the key it always had.)"""

    def digestable(v: Any) -> Any:
        if isinstance(v, ArtifactValue):
            return {"artifact": v.digest or v.uri}
        if isinstance(v, list):
            return [digestable(x) for x in v]
        return v

    material = {
        "code": impl.code_digest,
        "image": options.image,
        "packages": options.packages,
        "inputs": {k: digestable(v) for k, v in sorted(values.items())},
    }
    if environment is not None:
        material["environment"] = environment
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def find_hit(
    store: MetadataStore, artifacts: ArtifactStore, key: str, options: TaskOptions
) -> TaskRunRecord | None:
    """The task run to take outputs from for ``key``: recorded within the task's TTL, and
    every output artifact still there; None if there is none."""
    ttl = options.cache.ttl_seconds if options.cache else None
    hit = store.tasks.find_cached(key, ttl)
    if hit is None or not hit.outputs:
        return None
    refs = hit.outputs.get("artifacts", {})
    records = store.lineage.artifacts_by_id(refs.values())
    if len(records) != len(refs) or not all(artifacts.exists(r.uri) for r in records.values()):
        return None
    return hit


def take_hit(
    store: MetadataStore,
    run_id: str,
    unit: Unit,
    hit: TaskRunRecord,
    key: str,
    values: dict[str, Any],
) -> None:
    """Give ``unit`` the outputs (and metrics) of ``hit`` and record it as a cached task run."""
    assert hit.outputs is not None
    refs = hit.outputs.get("artifacts", {})
    load_outputs(store, unit, hit.outputs)
    unit.status = T.CACHED
    unit.attempt = (unit.attempt or 0) + 1
    unit.record = store.tasks.add_task_run(
        run_id,
        unit.path,
        unit.name,
        unit.node.component,
        unit.attempt,
        T.CACHED,
        inputs=jsonable(values),
        outputs=hit.outputs,
        cache_key=key,
        cached_from=hit.id,
        copy_metrics_from=hit.id,
        input_artifacts=artifact_links(values),
        output_artifacts=[(name, aid) for name, aid in refs.items()],
    )
