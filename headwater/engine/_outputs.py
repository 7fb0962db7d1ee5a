"""Putting a finished attempt's output artifacts in their place.

Only what the attempt wrote in its own staging place is moved (whatever URIs its output
file names), and only for artifact outputs its component declares; an output that is a
symbolic link is refused by the artifact store. An importer's artifact stays where it
is: it is recorded under the URI the engine gave the attempt, with the digest the
attempt computed.
"""

from __future__ import annotations

from typing import Any

from headwater.engine._importing import imported_artifact
from headwater.spec import ComponentSpec, ImporterImplementation
from headwater.store import ArtifactStore, NewArtifact, TaskRunRecord


def store_outputs(
    artifacts: ArtifactStore,
    comp: ComponentSpec,
    run_id: str,
    path: str,
    record: TaskRunRecord,
    uri: str,
    result: dict[str, Any],
    *,
    recovered: bool = False,
) -> list[NewArtifact] | str:
    """The attempt's output artifacts, moved into place; or why one could not be stored
    (the attempt then fails, and may be retried). ``uri`` is an importer's URI.

    ``recovered``: the attempt's end was not seen when it happened (its worker or engine
    died), so an output may already have been moved into place by an engine that stopped
    before recording it."""
    impl = comp.implementation
    if isinstance(impl, ImporterImplementation):
        imported = imported_artifact(uri, impl, result)
        return "the importer attempt reported no artifact" if imported is None else [imported]
    new: list[NewArtifact] = []
    for name, block in (result.get("artifacts") or {}).items():
        io = comp.outputs.get(name)
        if io is None or io.kind != "artifact":
            return f"the task reported an output artifact '{name}' it does not declare"
        entry = block["artifacts"][0]
        staging = artifacts.staging_uri(record.id, name)
        final = artifacts.final_uri(run_id, path, f"{name}-{record.attempt}")
        try:
            moved = recovered and not artifacts.exists(staging) and artifacts.exists(final)
            if not moved:
                artifacts.commit(staging, final)
        except Exception as exc:  # any filesystem's error: the task fails, not the run
            return f"could not store output '{name}' at {final}: {exc}"
        new.append(
            NewArtifact(
                name,
                io.artifact_type or "headwater.Artifact",
                final,
                entry.get("digest"),
                entry.get("size"),
                entry.get("metadata") or {},
            )
        )
    return new
