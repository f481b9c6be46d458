"""Face registration by landmarks (EmoNets, Kahou et al. 2015, section 3.1.1).

EmoNets made its three face data sets compatible by registering them: "51 of the 68 facial
keypoints ... The face contour keypoints ... were ignored", and a similarity transform
mapped each data set onto a base shape. :class:`FaceRegistration` aligns every frame by the
similarity transform that best maps its 51 non-jaw landmarks onto a mean face shape learnt
in ``fit``, then crops the output frame.
"""

from __future__ import annotations

import numbers
from typing import Any

import cv2
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..base import ClipTransformerMixin, same_container
from ..clipset import ClipSet
from ..utils._geometry import (
    compose_affine,
    map_geometry_companions,
    procrustes_mean,
    similarity_to,
)
from ..utils._param_validation import FrameSize
from ..utils._sklearn import Interval, _fit_context
from ..utils.frame_policy import apply_policy, policy_constraint
from ..utils.landmark_scheme import IBUG68_GROUPS
from ..utils.validation import check_clips
from ._frame_records import records_from_masks

__all__ = ["REGISTRATION_INDICES_68", "FaceRegistration"]

#: The 51 iBUG 68-point indices used for registration: every point but the 17 of the jaw
#: ("the face contour keypoints ... were ignored", EmoNets 3.1.1).
REGISTRATION_INDICES_68: np.ndarray = np.concatenate(
    [idx for group, idx in IBUG68_GROUPS.items() if group != "jaw"]
)
REGISTRATION_INDICES_68.setflags(write=False)

_N_REGISTRATION = len(REGISTRATION_INDICES_68)  # 51
# Eye centres within the 51 points, to turn the mean shape upright.
_RIGHT_EYE_51 = np.searchsorted(REGISTRATION_INDICES_68, IBUG68_GROUPS["right_eye"])
_LEFT_EYE_51 = np.searchsorted(REGISTRATION_INDICES_68, IBUG68_GROUPS["left_eye"])

_NEEDS_LANDMARKS = (
    "FaceRegistration needs the landmarks of every frame: give a skfer.ClipSet with a "
    "'landmarks' companion (ClipSet(clips, landmarks=...), ClipSet.from_bunch(bunch) of a "
    "loader's Bunch, or the output of LandmarkDetector)"
)


def _registration_points(X: Any) -> list[np.ndarray | None]:
    """Per clip, its ``(T, 51, 2)`` registration points (None where the clip has none)."""
    landmarks = X.get("landmarks") if isinstance(X, ClipSet) else None
    if landmarks is None:
        got = "a ClipSet without landmarks" if isinstance(X, ClipSet) else type(X).__name__
        raise ValueError(f"{_NEEDS_LANDMARKS}; got {got}")
    out = []
    for i, points in enumerate(landmarks):
        if points is None:
            out.append(None)
            continue
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 3 or points.shape[2] != 2 or points.shape[1] not in (
            68, _N_REGISTRATION
        ):
            raise ValueError(
                f"clip {i}: landmarks of shape {points.shape}; FaceRegistration needs the 68 "
                f"iBUG points (T, 68, 2), or their {_N_REGISTRATION} non-jaw points "
                f"(T, {_N_REGISTRATION}, 2)"
            )
        out.append(points[:, REGISTRATION_INDICES_68] if points.shape[1] == 68 else points)
    return out


def _usable(points: np.ndarray | None, n_frames: int) -> np.ndarray:
    """Frames whose 51 registration points are all finite."""
    if points is None:
        return np.zeros(n_frames, dtype=bool)
    return np.isfinite(points).all(axis=(1, 2))


def _report_missing(X: Any, missing: list[np.ndarray], on_missing: str, what: str) -> None:
    """Record the frames without landmarks (bool mask per clip) and apply ``on_missing``."""
    apply_policy(
        records_from_masks(missing, "no_landmarks", X), on_missing, what,
        hint=f'set on_missing="warn" or "ignore" to have them {what}', stacklevel=4,
    )


