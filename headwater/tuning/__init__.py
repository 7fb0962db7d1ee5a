"""Hyperparameter studies on Optuna whose trials are Headwater runs.

A study searches a pipeline's parameters (a :class:`Space`) for the best value of one
metric a task logs (``TASK.METRIC``). Each trial is an ordinary run of the pipeline, in
the experiment named after the study, so it is cached, retried, logged and traced like
any run; Optuna's state lives in Headwater's own database, so a killed study resumes
(docs/experiments-and-tuning.md, docs/adr/0019).
"""

from headwater.spec import (
    DIRECTIONS,
    PRUNERS,
    SAMPLERS,
    Dimension,
    Space,
    check_objective,
    load_space,
    parse_space,
)
from headwater.tuning._journal import DatabaseJournal
from headwater.tuning._settings import (
    STUDY_DONE,
    StudySettings,
    StudyStatus,
    TrialState,
)
from headwater.tuning._step import TuneStepDriver, drive_tune_step
from headwater.tuning._study import (
    StudyResult,
    TrialEvent,
    Tuner,
    resume_study,
    start_study,
    study_result,
)
from headwater.tuning._views import history, importances

__all__ = [
    "DIRECTIONS",
    "PRUNERS",
    "SAMPLERS",
    "STUDY_DONE",
    "DatabaseJournal",
    "Dimension",
    "Space",
    "StudyResult",
    "StudySettings",
    "StudyStatus",
    "TrialEvent",
    "TrialState",
    "TuneStepDriver",
    "Tuner",
    "check_objective",
    "drive_tune_step",
    "history",
    "importances",
    "load_space",
    "parse_space",
    "resume_study",
    "start_study",
    "study_result",
]
