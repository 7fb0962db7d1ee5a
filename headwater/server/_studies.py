"""Tuning studies: their list, and one study with its trials, optimisation history and
parameter importance (what the UI's study page draws)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from headwater.server._access import Permission, needs, scoped_state
from headwater.server._deps import ServerState
from headwater.server._schemas import StudyDetail, StudyOut

router = APIRouter(prefix="/api/v1", tags=["studies"])
St = Annotated[ServerState, Depends(scoped_state)]


def _study_out(study: Any, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "name": study.name,
        "pipeline": study.pipeline,
        "objective": study.objective,
        "direction": study.direction,
        "sampler": study.sampler,
        "pruner": study.pruner,
        "status": study.status,
        "space": study.space,
        "settings": study.settings,
        "created_at": study.created_at,
        "updated_at": study.updated_at,
        "trials": counts,
    }


@router.get("/studies", response_model=list[StudyOut], **needs(Permission.READ))
def list_studies(
    s: St, limit: Annotated[int, Query(ge=1, le=10_000, description="Studies.")] = 100
) -> Any:
    """Tuning studies, the newest first, with their trials counted by state."""
    counts = s.ws.store.studies.trial_counts()
    return [
        _study_out(study, counts.get(study.id, {}))
        for study in s.ws.store.studies.list_studies(limit)
    ]


@router.get("/studies/{name}", response_model=StudyDetail, **needs(Permission.READ))
def get_study(s: St, name: str) -> Any:
    """A study: its settings, every trial (parameters, value, state, run), the best one,
    the optimisation history and each parameter's importance."""
    from headwater.tuning import history, importances, study_result

    found = study_result(s.ws.store, name)
    counts: dict[str, int] = {}
    for trial in found.trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    best = found.best_trial
    return {
        **_study_out(found.study, counts),
        "trial_list": [
            {
                "number": t.number,
                "state": t.state,
                "params": t.params,
                "value": t.value,
                "run_id": t.run_id,
                "created_at": t.created_at,
                "finished_at": t.finished_at,
            }
            for t in found.trials
        ],
        "best": None if best is None else best.number,
        "history": history(found.study.direction, found.trials),
        "importance": importances(s.ws.store, found.study.id, found.study.name),
    }
