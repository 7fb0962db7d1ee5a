"""Experiments: their list, and an experiment's runs side by side (parameters and final
metrics), filtered, sorted or narrowed to the best run."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from headwater.server._access import Permission, needs, scoped_state
from headwater.server._deps import ServerState
from headwater.server._schemas import ComparisonOut, ExperimentOut

router = APIRouter(prefix="/api/v1", tags=["experiments"])
St = Annotated[ServerState, Depends(scoped_state)]


@router.get("/experiments", response_model=list[ExperimentOut], **needs(Permission.READ))
def list_experiments(
    s: St, limit: Annotated[int, Query(ge=1, le=10_000, description="Experiments.")] = 100
) -> Any:
    """Experiments, the one with the newest run first."""
    return [
        {
            "name": e.name,
            "runs": e.runs,
            "last_run_at": e.last_run_at,
            "pipelines": list(e.pipelines),
        }
        for e in s.ws.store.experiments.list_experiments(limit)
    ]


@router.get("/experiments/{name}/runs", response_model=ComparisonOut, **needs(Permission.READ))
def experiment_runs(
    s: St,
    name: str,
    where: Annotated[
        list[str] | None,
        Query(
            max_length=512,
            description="Conditions that must all hold, as in 'accuracy>0.9' or "
            "'params.optimizer=sgd'.",
        ),
    ] = None,
    sort: Annotated[
        str | None, Query(max_length=256, description="A metric or params.NAME.")
    ] = None,
    order: Literal["asc", "desc"] = "asc",
    best: Annotated[
        str | None, Query(max_length=256, description="Only the run best at this metric.")
    ] = None,
    direction: Literal["maximize", "minimize"] = "maximize",
    limit: Annotated[int, Query(ge=1, le=10_000, description="Rows per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")] = 0,
) -> Any:
    """The experiment's runs (newest first unless sorted) with their parameters and
    final metrics; ``parameters`` and ``metrics`` name the columns."""
    if len(where or []) > 32:
        from headwater.errors import InvalidValue

        raise InvalidValue("more than 32 conditions", hint="give 32 conditions at most")
    found = s.ws.store.experiments.compare(
        experiment=name,
        where=where or [],
        sort=sort,
        descending=order == "desc",
        best=best,
        direction=direction,
    )
    return found.page(limit, offset)
