"""Face-tube extraction from whole video frames (EmoNets, Kahou et al. 2016, section 3.1.3).

:class:`FaceTubeExtractor` turns each clip of whole frames into one *face tube*: the
primary person's face, cropped in every frame, smoothed over time and resized (48x48 in the
paper). The steps follow the paper's "Facetube extraction procedure" and "Facetube
smoothing":

1. **Detection** with a pluggable detector (:mod:`skfer.preprocessing.face_detection`;
   Viola-Jones by default, the paper used Picasa) on every ``detect_every``-th frame and on
   the last frame. Where two successive scheduled detections disagree (one finds a face,
   the other none) every frame between them is detected too, so the frames where a face
   appears or leaves are found exactly.
2. **Association** of the boxes of successive detected frames into tubes, one per person,
   by relative position, size and overlap (:func:`_associate`). The **primary tube** is the
   one with the most detected frames, ties broken by the larger mean box area.
3. **Tracking** of the primary face on frames skipped by the stride (between two frames
   where it was detected): normalised cross-correlation template matching of the face
   from the last detection, searched within ``search_radius`` box sides of the previous box.
4. **Filling** of frames where detection was tried and failed, walking out from the located
   frames on each side of the run (also at the clip's ends), up to ``max_gap`` frames: the
   spatial neighbourhood of the temporally closest box is searched (shifts up to
   ``search_radius`` box sides) for the same-size region whose grey-level histogram
   (32 bins) is closest, in Bhattacharyya distance, to that of the detected face at that
   side; the walk stops at the first best distance above ``max_hist_distance`` (the face
   has gone, e.g. a cut) and the remaining frames are ``"missing"``.
5. **Smoothing** (:func:`skfer.preprocessing.box_smoothing.smooth_tube_boxes`): two-sided
   moving average (window 11) of the corners, largest centred square, constant or linear
   fit of the side lengths (threshold 1.5), moving average of the centres. Missing frames
   take the box of the temporally closest located frame before smoothing.
6. **Cropping** of the smoothed squares (zero padding outside the frame) and resizing.

Every frame gets a status, ``"detected"``, ``"tracked"``, ``"filled"`` or ``"missing"``,
kept with the boxes before and after smoothing in :class:`FaceTube` records.

Video files can be processed without decoding them into RGB clips first:
:meth:`FaceTubeExtractor.transform_files` streams the frames (grey ones for grey tubes),
decodes in a background thread while the scheduled detections run, and gives the same tubes
as :meth:`~FaceTubeExtractor.transform` on the decoded clips.
"""

from __future__ import annotations

import os
import queue
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import cv2
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from skfer.base import ClipTransformerMixin, same_container
from skfer.io import iter_frames
from skfer.preprocessing.box_smoothing import box_iou, smooth_tube_boxes
from skfer.preprocessing.face_detection import HaarFaceDetector, as_detector
from skfer.utils.validation import check_clips

__all__ = ["FaceTube", "FaceTubeExtractor", "STATUSES", "histogram_search"]

#: Per-frame statuses of a face tube.
STATUSES = ("detected", "tracked", "filled", "missing")

# Tracking and histogram search run on frames shrunk to this width (faces stay > 20 px on
# the videos this targets, and the search cost falls with the square of the scale).
_WORK_WIDTH = 320
_HIST_BINS = 32
_ON_MISSING = ("raise", "warn", "ignore")


