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
    "ModelVersionWarning",
    "PretrainedWeightsError",
    "SkippedFramesError",
    "SkippedFramesWarning",
    "TrainingDivergedError",
    "TrialsFailedError",
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
