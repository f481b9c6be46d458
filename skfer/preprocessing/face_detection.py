"""Pluggable per-frame face detectors for face-tube extraction (EmoNets section 3.1.3).

EmoNets used the Google Picasa detector, which is not available; :class:`HaarFaceDetector`
uses the Viola-Jones cascade shipped with OpenCV instead.

Detector protocol
-----------------
A detector is either an object with a ``detect(frame)`` method or any callable
``detector(frame)``. It receives one uint8 frame, ``(H, W)`` grey or ``(H, W, 3)`` RGB, and
returns either ``boxes`` or ``(boxes, scores)``: ``boxes`` an ``(n, 4)`` array of
``x, y, w, h`` (top-left corner, width, height, in pixels of that frame), ``scores`` an
``(n,)`` array where larger means more confident. :func:`as_detector` normalises either
form to a function returning ``(boxes, scores)`` (scores default to 1).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import cv2
import numpy as np

__all__ = ["FaceDetector", "HaarFaceDetector", "as_detector"]


@runtime_checkable
class FaceDetector(Protocol):
    """Protocol of a face detector: ``detect(frame) -> (boxes (n, 4), scores (n,))``."""

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Detect faces in one uint8 frame, ``(H, W)`` or ``(H, W, 3)`` RGB."""
        ...


def _normalise_output(out: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(out, tuple) and len(out) == 2:
        boxes, scores = out
    else:
        boxes, scores = out, None
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if scores is None:
        scores = np.ones(len(boxes))
    scores = np.asarray(scores, dtype=float).ravel()
    if scores.shape[0] != boxes.shape[0]:
        raise ValueError(
            f"the detector returned {boxes.shape[0]} boxes but {scores.shape[0]} scores"
        )
    return boxes, scores


def as_detector(detector: Any) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return a function ``frame -> (boxes (n, 4), scores (n,))`` for any supported detector.

    Parameters
    ----------
    detector : object with ``detect(frame)``, callable, or None
        ``None`` gives a default :class:`HaarFaceDetector`.

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
    return lambda frame: _normalise_output(fn(frame))


class HaarFaceDetector:
    """Viola-Jones face detector (OpenCV Haar cascade) that detects on a downscaled frame.

    The frame is converted to grey, shrunk so its width is at most ``detect_width`` pixels
    (detection cost grows with the pixel count), searched with
    ``cv2.CascadeClassifier.detectMultiScale3`` and the boxes are scaled back to the
    frame's pixels. The score of a box is the cascade's level weight (the sum of the last
    stage's weak classifiers; larger is more face-like).

    Parameters
    ----------
    scale_factor : float, default=1.1
        Image-pyramid step of ``detectMultiScale``.
    min_neighbors : int, default=5
        Overlapping raw detections needed to keep a face.
    min_size : (int, int), default=(0, 0)
        Smallest face ``(w, h)`` in pixels of the *original* frame; ``(0, 0)`` means the
        cascade's window (24x24 pixels of the downscaled frame).
    cascade : str, default="frontalface_default"
        Name of a cascade in ``cv2.data.haarcascades`` (``haarcascade_<name>.xml``) or the
        path of a cascade XML file.
    detect_width : int or None, default=320
        Width the frame is shrunk to before detection; ``None`` detects at full size.

    Notes
    -----
    Picklable: the OpenCV classifier is loaded lazily and not pickled.
    """

    def __init__(
        self,
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
        self._classifier: cv2.CascadeClassifier | None = None

    def __repr__(self) -> str:
        return (
            f"HaarFaceDetector(scale_factor={self.scale_factor}, "
            f"min_neighbors={self.min_neighbors}, min_size={self.min_size}, "
            f"cascade={self.cascade!r}, detect_width={self.detect_width})"
        )

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_classifier"] = None  # cv2 objects do not pickle; reloaded on first use
        return state

    def _load(self) -> cv2.CascadeClassifier:
        if self._classifier is None:
            path = self.cascade
            if not path.endswith(".xml"):
                path = cv2.data.haarcascades + f"haarcascade_{self.cascade}.xml"
            clf = cv2.CascadeClassifier(path)
            if clf.empty():
                raise ValueError(f"could not load the Haar cascade {self.cascade!r} ({path})")
            self._classifier = clf
        return self._classifier

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Detect faces in one frame.

        Parameters
        ----------
        frame : ndarray of shape (H, W) or (H, W, 3)
            uint8 grey or RGB frame (other dtypes are clipped to 0..255).

        Returns
        -------
        boxes : ndarray of shape (n, 4)
            ``x, y, w, h`` in pixels of ``frame``.
        scores : ndarray of shape (n,)
        """
        if self.scale_factor <= 1:
            raise ValueError(f"scale_factor must be > 1, got {self.scale_factor}")
        clf = self._load()
        img = np.asarray(frame)
        if img.dtype != np.uint8:
            img = np.clip(img, 0, 255).astype(np.uint8)
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
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