@dataclass
class FaceTube:
    """Metadata of the face tube extracted from one clip.

    Attributes
    ----------
    clip_index : int
        Position of the clip in ``X``.
    boxes : ndarray of shape (T, 4)
        ``x, y, w, h`` of the primary face before smoothing (detected, tracked or filled);
        NaN on ``"missing"`` frames.
    smoothed_boxes : ndarray of shape (T, 4)
        The square boxes actually cropped (after smoothing), in frame pixels.
    status : ndarray of shape (T,) of str
        ``"detected"``, ``"tracked"``, ``"filled"`` or ``"missing"`` per frame.
    scores : ndarray of shape (T,)
        Detector score on detected frames, NaN elsewhere.
    linear_sides : bool
        Whether the side lengths follow the linear polynomial (else the constant).
    n_tubes : int
        Number of tubes (people) found before the primary one was chosen.
    n_detector_calls : int
        Frames the detector was run on.
    """

    clip_index: int
    boxes: np.ndarray
    smoothed_boxes: np.ndarray
    status: np.ndarray
    scores: np.ndarray
    linear_sides: bool = False
    n_tubes: int = 0
    n_detector_calls: int = 0

    @property
    def missing_frames(self) -> np.ndarray:
        """Indices of the frames with no face (status ``"missing"``)."""
        return np.flatnonzero(self.status == "missing")

    @property
    def face_found(self) -> bool:
        """Whether any frame holds a located face."""
        return bool((self.status != "missing").any())


def _unit(clip: np.ndarray | Sequence[np.ndarray]) -> float:
    """Factor to bring a clip (array or list of frames) to 0..255: 255 for float clips
    within [0, 1], else 1."""
    dtype = clip[0].dtype
    if dtype == np.uint8 or not np.issubdtype(dtype, np.floating):
        return 1.0
    peak = clip.max() if isinstance(clip, np.ndarray) else max(f.max() for f in clip)
    return 255.0 if peak <= 1.0 else 1.0


def _to_uint8(frame: np.ndarray, unit: float = 1.0) -> np.ndarray:
    """uint8 version of a frame (``unit`` from :func:`_unit` of its clip), for detection."""
    if frame.dtype == np.uint8:
        return frame
    return np.clip(frame.astype(float) * unit, 0, 255).astype(np.uint8)


def _grey(frame: np.ndarray) -> np.ndarray:
    """Grey version of an RGB (or already grey) frame, same dtype family."""
    if frame.ndim == 2:
        return frame
    if frame.dtype == np.uint8:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return frame @ np.array([0.299, 0.587, 0.114])


def _work_scale(width: int) -> float:
    """Factor from frame pixels to working-frame pixels (see ``_WORK_WIDTH``)."""
    return min(1.0, _WORK_WIDTH / width)


def _work_frame(frame: np.ndarray, unit: float, scale: float) -> np.ndarray:
    """Grey uint8 version of a frame at the working scale, for tracking and filling."""
    g = _to_uint8(_grey(frame), unit)
    if scale < 1:
        g = cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return g


class _WorkFrames:
    """Working frames (:func:`_work_frame`) of a clip, built on first use and kept.

    ``cache`` may hold frames built beforehand (by the decoding thread of
    :meth:`FaceTubeExtractor.transform_files`).
    """

    def __init__(
        self,
        clip: np.ndarray | Sequence[np.ndarray],
        unit: float,
        cache: list[np.ndarray | None] | None = None,
    ) -> None:
        self.clip = clip
        self.unit = unit
        self.scale = _work_scale(clip[0].shape[1])
        self.cache: list[np.ndarray | None] = [None] * len(clip) if cache is None else cache

    def __call__(self, t: int) -> np.ndarray:
        img = self.cache[t]
        if img is None:
            img = self.cache[t] = _work_frame(self.clip[t], self.unit, self.scale)
        return img


