"""Pluggable per-frame face detectors for face-tube extraction (EmoNets section 3.1.3).

EmoNets used the Google Picasa detector, which is not available; :class:`HaarFaceDetector`
uses the Viola-Jones cascade shipped with OpenCV instead.

Detector protocol
-----------------
A face detector is a scikit-learn estimator (so that a pipeline can tune it:
``FaceTubeExtractor(detector=HaarFaceDetector()).set_params(detector__scale_factor=1.2)``)
with the method

``detect(frame) -> (boxes, scores)``
    ``frame``: one uint8 frame, ``(H, W)`` grey or ``(H, W, 3)`` RGB. ``boxes``: an
    ``(n, 4)`` float array of ``x, y, w, h`` (top-left corner, width, height, in pixels of
    that frame; skfer's one box convention), ``n = 0`` when there is no face. ``scores``:
    an ``(n,)`` array, larger is more confident.

and ``fit(X=None, y=None)``, which validates the parameters and loads the model without
data; the estimators that use a detector (:class:`~skfer.preprocessing.FaceTubeExtractor`,
:class:`~skfer.preprocessing.LandmarkDetector`) clone and fit it in their own ``fit``.
``detect`` does not change the detector.

A plain function ``f(frame)`` returning ``boxes``, ``(boxes, scores)`` or ``None`` (no face)
is accepted where a detector is, as a detector without parameters (handy in tests);
:func:`as_detector` turns either form into a function returning ``(boxes, scores)``
(scores default to 1).

Every detector's output is checked there, in one place: boxes must be finite ``(n, 4)``
rows with a positive width and height that overlap the frame, scores finite, one per box;
anything else raises a ``ValueError`` naming the detector, the clip and the frame (rather
than failing later in a crop with "cannot convert float NaN to integer").

A detector given as a lambda or a function defined inside another function cannot be
pickled by ``pickle`` or ``joblib.dump``; the estimators that hold one
(:class:`~skfer.preprocessing.FaceTubeExtractor`,
:class:`~skfer.preprocessing.LandmarkDetector`) then raise a ``pickle.PicklingError`` that
says so (cloudpickle, which joblib's process workers use, pickles such functions by value
and still works).
"""

from __future__ import annotations

import numbers
import pickle
import sys
import threading
import types
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np
from sklearn.base import BaseEstimator, clone

from ..utils._sklearn import Interval, _fit_context
from ..utils.pixels import pixel_unit, to_grey_frame, to_uint8

__all__ = [
    "DetectorPickleMixin",
    "FaceDetector",
    "HaarFaceDetector",
    "as_detector",
    "detector_name",
    "fitted_detector",
]


