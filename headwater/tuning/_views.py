"""What the API and UI show of a study beyond its trials: the optimisation history and
how much each parameter mattered (Optuna's fANOVA importance over the completed trials)."""

from __future__ import annotations

import logging
from typing import Any

from headwater.store import MetadataStore
from headwater.tuning._settings import TrialState

log = logging.getLogger("headwater.tuning")


def history(direction: str, trials: list[Any]) -> list[dict[str, Any]]:
    """Each completed trial's value, in trial order, with the best value so far."""
    best: float | None = None
    out = []
    for trial in trials:
        if trial.state != TrialState.COMPLETE or trial.value is None:
            continue
        value = float(trial.value)
        if best is None or (value > best if direction == "maximize" else value < best):
            best = value
        out.append({"number": trial.number, "value": value, "best": best})
    return out


def importances(store: MetadataStore, study_id: str, name: str) -> dict[str, float]:
    """How much each parameter explains the objective's variance across the completed
    trials (summing to 1), most important first; empty with fewer than two completed
    trials or a single parameter that never varied."""
    import optuna

    from headwater.tuning._journal import DatabaseJournal

    storage = optuna.storages.JournalStorage(DatabaseJournal(store, study_id))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) < 2:
        return {}
    try:
        found = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
    except (RuntimeError, ValueError) as exc:  # e.g. no parameter varied
        log.info("no parameter importance for study %s: %s", name, exc)
        return {}
    return {key: float(value) for key, value in found.items()}
