"""Every public error and warning of skfer, in one place (as :mod:`sklearn.exceptions`).

The errors subclass the built-in exception a caller would catch anyway (``ValueError`` for
data that cannot be used, ``RuntimeError`` for a search that found nothing), so code that
catches those keeps working; the warnings subclass ``UserWarning``, so that
``warnings.simplefilter("error", SkippedFramesWarning)`` turns exactly one kind into an
error. Each is also importable from the module that raises it.

The errors of the network and Optuna layers are read from their modules on first use, so
that importing this module imports neither torch nor Optuna.

>>> from skfer.exceptions import SkippedFramesError
>>> issubclass(SkippedFramesError, ValueError)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model_selection.optuna_search import TrialsFailedError
    from .neural._base import ValidationSplitWarning
    from .neural._pretrained import PretrainedWeightsError
    from .neural.callbacks import TrainingDivergedError
    from .utils.frame_policy import SkippedFrames

__all__ = [
    "ModelCardMismatchError",
    "ModelVersionWarning",
    "PretrainedWeightsError",
    "SkippedFramesError",
    "SkippedFramesWarning",
    "TrainingDivergedError",
    "TrialsFailedError",
    "UntrustedTypesError",
    "UnverifiedModelError",
    "ValidationSplitWarning",
]


class SkippedFramesWarning(UserWarning):
    """Frames of one or more clips were skipped; the message names clips, counts and reasons.

    Emitted under ``on_missing="warn"`` (:mod:`skfer.utils.frame_policy`).
    """


class SkippedFramesError(ValueError):
    """Frames were skipped under ``on_missing="raise"``; ``records`` holds what was found.

    Parameters
    ----------
    message : str
    records : sequence of SkippedFrames
        The :class:`~skfer.utils.frame_policy.SkippedFrames` records, one per clip.
    """

    def __init__(self, message: str, records: Sequence[SkippedFrames] = ()) -> None:
        super().__init__(message)
        self.records = tuple(records)


class ModelVersionWarning(UserWarning):
    """A model file was saved with other versions of skfer or of its libraries.

    Emitted by :func:`skfer.load_model`; the model may fail to load or predict differently.
    """


class ModelCardMismatchError(ValueError):
    """A model file's SHA-256 differs from the one its card records; it was not loaded.

    Raised by :func:`skfer.load_model` before the file is read as a model: the file was
    changed after :func:`skfer.save_model` wrote it, or it is not the model its card
    describes (a card copied beside another model).
    """


class UnverifiedModelError(ValueError):
    """A model file cannot be compared with its card, and ``trusted=True`` was not given.

    Raised by :func:`skfer.load_model` before the file is read as a model: there is no card
    beside it, its card cannot be read, or its card records no SHA-256 (a model saved by an
    older skfer). Loading a joblib model runs code from it, so the caller must say that they
    trust it.
    """


class UntrustedTypesError(ValueError):
    """A ``.skops`` model holds types that skfer does not load from such a file.

    Raised by :func:`skfer.load_model` before any of the file's objects is built, and by
    :func:`skfer.save_model` before a ``.skops`` file is written that could not be loaded.

    Parameters
    ----------
    message : str
    types : sequence of str
        The types outside the trusted list, as ``module.Name``.
    """

    def __init__(self, message: str, types: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.types = tuple(types)


#: Defined in the layers that raise them; read on first use (they import torch or Optuna).
_ELSEWHERE = {
    "PretrainedWeightsError": "skfer.neural._pretrained",
    "TrainingDivergedError": "skfer.neural.callbacks",
    "TrialsFailedError": "skfer.model_selection.optuna_search",
    "ValidationSplitWarning": "skfer.neural._base",
}


def __getattr__(name: str) -> Any:
    if name in _ELSEWHERE:
        return getattr(import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module 'skfer.exceptions' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ELSEWHERE))