def _associate(
    detections: dict[int, tuple[np.ndarray, np.ndarray]], max_skip: int
) -> list[dict[int, tuple[np.ndarray, float]]]:
    """Link the boxes of successive detected frames into tubes (one per person).

    A box continues a tube whose last box is at most ``max_skip`` frames earlier when they
    overlap (IoU >= 0.3) or, failing that, when their centres are within half the mean
    side and their sizes differ by less than a factor 1.5. Candidate pairs are matched
    greedily by ``IoU + 1 - centre distance / mean side``; unmatched boxes start new tubes.
    """
    tubes: list[dict[int, tuple[np.ndarray, float]]] = []
    for t in sorted(detections):
        boxes, scores = detections[t]
        pairs = []
        for j, tube in enumerate(tubes):
            last = max(tube)
            if t - last > max_skip:
                continue
            prev = tube[last][0]
            for i, box in enumerate(boxes):
                iou = float(box_iou(prev, box))
                side = (np.sqrt(prev[2] * prev[3]) + np.sqrt(box[2] * box[3])) / 2
                dist = np.hypot(
                    prev[0] + prev[2] / 2 - box[0] - box[2] / 2,
                    prev[1] + prev[3] / 2 - box[1] - box[3] / 2,
                ) / max(side, 1e-9)
                ratio = np.sqrt(box[2] * box[3] / max(prev[2] * prev[3], 1e-9))
                if iou >= 0.3 or (dist < 0.5 and 1 / 1.5 < ratio < 1.5):
                    pairs.append((iou + 1 - dist, i, j))
        used_boxes: set[int] = set()
        used_tubes: set[int] = set()
        for _, i, j in sorted(pairs, reverse=True):
            if i in used_boxes or j in used_tubes:
                continue
            tubes[j][t] = (boxes[i], float(scores[i]))
            used_boxes.add(i)
            used_tubes.add(j)
        for i in range(len(boxes)):
            if i not in used_boxes:
                tubes.append({t: (boxes[i], float(scores[i]))})
    return tubes


