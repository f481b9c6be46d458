"""Mouth crops from face tubes: a fixed fractional box, or a box around mouth landmarks.

EmoNets' bag-of-mouths model (Kahou et al., 2015, section 3.4) crops "96 x 96 facetubes
... around a region where the mouth usually lies. This region was globally chosen by
visualizing many training images, but a more precise method, such as mouth keypoint
extraction, could also be applied." :class:`MouthRegion` does both.
"""

from __future__ import annotations

import numbers
from typing import Any

import cv2
import numpy as np

from ..base import StatelessClipTransformer, same_container
from ..clipset import ClipSet
from ..utils._geometry import map_geometry_companions
from ..utils._param_validation import FrameSize, RealTuple
from ..utils._sklearn import Interval
from ..utils.frame_policy import apply_policy, policy_constraint
from ..utils.landmark_scheme import IBUG68_GROUPS
from ..utils.validation import check_clips
from ._frame_records import records_from_masks

__all__ = ["MOUTH_BOX", "MOUTH_INDICES_68", "MouthRegion"]

#: iBUG 68-point indices of the mouth (outer lip 48-59, inner lip 60-67), from the one index
#: table :data:`skfer.utils.landmark_scheme.IBUG68_GROUPS`.
MOUTH_INDICES_68: np.ndarray = np.concatenate(
    [IBUG68_GROUPS["outer_lips"], IBUG68_GROUPS["inner_lips"]]
)
MOUTH_INDICES_68.setflags(write=False)

#: Default mouth box ``(left, top, right, bottom)`` as fractions of the face crop.
#: On skfer's face template (:mod:`skfer.datasets._face_template`) the 20 mouth landmarks
#: span x 0.29-0.79 and y 0.70-0.89 of dlib's face box; the default box is centred
#: horizontally, 0.6 of the face wide, and runs from 0.6 of the height to the bottom of
#: the crop, leaving room for an open ("surprise") mouth and for the jitter of detected
#: boxes.
MOUTH_BOX: tuple[float, float, float, float] = (0.2, 0.6, 0.8, 1.0)


