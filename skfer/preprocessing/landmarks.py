"""Facial landmarks: detection with dlib (iBUG 68 points), the IntraFace 49-point subset,
and the per-frame normalisation of DTAGN (Jung et al., ICCV 2015, section 3.3, eq. 3-4).

Landmark data model
-------------------
A *landmark sequence* is an array ``(T, P, 2)`` of ``(x, y)`` image coordinates (pixels,
``x`` to the right, ``y`` down) of ``P`` points in each of ``T`` frames. A data set is a
list of them, or an ndarray ``(n, T, P, 2)``.

Point schemes
-------------
``"68"`` (iBUG 300-W, dlib's predictor) and ``"49"`` (IntraFace, DTAGN section 3.1): the
index table (groups, the 49-point subset, the nose tip, the flip permutation) is
:mod:`skfer.utils.landmark_scheme`, re-exported here.
"""

from __future__ import annotations

import functools
import importlib.util
import numbers
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import ClipTransformerMixin, SequenceTransformerMixin, same_container
from ..clipset import ClipSet
from ..utils._sklearn import HasMethods, Interval, StrOptions, _fit_context
from ..utils.frame_policy import apply_policy, policy_constraint
from ..utils.landmark_scheme import IBUG68_TO_INTRAFACE49, NOSE_TIP_INDEX, flip_permutation
from ..utils.validation import check_clips, pixel_unit, to_uint8
from ._frame_records import records_from_masks
from .face_detection import DetectorPickleMixin, as_detector, fitted_detector

__all__ = [
    "IBUG68_TO_INTRAFACE49",
    "NOSE_TIP_INDEX",
    "LandmarkDetector",
    "LandmarkNormalizer",
    "default_predictor_path",
    "flip_permutation",
    "select_landmarks",
]

_EXTRA_HINT = 'install the optional extra: pip install "skfer[landmarks]"'
_MODEL_FILE = "shape_predictor_68_face_landmarks.dat"


def select_landmarks(points: Any, scheme: str = "49") -> np.ndarray:
    """Select the points of ``scheme`` from 68-point iBUG landmarks.

    Parameters
    ----------
    points : array-like of shape (..., 68, 2)
        iBUG 68-point landmarks, e.g. one sequence ``(T, 68, 2)``.
    scheme : {"49", "68"}, default="49"
        ``"49"``: the IntraFace points used by DTAGN (section 3.1): see
        :data:`IBUG68_TO_INTRAFACE49`. ``"68"``: all points (a copy).

    Returns
    -------
    selected : ndarray of shape (..., P, 2)
    """
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-2:] != (68, 2):
        raise ValueError(
            f"select_landmarks expects iBUG 68-point landmarks of shape (..., 68, 2), got "
            f"shape {arr.shape}"
        )
    if scheme == "49":
        return arr[..., IBUG68_TO_INTRAFACE49, :]
    if scheme == "68":
        return arr.copy()
    raise ValueError(f'scheme must be "49" or "68", got {scheme!r}')


# --------------------------------------------------------------------------- detection


def _import_dlib():
    try:
        import dlib
    except ImportError as exc:
        raise ImportError(
            f"LandmarkDetector needs dlib, which is not installed; {_EXTRA_HINT}"
        ) from exc
    return dlib


