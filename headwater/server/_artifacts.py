"""Artifacts: metadata, download, a preview of their head, and lineage."""

from __future__ import annotations

import mimetypes
import os
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, StreamingResponse

from headwater.errors import ApiError
from headwater.server._access import Permission, needs, scoped_state
from headwater.server._deps import ServerState, page
from headwater.server._schemas import ArtifactOut, Lineage, Page, Preview
from headwater.store import ArtifactRecord, LineageNode

router = APIRouter(prefix="/api/v1", tags=["artifacts"])
St = Annotated[ServerState, Depends(scoped_state)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")]

_BY_TYPE = {
    "headwater.HTML": "text/html",
    "headwater.Markdown": "text/markdown",
    "headwater.Metrics": "application/json",
    "headwater.ClassificationMetrics": "application/json",
}
_TABLES = {".csv": ",", ".tsv": "\t"}
_TABLE_TYPES = {"text/csv": ",", "text/tab-separated-values": "\t"}
PREVIEW_BYTES = 64 << 10


@router.get("/artifacts", response_model=Page[ArtifactOut], **needs(Permission.READ))
def list_artifacts(
    s: St,
    limit: Limit = 50,
    offset: Offset = 0,
    run_id: Annotated[str | None, Query(max_length=32)] = None,
    type: Annotated[str | None, Query(max_length=128, description="e.g. headwater.Model")] = None,
    name: Annotated[str | None, Query(max_length=128)] = None,
) -> Any:
    rows, total = s.ws.store.queries.page_artifacts(
        run_id=run_id, type_=type, name=name, limit=limit, offset=offset
    )
    return page(rows, total, limit, offset)


@router.get("/artifacts/{artifact_id}", response_model=ArtifactOut, **needs(Permission.READ))
def get_artifact(s: St, artifact_id: str) -> Any:
    return s.ws.store.lineage.get_artifact(artifact_id)


def _inside(root: str, path: str | None) -> str:
    """``path`` under the directory ``root``, refusing anything that leaves it."""
    if not path:
        return root
    pure = PurePosixPath(path)
    if "\x00" in path or "\\" in path or pure.is_absolute() or ".." in pure.parts:
        raise ApiError(
            400,
            f"artifact file path {path!r} is not allowed",
            hint="give a path relative to the artifact, without '..', e.g. 'part-0.csv'",
        )
    target = _resolved_inside(root, *pure.parts)
    if target is None:
        raise ApiError(
            400, f"artifact file path {path!r} leaves the artifact", hint="use a path inside it"
        )
    return target


def _resolved_inside(root: str, *parts: str) -> str | None:
    """The real path of ``root/parts``, or None when it (through links) leaves ``root``."""
    base = os.path.realpath(root)
    target = os.path.realpath(os.path.join(base, *parts))
    return target if os.path.commonpath([base, target]) == base else None


def _servable(s: ServerState, record: ArtifactRecord) -> None:
    """Refuse (403) an artifact the server must not read for its caller: one that lies
    outside the artifact root and the namespace's allowed roots (an import from before
    roots existed, say), inside Headwater's own state, or that is itself a symbolic link
    (it would serve whatever the link names)."""
    from headwater.engine import uri_policy
    from headwater.errors import UriNotAllowed

    policy = uri_policy(s.ws.settings, s.ws.store)
    try:
        policy.check(record.uri)
    except UriNotAllowed as exc:
        raise ApiError(
            403,
            f"artifact {record.id} is not served: {exc.message}",
            hint="the server serves artifacts under the artifact root and the roots "
            "listed at /api/v1/uri-roots",
        ) from None
    local = s.ws.artifacts.local_path(record.uri)
    if local is not None and os.path.islink(local):
        raise ApiError(
            403,
            f"artifact {record.id} is a symbolic link, and links are never served",
            hint="have the task write the file itself at its output path",
        )


def _local(s: ServerState, record: ArtifactRecord, path: str | None) -> str | None:
    _servable(s, record)
    local = s.ws.artifacts.local_path(record.uri)
    if local is None:
        if path:
            raise ApiError(400, "files inside remote artifacts cannot be picked by path yet")
        return None
    target = _inside(local, path)
    if not os.path.exists(target):
        raise ApiError(
            404,
            f"artifact {record.id} has no file {path!r}"
            if path
            else f"artifact {record.id}'s data is gone",
            hint="list its files with GET /api/v1/artifacts/ID/files" if path else None,
        )
    return target


def _media_type(record: ArtifactRecord, name: str) -> str:
    given = record.metadata.get("content_type")
    if isinstance(given, str) and "/" in given:
        return given
    guessed, _ = mimetypes.guess_type(name)
    return guessed or _BY_TYPE.get(record.type, "application/octet-stream")


@router.get("/artifacts/{artifact_id}/files", response_model=list[str], **needs(Permission.READ))
def list_files(s: St, artifact_id: str) -> Any:
    """The files of a directory artifact (relative paths), or its one file name."""
    record = s.ws.store.lineage.get_artifact(artifact_id)
    local = _local(s, record, None)
    if local is None or not os.path.isdir(local):
        return [PurePosixPath(record.uri).name]
    found = []
    for folder, _dirs, files in os.walk(local):
        for f in files:
            found.append(os.path.relpath(os.path.join(folder, f), local))
    return sorted(found)[:10_000]


@router.get(
    "/artifacts/{artifact_id}/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    **needs(Permission.READ),
)
def download(
    s: St,
    artifact_id: str,
    path: Annotated[
        str | None, Query(max_length=1024, description="A file in a directory artifact.")
    ] = None,
) -> Any:
    """The artifact's bytes, with a content type from its metadata, name or type."""
    record = s.ws.store.lineage.get_artifact(artifact_id)
    local = _local(s, record, path)
    if local is not None:
        if os.path.isdir(local):
            raise ApiError(
                400,
                f"artifact {record.id} is a directory",
                hint=f"pick a file with ?path=...; see /api/v1/artifacts/{record.id}/files",
            )
        name = os.path.basename(local)
        return FileResponse(local, media_type=_media_type(record, name), filename=name)
    fs = s.ws.artifacts.fs
    name = PurePosixPath(record.uri).name

    def chunks() -> Any:
        with fs.open(record.uri, "rb") as f:
            while block := f.read(1 << 20):
                yield block

    return StreamingResponse(
        chunks(),
        media_type=_media_type(record, name),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _head(local: str, limit: int) -> tuple[bytes, bool]:
    with open(local, "rb") as f:
        data = f.read(limit + 1)
    return data[:limit], len(data) > limit


@router.get("/artifacts/{artifact_id}/preview", response_model=Preview, **needs(Permission.READ))
def preview(
    s: St,
    artifact_id: str,
    rows: Annotated[int, Query(ge=1, le=1000)] = 20,
    path: Annotated[str | None, Query(max_length=1024)] = None,
) -> Any:
    """The head of a table (CSV, TSV, Parquet), text, Markdown, HTML or JSON artifact."""
    record = s.ws.store.lineage.get_artifact(artifact_id)
    local = _local(s, record, path)
    if local is None:
        raise ApiError(
            415, "previews of remote artifacts are not supported yet", hint="download it"
        )
    if os.path.isdir(local):
        # The first file that stays inside: a link out of the folder is never read.
        files = sorted(
            os.path.relpath(os.path.join(d, f), local) for d, _, fs in os.walk(local) for f in fs
        )
        inside = (_resolved_inside(local, f) for f in files)
        first = next((f for f in inside if f is not None), None)
        if first is None:
            return {"kind": "text", "media_type": "text/plain", "text": "", "truncated": False}
        local = first
    name = os.path.basename(local)
    suffix = os.path.splitext(name)[1].lower()
    media = _media_type(record, name)
    sep = _TABLES.get(suffix) or _TABLE_TYPES.get(media.split(";")[0].strip().lower())
    if sep is not None:
        return _csv(local, sep, rows, media)
    if suffix == ".parquet" or media == "application/vnd.apache.parquet":
        return _parquet(local, rows)
    data, truncated = _head(local, PREVIEW_BYTES)
    if media.startswith("text/") or media in ("application/json",) or _is_text(data):
        kind = {"text/html": "html", "text/markdown": "markdown", "application/json": "json"}.get(
            media, "text"
        )
        return {
            "kind": kind,
            "media_type": media,
            "text": data.decode("utf-8", "replace"),
            "truncated": truncated,
        }
    raise ApiError(
        415,
        f"artifact {record.id} ({media}) has no preview",
        hint=f"download it from /api/v1/artifacts/{record.id}/download",
    )


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _csv(local: str, sep: str, rows: int, media: str) -> dict[str, Any]:
    import csv
    import io

    data, truncated = _head(local, PREVIEW_BYTES * 4)
    text = data.decode("utf-8", "replace")
    if truncated:
        text = text[: text.rfind("\n") + 1]
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    table = list(reader)
    header = table[0] if table else []
    body = table[1 : rows + 1]
    return {
        "kind": "table",
        "media_type": media,
        "columns": header,
        "rows": body,
        "truncated": truncated or len(table) - 1 > rows,
    }


def _parquet(local: str, rows: int) -> dict[str, Any]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ApiError(
            415, "previewing Parquet needs pyarrow on the server", hint="pip install pyarrow"
        ) from None
    f = pq.ParquetFile(local)
    table = next(f.iter_batches(batch_size=rows), None)
    if table is None:
        return {
            "kind": "table",
            "media_type": "application/vnd.apache.parquet",
            "columns": f.schema_arrow.names,
            "rows": [],
            "truncated": False,
        }
    cols = table.schema.names
    data = table.to_pylist()
    return {
        "kind": "table",
        "media_type": "application/vnd.apache.parquet",
        "columns": cols,
        "rows": [[_plain(r[c]) for c in cols] for r in data],
        "truncated": f.metadata.num_rows > rows,
    }


def _plain(v: Any) -> Any:
    return v if isinstance(v, str | int | float | bool) or v is None else str(v)


def _node(n: LineageNode) -> dict[str, Any]:
    return {
        "artifact": n.artifact,
        "depth": n.depth,
        "task_run_id": n.task_run.id if n.task_run else None,
        "task": n.task_run.path if n.task_run else None,
        "run_id": n.task_run.run_id if n.task_run else None,
        "producer_task": n.producer.path if n.producer else None,
    }


@router.get("/artifacts/{artifact_id}/lineage", response_model=Lineage, **needs(Permission.READ))
def lineage(s: St, artifact_id: str, depth: Annotated[int, Query(ge=1, le=100)] = 20) -> Any:
    """What the artifact was made from (upstream) and what was made from it (downstream)."""
    record = s.ws.store.lineage.get_artifact(artifact_id)
    downstream = s.ws.store.lineage.walk(record.id, "downstream", depth)
    served = s.ws.store.deployments.serving(
        artifact_ids=[record.id, *(n.artifact.id for n in downstream)]
    )
    return {
        "artifact": record,
        "upstream": [_node(n) for n in s.ws.store.lineage.walk(record.id, "upstream", depth)],
        "downstream": [_node(n) for n in downstream],
        "served": [
            {
                "model": x.model,
                "version": x.version,
                "artifact_id": x.artifact_id,
                "deployment": x.deployment,
                "role": x.role,
                "server": x.server,
                "since": x.since,
                "until": x.until,
            }
            for x in served
        ],
    }
