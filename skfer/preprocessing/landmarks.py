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
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import ClipTransformerMixin, SequenceTransformerMixin
from ..utils.landmark_scheme import IBUG68_TO_INTRAFACE49, NOSE_TIP_INDEX, flip_permutation
from ..utils.validation import check_clips

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


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    """A frame as contiguous uint8 (grey or RGB), as dlib wants it."""
    if frame.dtype == np.uint8:
        return np.ascontiguousarray(frame)
    f = frame.astype(np.float64)
    if f.size and f.max() <= 1.0:
        f = f * 255.0  # float images in [0, 1]
    return np.ascontiguousarray(np.clip(np.rint(f), 0, 255).astype(np.uint8))


class LandmarkDetector(ClipTransformerMixin, TransformerMixin, BaseEstimator):
    """68 iBUG facial landmarks per frame with dlib's shape predictor (offline).

    DTAGN (Jung et al., ICCV 2015, section 3.1) takes landmarks from IntraFace; IntraFace
    is not freely available, so skfer uses dlib's ensemble-of-regression-trees predictor
    (Kazemi and Sullivan, CVPR 2014) trained on iBUG 300-W, and
    :func:`select_landmarks` gives IntraFace's 49 points from its 68.

    Needs the optional extra ``skfer[landmarks]`` (``dlib-bin`` and
    ``face-recognition-models``); nothing is downloaded.

    Parameters
    ----------
    detector : None, "hog", "frame" or callable, default=None
        Where the face is in each frame. ``None`` or ``"hog"``: dlib's HOG frontal face
        detector; when it finds several faces the largest is used. ``"frame"``: the whole
        frame is the face box (for clips that are already face crops, e.g. face tubes). A
        callable ``f(frame) -> (left, top, right, bottom)`` or ``None`` (no face) gives the
        box itself. Boxes can also be given per frame to :meth:`transform`.
    predictor_path : str or path-like, default=None
        dlib shape-predictor model with 68 points; ``None`` uses the one of
        ``face-recognition-models`` (:func:`default_predictor_path`).
    upsample : int, default=1
        Times the HOG detector upsamples each frame (finds faces down to about 40 pixels
        at 1, 20 at 2; each step is about 4 times slower).
    on_missing : {"nan", "raise"}, default="nan"
        What to do with a frame where no face is found. ``"nan"``: its 68 points are NaN,
        ``detected_`` records it and a warning counts such frames (nothing is dropped, so
        outputs stay aligned with frames). ``"raise"``: a ``ValueError`` names the clip and
        frame.

    Attributes
    ----------
    predictor_path_ : str
        The model file used.
    detected_ : list of ndarray of bool
        Set by the last :meth:`transform`: for each clip, which frames got landmarks.

    Examples
    --------
    >>> det = LandmarkDetector(detector="frame").fit(face_crops)  # doctest: +SKIP
    >>> points = det.transform(face_crops)  # list of (T, 68, 2) arrays  # doctest: +SKIP
    """

    def __init__(
        self,
        detector: None | str | Callable = None,
        predictor_path: str | Path | None = None,
        upsample: int = 1,
        on_missing: str = "nan",
    ) -> None:
        self.detector = detector
        self.predictor_path = predictor_path
        self.upsample = upsample
        self.on_missing = on_missing

    def fit(self, X, y=None):
        """Validate the clips and load the model (learns nothing from the data).

        Parameters
        ----------
        X : list of clips
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        ImportError
            If dlib or the model file is missing, naming the ``skfer[landmarks]`` extra.
        """
        self._check_params()
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
        return self

    def _check_params(self) -> None:
        if not (self.detector in (None, "hog", "frame") or callable(self.detector)):
            raise ValueError(
                f'detector must be None, "hog", "frame" or a callable, got {self.detector!r}'
            )
        if not isinstance(self.upsample, numbers.Integral) or self.upsample < 0:
            raise ValueError(f"upsample must be a non-negative integer, got {self.upsample!r}")
        if self.on_missing not in ("nan", "raise"):
            raise ValueError(f'on_missing must be "nan" or "raise", got {self.on_missing!r}')

    def _find_box(self, frame: np.ndarray):
        """Face box ``(left, top, right, bottom)`` in ``frame`` or ``None``."""
        if self.detector == "frame":
            return 0, 0, frame.shape[1] - 1, frame.shape[0] - 1
        if callable(self.detector):
            return self.detector(frame)
        rects = _hog_detector()(frame, int(self.upsample))
        if len(rects) == 0:
            return None
        r = max(rects, key=lambda r: r.width() * r.height())
        return r.left(), r.top(), r.right(), r.bottom()

    def transform(self, X, boxes=None) -> list[np.ndarray]:
        """Landmarks of every frame.

        Parameters
        ----------
        X : list of clips
        boxes : list of array-like of shape (T_i, 4), optional
            Face box ``(left, top, right, bottom)`` of each frame of each clip, used
            instead of ``detector``; a row of NaN marks a frame without a face.

        Returns
        -------
        landmarks : list of ndarray of shape (T_i, 68, 2)
            Pixel coordinates ``(x, y)``; NaN rows for frames without a face (see
            ``on_missing``).
        """
        check_is_fitted(self, "predictor_path_")
        clips = check_clips(X)
        if boxes is not None and len(boxes) != len(clips):
            raise ValueError(f"{len(boxes)} box arrays for {len(clips)} clips")
        dlib = _import_dlib()
        predictor = _load_predictor(self.predictor_path_)
        out, detected = [], []
        for i, clip in enumerate(clips):
            clip_boxes = None if boxes is None else np.asarray(boxes[i], dtype=np.float64)
            if clip_boxes is not None and clip_boxes.shape != (len(clip), 4):
                raise ValueError(
                    f"clip {i}: boxes must have shape ({len(clip)}, 4), got {clip_boxes.shape}"
                )
            points = np.full((len(clip), 68, 2), np.nan)
            found = np.zeros(len(clip), dtype=bool)
            for t, frame in enumerate(clip):
                image = _to_uint8(frame)
                box = self._find_box(image) if clip_boxes is None else clip_boxes[t]
                if box is None or not np.all(np.isfinite(box)):
                    if self.on_missing == "raise":
                        raise ValueError(f"clip {i}: no face found in frame {t}")
                    continue
                left, top, right, bottom = (int(round(float(v))) for v in box)
                shape = predictor(image, dlib.rectangle(left, top, right, bottom))
                points[t] = [(p.x, p.y) for p in shape.parts()]
                found[t] = True
            out.append(points)
            detected.append(found)
        self.detected_ = detected
        n_missing = sum(int((~d).sum()) for d in detected)
        if n_missing:
            clips_missing = [i for i, d in enumerate(detected) if not d.all()]
            warnings.warn(
                f"no face found in {n_missing} frames of {len(clips_missing)} clips "
                f"(first: clip {clips_missing[0]}); their landmarks are NaN, see detected_",
                UserWarning,
                stacklevel=2,
            )
        return out


# ----------------------------------------------------------------------- normalisation


def _as_landmark_sequences(X: Any, what: str = "sequence") -> list[np.ndarray]:
    """Validate a collection of landmark sequences as a list of ``(T, P, 2)`` float arrays."""
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
        data model (eq. 2 with normalised points).

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

    def __init__(self, nose_index: int | None = None, flatten: bool = True) -> None:
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
            return [s.reshape(len(s), -1) for s in normed]
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