class FaceRegistration(ClipTransformerMixin, TransformerMixin, BaseEstimator):
    """Align every frame onto a mean face shape by a similarity transform (EmoNets 3.1.1).

    ``fit`` learns the mean shape of the 51 non-jaw landmarks
    (:data:`REGISTRATION_INDICES_68`) of every frame that has them: their generalised
    Procrustes mean, turned upright (the line through the two eye centres horizontal, the
    subject's right eye on the image's left), scaled and centred so that the points span
    the output frame up to ``margin`` times the frame size on each side of the tighter
    axis. ``transform`` maps each frame by the similarity transform (rotation, uniform
    scale, translation; least squares, Umeyama 1991) that best maps its 51 points onto
    that mean shape, and samples the ``frame_size`` output.

    Parameters
    ----------
    frame_size : tuple of int, default=(48, 48)
        Output ``(height, width)``; EmoNets' ConvNet takes 48 x 48 faces.
    margin : float, default=0.1
        Free border around the mean shape's 51 points, as a fraction of the output frame's
        width and height (the tighter of the two axes gets exactly this much, the other
        more), ``0 <= margin < 0.5``. With 0.1 the frame holds about the face box a face
        detector gives: on skfer's face template the 51 points span 12-100 % of dlib's face
        box horizontally and 12-89 % vertically.
    on_missing : {"raise", "warn", "ignore"}, default="warn"
        Frames whose 51 points are not all finite (no face found, or a clip whose
        landmarks entry is None), recorded as
        :class:`~skfer.utils.frame_policy.SkippedFrames` (reason ``"no_landmarks"``):
        ``"raise"`` a :class:`~skfer.utils.frame_policy.SkippedFramesError` (a
        ``ValueError``) naming the clip and frames; ``"warn"`` (one
        :class:`~skfer.utils.frame_policy.SkippedFramesWarning`) or ``"ignore"``: ``fit``
        leaves them out of the mean shape (counted in ``n_frames_missing_``), and
        ``transform`` registers them with the transform of the nearest frame of the clip
        that has landmarks (the previous one, else the next), or, in a clip with none, a
        centre crop of the output's aspect resized to ``frame_size``; their ``status``
        becomes ``"missing"`` so that a :class:`~skfer.preprocessing.FrameAggregator`
        leaves them out.

    Attributes
    ----------
    shape_ : ndarray of shape (51, 2)
        The learnt mean shape of the 51 points (iBUG order without the jaw), upright,
        centred at 0 with unit root-mean-square radius.
    mean_shape_ : ndarray of shape (51, 2)
        Property: ``shape_`` placed in the output frame, the target ``(x, y)`` positions
        (pixel-centre coordinates) of the 51 points.
    n_frames_fit_ : int
        Frames whose landmarks made the mean shape.
    n_frames_missing_ : int
        Frames left out of the mean shape for lack of landmarks.

    See Also
    --------
    skfer.preprocessing.LandmarkDetector : landmarks of clips that have none.
    skfer.preprocessing.IsotropicSmoothing : EmoNets' illumination step after registration.

    Notes
    -----
    Input is a :class:`~skfer.ClipSet` with a ``landmarks`` companion of ``(T, 68, 2)``
    (or ``(T, 51, 2)`` non-jaw) ``(x, y)`` pixel positions. The output is a ClipSet of
    ``(T, *frame_size[, 3])`` clips (uint8 and float32 kept, other dtypes as float32)
    whose ``landmarks`` and ``boxes`` are mapped into the registered frames (NaN
    landmarks stay NaN), with a ``status`` companion (the input's, ``"detected"`` where it
    had none, ``"missing"`` for frames without landmarks); other companions are kept.
    :meth:`transform_with_info` also returns each frame's transform. Pixels from outside
    the input frame repeat its border; strong downscaling first resizes the frame by area
    averaging, so that small outputs do not alias.

    Where skfer departs from the paper: EmoNets computed *one* similarity transform per
    data set, between the mean shapes of each data set's frontal faces and the Google data
    set's mean shape taken as the base, and mapped all images of the data set with it
    ("to reduce noise"); skfer aligns every frame on its own landmarks, which also removes
    each frame's in-plane rotation and scale, at the cost of following landmark noise. To
    register a data set onto another one's frame as the paper did, fit on the base data
    set and transform the other (e.g. through :class:`sklearn.frozen.FrozenEstimator`).
    The paper's landmarks came from the mixture-of-trees model of Zhu and Ramanan; skfer
    takes whichever 68 iBUG points the data set or :class:`LandmarkDetector` gives. The
    paper does not say how the frame is filled around the registered shape; ``margin`` is
    skfer's choice, and so is the upright orientation of the mean shape.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer import ClipSet
    >>> from skfer.datasets import make_expressions
    >>> data = make_expressions(n_subjects=1, n_clips_per_expression=1, n_frames=3,
    ...                         random_state=0)
    >>> X = ClipSet.from_bunch(data)
    >>> reg = FaceRegistration().fit(X)
    >>> Xt = reg.transform(X)
    >>> Xt[0].shape, Xt.get("landmarks")[0].shape
    ((3, 48, 48, 3), (3, 68, 2))
    """

    _parameter_constraints: dict = {
        "frame_size": [FrameSize()],
        "margin": [Interval(numbers.Real, 0, 0.5, closed="left")],
        "on_missing": policy_constraint(),
    }

    def __init__(
        self, *, frame_size: tuple[int, int] = (48, 48), margin: float = 0.1,
        on_missing: str = "warn",
    ) -> None:
        self.frame_size = frame_size
        self.margin = margin
        self.on_missing = on_missing

    # ------------------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the mean shape of the 51 non-jaw landmarks, placed in the output frame.

        Parameters
        ----------
        X : :class:`~skfer.ClipSet` with a ``landmarks`` companion
        y : ignored

        Returns
        -------
        self
        """
        clips = check_clips(X)
        points = _registration_points(X)
        usable = [_usable(p, len(c)) for p, c in zip(points, clips)]
        _report_missing(X, [~u for u in usable], self.on_missing, "left out of the mean shape")
        shapes = [p[u] for p, u in zip(points, usable) if p is not None and u.any()]
        if not shapes:
            raise ValueError(
                "FaceRegistration.fit: no frame has finite landmarks; the mean face shape "
                "needs at least one"
            )
        shapes = np.concatenate(shapes)
        mean = procrustes_mean(shapes)
        # Upright: the vector from the right eye's centre to the left eye's along +x.
        eye_line = mean[_LEFT_EYE_51].mean(axis=0) - mean[_RIGHT_EYE_51].mean(axis=0)
        angle = -np.arctan2(eye_line[1], eye_line[0])
        cos, sin = np.cos(angle), np.sin(angle)
        self.shape_ = mean @ np.array([[cos, sin], [-sin, cos]])
        self.n_frames_fit_ = len(shapes)
        self.n_frames_missing_ = int(sum((~u).sum() for u in usable))
        return self

    @property
    def mean_shape_(self) -> np.ndarray:
        """The mean shape placed in the output frame: (51, 2) target positions.

        ``shape_`` scaled and centred so that the points span the frame up to ``margin``
        on each side of the tighter axis (computed from the current ``frame_size`` and
        ``margin``, so changing them after fit needs no refit).
        """
        check_is_fitted(self, "shape_")
        height, width = self.frame_size
        shape = self.shape_
        lo, hi = shape.min(axis=0), shape.max(axis=0)
        span = np.maximum(hi - lo, 1e-12)
        room = (1.0 - 2.0 * self.margin) * np.array([width, height], dtype=np.float64)
        scale = float(np.min(room / span))
        centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
        return (shape - (lo + hi) / 2.0) * scale + centre

    # ------------------------------------------------------------------------ transform
    def _centre_crop(self, height: int, width: int) -> np.ndarray:
        """Map of the largest centred region of the output's aspect onto the output."""
        out_h, out_w = self.frame_size
        scale = max(out_w / width, out_h / height)
        return np.array([
            [scale, 0.0, (out_w - 1) / 2.0 - scale * (width - 1) / 2.0],
            [0.0, scale, (out_h - 1) / 2.0 - scale * (height - 1) / 2.0],
        ])

    def _clip_transforms(
        self, points: np.ndarray | None, usable: np.ndarray, shape: tuple[int, int],
        target: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per frame: the 2x3 map, the frame whose landmarks gave it (-1: centre crop), RMS."""
        n = len(usable)
        matrices = np.empty((n, 2, 3))
        rms = np.full(n, np.nan)
        source = np.full(n, -1, dtype=np.intp)
        found = np.flatnonzero(usable)
        if found.size == 0:
            matrices[:] = self._centre_crop(*shape)
            return matrices, source, rms
        matrices[found], rms[found] = similarity_to(points[found], target)
        # Missing frames borrow the nearest earlier frame with landmarks, else the next one.
        before = np.searchsorted(found, np.arange(n), side="right") - 1
        source = np.where(before >= 0, found[np.maximum(before, 0)], found[0])
        matrices = matrices[source]
        return matrices, source, rms

    def _warp(self, frame: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        out_h, out_w = self.frame_size
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        if scale < 1.0:
            # Area-average down to about the output's resolution first: a bilinear warp
            # alone would alias when shrinking a large face to 48 x 48.
            h, w = frame.shape[:2]
            new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
            frame = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)
            rx, ry = new_w / w, new_h / h
            # Back from resized to original pixel centres: x = (x_r + 0.5) / rx - 0.5.
            back = np.array([[1 / rx, 0.0, 0.5 / rx - 0.5], [0.0, 1 / ry, 0.5 / ry - 0.5]])
            matrix = compose_affine(matrix, back)
        return cv2.warpAffine(
            frame, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def transform_with_info(self, X) -> tuple[ClipSet, list[dict[str, np.ndarray]]]:
        """Register every frame, and say how each frame was registered.

        Parameters
        ----------
        X : :class:`~skfer.ClipSet` with a ``landmarks`` companion

        Returns
        -------
        Xt : ClipSet
            As :meth:`transform`.
        info : list of dict, one per clip
            ``"matrix"``: ``(T, 2, 3)`` map of each frame's pixels and points into the
            output; ``"missing"``: ``(T,)`` bool, frames without landmarks;
            ``"source_frame"``: ``(T,)`` int, the frame whose landmarks gave the transform
            (itself, the nearest frame with landmarks, or -1 for a centre crop);
            ``"rms"``: ``(T,)`` root mean square distance in output pixels between the
            frame's registered 51 points and the mean shape (NaN where missing).
        """
        check_is_fitted(self, "shape_")
        self._validate_params()  # parameters may have been set after fit
        target = self.mean_shape_
        clips = check_clips(X)
        points = _registration_points(X)
        usable = [_usable(p, len(c)) for p, c in zip(points, clips)]
        _report_missing(
            X, [~u for u in usable], self.on_missing,
            "registered with a neighbour's transform (or a centre crop) and marked missing",
        )
        out, info = [], []
        for clip, p, u in zip(clips, points, usable):
            matrices, source, rms = self._clip_transforms(p, u, clip.shape[1:3], target)
            frames = clip if clip.dtype in (np.uint8, np.float32) else clip.astype(np.float32)
            out.append(np.stack([self._warp(f, m) for f, m in zip(frames, matrices)]))
            info.append({"matrix": matrices, "missing": ~u, "source_frame": source, "rms": rms})
        return same_container(X, out, **self._companions(X, info)), info

    def transform(self, X) -> ClipSet:
        """Register every frame onto the mean shape and crop it to ``frame_size``.

        Parameters
        ----------
        X : :class:`~skfer.ClipSet` with a ``landmarks`` companion

        Returns
        -------
        Xt : ClipSet
            Registered clips ``(T, *frame_size[, 3])``; landmarks and boxes mapped into
            them, ``status`` ``"missing"`` for frames without landmarks.
        """
        return self.transform_with_info(X)[0]

    @staticmethod
    def _companions(X: ClipSet, info: list[dict[str, np.ndarray]]) -> dict[str, list]:
        """Landmarks and boxes moved into the registered frames; statuses updated."""
        moved = map_geometry_companions(X, [rec["matrix"] for rec in info])
        old = X.get("status") or [None] * len(info)
        status = []
        for s, rec in zip(old, info):
            s = np.full(len(rec["missing"]), "detected", dtype=object) if s is None else (
                np.asarray(s).astype(object)
            )
            s[rec["missing"]] = "missing"
            status.append(s.astype(str))
        moved["status"] = status
        return moved