def default_predictor_path() -> Path:
    """Path of dlib's 68-point model shipped by the ``face-recognition-models`` package.

    The package is located without importing it (its ``__init__`` imports
    ``pkg_resources``, which recent setuptools no longer provide).

    Raises
    ------
    ImportError
        If the package is not installed.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"the 68-point landmark model ({_MODEL_FILE}) comes with the package "
            f"face-recognition-models, which is not installed; {_EXTRA_HINT}"
        )
    return Path(spec.submodule_search_locations[0]) / "models" / _MODEL_FILE


@functools.lru_cache(maxsize=4)
def _load_predictor(path: str):
    # Loading the 100 MB model takes about a second: share it between estimators.
    return _import_dlib().shape_predictor(path)


@functools.lru_cache(maxsize=1)
def _hog_detector():
    return _import_dlib().get_frontal_face_detector()


class LandmarkDetector(
    DetectorPickleMixin, ClipTransformerMixin, TransformerMixin, BaseEstimator
):
    """68 iBUG facial landmarks per frame with dlib's shape predictor (offline).

    DTAGN (Jung et al., ICCV 2015, section 3.1) takes landmarks from IntraFace; IntraFace
    is not freely available, so skfer uses dlib's ensemble-of-regression-trees predictor
    (Kazemi and Sullivan, CVPR 2014) trained on iBUG 300-W, and
    :func:`select_landmarks` gives IntraFace's 49 points from its 68.

    Needs the optional extra ``skfer[landmarks]`` (``dlib-bin`` and
    ``face-recognition-models``); nothing is downloaded.

    Parameters
    ----------
    detector : None, "hog", "frame", "boxes", face detector or callable, default=None
        Where the face is in each frame (the predictor needs a face box). ``None`` or
        ``"hog"``: dlib's HOG frontal face detector. ``"frame"``: the whole frame is the
        face box (for clips that are already face crops, e.g. face tubes). ``"boxes"``:
        the ``boxes`` companion of a :class:`skfer.ClipSet` ``X`` (e.g. a loader's, through
        :meth:`skfer.ClipSet.from_bunch`) or the ``boxes`` given to :meth:`transform`. A
        face detector of :mod:`skfer.preprocessing.face_detection` (e.g.
        :class:`~skfer.preprocessing.HaarFaceDetector`, fitted as a clone) or a function
        ``f(frame)`` returning ``(x, y, w, h)`` boxes (``None`` or no row: no face).
        Where a detector finds several faces the largest box is used.
    predictor_path : str or path-like, default=None
        dlib shape-predictor model with 68 points; ``None`` uses the one of
        ``face-recognition-models`` (:func:`default_predictor_path`).
    upsample : int, default=1
        Times the HOG detector upsamples each frame (finds faces down to about 40 pixels
        at 1, 20 at 2; each step is about 4 times slower).
    min_size : int or None, default=None
        Frames whose shorter side is below ``min_size`` pixels are enlarged (bicubic) to
        it before the face box and the points are found; the points are returned in the
        frame's own pixels. The predictor places points better on an enlarged small face
        than on the small face itself: on CK+48's 48x48 crops, ``min_size=192`` gave DTGN
        0.903 against 0.873 (HOG with ``upsample=2``) and 0.842 (``detector="frame"``) on
        5 folds by subject (``docs/benchmarks.md``, issue 22). Given boxes are scaled with
        the frame.
    on_missing : {"raise", "warn", "ignore"}, default="warn"
        What to do with frames where no face is found (no box, or a NaN box), recorded as
        :class:`~skfer.utils.frame_policy.SkippedFrames` (reason ``"no_face"``):
        ``"warn"``: their 68 points are NaN and one
        :class:`~skfer.utils.frame_policy.SkippedFramesWarning` names the clips and frames;
        ``"ignore"``: NaN points, no warning; ``"raise"``: a
        :class:`~skfer.utils.frame_policy.SkippedFramesError` (a ``ValueError``) names the
        clip and frames. Nothing is dropped, so outputs stay aligned with frames; which
        frames got landmarks is returned by :meth:`transform_with_info`.
    output : {"landmarks", "clips"}, default="landmarks"
        What :meth:`transform` returns: ``"landmarks"``, the landmark sequences (the input
        of :class:`LandmarkNormalizer`); ``"clips"``, the clips of ``X`` with the landmarks
        attached as the ``landmarks`` companion of a :class:`skfer.ClipSet` (for steps that
        use both, such as a mouth crop around the mouth points or paired augmentation).

    Attributes
    ----------
    predictor_path_ : str
        The model file used.
    detector_ : None, str or object
        The face detector used: a fitted clone of ``detector`` when it is an estimator,
        ``detector`` itself otherwise.

    Notes
    -----
    *Boxes.* Face boxes are ``(x, y, w, h)`` in pixels of the clip's frames, skfer's one
    box convention (the data sets' ``boxes``, :class:`FaceTubeExtractor`'s detectors), and
    are checked: a box less than half inside its frame raises a ``ValueError`` naming the
    clip and frame. So boxes in another convention, or in another frame (the ``boxes``
    companion of face tubes locates the crop in the *source* video: use ``"frame"`` on
    face tubes), are reported rather than used.

    *Containers.* With ``output="landmarks"`` the landmark sequences come in the
    container of ``X``: a list for a list, a :class:`skfer.ClipSet` for a ClipSet (its
    companions kept, e.g. face-tube ``status`` for :class:`FrameAggregator`). With
    ``output="clips"`` the result is always a ClipSet whose ``landmarks`` companion
    replaces any ``X`` had. :meth:`transform` does not change the estimator.

    Examples
    --------
    >>> det = LandmarkDetector(detector="frame").fit(face_crops)  # doctest: +SKIP
    >>> points = det.transform(face_crops)  # list of (T, 68, 2) arrays  # doctest: +SKIP
    >>> points, found = det.transform_with_info(face_crops)  # doctest: +SKIP
    """

    _parameter_constraints: dict = {
        "detector": [
            None,
            StrOptions({"hog", "frame", "boxes"}),
            HasMethods(["detect"]),
            callable,
        ],
        "predictor_path": [str, os.PathLike, None],
        "upsample": [Interval(numbers.Integral, 0, None, closed="left")],
        "min_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "on_missing": policy_constraint(),
        "output": [StrOptions({"landmarks", "clips"})],
    }

    def __init__(
        self,
        *,
        detector: None | str | Callable = None,
        predictor_path: str | Path | None = None,
        upsample: int = 1,
        min_size: int | None = None,
        on_missing: str = "warn",
        output: str = "landmarks",
    ) -> None:
        self.detector = detector
        self.predictor_path = predictor_path
        self.upsample = upsample
        self.min_size = min_size
        self.on_missing = on_missing
        self.output = output

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Validate the clips and load the model (learns nothing from the data).

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        ImportError
            If dlib or the model file is missing, naming the ``skfer[landmarks]`` extra.
        """
        check_clips(X)
        path = (
            default_predictor_path() if self.predictor_path is None else Path(self.predictor_path)
        )
        _import_dlib()
        if not path.is_file():
            raise ImportError(
                f"the 68-point landmark model {path} does not exist; pass predictor_path or "
                f"{_EXTRA_HINT}"
            )
        _load_predictor(str(path))
        self.predictor_path_ = str(path)
        self.detector_ = (
            self.detector
            if self.detector is None or isinstance(self.detector, str)
            else fitted_detector(self.detector)
        )
        return self

    def _report(self, missing: list[np.ndarray | None], X: Any) -> None:
        """``on_missing`` on the frames where no face was found (bool mask per clip)."""
        apply_policy(
            records_from_masks(missing, "no_face", X),
            self.on_missing,
            "given NaN landmarks (transform_with_info says which)",
            hint='set on_missing="warn" or "ignore" to give such frames NaN landmarks',
            stacklevel=4,
        )

    def _find_box(self, frame: np.ndarray, where: str = "") -> np.ndarray | None:
        """Face box ``(x, y, w, h)`` in ``frame`` (the largest found) or ``None``."""
        if self.detector_ == "frame":
            return np.array([0.0, 0.0, frame.shape[1], frame.shape[0]])
        if self.detector_ is None or self.detector_ == "hog":
            rects = _hog_detector()(frame, int(self.upsample))
            if len(rects) == 0:
                return None
            r = max(rects, key=lambda r: r.width() * r.height())
            return np.array([r.left(), r.top(), r.width(), r.height()], dtype=float)
        boxes, _ = as_detector(self.detector_)(frame, where)
        if len(boxes) == 0:
            return None
        return boxes[np.argmax(boxes[:, 2] * boxes[:, 3])]

    def _enlarged(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """``image`` enlarged to ``min_size`` on its shorter side (if smaller), and the factor."""
        side = min(image.shape[:2])
        if self.min_size is None or side >= self.min_size:
            return image, 1.0
        scale = self.min_size / side
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)), scale

    def _given_boxes(self, X, clips: list[np.ndarray], boxes) -> list[np.ndarray] | None:
        """The per-frame boxes to use instead of a detector, validated, or None."""
        if boxes is None and self.detector_ == "boxes":
            boxes = X.get("boxes") if isinstance(X, ClipSet) else None
            if boxes is None:
                raise ValueError(
                    'detector="boxes" takes the face boxes from the "boxes" companion of a '
                    "ClipSet X or from the boxes argument of transform; neither was given"
                )
        if boxes is None:
            return None
        if len(boxes) != len(clips):
            raise ValueError(f"{len(boxes)} box arrays for {len(clips)} clips")
        out = []
        for i, (clip, clip_boxes) in enumerate(zip(clips, boxes)):
            b = np.asarray(clip_boxes, dtype=np.float64)
            if b.shape != (len(clip), 4):
                raise ValueError(
                    f"clip {i}: boxes must have shape ({len(clip)}, 4), one (x, y, w, h) row "
                    f"per frame, got {b.shape}"
                )
            height, width = clip.shape[1:3]
            inside = _inside_fraction(b, height, width)
            bad = np.flatnonzero(np.isfinite(b).all(axis=1) & ~(inside >= 0.5))
            if bad.size:
                t = int(bad[0])
                raise ValueError(
                    f"clip {i}: the box {b[t].tolist()} of frame {t} is not at least half "
                    f"inside the {height}x{width} frame; boxes are (x, y, w, h) in pixels of "
                    "the clip's frames (a face tube's boxes locate it in its source video: "
                    'use detector="frame" on face tubes)'
                )
            out.append(b)
        return out

    def transform(self, X, boxes=None):
        """Landmarks of every frame.

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet
        boxes : list of array-like of shape (T_i, 4), optional
            Face box ``(x, y, w, h)`` of each frame of each clip, used instead of
            ``detector``; a row of NaN marks a frame without a face.

        Returns
        -------
        Xt : list of ndarray of shape (T_i, 68, 2), or ClipSet
            ``output="landmarks"``: pixel coordinates ``(x, y)`` per frame, NaN rows for
            frames without a face (see ``on_missing``), in the container of ``X``.
            ``output="clips"``: the clips with these landmarks as their ``landmarks``
            companion (a ClipSet).
        """
        return self.transform_with_info(X, boxes=boxes)[0]

    def transform_with_info(self, X, boxes=None):
        """Like :meth:`transform`, and also return which frames got landmarks.

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet
        boxes : list of array-like of shape (T_i, 4), optional
            As in :meth:`transform`.

        Returns
        -------
        Xt : list of ndarray, or ClipSet
            As :meth:`transform` returns it.
        detected : list of ndarray of bool
            For each clip, which of its frames got landmarks (False: NaN points); usable as
            the ``mask`` of :class:`FrameAggregator`.
        """
        check_is_fitted(self, "predictor_path_")
        clips = check_clips(X)
        given = self._given_boxes(X, clips, boxes)
        dlib = _import_dlib()
        predictor = _load_predictor(self.predictor_path_)
        out, detected = [], []
        for i, clip in enumerate(clips):
            unit = pixel_unit(clip, index=i)
            points = np.full((len(clip), 68, 2), np.nan)
            found = np.zeros(len(clip), dtype=bool)
            for t, frame in enumerate(clip):
                image, scale = self._enlarged(np.ascontiguousarray(to_uint8(frame, unit)))
                box = self._find_box(image, f"clip {i}, frame {t}: ") if given is None else (
                    given[i][t] * scale
                )
                if box is None or not np.all(np.isfinite(box)):
                    if self.on_missing == "raise":  # at once: the rest is wasted work
                        self._report([None] * i + [np.arange(len(clip)) == t], X)
                    continue
                x, y, w, h = (float(v) for v in box)
                # dlib rectangles are inclusive: right = x + w - 1.
                rect = dlib.rectangle(round(x), round(y), round(x + w) - 1, round(y + h) - 1)
                shape = predictor(image, rect)
                points[t] = np.array([(p.x, p.y) for p in shape.parts()]) / scale
                found[t] = True
            out.append(points)
            detected.append(found)
        self._report([~d for d in detected], X)
        if self.output == "clips":
            # Clips keep their container's data (a ClipSet's own arrays), landmarks attached.
            source = X if isinstance(X, ClipSet) else clips
            return same_container(source, list(source), landmarks=out), detected
        return same_container(X, out), detected


