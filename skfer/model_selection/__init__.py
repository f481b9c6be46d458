"""Model selection for FER: subject-grouped splitting and Optuna searches.

:func:`check_group_cv` is the one place where skfer resolves a ``cv`` argument (GroupKFold
by subject when subject ids are given); :class:`AscendingSubjectKFold` is the CK+ protocol
of the papers (ten folds of subjects by ascending id); :func:`tune` runs Optuna studies under
either.
"""

from ._split import AscendingSubjectKFold, check_group_cv, natural_sort_key
from .optuna_search import (
    DEFAULT_STORAGE,
    HEARTBEAT_INTERVAL,
    TrialSeededRandomSampler,
    TrialsFailedError,
    sqlite_storage,
    tune,
)

__all__ = [
    "AscendingSubjectKFold",
    "DEFAULT_STORAGE",
    "HEARTBEAT_INTERVAL",
    "TrialSeededRandomSampler",
    "TrialsFailedError",
    "check_group_cv",
    "natural_sort_key",
    "sqlite_storage",
    "tune",
]
