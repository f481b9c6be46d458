"""Model selection for FER: Optuna searches under subject-grouped cross-validation."""

from .optuna_search import DEFAULT_STORAGE, grouped_cv, sqlite_storage, tune

__all__ = ["DEFAULT_STORAGE", "grouped_cv", "sqlite_storage", "tune"]
