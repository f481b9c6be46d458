"""Model selection for FER: Optuna searches under subject-grouped cross-validation."""

from .optuna_search import grouped_cv, sqlite_storage, tune

__all__ = ["grouped_cv", "sqlite_storage", "tune"]