@runtime_checkable
class FaceDetector(Protocol):
    """Protocol of a face detector: ``detect(frame) -> (boxes (n, 4), scores (n,))``.

    Boxes are ``x, y, w, h`` in pixels of the frame (see the module docstring).
    """

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Detect faces in one uint8 frame, ``(H, W)`` or ``(H, W, 3)`` RGB."""
        ...


def detector_name(detector: Any) -> str:
    """A detector's name for messages: its class, or a function's qualified name."""
    if isinstance(detector, (types.FunctionType, types.MethodType)):
        return f"{detector.__module__}.{detector.__qualname__}"
    return type(detector).__name__


def _normalise_output(
    out: Any, name: str, where: str, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(n, 4)`` and scores ``(n,)`` of a detector's output, checked."""
    if out is None:  # a function detector's "no face"
        return np.empty((0, 4)), np.empty(0)
    if isinstance(out, tuple) and len(out) == 2:
        boxes, scores = out
    else:
        boxes, scores = out, None

    def fail(problem: str) -> ValueError:
        return ValueError(
            f"{where}the face detector {name} returned {problem}; a detector must return "
            "finite (x, y, w, h) boxes with w, h > 0 overlapping the frame, and one finite "
            "score per box"
        )

    try:
        boxes = np.asarray(boxes, dtype=float)
    except (TypeError, ValueError) as exc:
        raise fail(f"boxes that are not an array of numbers ({exc})") from None
    if boxes.size == 0:
        boxes = np.empty((0, 4))
    elif boxes.shape == (4,):
        boxes = boxes[np.newaxis]
    elif boxes.ndim != 2 or boxes.shape[1] != 4:
        raise fail(f"boxes of shape {boxes.shape} instead of (n, 4)")
    bad = ~np.isfinite(boxes).all(axis=1)
    if bad.any():
        raise fail(f"a NaN or infinite box {boxes[bad][0].tolist()}")
    bad = (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)
    if bad.any():
        raise fail(f"a box of non-positive width or height {boxes[bad][0].tolist()}")
    height, width = shape[:2]
    bad = (
        (boxes[:, 0] >= width) | (boxes[:, 1] >= height)
        | (boxes[:, 0] + boxes[:, 2] <= 0) | (boxes[:, 1] + boxes[:, 3] <= 0)
    )
    if bad.any():
        raise fail(f"a box {boxes[bad][0].tolist()} outside the {height}x{width} frame")
    if scores is None:
        scores = np.ones(len(boxes))
    try:
        scores = np.asarray(scores, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise fail(f"scores that are not numbers ({exc})") from None
    if scores.shape[0] != boxes.shape[0]:
        raise fail(f"{boxes.shape[0]} boxes but {scores.shape[0]} scores")
    if not np.isfinite(scores).all():
        raise fail("a NaN or infinite score")
    return boxes, scores


def as_detector(detector: Any) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """Return a function ``detect(frame, where="") -> (boxes (n, 4), scores (n,))``.

    The output of the detector is checked (see the module docstring); ``where`` (e.g.
    ``"clip 3, frame 7: "``) prefixes the error.

    Parameters
    ----------
    detector : object with ``detect(frame)``, callable, or None
        ``None`` gives a default :class:`HaarFaceDetector`. The detector is used as it is
        (not cloned or fitted).

    Returns
    -------
    detect : callable
    """
    if detector is None:
        detector = HaarFaceDetector()
    if hasattr(detector, "detect"):
        fn = detector.detect
    elif callable(detector):
        fn = detector
    else:
        raise TypeError(
            "detector must be None, an object with a detect(frame) method or a callable, "
            f"got {type(detector).__name__}"
        )
    name = detector_name(detector)

    def detect(frame: np.ndarray, where: str = "") -> tuple[np.ndarray, np.ndarray]:
        return _normalise_output(fn(frame), name, where, np.shape(frame))

    return detect


def _unpicklable_function(obj: Any) -> bool:
    """Whether ``obj`` is a function that ``pickle`` cannot find by its module and name
    (a lambda, a function defined inside another one, or one deleted from its module)."""
    if not isinstance(obj, types.FunctionType):
        return False
    found: Any = sys.modules.get(obj.__module__)
    for part in obj.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is not obj


def _pickled_by_value() -> bool:
    """Whether the object is being pickled by cloudpickle or copied by ``copy``.

    Both handle lambdas (cloudpickle pickles them by value, ``deepcopy`` keeps them), so
    the error of :class:`DetectorPickleMixin` must not fire for them; they show up as
    Python frames on the stack (``pickle.dumps`` and ``joblib.dump`` do not).
    """
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module == "copy" or "cloudpickle" in module:
            return True
        frame = frame.f_back
    return False


class DetectorPickleMixin:
    """Make pickling an estimator whose detector is a lambda or local function say so."""

    def __getstate__(self) -> dict:
        for attr in ("detector", "detector_"):
            det = self.__dict__.get(attr)
            if _unpicklable_function(det) and not _pickled_by_value():
                raise pickle.PicklingError(
                    f"{type(self).__name__}: the detector {detector_name(det)} cannot be "
                    "pickled (pickle, joblib.dump): it is a lambda or a function defined "
                    "inside another function; define it at module level (def "
                    "my_detector(frame): ...) or use a detector estimator such as "
                    "HaarFaceDetector"
                )
        return super().__getstate__()


class HaarFaceDetector(BaseEstimator):
    """Viola-Jones face detector (OpenCV Haar cascade) that detects on a downscaled frame.

    The frame is converted to grey, shrunk so its width is at most ``detect_width`` pixels
    (detection cost grows with the pixel count), searched with
    ``cv2.CascadeClassifier.detectMultiScale3`` and the boxes are scaled back to the
    frame's pixels. The score of a box is the cascade's level weight (the sum of the last
    stage's weak classifiers; larger is more face-like). EmoNets (section 3.1.3) used the
    Google Picasa detector, which is not available.

    Parameters
    ----------
    scale_factor : float, default=1.1
        Image-pyramid step of ``detectMultiScale`` (> 1).
    min_neighbors : int, default=5
        Overlapping raw detections needed to keep a face.
    min_size : (int, int), default=(0, 0)
        Smallest face ``(w, h)`` in pixels of the *original* frame; ``(0, 0)`` means the
        cascade's window (24x24 pixels of the downscaled frame). A box size, hence
        ``(w, h)`` like the boxes, not a frame size.
    cascade : str, default="frontalface_default"
        Name of a cascade in ``cv2.data.haarcascades`` (``haarcascade_<name>.xml``) or the
        path of a cascade XML file.
    detect_width : int or None, default=320
        Width the frame is shrunk to before detection; ``None`` detects at full size.

    Notes
    -----
    Stateless: :meth:`fit` only validates the parameters and loads the cascade, which is
    cached per file for the process (not stored on the estimator, so the detector pickles
    and clones as its parameters alone). :meth:`detect` needs no ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> boxes, scores = HaarFaceDetector(scale_factor=1.2).detect(np.zeros((60, 80), np.uint8))
    >>> boxes.shape, scores.shape
    ((0, 4), (0,))
    """

    _parameter_constraints: dict = {
        "scale_factor": [Interval(numbers.Real, 1, None, closed="neither")],
        "min_neighbors": [Interval(numbers.Integral, 0, None, closed="left")],
        "min_size": [tuple, list],
        "cascade": [str],
        "detect_width": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: tuple[int, int] = (0, 0),
        cascade: str = "frontalface_default",
        detect_width: int | None = 320,
    ) -> None:
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.cascade = cascade
        self.detect_width = detect_width

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # nothing is learnt: detect() works unfitted
        # detect() takes one image, not a feature matrix: no tabular checks apply.
        tags.input_tags.two_d_array = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any = None, y: Any = None) -> HaarFaceDetector:
        """Validate the parameters and load the cascade; nothing is learnt.

        Parameters
        ----------
        X, y : ignored
            Accepted for API compatibility.

        Returns
        -------
        self : HaarFaceDetector

        Raises
        ------
        ValueError
            If ``min_size`` is not two non-negative integers or the cascade cannot be
            loaded.
        """
        self._check_min_size()
        _load_cascade(self.cascade)
        return self

    def _check_min_size(self) -> None:
        if len(self.min_size) != 2 or not all(
            isinstance(m, numbers.Integral) and m >= 0 for m in self.min_size
        ):
            raise ValueError(
                f"min_size must be two non-negative integers (w, h), got {self.min_size!r}"
            )

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Detect faces in one frame.

        Parameters
        ----------
        frame : ndarray of shape (H, W) or (H, W, 3)
            uint8 grey or RGB frame; a float frame is converted by skfer's pixel rule
            (:func:`skfer.utils.pixels.pixel_unit`: [0, 1] if its maximum is at most 1,
            else [0, 255]; outside both, a ``ValueError``).

        Returns
        -------
        boxes : ndarray of shape (n, 4)
            ``x, y, w, h`` in pixels of ``frame``.
        scores : ndarray of shape (n,)
        """
        if self.scale_factor <= 1:  # detect() may run unfitted: keep the cheap guard
            raise ValueError(f"scale_factor must be > 1, got {self.scale_factor}")
        clf = _load_cascade(self.cascade)
        img = np.asarray(frame)
        if img.dtype != np.uint8:
            img = to_uint8(img, pixel_unit(img))
        img = to_grey_frame(img)  # 8-bit first, then OpenCV's grey: what the cascade expects
        scale = 1.0
        if self.detect_width is not None and img.shape[1] > self.detect_width:
            scale = self.detect_width / img.shape[1]
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        min_size = tuple(int(round(m * scale)) for m in self.min_size)
        boxes, _, weights = clf.detectMultiScale3(
            img,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=min_size,
            outputRejectLevels=True,
        )
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4) / scale
        scores = np.asarray(weights, dtype=float).ravel()
        if scores.shape[0] != boxes.shape[0]:  # older OpenCV builds return no weights
            scores = np.ones(boxes.shape[0])
        return boxes, scores


_CASCADES = threading.local()


def _load_cascade(cascade: str) -> cv2.CascadeClassifier:
    """The OpenCV classifier of a cascade name or XML path, loaded once per thread.

    Per thread, not per process: concurrent ``detectMultiScale`` calls on one
    ``CascadeClassifier`` corrupt each other's results (seen with joblib's threading
    backend and Dask workers with several threads).
    """
    cache = _CASCADES.__dict__.setdefault("by_name", {})
    if cascade not in cache:
        cache[cascade] = _read_cascade(cascade)
    return cache[cascade]


def _read_cascade(cascade: str) -> cv2.CascadeClassifier:
    path = cascade
    if not path.endswith(".xml"):
        path = cv2.data.haarcascades + f"haarcascade_{cascade}.xml"
    clf = cv2.CascadeClassifier(path)
    if clf.empty():
        raise ValueError(f"could not load the Haar cascade {cascade!r} ({path})")
    return clf


def fitted_detector(detector: Any) -> Any:
    """The detector an estimator uses after its ``fit``: a fitted clone, or as it is.

    ``None`` gives a fitted default :class:`HaarFaceDetector`; a scikit-learn estimator is
    cloned and fitted (``fit()`` without data: the protocol of this module), so the
    estimator's ``detector`` parameter is never changed; a plain function or another
    object with ``detect`` is used as it is.
    """
    if detector is None:
        return HaarFaceDetector().fit()
    if hasattr(detector, "get_params") and hasattr(detector, "fit"):
        return clone(detector).fit()
    as_detector(detector)  # raises TypeError for anything unusable
    return detector
