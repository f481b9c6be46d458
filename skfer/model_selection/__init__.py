"""Model selection for FER: subject-grouped splitting and Optuna searches.

:func:`check_group_cv` is the one place where skfer resolves a ``cv`` argument (GroupKFold
by subject when subject ids are given); :class:`AscendingSubjectKFold` is the CK+ protocol
of the papers (ten folds of subjects by ascending id); :func:`tune` runs Optuna studies under
either.
"""

from ._split import AscendingSubjectKFold, check_group_cv
from .optuna_search import (
    DEFAULT_STORAGE,
    HEARTBEAT_INTERVAL,
    TrialSeededRandomSampler,
    sqlite_storage,
    tune,
)

# Every public error is in skfer.exceptions; importable from here as it was.
from .optuna_search import TrialsFailedError as TrialsFailedError

__all__ = [
    "AscendingSubjectKFold",
    "DEFAULT_STORAGE",
    "HEARTBEAT_INTERVAL",
    "TrialSeededRandomSampler",
    "check_group_cv",
    "sqlite_storage",
    "tune",
]


def __getattr__(name: str):
    # The second natural sort key, with rules of its own, gave way to the one of skfer.utils.
    if name == "natural_sort_key":
        import warnings

        from ..utils.sorting import natural_key

        warnings.warn("skfer.model_selection.natural_sort_key is deprecated; use "
                      "skfer.utils.natural_key (text now compares without regard to case)",
                      FutureWarning, stacklevel=2)
        return natural_key
    raise AttributeError(f"module 'skfer.model_selection' has no attribute {name!r}")
