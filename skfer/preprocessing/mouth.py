"""Mouth crops from face tubes: a fixed fractional box, or a box around mouth landmarks.

EmoNets' bag-of-mouths model (Kahou et al., 2015, section 3.4) crops "96 x 96 facetubes
... around a region where the mouth usually lies. This region was globally chosen by
visualizing many training images, but a more precise method, such as mouth keypoint
extraction, could also be applied." :class:`MouthRegion` does both.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import cv2
import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..base import StatelessClipTransformer, same_container
from ..utils.validation import check_clips

__all__ = ["MOUTH_BOX", "MOUTH_INDICES_68", "MouthRegion"]

#: iBUG 68-point indices of the mouth (outer lip 48-59, inner lip 60-67).
MOUTH_INDICES_68: np.ndarray = np.arange(48, 68)

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
    size : tuple of int (height, width) or None, default=None
        Output frame size. ``None``: the size of ``box`` on the input frames (for
        landmark crops too, so both modes give the same shape).
    margin : float, default=0.25
        Landmark mode: margin added on each side, as a fraction of the mouth's width
        (left/right) and height (top/bottom).

    Attributes
    ----------
    fitted_ : bool
        Set by :meth:`fit` (the step learns nothing).

    Notes
    -----
    Landmarks are given to :meth:`transform` (``landmarks=``): a list of ``(T_i, 68, 2)``
    arrays of ``(x, y)`` pixel coordinates, e.g. the output of
    :class:`~skfer.preprocessing.LandmarkDetector` (or ``(T_i, 20, 2)`` arrays holding the
    mouth points only). In a :class:`~sklearn.pipeline.Pipeline`, enable scikit-learn's
    metadata routing and request them: ``sklearn.set_config(enable_metadata_routing=True)``,
    ``MouthRegion().set_transform_request(landmarks=True)``, then
    ``pipe.fit(X, y, landmarks=L)``... only ``transform`` consumes them.
    Frames whose mouth points are NaN (no face found) get the fixed ``box`` instead; a
    ``UserWarning`` counts them per clip (``transform`` does not change the estimator).
    Crops that reach outside the frame repeat the border pixels. Output frames keep a uint8 or
    float32 input dtype; other dtypes come back as float32.

    Examples
    --------
    >>> import numpy as np
    >>> tubes = np.zeros((2, 5, 96, 96), np.uint8)
    >>> MouthRegion().fit_transform(tubes).shape
    (2, 5, 38, 58)
    """

    def __init__(
        self,
        box: tuple[float, float, float, float] = MOUTH_BOX,
        size: tuple[int, int] | None = None,
        margin: float = 0.25,
    ) -> None:
        self.box = box
        self.size = size
        self.margin = margin

    def _check_params(self) -> None:
        try:
            left, top, right, bottom = (float(v) for v in self.box)
        except (TypeError, ValueError):
            raise ValueError(
                f"box must be 4 fractions (left, top, right, bottom), got {self.box!r}"
            ) from None
        if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
            raise ValueError(
                "box must satisfy 0 <= left < right <= 1 and 0 <= top < bottom <= 1, got "
                f"{self.box!r}"
            )
        if self.size is not None:
            ok = len(tuple(self.size)) == 2 and all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
                for v in self.size
            )
            if not ok:
                raise ValueError(f"size must be None or (height, width) > 0, got {self.size!r}")
        m = self.margin
        if isinstance(m, bool) or not isinstance(m, numbers.Real) or not (
            np.isfinite(m) and m >= 0
        ):
            raise ValueError(f"margin must be a finite number >= 0, got {m!r}")

    def _pixel_box(self, h: int, w: int) -> tuple[int, int, int, int]:
        left, top, right, bottom = (float(v) for v in self.box)
        x0, x1 = int(round(left * w)), int(round(right * w))
        y0, y1 = int(round(top * h)), int(round(bottom * h))
        return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)

    def _out_size(self, h: int, w: int) -> tuple[int, int]:
        if self.size is not None:
            return int(self.size[0]), int(self.size[1])
        x0, y0, x1, y1 = self._pixel_box(h, w)
        return y1 - y0, x1 - x0

    def _fixed_crop(self, frame: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = self._pixel_box(*frame.shape[:2])
        crop = frame[y0:y1, x0:x1]
        size = self._out_size(*frame.shape[:2])
        return crop if crop.shape[:2] == size else _resize(crop, size)

    def _landmark_crop(self, frame: np.ndarray, mouth: np.ndarray) -> np.ndarray:
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
        return cv2.warpAffine(
            frame, affine, (out_w, out_h), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )

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

    def transform(self, X, landmarks=None):
        """Crop the mouth of every frame.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]) or ndarray of them
            Face crops (face tubes).
        landmarks : list of array-like of shape (T_i, 68, 2), optional
            Landmark coordinates ``(x, y)`` in pixels of each frame of each clip; NaN for
            frames without a face (these get the fixed ``box``).

        Returns
        -------
        Xt : clips of mouth crops, list or ndarray like ``X``
        """
        check_is_fitted(self, "fitted_")
        self._check_params()
        clips = check_clips(X)
        if landmarks is not None and len(landmarks) != len(clips):
            raise ValueError(f"{len(landmarks)} landmark arrays for {len(clips)} clips")
        out, fallback = [], []
        for i, clip in enumerate(clips):
            # OpenCV resamples uint8 and float32 frames; other dtypes go through float32.
            frames = clip if clip.dtype in (np.uint8, np.float32) else clip.astype(np.float32)
            if landmarks is None:
                out.append(np.stack([self._fixed_crop(f) for f in frames]))
                continue
            mouths = self._mouth_points(landmarks[i], i, len(clip))
            crops, n_bad = [], 0
            for f, m in zip(frames, mouths):
                if np.isfinite(m).all():
                    crops.append(self._landmark_crop(f, m))
                else:
                    n_bad += 1
                    crops.append(self._fixed_crop(f))
            fallback.append(n_bad)
            out.append(np.stack(crops))
        if any(fallback):
            shown = ", ".join(f"clip {i}: {n}" for i, n in enumerate(fallback) if n)
            warnings.warn(
                f"{sum(fallback)} frames had NaN mouth landmarks and were cropped with the "
                f"fixed box instead ({shown})",
                UserWarning,
                stacklevel=2,
            )
        return same_container(X, out)
