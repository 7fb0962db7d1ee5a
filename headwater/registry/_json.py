"""Models, versions and alias changes as plain JSON (the CLI's --json and the API)."""

from __future__ import annotations

from typing import Any

from headwater.store import AliasChange, ModelRecord, ModelVersionRecord


def model_json(model: ModelRecord) -> dict[str, Any]:
    return {
        "name": model.name,
        "description": model.description,
        "tags": model.tags,
        "latest_version": model.last_version,
        "aliases": model.aliases,
        "created_at": model.created_at.isoformat(),
        "updated_at": model.updated_at.isoformat(),
    }


def version_json(version: ModelVersionRecord) -> dict[str, Any]:
    return {
        "model": version.model,
        "version": version.version,
        "artifact_id": version.artifact_id,
        "run_id": version.run_id,
        "task_run_id": version.task_run_id,
        "flavor": version.flavor,
        "signature": version.signature,
        "tags": version.tags,
        "description": version.description,
        "metrics": version.metrics,
        "aliases": list(version.aliases),
        "created_by": version.created_by,
        "created_at": version.created_at.isoformat(),
    }


def change_json(change: AliasChange) -> dict[str, Any]:
    return {
        "alias": change.alias,
        "from_version": change.from_version,
        "to_version": change.to_version,
        "actor": change.actor,
        "created_at": change.created_at.isoformat(),
    }
