"""skfer: facial expression recognition from images and videos as scikit-learn estimators."""

from .clipset import FRAME_STATUSES, ClipSet

__version__ = "0.1.0.dev0"

__all__ = [
    "ClipSet", "FRAME_STATUSES", "__version__", "load_model", "predict_files", "save_model",
]

# Imported on first use: ``import skfer`` stays light (no OpenCV, no scikit-learn).
_LAZY = {"predict_files": "prediction", "load_model": "_model_card", "save_model": "_model_card"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'skfer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
