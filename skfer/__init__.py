"""skfer: facial expression recognition from images and videos as scikit-learn estimators."""

from .clipset import FRAME_STATUSES, ClipSet

__version__ = "0.1.0.dev0"

__all__ = ["ClipSet", "FRAME_STATUSES", "__version__"]
