"""Training-data augmentation as imbalanced-learn samplers (DTAGN, section 3.4).

Samplers run inside :class:`imblearn.pipeline.Pipeline` during ``fit`` only, so the
augmented copies never reach ``predict`` or scoring. :class:`ImageSequenceAugmenter` given a
:class:`~skfer.ClipSet` with landmarks moves the points with the pixels of the same draw
(paired augmentation); :class:`LandmarkAugmenter` augments landmark data on its own.
"""

from .image_sequence import ImageSequenceAugmenter, rotate_clip
from .landmark import LandmarkAugmenter

__all__ = ["ImageSequenceAugmenter", "LandmarkAugmenter", "rotate_clip"]