def _inside_fraction(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Fraction of each ``(x, y, w, h)`` box's area inside a ``height`` x ``width`` frame."""
    x0 = np.clip(boxes[:, 0], 0, width)
    y0 = np.clip(boxes[:, 1], 0, height)
    x1 = np.clip(boxes[:, 0] + boxes[:, 2], 0, width)
    y1 = np.clip(boxes[:, 1] + boxes[:, 3], 0, height)
    area = boxes[:, 2] * boxes[:, 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(area > 0, (x1 - x0) * (y1 - y0) / np.where(area > 0, area, 1), 0.0)


# ----------------------------------------------------------------------- normalisation


def _as_landmark_sequences(X: Any, what: str = "sequence") -> list[np.ndarray]:
    """Validate a collection of landmark sequences as a list of ``(T, P, 2)`` float arrays."""
    if isinstance(X, ClipSet):
        X = X.data
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim == 3 and X.shape[-1] == 2:
            X = X[:, np.newaxis]  # (n, P, 2): n still images
        elif X.ndim != 4:
            raise ValueError(
                "landmarks must be a list of (T, P, 2) sequences or an array of shape "
                f"(n, P, 2) or (n, T, P, 2); got shape {X.shape}"
            )
        X = list(X)
    elif not isinstance(X, (list, tuple)) and not (isinstance(X, np.ndarray) and X.ndim == 1):
        raise TypeError(f"X must be a list of landmark sequences, got {type(X).__name__}")
    if len(X) == 0:
        raise ValueError("X is empty: at least one landmark sequence is needed")
    out = []
    for i, s in enumerate(X):
        arr = np.asarray(s)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"{what} {i}: landmarks must be numeric, got dtype {arr.dtype}")
        if arr.ndim == 2:
            arr = arr[np.newaxis]
        if arr.ndim != 3 or arr.shape[-1] != 2:
            raise ValueError(f"{what} {i}: expected shape (T, P, 2), got shape {arr.shape}")
        if arr.shape[0] == 0:
            raise ValueError(f"{what} {i}: the sequence has zero frames")
        out.append(arr.astype(np.float64, copy=False))
    points = {s.shape[1] for s in out}
    if len(points) > 1:
        bad = next(i for i, s in enumerate(out) if s.shape[1] != out[0].shape[1])
        raise ValueError(
            f"{what}s have different numbers of points: {what} 0 has {out[0].shape[1]}, "
            f"{what} {bad} has {out[bad].shape[1]}"
        )
    return out


def _check_finite(seqs: list[np.ndarray], what: str = "sequence") -> None:
    for i, s in enumerate(seqs):
        if not np.isfinite(s).all():
            t, k, _ = np.argwhere(~np.isfinite(s))[0]
            raise ValueError(
                f"{what} {i}: NaN or infinite landmark at frame {t}, point {k} (no face was "
                "found there?); drop or interpolate such frames before normalising"
            )


class LandmarkNormalizer(SequenceTransformerMixin, TransformerMixin, BaseEstimator):
    """DTAGN's per-frame landmark normalisation (Jung et al., ICCV 2015, eq. 3-4).

    In every frame ``t`` the nose point is subtracted and each axis is divided by the
    standard deviation of that axis over the frame's points::

        x̄_i(t) = (x_i(t) - x_o(t)) / σ_x(t),    ȳ_i(t) = (y_i(t) - y_o(t)) / σ_y(t)

    Then the frames are concatenated, ``[x̄_1(1) ȳ_1(1) ... x̄_n(1) ȳ_n(1) ... x̄_n(T)
    ȳ_n(T)]`` (eq. 4), the input of DTGN. Stateless: ``fit`` only validates.

    Parameters
    ----------
    nose_index : int or None, default=None
        Index of the origin point ``o``. DTAGN uses "the nose position" (a red point in
        its Fig. 1, which does not say which nose point): skfer takes the nose tip,
        iBUG index 30, IntraFace index 13 (:data:`NOSE_TIP_INDEX`). ``None`` picks that
        from the number of points (68 or 49); for any other number of points it uses the
        centroid of the frame's points, as no nose is known.
    flatten : bool, default=True
        ``True``: one vector of ``2 P T`` values per sample (eq. 4); all samples must then
        have the same number of frames ``T`` (DTAGN resamples sequences to a fixed length
        first). ``False``: a list of per-frame sequences ``(T, 2 P)``, skfer's sequence
        data model (eq. 2 with normalised points); a :class:`skfer.ClipSet` of them, with
        its companions, when ``X`` is a ClipSet.

    Attributes
    ----------
    n_points_ : int
        Number of landmark points per frame.
    nose_index_ : int or None
        The origin point used (``None``: the centroid).
    n_features_in_ : int
        ``2 * n_points_``, the values per frame.

    Notes
    -----
    Accepted ``X``: a list of ``(T, P, 2)`` landmark sequences, an ndarray ``(n, T, P,
    2)`` or ``(n, P, 2)``, or a 2-D array ``(n, 2 P)`` of flat frames ``[x_1 y_1 ... x_P
    y_P]``, read as ``n`` one-frame sequences (the form scikit-learn's estimator checks
    use). A frame whose points all share one ``x`` (or ``y``) has ``σ = 0``; that axis is
    then only centred, not scaled. NaN landmarks raise an error naming the sequence and
    frame.
    """

    _parameter_constraints: dict = {
        "nose_index": [Interval(numbers.Integral, None, None, closed="neither"), None],
        "flatten": ["boolean"],
    }

    def __init__(self, *, nose_index: int | None = None, flatten: bool = True) -> None:
        self.nose_index = nose_index
        self.flatten = flatten

    def _sequences(self, X, reset: bool) -> tuple[list[np.ndarray], bool]:
        """Landmark sequences ``(T, P, 2)`` of X and whether X was a flat 2-D array."""
        if not isinstance(X, (list, tuple, np.ndarray)) and hasattr(X, "__array__"):
            X = np.asarray(X)  # array-likes (e.g. DataFrames) of flat frames
        # 2-D input (ndarray of any dtype, sparse matrix) is a table of flat frames;
        # validate_data gives scikit-learn's errors for sparse or non-numeric tables.
        flat = not isinstance(X, (list, tuple)) and getattr(X, "ndim", None) == 2
        if flat:
            X2 = validate_data(self, X, reset=reset, dtype=np.float64)
            if X2.shape[1] % 2:
                raise ValueError(
                    f"flat landmark frames hold [x_1 y_1 ... x_P y_P], an even number of "
                    f"values; got {X2.shape[1]} feature(s)"
                )
            return [f.reshape(1, -1, 2) for f in X2], True
        seqs = _as_landmark_sequences(X)
        _check_finite(seqs)
        n_feat = 2 * seqs[0].shape[1]
        if reset:
            self.n_features_in_ = n_feat
        elif n_feat != self.n_features_in_:
            raise ValueError(
                f"X has {n_feat // 2} points per frame, but LandmarkNormalizer was fitted "
                f"with {self.n_features_in_ // 2}"
            )
        return seqs, False

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate ``X`` and resolve the nose point.

        Parameters
        ----------
        X : list of (T, P, 2) arrays, or ndarray (n, T, P, 2), (n, P, 2) or (n, 2 P)
        y : ignored

        Returns
        -------
        self
        """
        seqs, _ = self._sequences(X, reset=True)
        n_points = seqs[0].shape[1]
        if self.nose_index is None:
            nose = NOSE_TIP_INDEX.get(str(n_points))
        else:
            nose = self.nose_index
            if not isinstance(nose, numbers.Integral) or not -n_points <= nose < n_points:
                raise ValueError(
                    f"nose_index={nose!r} is not a point index for {n_points} points"
                )
            nose = int(nose) % n_points
        self.n_points_ = n_points
        self.nose_index_ = nose
        return self

    def transform(self, X):
        """Normalise every frame (eq. 3) and concatenate over time (eq. 4).

        Parameters
        ----------
        X : list of (T, P, 2) arrays, or ndarray (n, T, P, 2), (n, P, 2) or (n, 2 P)

        Returns
        -------
        Xt : ndarray of shape (n, 2 P T) if ``flatten``, else list of (T, 2 P) arrays
        """
        check_is_fitted(self, "n_points_")
        seqs, _ = self._sequences(X, reset=False)
        normed = [self._normalise(s) for s in seqs]
        if not self.flatten:
            frames = [s.reshape(len(s), -1) for s in normed]
            # A ClipSet keeps its per-frame companions (e.g. face-tube statuses).
            return X.replace(data=frames) if isinstance(X, ClipSet) else frames
        lengths = [len(s) for s in normed]
        if len(set(lengths)) > 1:
            bad = next(i for i, n in enumerate(lengths) if n != lengths[0])
            raise ValueError(
                f"flatten=True concatenates frames (DTAGN eq. 4), so all sequences need the "
                f"same number of frames: sequence 0 has {lengths[0]}, sequence {bad} has "
                f"{lengths[bad]}; resample them to one length or use flatten=False"
            )
        return np.stack([s.reshape(-1) for s in normed])

    def _normalise(self, seq: np.ndarray) -> np.ndarray:
        origin = (
            seq.mean(axis=1, keepdims=True)
            if self.nose_index_ is None
            else seq[:, self.nose_index_ : self.nose_index_ + 1]
        )
        std = seq.std(axis=1, keepdims=True)  # (T, 1, 2): sigma_x(t), sigma_y(t)
        std = np.where(std > 0, std, 1.0)
        return (seq - origin) / std