def _resize(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    interp = cv2.INTER_AREA if frame.shape[0] > h else cv2.INTER_LINEAR
    return cv2.resize(frame, (w, h), interpolation=interp)


class MouthRegion(StatelessClipTransformer):
    """Crop the mouth area of every frame of face tubes (EmoNets bag of mouths, 3.4).

    Without landmarks, the same fractional ``box`` of every frame is cut out (EmoNets'
    "globally chosen" region): rows ``round(top H)`` to ``round(bottom H)`` and columns
    ``round(left W)`` to ``round(right W)``. With landmarks (the "mouth keypoint" variant),
    each frame's crop is the bounding box of its mouth points (iBUG 68 indices 48-67),
    enlarged by ``margin`` times its width and height on every side, widened to the aspect
    of the output, and resampled to a fixed size.

    Parameters
    ----------
    box : tuple of 4 float, default=MOUTH_BOX = (0.2, 0.6, 0.8, 1.0)
        ``(left, top, right, bottom)`` as fractions of the frame width and height, ``0 <=
        left < right <= 1``, ``0 <= top < bottom <= 1``. See :data:`MOUTH_BOX` for how the
        default was chosen.
    frame_size : tuple of int (height, width) or None, default=None
        Output frame size. ``None``: the size of ``box`` on the input frames (for
        landmark crops too, so both modes give the same shape).
    margin : float, default=0.25
        Landmark mode: margin added on each side, as a fraction of the mouth's width
        (left/right) and height (top/bottom).
    on_missing : {"raise", "warn", "ignore"}, default="warn"
        Landmark mode, frames whose mouth points are NaN (no face found), recorded as
        :class:`~skfer.utils.frame_policy.SkippedFrames` (reason ``"no_landmarks"``):
        ``"raise"`` a :class:`~skfer.utils.frame_policy.SkippedFramesError` (a
        ``ValueError``) naming the clip and frames; ``"warn"``: crop them with the fixed
        ``box`` and name them in one
        :class:`~skfer.utils.frame_policy.SkippedFramesWarning`; ``"ignore"``: the same
        fallback without the warning.

    Attributes
    ----------
    fitted_ : bool
        Set by :meth:`fit` (the step learns nothing).

    Notes
    -----
    Landmarks come with the clips in a :class:`~skfer.ClipSet` (its ``landmarks``
    companion, as the loaders and :class:`~skfer.preprocessing.LandmarkDetector` give
    them), or are passed to :meth:`transform` (``landmarks=``, which wins over the
    companion): per clip a ``(T_i, 68, 2)`` array of ``(x, y)`` pixel coordinates (or
    ``(T_i, 20, 2)`` holding the mouth points only). A ClipSet comes back as a ClipSet whose
    ``landmarks`` and ``boxes`` companions are mapped into the mouth crops (by the same
    affine map as the pixels of each frame; points may fall outside the crop), every other
    companion kept. Passing ``landmarks=`` through a :class:`~sklearn.pipeline.Pipeline`
    needs scikit-learn's metadata routing (``MouthRegion().set_transform_request(
    landmarks=True)``); a ClipSet needs nothing.
    Crops that reach outside the frame repeat the border pixels. Output frames keep a uint8 or
    float32 input dtype; other dtypes come back as float32.

    Examples
    --------
    >>> import numpy as np
    >>> tubes = np.zeros((2, 5, 96, 96), np.uint8)
    >>> MouthRegion().fit_transform(tubes).shape
    (2, 5, 38, 58)
    """

    _parameter_constraints: dict = {
        "box": [RealTuple(4)],
        "frame_size": [FrameSize(), None],
        "margin": [Interval(numbers.Real, 0, np.inf, closed="left")],
        "on_missing": policy_constraint(),
    }

    def __init__(
        self,
        *,
        box: tuple[float, float, float, float] = MOUTH_BOX,
        frame_size: tuple[int, int] | None = None,
        margin: float = 0.25,
        on_missing: str = "warn",
    ) -> None:
        self.box = box
        self.frame_size = frame_size
        self.margin = margin
        self.on_missing = on_missing

    def _check_param_relations(self) -> None:
        left, top, right, bottom = self.box
        if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
            raise ValueError(
                "box must satisfy 0 <= left < right <= 1 and 0 <= top < bottom <= 1, got "
                f"{self.box!r}"
            )

    def _pixel_box(self, h: int, w: int) -> tuple[int, int, int, int]:
        left, top, right, bottom = (float(v) for v in self.box)
        x0, x1 = int(round(left * w)), int(round(right * w))
        y0, y1 = int(round(top * h)), int(round(bottom * h))
        return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)

    def _out_size(self, h: int, w: int) -> tuple[int, int]:
        if self.frame_size is not None:
            return int(self.frame_size[0]), int(self.frame_size[1])
        x0, y0, x1, y1 = self._pixel_box(h, w)
        return y1 - y0, x1 - x0

    def _fixed_crop(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The fixed-box crop and the 2x3 map of frame points into it."""
        x0, y0, x1, y1 = self._pixel_box(*frame.shape[:2])
        crop = frame[y0:y1, x0:x1]
        out_h, out_w = self._out_size(*frame.shape[:2])
        # cv2.resize maps pixel centres as x' = (x + 0.5) s - 0.5 (s = 1 without resizing).
        sx, sy = out_w / (x1 - x0), out_h / (y1 - y0)
        affine = np.float64([[sx, 0, (0.5 - x0) * sx - 0.5], [0, sy, (0.5 - y0) * sy - 0.5]])
        if crop.shape[:2] != (out_h, out_w):
            crop = _resize(crop, (out_h, out_w))
        return crop, affine

    def _landmark_crop(
        self, frame: np.ndarray, mouth: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The crop around the mouth points and the 2x3 map of frame points into it."""
        out_h, out_w = self._out_size(*frame.shape[:2])
        (xa, ya), (xb, yb) = mouth.min(axis=0), mouth.max(axis=0)
        cx, cy = (xa + xb) / 2, (ya + yb) / 2
        half_w = max((xb - xa) * (0.5 + self.margin), 1.0)
        half_h = max((yb - ya) * (0.5 + self.margin), 1.0)
        # Widen the shorter side so that the crop keeps the output's aspect (no distortion).
        if half_w / half_h < out_w / out_h:
            half_w = half_h * out_w / out_h
        else:
            half_h = half_w * out_h / out_w
        sx, sy = out_w / (2 * half_w), out_h / (2 * half_h)
        # Landmarks are pixel-centre coordinates; the box edge cx - half_w maps to -0.5, the
        # left edge of output pixel 0 (and cx + half_w to the right edge of the last one).
        affine = np.float64([[sx, 0, -0.5 - sx * (cx - half_w)],
                             [0, sy, -0.5 - sy * (cy - half_h)]])
        crop = cv2.warpAffine(
            frame, affine, (out_w, out_h), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return crop, affine

    @staticmethod
    def _mouth_points(landmarks: Any, index: int, n_frames: int) -> np.ndarray:
        pts = np.asarray(landmarks, dtype=np.float64)
        if pts.ndim != 3 or pts.shape[0] != n_frames or pts.shape[2] != 2 or pts.shape[1] not in (
            20, 68
        ):
            raise ValueError(
                f"clip {index}: landmarks must have shape ({n_frames}, 68, 2) or "
                f"({n_frames}, 20, 2), got {pts.shape}"
            )
        return pts[:, MOUTH_INDICES_68] if pts.shape[1] == 68 else pts

    def _crop_clip(
        self, clip: np.ndarray, mouths: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Crops of one clip and the (T, 2, 3) maps of its points (the fixed box where the
        mouth points are not finite)."""
        # OpenCV resamples uint8 and float32 frames; other dtypes go through float32.
        frames = clip if clip.dtype in (np.uint8, np.float32) else clip.astype(np.float32)
        crops, maps = [], []
        for t, f in enumerate(frames):
            if mouths is not None and np.isfinite(mouths[t]).all():
                crop, affine = self._landmark_crop(f, mouths[t])
            else:
                crop, affine = self._fixed_crop(f)
            crops.append(crop)
            maps.append(affine)
        return np.stack(crops), np.stack(maps)

    def _report(self, bad: list[np.ndarray | None], X: Any = None) -> None:
        """``on_missing`` on the frames with NaN mouth points (bool mask per clip)."""
        apply_policy(
            records_from_masks(bad, "no_landmarks", X, "NaN mouth landmarks"),
            self.on_missing,
            "cropped with the fixed box instead of their mouth landmarks",
            hint='set on_missing="warn" or "ignore" to crop such frames with the fixed box',
            stacklevel=4,
        )

    def transform(self, X, landmarks=None):
        """Crop the mouth of every frame.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`
            Face crops (face tubes); a ClipSet's ``landmarks`` companion is used when
            ``landmarks`` is not given.
        landmarks : list of array-like of shape (T_i, 68, 2), optional
            Landmark coordinates ``(x, y)`` in pixels of each frame of each clip; NaN for
            frames without a face (these follow ``on_missing``).

        Returns
        -------
        Xt : clips of mouth crops, list, ndarray or ClipSet like ``X``
            A ClipSet's ``landmarks`` and ``boxes`` are mapped into the crops.
        """
        self._check_ready()
        clips = check_clips(X)
        companion = X.get("landmarks") if isinstance(X, ClipSet) else None
        source = landmarks if landmarks is not None else companion
        if source is not None and len(source) != len(clips):
            raise ValueError(f"{len(source)} landmark arrays for {len(clips)} clips")
        mouths = [
            None if source is None or source[i] is None
            else self._mouth_points(source[i], i, len(clip))
            for i, clip in enumerate(clips)
        ]
        # Frames without mouth points follow on_missing before any crop is made.
        self._report(
            [None if m is None else ~np.isfinite(m).all(axis=(1, 2)) for m in mouths], X
        )
        out, maps = [], []
        for clip, m in zip(clips, mouths):
            crops, affines = self._crop_clip(clip, m)
            out.append(crops)
            maps.append(affines)
        if not isinstance(X, ClipSet):
            return same_container(X, out)
        return same_container(X, out, **map_geometry_companions(X, maps))