def _patch_bounds(box: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Integer ``x0, y0, x1, y1`` of a box clipped to the frame, or None when empty."""
    x0, y0 = int(round(box[0])), int(round(box[1]))
    x1, y1 = int(round(box[0] + box[2])), int(round(box[1] + box[3]))
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, shape[1]), min(y1, shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def _histogram(img: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    b = _patch_bounds(box, img.shape)
    if b is None:
        return None
    hist = cv2.calcHist([img[b[1] : b[3], b[0] : b[2]]], [0], None, [_HIST_BINS], [0, 256])
    return cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)


def histogram_search(
    img: np.ndarray, box: np.ndarray, reference: np.ndarray, radius: float
) -> tuple[np.ndarray, float]:
    """Best same-size region near ``box`` by grey-histogram match (EmoNets section 3.1.3;
    the paper matches colour-intensity histograms, skfer grey ones, as it tracks on grey).

    Shifts of the box on a grid of step ``max(1, side / 8)`` pixels, up to ``radius`` box
    sides in x and y, are scored by the Bhattacharyya distance between the region's
    32-bin grey histogram and ``reference``.

    Parameters
    ----------
    img : ndarray of shape (H, W), uint8
    box : ndarray of shape (4,)
        ``x, y, w, h`` of the temporally closest box.
    reference : ndarray
        Normalised histogram of the face to find (from :func:`_histogram`).
    radius : float
        Search radius in box sides.

    Returns
    -------
    box : ndarray of shape (4,)
        The best region.
    distance : float
        Its Bhattacharyya distance (0 = identical histograms, 1 = disjoint).
    """
    side = max(min(box[2], box[3]), 1.0)
    step = max(1.0, side / 8)
    n = int(np.floor(radius * side / step))
    best, best_d = box, np.inf
    for dy in range(-n, n + 1):
        for dx in range(-n, n + 1):
            cand = np.array([box[0] + dx * step, box[1] + dy * step, box[2], box[3]])
            hist = _histogram(img, cand)
            if hist is None:
                continue
            d = cv2.compareHist(reference, hist, cv2.HISTCMP_BHATTACHARYYA)
            # Ties (e.g. flat regions) keep the smallest shift: stay put when unsure.
            if d < best_d - 1e-12:
                best, best_d = cand, d
    return best, float(best_d)


def _template_track(
    img: np.ndarray, template: np.ndarray, prev: np.ndarray, radius: float
) -> np.ndarray:
    """Locate ``template`` near box ``prev`` by normalised cross-correlation."""
    th, tw = template.shape
    margin = int(np.ceil(radius * max(prev[2], prev[3])))
    x0 = max(int(round(prev[0])) - margin, 0)
    y0 = max(int(round(prev[1])) - margin, 0)
    x1 = min(int(round(prev[0] + prev[2])) + margin, img.shape[1])
    y1 = min(int(round(prev[1] + prev[3])) + margin, img.shape[0])
    window = img[y0:y1, x0:x1]
    if window.shape[0] < th or window.shape[1] < tw or th < 2 or tw < 2:
        return prev.copy()
    res = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
    _, _, _, (mx, my) = cv2.minMaxLoc(res)
    return np.array([x0 + mx, y0 + my, prev[2], prev[3]], dtype=float)


_T = TypeVar("_T")


class _Done:
    """End-of-stream marker of :func:`_prefetch`, with the producer's error if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def _prefetch(items: Iterable[_T]) -> Iterator[_T]:
    """Iterate over ``items`` produced by a background thread.

    Video decoding (``cv2.VideoCapture``) releases the GIL, so the next frames decode on
    the other core while the caller runs the detector on the current one. The queue is not
    bounded: :meth:`FaceTubeExtractor.transform_files` keeps every frame anyway, so running
    ahead costs no extra memory. Errors of the producer are raised in the caller; when the
    caller stops early, the producer stops at its next item.
    """
    q: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def produce() -> None:
        it = iter(items)
        try:
            for item in it:
                if stop.is_set():
                    break
                q.put(item)
        except BaseException as exc:  # noqa: BLE001 - handed over to the consumer
            q.put(_Done(exc))
        else:
            q.put(_Done())
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # e.g. release the video file now, not at garbage collection

    thread = threading.Thread(target=produce, name="skfer-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join()


class FaceTubeExtractor(ClipTransformerMixin, TransformerMixin, BaseEstimator):
    """Turn clips of whole video frames into face tubes (EmoNets section 3.1.3).

    Each clip ``(T, H, W[, 3])`` becomes one face tube ``(T, size[0], size[1])`` (grey) or
    ``(T, size[0], size[1], 3)`` (``color=True``) of the primary person's face; see the
    module docstring for the steps. ``fit`` learns nothing.

    Parameters
    ----------
    detector : object with ``detect(frame)``, callable or None, default=None
        Face detector following the protocol of
        :mod:`skfer.preprocessing.face_detection` (it gets uint8 frames, grey or RGB as
        the clips are; grey from :meth:`transform_files` unless ``color``);
        ``None`` uses :class:`~skfer.preprocessing.face_detection.HaarFaceDetector` with
        its defaults.
    size : (int, int), default=(48, 48)
        Height and width of the output frames (48x48 in the paper).
    detect_every : int, default=8
        Stride of the scheduled detections; frames between two detections of the face are
        tracked. ``1`` detects on every frame.
    smoothing_window : int, default=11
        Odd window of the two-sided moving averages (11 in the paper).
    scale_threshold : float, default=1.5
        Threshold on ``|slope| * T`` above which side lengths follow the linear fit.
    color : bool, default=False
        Output RGB tubes (needs RGB clips) instead of grey ones.
    on_missing : {"raise", "warn", "ignore"}, default="raise"
        What to do with a clip where no face is found in any frame: ``"raise"`` a
        ``ValueError`` naming the clip index; ``"warn"`` with a ``UserWarning`` naming it
        and output the centred square crop of the frames (recorded with every frame
        ``"missing"``); ``"ignore"`` does the same without the warning.
    max_gap : int, default=15
        Farthest a run of failed detections is filled by histogram search from each located
        side, in frames; frames farther away are ``"missing"``.
    search_radius : float, default=0.25
        Neighbourhood searched by tracking and filling, in box sides around the previous box.
    max_hist_distance : float, default=0.4
        Largest Bhattacharyya distance accepted by the histogram search.

    Attributes
    ----------
    detector_ : object
        The detector used.
    tubes_ : list of FaceTube
        Per-clip metadata of the last :meth:`transform` or :meth:`transform_files` (boxes
        before and after smoothing, per-frame status, detector scores).

    Notes
    -----
    For video files, :meth:`transform_files` gives the same tubes as :meth:`transform` on
    the decoded clips (with a detector working on grey), faster: it decodes grey frames,
    overlapped with the detection.

    Examples
    --------
    >>> import numpy as np
    >>> def fake(frame):  # a detector: one fixed face
    ...     return np.array([[40.0, 30.0, 50.0, 60.0]]), np.array([1.0])
    >>> ext = FaceTubeExtractor(detector=fake, size=(24, 24)).fit([])
    >>> tubes = ext.transform([np.zeros((12, 120, 160), np.uint8)])
    >>> tubes[0].shape, ext.tubes_[0].status[:3].tolist()
    ((12, 24, 24), ['detected', 'tracked', 'tracked'])
    """

    def __init__(
        self,
        detector: Any = None,
        size: tuple[int, int] = (48, 48),
        detect_every: int = 8,
        smoothing_window: int = 11,
        scale_threshold: float = 1.5,
        color: bool = False,
        on_missing: str = "raise",
        max_gap: int = 15,
        search_radius: float = 0.25,
        max_hist_distance: float = 0.4,
    ) -> None:
        self.detector = detector
        self.size = size
        self.detect_every = detect_every
        self.smoothing_window = smoothing_window
        self.scale_threshold = scale_threshold
        self.color = color
        self.on_missing = on_missing
        self.max_gap = max_gap
        self.search_radius = search_radius
        self.max_hist_distance = max_hist_distance

    def _validate_params_(self) -> None:
        size = tuple(self.size) if np.ndim(self.size) == 1 else ()
        if len(size) != 2 or any(int(s) != s or s < 1 for s in size):
            raise ValueError(f"size must be two positive integers (height, width), got {self.size}")
        if int(self.detect_every) != self.detect_every or self.detect_every < 1:
            raise ValueError(f"detect_every must be a positive integer, got {self.detect_every}")
        if self.smoothing_window < 1 or self.smoothing_window % 2 == 0:
            raise ValueError(
                f"smoothing_window must be a positive odd integer, got {self.smoothing_window}"
            )
        if self.on_missing not in _ON_MISSING:
            raise ValueError(f"on_missing must be one of {_ON_MISSING}, got {self.on_missing!r}")
        if self.max_gap < 0 or self.search_radius < 0 or self.scale_threshold < 0:
            raise ValueError("max_gap, search_radius and scale_threshold must be >= 0")

    def fit(self, X: Any = None, y: Any = None) -> FaceTubeExtractor:
        """Check the parameters and resolve the detector; no data is learnt.

        Parameters
        ----------
        X : ignored
            Accepted for pipeline compatibility; clips are validated in :meth:`transform`.
        y : ignored

        Returns
        -------
        self : FaceTubeExtractor
        """
        self._validate_params_()
        self.detector_ = HaarFaceDetector() if self.detector is None else self.detector
        as_detector(self.detector_)  # fail early on an unusable detector
        return self

    def transform(self, X: Any) -> Any:
        """Extract one face tube per clip; metadata goes to ``tubes_``.

        Parameters
        ----------
        X : list of clips or ndarray
            Clips of whole frames, ``(T, H, W)`` grey or ``(T, H, W, 3)`` RGB.

        Returns
        -------
        tubes : list of ndarray or ndarray
            ``(T, size[0], size[1])`` (or ``(..., 3)`` with ``color=True``) per clip, in the
            input's dtype; an ndarray when ``X`` was one and all clips have equal length.
        """
        out, records = self.transform_with_info(X)
        self.tubes_ = records
        return same_container(X, out)

    def transform_with_info(self, X: Any) -> tuple[list[np.ndarray], list[FaceTube]]:
        """Like :meth:`transform`, but return the tubes and their :class:`FaceTube` records.

        Parameters
        ----------
        X : list of clips or ndarray

        Returns
        -------
        tubes : list of ndarray
        records : list of FaceTube
        """
        out, records = [], []
        for tube, rec in self.iter_transform(X):
            out.append(tube)
            records.append(rec)
        return out, records

    def iter_transform(self, X: Any) -> Iterator[tuple[np.ndarray, FaceTube]]:
        """Yield ``(tube, record)`` clip by clip, e.g. to show progress on long data sets.

        All clips are validated before the first is processed; errors name the clip by its
        index in ``X``. ``tubes_`` is not set.

        Parameters
        ----------
        X : list of clips or ndarray

        Yields
        ------
        tube : ndarray
        record : FaceTube
        """
        check_is_fitted(self, "detector_")
        self._validate_params_()
        clips = check_clips(X, color=True if self.color else None)
        detect = as_detector(self.detector_)
        for i, clip in enumerate(clips):
            yield self._extract(clip, i, detect)

    def transform_files(self, paths: Iterable[str | os.PathLike]) -> list[np.ndarray]:
        """Extract one face tube per video file, streaming its frames; metadata goes to
        ``tubes_``.

        Faster than :meth:`transform` on the decoded clips: grey tubes (``color=False``)
        decode grey frames (no RGB frame is made or kept), and the frames are decoded by a
        background thread (:func:`skfer.io.iter_frames`) while the scheduled detections
        run on the frames already decoded. The detector then gets grey frames; with a
        detector that works on grey (as
        :class:`~skfer.preprocessing.face_detection.HaarFaceDetector` does), the tubes and
        records equal those of :meth:`transform` on the RGB clips of
        :func:`skfer.io.read_video`.

        Parameters
        ----------
        paths : list of str or path-like
            Video files in any format :func:`skfer.io.iter_frames` reads.

        Returns
        -------
        tubes : list of ndarray of uint8
            ``(T, size[0], size[1])`` (or ``(..., 3)`` with ``color=True``) per video.

        Raises
        ------
        FileNotFoundError
            If a file does not exist.
        ValueError
            If a file cannot be decoded or holds no frame (see :func:`skfer.io.iter_frames`),
            or ``paths`` is empty.
        """
        check_is_fitted(self, "detector_")
        self._validate_params_()
        if isinstance(paths, (str, bytes, os.PathLike)):
            raise TypeError("paths must be a list of video files, got a single path")
        paths = list(paths)
        if not paths:
            raise ValueError("paths is empty: at least one video file is needed")
        detect = as_detector(self.detector_)
        every = int(self.detect_every)
        out, records = [], []
        for i, path in enumerate(paths):
            frames: list[np.ndarray] = []
            work: list[np.ndarray | None] = []
            found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
            stream = _prefetch(self._decode(path))
            try:
                for t, (frame, small) in enumerate(stream):
                    frames.append(frame)
                    work.append(small)
                    # The stride's detections (and the frames between two that disagree)
                    # run while the next frames decode; _extract adds the last frame's.
                    if t % every == 0:
                        self._detect_between(frames, detect, 1.0, found, t - every, t)
            finally:
                stream.close()  # on a detector error, stop the decoding thread now
            if not frames:
                raise ValueError(f"video {path} (clip {i}) yielded no frame")
            tube, rec = self._extract(frames, i, detect, found, work)
            out.append(tube)
            records.append(rec)
        self.tubes_ = records
        return out

    def _decode(self, path: str | os.PathLike) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Frames of a video file (grey unless ``color``) with their working frames."""
        scale = None
        for frame in iter_frames(path, color=bool(self.color)):
            if scale is None:
                scale = _work_scale(frame.shape[1])
            # Built here, on the decoding thread: tracking needs most of them, and it
            # takes them off the thread that runs the detector.
            yield frame, _work_frame(frame, 1.0, scale)

    # -- one clip -------------------------------------------------------------------------

    @staticmethod
    def _detect_between(
        clip: np.ndarray | Sequence[np.ndarray],
        detect: Any,
        unit: float,
        found: dict[int, tuple[np.ndarray, np.ndarray]],
        a: int,
        b: int,
    ) -> None:
        """Detect on the scheduled frames ``a`` (skipped if < 0) and ``b`` and, when one
        holds a face and the other none, on every frame between; results go to ``found``
        (frames already there are not detected again)."""

        def run(t: int) -> bool:
            if t not in found:
                found[t] = detect(_to_uint8(clip[t], unit))
            return len(found[t][0]) > 0

        hit_b = run(b)
        if a >= 0 and run(a) != hit_b:  # a face appeared or left (or a miss): pin it down
            for t in range(a + 1, b):
                run(t)

    def _detect_frames(
        self,
        clip: np.ndarray | Sequence[np.ndarray],
        detect: Any,
        unit: float,
        found: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Run the detector on the stride and, where scheduled results disagree, in between.

        ``found`` holds detections already made (frame index -> result); it is completed.
        """
        n = len(clip)
        found = {} if found is None else found
        schedule = list(range(0, n, int(self.detect_every)))
        if schedule[-1] != n - 1:
            schedule.append(n - 1)
        for a, b in zip([-1] + schedule[:-1], schedule):
            self._detect_between(clip, detect, unit, found, a, b)
        return found

    def _extract(
        self,
        clip: np.ndarray | Sequence[np.ndarray],
        index: int,
        detect: Any,
        found: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
        work: list[np.ndarray | None] | None = None,
    ) -> tuple[np.ndarray, FaceTube]:
        """Face tube and record of one clip: an array or a list of equal-size frames.

        ``found`` holds detections already made, ``work`` working frames already built.
        """
        n = len(clip)
        height, width = clip[0].shape[:2]
        unit = _unit(clip)
        found = self._detect_frames(clip, detect, unit, found)
        tubes = _associate(
            {t: d for t, d in found.items() if len(d[0])}, int(self.detect_every) + self.max_gap
        )
        boxes = np.full((n, 4), np.nan)
        status = np.full(n, "missing", dtype=object)
        scores = np.full(n, np.nan)
        linear = False
        if tubes:
            # Primary tube: most detected frames, ties by the larger mean box area.
            primary = max(
                tubes,
                key=lambda tb: (len(tb), np.mean([b[2] * b[3] for b, _ in tb.values()])),
            )
            for t, (box, score) in primary.items():
                boxes[t], scores[t], status[t] = box, score, "detected"
            work_frames = _WorkFrames(clip, unit, work)
            self._locate_undetected(work_frames, primary, found, boxes, status)
            located = status != "missing"
            idx = np.flatnonzero(located)
            # Missing frames take the temporally closest located box before smoothing.
            nearest = idx[np.abs(np.arange(n)[:, None] - idx[None, :]).argmin(axis=1)]
            full = boxes[nearest]
            smoothed, linear = smooth_tube_boxes(
                full, int(self.smoothing_window), float(self.scale_threshold)
            )
        else:
            where = f"clip {index}: no face was found in any of its {n} frames"
            if self.on_missing == "raise":
                raise ValueError(
                    where + " (set on_missing='warn' or 'ignore' to output a centre crop)"
                )
            if self.on_missing == "warn":
                warnings.warn(where + "; its tube is a centre crop of the frames", UserWarning)
            side = float(min(height, width))
            centre = [(width - side) / 2, (height - side) / 2, side, side]
            smoothed = np.tile(centre, (n, 1))
        tube = np.stack([self._crop(clip[t], smoothed[t]) for t in range(n)])
        status = status.astype(str)
        record = FaceTube(
            clip_index=index,
            boxes=boxes,
            smoothed_boxes=smoothed,
            status=status,
            scores=scores,
            linear_sides=linear,
            n_tubes=len(tubes),
            n_detector_calls=len(found),
        )
        return tube, record

    def _locate_undetected(
        self,
        work: _WorkFrames,
        primary: dict[int, tuple[np.ndarray, float]],
        found: dict[int, Any],
        boxes: np.ndarray,
        status: np.ndarray,
    ) -> None:
        """Track skipped frames and fill failed ones of the primary tube, in place."""
        n = len(work.cache)
        scale = work.scale
        det = sorted(primary)
        radius = float(self.search_radius)
        # Runs of frames between detections of the primary face (and before/after them).
        runs = [(a + 1, b) for a, b in zip(det, det[1:]) if b - a > 1]
        if det[0] > 0:
            runs.insert(0, (0, det[0]))
        if det[-1] < n - 1:
            runs.append((det[-1] + 1, n))
        for start, stop in runs:
            before = start - 1 if start > 0 else None
            after = stop if stop < n else None
            tried = any(t in found for t in range(start, stop))
            if not tried and before is not None and after is not None:
                # Skipped by the stride between two detections: track forward.
                tpl_box = boxes[before] * scale
                b = _patch_bounds(tpl_box, work(before).shape)
                if b is None:
                    continue
                template = work(before)[b[1] : b[3], b[0] : b[2]]
                # The template is the in-frame part of the box: track it, keep the box size.
                offset = np.array([b[0] - tpl_box[0], b[1] - tpl_box[1], 0.0, 0.0])
                prev = np.array([b[0], b[1], b[2] - b[0], b[3] - b[1]], dtype=float)
                for t in range(start, stop):
                    prev = _template_track(work(t), template, prev, radius)
                    full = np.r_[prev[:2], tpl_box[2:]] - offset
                    boxes[t], status[t] = full / scale, "tracked"
                continue
            self._fill_run(work, start, stop, before, after, boxes, status, scale)

    def _fill_run(
        self,
        work: _WorkFrames,
        start: int,
        stop: int,
        before: int | None,
        after: int | None,
        boxes: np.ndarray,
        status: np.ndarray,
        scale: float,
    ) -> None:
        """Fill frames ``start..stop-1`` by histogram search, walking out from located frames.

        Each frame is searched around the box of its temporally closest located neighbour,
        against the histogram of the face detected at that side of the run. A side's walk
        stops at ``max_gap`` frames or at the first frame whose best match is farther than
        ``max_hist_distance`` (the face is gone), leaving the rest ``"missing"``.
        """
        radius = float(self.search_radius)
        for anchor, step in ((before, 1), (after, -1)):
            if anchor is None:
                continue
            ref = _histogram(work(anchor), boxes[anchor] * scale)
            if ref is None:
                continue
            t = anchor + step
            while start <= t < stop and abs(t - anchor) <= self.max_gap:
                other = after if step == 1 else before
                # The other side's walk takes the frames temporally closer to it.
                if other is not None and abs(t - other) < abs(t - anchor):
                    break
                if status[t] != "missing":
                    break
                box, dist = histogram_search(work(t), boxes[t - step] * scale, ref, radius)
                if dist > self.max_hist_distance:
                    break
                boxes[t], status[t] = box / scale, "filled"
                t += step

    def _crop(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Crop the square ``box`` (zero padding outside the frame), convert and resize."""
        x0, y0 = int(round(box[0])), int(round(box[1]))
        side = max(int(round(box[2])), 1)
        fx0, fy0 = max(x0, 0), max(y0, 0)
        fx1, fy1 = min(x0 + side, frame.shape[1]), min(y0 + side, frame.shape[0])
        if (fx0, fy0, fx1, fy1) == (x0, y0, x0 + side, y0 + side):
            patch = frame[y0 : y0 + side, x0 : x0 + side]  # inside the frame: a view, no copy
        else:
            patch = np.zeros((side, side) + frame.shape[2:], dtype=frame.dtype)
            if fx1 > fx0 and fy1 > fy0:
                patch[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = frame[fy0:fy1, fx0:fx1]
        if not self.color and patch.ndim == 3:
            patch = _grey(patch).astype(frame.dtype, copy=False)
        work = patch if patch.dtype in (np.uint8, np.float32) else patch.astype(np.float32)
        h, w = int(self.size[0]), int(self.size[1])
        interp = cv2.INTER_AREA if side >= max(h, w) else cv2.INTER_LINEAR
        return cv2.resize(work, (w, h), interpolation=interp).astype(frame.dtype)
