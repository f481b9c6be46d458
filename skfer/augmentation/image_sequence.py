"""Image-sequence augmentation of DTAGN (Jung et al., ICCV 2015, section 3.4): flips and
small rotations of whole clips, as an imbalanced-learn sampler (applied during fit only)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import cv2
import numpy as np

from ..base import ClipTransformerMixin, same_container
from ..utils.validation import check_clips
from ._base import BaseAugmenter

__all__ = ["ImageSequenceAugmenter", "rotate_clip"]


def rotate_clip(clip: np.ndarray, angle: float) -> np.ndarray:
    """Rotate every frame of a clip by ``angle`` degrees about the frame centre.

    Positive angles turn the image counter-clockwise as displayed (OpenCV's convention).
    Pixels that come from outside the frame repeat the border (``BORDER_REPLICATE``), so
    no black corners appear. The dtype and shape are kept.

    Parameters
    ----------
    clip : ndarray of shape (T, H, W) or (T, H, W, 3)
    angle : float
        Degrees.

    Returns
    -------
    rotated : ndarray like ``clip``
    """
    h, w = clip.shape[1:3]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), float(angle), 1.0)
    # OpenCV has no 64-bit integer or bool warps; float64 and uint8 are handled natively.
    work = clip if clip.dtype in (np.uint8, np.float32, np.float64) else clip.astype(np.float64)
    frames = [
        cv2.warpAffine(
            f, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        for f in work
    ]
    return np.stack(frames).astype(clip.dtype, copy=False)


class ImageSequenceAugmenter(ClipTransformerMixin, BaseAugmenter):
    """Flip whole clips horizontally and rotate them by fixed angles (DTAGN, section 3.4).

    Every clip yields its original, its horizontal mirror, and each of them rotated by each
    angle: with the paper's six angles ``{-15, -10, -5, 5, 10, 15}`` degrees, 14 clips
    ("original images (1), flipped images (1), rotated images with six angles, and their
    flipped versions (12)"). Every frame of a clip gets the same transform, so the motion
    over time is kept. The augmentation is deterministic (the paper draws nothing at
    random), hence no ``random_state``.

    As an imbalanced-learn sampler it runs in :class:`imblearn.pipeline.Pipeline` during
    ``fit`` only, and composes with class-balancing samplers such as
    :class:`imblearn.over_sampling.RandomOverSampler` (put the balancer first, so
    balanced classes are then multiplied alike).

    Parameters
    ----------
    flip : bool, default=True
        Add the horizontal mirror of the original and of each rotation.
    angles : sequence of float, default=(-15, -10, -5, 5, 10, 15)
        Rotation angles in degrees, about the frame centre with replicated borders (see
        :func:`rotate_clip`).

    Attributes
    ----------
    sample_indices_ : ndarray of int
        Source clip of each output clip: align groups with ``groups[sample_indices_]``.
    n_augmentations_ : int
        Output clips per input clip, ``(1 + len(angles)) * (2 if flip else 1)``.

    Notes
    -----
    ``X`` is a list of clips or an ndarray of clips (see ``docs/data_model.md``); the
    output has the same container kind. Output order per clip: original, its flip, then
    for each angle the rotation and its flip.
    """

    def __init__(
        self, flip: bool = True, angles: Sequence[float] = (-15, -10, -5, 5, 10, 15)
    ) -> None:
        self.flip = flip
        self.angles = angles

    def _validate_X(self, X):
        angles = np.asarray(self.angles, dtype=float).reshape(-1)
        if not np.isfinite(angles).all():
            raise ValueError(f"angles must be finite degrees, got {self.angles!r}")
        if not isinstance(self.flip, (bool, np.bool_, numbers.Integral)):
            raise ValueError(f"flip must be a bool, got {self.flip!r}")
        clips = check_clips(X)
        return clips, lambda out: same_container(X, out)

    def _augment(self, clip: np.ndarray, rng: np.random.RandomState) -> list[np.ndarray]:
        angles = np.asarray(self.angles, dtype=float).reshape(-1)
        variants = [clip] + [rotate_clip(clip, a) for a in angles]
        if not self.flip:
            return [v.copy() if v is clip else v for v in variants]
        out = []
        for v in variants:
            out.append(v.copy() if v is clip else v)
            out.append(np.ascontiguousarray(v[:, :, ::-1]))  # mirror the W axis
        return out
