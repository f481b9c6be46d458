"""Image-sequence augmentation of DTAGN (Jung et al., ICCV 2015, section 3.4): flips and
small rotations of whole clips, with their landmarks moved alike, as an imbalanced-learn
sampler (applied during fit only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import cv2
import numpy as np

from ..base import ClipTransformerMixin, same_container
from ..clipset import ClipSet
from ..utils._geometry import affine_boxes, affine_points, compose_affine, mirror_matrix
from ..utils.landmark_scheme import flip_permutation
from ..utils.validation import check_clips
from ._base import BaseAugmenter

__all__ = ["ImageSequenceAugmenter", "rotate_clip"]


def _rotation_matrix(height: int, width: int, angle: float) -> np.ndarray:
    """2x3 map of :func:`rotate_clip`: ``angle`` degrees about the frame centre."""
    return cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), float(angle), 1.0)


def rotate_clip(clip: np.ndarray, angle: float) -> np.ndarray:
    """Rotate every frame of a clip by ``angle`` degrees about the frame centre.

    Positive angles turn the image counter-clockwise as displayed (OpenCV's convention).
    Pixels that come from outside the frame repeat the border (``BORDER_REPLICATE``), so
    no black corners appear. The dtype and shape are kept. The centre is ``((W - 1) / 2,
    (H - 1) / 2)`` in pixel-centre coordinates, so a point ``(x, y)`` of the frame moves to
    ``cv2.getRotationMatrix2D(centre, angle, 1) @ (x, y, 1)``.

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
    matrix = _rotation_matrix(h, w, angle)
    # OpenCV has no 64-bit integer or bool warps; float64 and uint8 are handled natively.
    work = clip if clip.dtype in (np.uint8, np.float32, np.float64) else clip.astype(np.float64)
    frames = [
        cv2.warpAffine(
            f, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        for f in work
    ]
    return np.stack(frames).astype(clip.dtype, copy=False)


class _PairedClip(NamedTuple):
    """One clip of a ClipSet with its own entry of every companion."""

    clip: np.ndarray
    companions: dict[str, Any]


class ImageSequenceAugmenter(ClipTransformerMixin, BaseAugmenter):
    """Flip whole clips horizontally and rotate them by fixed angles (DTAGN, section 3.4).

    Every clip yields its original, its horizontal mirror, and each of them rotated by each
    angle: with the paper's six angles ``{-15, -10, -5, 5, 10, 15}`` degrees, 14 clips
    ("original images (1), flipped images (1), rotated images with six angles, and their
    flipped versions (12)"). Every frame of a clip gets the same transform, so the motion
    over time is kept. The augmentation is deterministic (the paper draws nothing at
    random), hence no ``random_state``.

    Given a :class:`~skfer.ClipSet` with a ``landmarks`` companion, every copy's landmarks
    are moved by the *same* flip and rotation as its pixels (paired augmentation, which
    DTAGN's joint fine-tuning of the appearance and geometry networks needs): rotated by
    the same angle about the same centre, mirrored as ``x -> W - 1 - x`` (the pixel
    centres of ``frame[:, ::-1]``) and relabelled left/right with
    :func:`skfer.utils.landmark_scheme.flip_permutation` (68 iBUG or 49 IntraFace points).

    As an imbalanced-learn sampler it runs in :class:`imblearn.pipeline.Pipeline` during
    ``fit`` only, and composes with class-balancing samplers (put the balancer first, so
    balanced classes are then multiplied alike). imbalanced-learn's own samplers validate
    ``X`` as a 2-D matrix, which clips are not: balance clips by index, e.g.
    ``FunctionSampler(func=f, validate=False)`` with ``f(X, y)`` running
    :class:`~imblearn.over_sampling.RandomOverSampler` on ``np.arange(len(y))[:, None]``
    and returning ``X[indices]`` (a ClipSet indexed so keeps its companions).

    Parameters
    ----------
    flip : bool, default=True
        Add the horizontal mirror of the original and of each rotation.
    angles : array-like of float, default=(-15, -10, -5, 5, 10, 15)
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
    ``X`` is a list of clips, an ndarray of clips (see ``docs/data_model.md``) or a
    :class:`~skfer.ClipSet`; the output has the same container kind. Output order per clip:
    original, its flip, then for each angle the rotation and its flip.

    Companions of a ClipSet, per copy: ``landmarks`` move with the pixels as above (a NaN
    point stays NaN, a clip's ``None`` entry stays ``None``); ``boxes`` ``(x, y, w, h)``
    become the axis-aligned box around the moved corners (exact for flips, slightly larger
    for rotations, so the face stays inside); ``status``, ``frame_ids`` and the per-clip
    companions (``audio``, ``fps``, ...) are copied unchanged. Flipping landmarks of a
    scheme whose left/right pairs are unknown (neither 68 nor 49 points) raises.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer import ClipSet
    >>> clip = np.zeros((1, 9, 10), np.uint8)
    >>> X = ClipSet([clip, clip], landmarks=[np.full((1, 68, 2), 2.0)] * 2)
    >>> X_res, y_res = ImageSequenceAugmenter(angles=()).fit_resample(X, [0, 1])
    >>> len(X_res), X_res.get("landmarks")[1][0, 0].tolist()  # flip of x = 2: 10 - 1 - 2
    (4, [7.0, 2.0])
    """

    _parameter_constraints: dict = {"flip": ["boolean"], "angles": ["array-like"]}

    def __init__(
        self, *, flip: bool = True, angles: Sequence[float] = (-15, -10, -5, 5, 10, 15)
    ) -> None:
        self.flip = flip
        self.angles = angles

    def _angles(self) -> np.ndarray:
        angles = np.asarray(self.angles, dtype=float).reshape(-1)
        if not np.isfinite(angles).all():
            raise ValueError(f"angles must be finite degrees, got {self.angles!r}")
        return angles

    def _validate_X(self, X):
        self._angles()
        clips = check_clips(X)
        if not isinstance(X, ClipSet):
            return clips, lambda out: same_container(X, out)
        landmarks = X.get("landmarks")
        if landmarks is not None and self.flip:
            for i, points in enumerate(landmarks):
                if points is None:
                    continue
                if points.ndim != 3 or points.shape[2] != 2:
                    raise ValueError(
                        f"clip {i}: landmarks must have shape (T, P, 2), got {points.shape}"
                    )
                try:
                    flip_permutation(points.shape[1])
                except ValueError as exc:
                    raise ValueError(f"clip {i}: cannot flip its landmarks: {exc}") from exc
        samples = [
            _PairedClip(clip, {name: values[i] for name, values in X.companions.items()})
            for i, clip in enumerate(clips)
        ]

        def restore(out: list[_PairedClip]) -> ClipSet:
            return ClipSet(
                [s.clip for s in out],
                **{name: [s.companions[name] for s in out] for name in X.companions},
            )

        return samples, restore

    def _variants(self, clip: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        """Each copy as (pixels, 2x3 map of the points, flipped?), in the output order."""
        h, w = clip.shape[1:3]
        rotations = [(clip.copy(), np.eye(2, 3), False)] + [
            (rotate_clip(clip, a), _rotation_matrix(h, w, a), False) for a in self._angles()
        ]
        if not self.flip:
            return rotations
        mirror = mirror_matrix(w)
        out = []
        for pixels, matrix, _ in rotations:
            out.append((pixels, matrix, False))
            out.append(
                (np.ascontiguousarray(pixels[:, :, ::-1]), compose_affine(mirror, matrix), True)
            )
        return out

    @staticmethod
    def _move_companions(
        companions: dict[str, Any], matrix: np.ndarray, flipped: bool
    ) -> dict[str, Any]:
        moved = dict(companions)
        points = companions.get("landmarks")
        if points is not None:
            points = affine_points(points, matrix)
            moved["landmarks"] = points[:, flip_permutation(points.shape[1])] if flipped else points
        if companions.get("boxes") is not None:
            moved["boxes"] = affine_boxes(companions["boxes"], matrix)
        return moved

    def _augment(self, sample, rng: np.random.RandomState) -> list:
        if not isinstance(sample, _PairedClip):
            return [pixels for pixels, _, _ in self._variants(sample)]
        return [
            _PairedClip(pixels, self._move_companions(sample.companions, matrix, flipped))
            for pixels, matrix, flipped in self._variants(sample.clip)
        ]
