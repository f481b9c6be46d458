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
   by relative position, size and overlap (``associate`` in
   :mod:`skfer.preprocessing._tracking`). The **primary tube** is the one with the most
   detected frames, ties broken by the larger mean box area.
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

7. **Confidence** (:func:`skfer.preprocessing._tracking.tube_confidence`; not in the paper):
   every frame gets a confidence in [0, 1] from the detector's agreement with the tube (how
   often its runs inside the tube found the face, how many times it found it, how far each
   detection lies from its neighbours). Located frames below ``min_confidence`` become
   ``"suspect"`` (false detections, e.g. on an upside-down face) and are left out of the
   smoothing like missing frames; a clip with no trustworthy frame is treated as a clip
   without a face.
8. **Orientation** (:func:`skfer.preprocessing._tracking.face_orientation`; not in the
   paper): when some frame would be trusted, the detector's runs are repeated on the frames
   turned by 180, 90 and 270 degrees as long as a turn could find the tube's face in most
   of them and in more of them than the frames as they are. A turn that does (an
   upside-down or sideways face, on which a frontal detector fires now and then and whose
   expression a network trained on upright faces cannot read) gives every frame of the tube
   confidence 0, hence ``"suspect"``, and the record says which turn found the face
   (:attr:`FaceTube.orientation`). The frames are not turned for the user: a clip the
   detector reads upright under a turn is turned with ``np.rot90(clip, turn // 90,
   axes=(1, 2))``. A tube whose face was found on every run costs no extra run.

Every frame gets a status, ``"detected"``, ``"tracked"``, ``"filled"``, ``"suspect"`` or
``"missing"`` (:data:`skfer.FRAME_STATUSES`), and a ``confidence``.
:meth:`FaceTubeExtractor.transform` returns the tubes in a :class:`skfer.ClipSet` whose
``status``, ``confidence`` and ``source_boxes`` companions carry them to later steps
(:class:`~skfer.preprocessing.FrameAggregator` leaves the ``"suspect"`` and ``"missing"``
frames out);
:meth:`FaceTubeExtractor.transform_with_info` also returns the :class:`FaceTube` records
(boxes before and after smoothing, detector scores). Tracking and filling live in
:mod:`skfer.preprocessing._tracking`, the decoding thread in :mod:`skfer.io._prefetch`.

Video files can be processed without decoding them into RGB clips first:
:meth:`FaceTubeExtractor.transform_files` streams the frames (grey ones for grey tubes),
decodes in a background thread while the scheduled detections run, and gives the same tubes
as :meth:`~FaceTubeExtractor.transform` on the decoded clips.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..base import ClipTransformerMixin, same_container
from ..clipset import UNUSABLE_STATUSES, ClipSet
from ..io import iter_frames
from ..io._prefetch import prefetch
from ..utils._param_validation import FrameSize
from ..utils._sklearn import HasMethods, Interval, StrOptions, _fit_context
from ..utils.frame_policy import SkippedFrames, apply_policy, policy_constraint
from ..utils.validation import check_clips
from ._frame_records import clip_sources
from ._tracking import (
    Orientation,
    SearchParams,
    WorkFrames,
    associate,
    face_orientation,
    grey,
    histogram_search,
    link_returning,
    locate_undetected,
    pixel_unit,
    to_uint8,
    tube_confidence,
    work_frame,
    work_scale,
)
from .box_smoothing import smooth_tube_boxes
from .face_detection import DetectorPickleMixin, as_detector, fitted_detector

__all__ = ["FaceTube", "FaceTubeExtractor", "histogram_search"]


@dataclass
class FaceTube:
    """Metadata of the face tube extracted from one clip.

    Attributes
    ----------
    clip_index : int
        Position of the clip in ``X``.
    boxes : ndarray of shape (T, 4)
        ``x, y, w, h`` of the primary face before smoothing (detected, tracked, filled or
        suspect); NaN on ``"missing"`` frames.
    smoothed_boxes : ndarray of shape (T, 4)
        The square boxes actually cropped (after smoothing), ``x, y, w, h`` in pixels of
        the source frames: the ``source_boxes`` companion of the tubes.
    status : ndarray of shape (T,) of str
        ``"detected"``, ``"tracked"``, ``"filled"``, ``"suspect"`` or ``"missing"`` per
        frame.
    scores : ndarray of shape (T,)
        Detector score on detected frames, NaN elsewhere.
    linear_sides : bool
        Whether the side lengths follow the linear polynomial (else the constant).
    n_tubes : int
        Number of tubes (people) found in the clip.
    n_detector_calls : int
        Times the detector was run: on frames, and on frames turned to check the face's
        orientation.
    confidence : ndarray of shape (T,)
        How far the face of each frame is trusted, in [0, 1] (0 on missing frames; see
        :func:`~skfer.preprocessing._tracking.tube_confidence`).
    skipped : tuple of SkippedFrames
        The frames without a trustworthy face: ``"no_face"`` (missing) and
        ``"inconsistent"`` (suspect) records, with the clip's index and file.
    orientation : int
        Counter-clockwise turn in degrees (``np.rot90``'s sense: 90, 180 or 270) of the
        frames in which the detector found the tube's face more often than in the frames
        as they are, which makes every frame of the tube suspect; 0 when no turn did (or
        the check did not run because no frame was trusted anyway).
    face_id : int
        Which person of the clip the tube follows: 0 for the primary face, and with
        ``FaceTubeExtractor(faces="all")`` 0, 1, ... in order of first appearance.
    """

    clip_index: int
    boxes: np.ndarray
    smoothed_boxes: np.ndarray
    status: np.ndarray
    scores: np.ndarray
    linear_sides: bool = False
    n_tubes: int = 0
    n_detector_calls: int = 0
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0))
    skipped: tuple[SkippedFrames, ...] = ()
    orientation: int = 0
    face_id: int = 0

    @property
    def missing_frames(self) -> np.ndarray:
        """Indices of the frames with no face (status ``"missing"``)."""
        return np.flatnonzero(self.status == "missing")

    @property
    def suspect_frames(self) -> np.ndarray:
        """Indices of the frames whose located face is not trusted (status ``"suspect"``)."""
        return np.flatnonzero(self.status == "suspect")

    @property
    def face_found(self) -> bool:
        """Whether any frame holds a trustworthy face (neither suspect nor missing)."""
        return bool((~np.isin(self.status, UNUSABLE_STATUSES)).any())


class FaceTubeExtractor(
    DetectorPickleMixin, ClipTransformerMixin, TransformerMixin, BaseEstimator
):
    """Turn clips of whole video frames into face tubes (EmoNets section 3.1.3).

    Each clip ``(T, H, W[, 3])`` becomes one face tube ``(T, height, width)`` (grey) or
    ``(T, height, width, 3)`` (``color=True``) of the primary person's face, with
    ``(height, width) = frame_size``; see the module docstring for the steps. ``fit``
    learns nothing (it validates the parameters and fits a clone of the detector).

    A tube whose face the detector finds more often in the frames turned upside down or
    on their side is not trusted (every frame ``"suspect"``, see the module docstring and
    :attr:`FaceTube.orientation`).

    Parameters
    ----------
    detector : face detector, callable or None, default=None
        A face detector following the protocol of
        :mod:`skfer.preprocessing.face_detection` (a scikit-learn estimator with
        ``detect(frame) -> (boxes (n, 4) as x, y, w, h, scores (n,))``; it gets uint8
        frames, grey or RGB as the clips are; grey from :meth:`transform_files` unless
        ``color``), or a plain function of the frame returning the boxes. ``None`` uses
        :class:`~skfer.preprocessing.HaarFaceDetector` with its defaults. A detector
        estimator's parameters are tunable through this one, e.g.
        ``detector__scale_factor``.
    frame_size : (int, int), default=(48, 48)
        ``(height, width)`` of the output frames (48x48 in the paper).
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
        What to do with a clip where no trustworthy face is found (no frame located, or
        every located frame suspect) and with suspect frames
        (:mod:`skfer.utils.frame_policy`): ``"raise"`` a
        :class:`~skfer.utils.frame_policy.SkippedFramesError` (a ``ValueError``) naming the
        clip, frames and reason (``"no_face"`` or ``"inconsistent"``); ``"warn"`` one
        :class:`~skfer.utils.frame_policy.SkippedFramesWarning` (a ``UserWarning``) per call
        naming them, and output such a clip as the centred square crop of its frames
        (statuses ``"suspect"``/``"missing"``) and suspect frames flagged in ``status``;
        ``"ignore"`` does the same without the warning. The records are in
        :attr:`FaceTube.skipped` either way. Missing frames of a clip whose face was found
        elsewhere (the face left the shot) are only recorded there and in ``status``.
    max_gap : int, default=15
        Farthest a run of failed detections is filled by histogram search from each located
        side, in frames; frames farther away are ``"missing"``.
    search_radius : float, default=0.25
        Neighbourhood searched by tracking and filling, in box sides around the previous box.
    max_hist_distance : float, default=0.4
        Largest Bhattacharyya distance accepted by the histogram search.
    min_confidence : float, default=0.5
        Located frames whose confidence (see the module docstring) is below this become
        ``"suspect"``. With the default, a face found fewer than 3 times where the
        detector ran 5 times or more, or missed by more than half of the detector's runs
        inside its tube, is suspect. ``0`` trusts every located frame.
    margin : float, default=0.0
        Grow the cropped square by this fraction of its side on every side (about its
        centre, after smoothing; zero padding outside the frame), so the face is framed as
        a network's training images were. ``0.1`` matches FER2013 (the default Haar box
        covers a median 83% of a FER2013 image; see ``docs/benchmarks.md``), the framing of
        the shipped network (:mod:`skfer.pretrained`).

    Attributes
    ----------
    detector_ : object
        The detector used: a fitted clone of ``detector`` when it is an estimator, the
        function itself otherwise.

    Notes
    -----
    *Output.* :meth:`transform` returns a :class:`skfer.ClipSet` of the tubes (also for a
    list or an ndarray ``X``: the step produces companions) with three per-frame
    companions: ``status`` (``"detected"``, ``"tracked"``, ``"filled"``, ``"suspect"`` or
    ``"missing"``), ``confidence`` and ``source_boxes``, the square actually cropped
    (after smoothing) as ``(x, y, w, h)`` in pixels of the *source* frame, so that a
    later step can map tube pixels back to the video. A ``landmarks`` companion of ``X``
    is mapped into tube pixels with the crop (the same scale and offset as the pixels);
    ``boxes`` of ``X`` (face boxes in the source's pixels) are dropped, since the face now
    fills the tube; the other companions are kept. Missing and suspect frames are still
    cropped (at the temporally closest trusted box) so that every frame keeps its place;
    :class:`FrameAggregator` leaves them out by their status. :meth:`transform_with_info`
    also returns the per-clip :class:`FaceTube` records; ``transform`` does not change
    the estimator.

    For video files, :meth:`transform_files` gives the same tubes as :meth:`transform` on
    the decoded clips (with a detector working on grey), faster: it decodes grey frames,
    overlapped with the detection.

    Examples
    --------
    >>> import numpy as np
    >>> def fake(frame):  # a detector: one fixed face
    ...     return np.array([[40.0, 30.0, 50.0, 60.0]]), np.array([1.0])
    >>> ext = FaceTubeExtractor(detector=fake, frame_size=(24, 24)).fit()
    >>> tubes, records = ext.transform_with_info([np.zeros((12, 120, 160), np.uint8)])
    >>> tubes[0].shape, tubes.get("status")[0][:3].tolist()
    ((12, 24, 24), ['detected', 'tracked', 'tracked'])
    >>> records[0].boxes[0].tolist()
    [40.0, 30.0, 50.0, 60.0]
    """

    _parameter_constraints: dict = {
        "detector": [None, HasMethods(["detect"]), callable],
        "frame_size": [FrameSize()],
        "detect_every": [Interval(numbers.Integral, 1, None, closed="left")],
        "smoothing_window": [Interval(numbers.Integral, 1, None, closed="left")],
        "scale_threshold": [Interval(numbers.Real, 0, None, closed="left")],
        "color": ["boolean"],
        "on_missing": policy_constraint(),
        "max_gap": [Interval(numbers.Integral, 0, None, closed="left")],
        "search_radius": [Interval(numbers.Real, 0, None, closed="left")],
        "max_hist_distance": [Interval(numbers.Real, 0, None, closed="left")],
        "min_confidence": [Interval(numbers.Real, 0, 1, closed="both")],
        "margin": [Interval(numbers.Real, 0, None, closed="left")],
        "faces": [StrOptions({"primary", "all"})],
        "n_jobs": [None, numbers.Integral],
    }

    def __init__(
        self,
        *,
        detector: Any = None,
        frame_size: tuple[int, int] = (48, 48),
        detect_every: int = 8,
        smoothing_window: int = 11,
        scale_threshold: float = 1.5,
        color: bool = False,
        on_missing: str = "raise",
        max_gap: int = 15,
        search_radius: float = 0.25,
        max_hist_distance: float = 0.4,
        min_confidence: float = 0.5,
        margin: float = 0.0,
        faces: str = "primary",
        n_jobs: int | None = None,
    ) -> None:
        self.detector = detector
        self.frame_size = frame_size
        self.detect_every = detect_every
        self.smoothing_window = smoothing_window
        self.scale_threshold = scale_threshold
        self.color = color
        self.on_missing = on_missing
        self.max_gap = max_gap
        self.search_radius = search_radius
        self.max_hist_distance = max_hist_distance
        self.min_confidence = min_confidence
        self.margin = margin
        self.faces = faces
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any = None, y: Any = None) -> FaceTubeExtractor:
        """Check the parameters and fit a clone of the detector; no data is learnt.

        Parameters
        ----------
        X : ignored
            Accepted for pipeline compatibility; clips are validated in :meth:`transform`.
        y : ignored

        Returns
        -------
        self : FaceTubeExtractor
        """
        if self.smoothing_window % 2 == 0:
            raise ValueError(
                f"smoothing_window must be odd (a centred window), got {self.smoothing_window}"
            )
        self.detector_ = fitted_detector(self.detector)
        return self

    def transform(self, X: Any) -> ClipSet:
        """Extract one face tube per clip.

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet
            Clips of whole frames, ``(T, H, W)`` grey or ``(T, H, W, 3)`` RGB.

        Returns
        -------
        tubes : ClipSet
            ``(T, height, width)`` (or ``(..., 3)`` with ``color=True``) per clip, in the
            input's dtype, with the ``status`` and ``source_boxes`` companions (see Notes).
        """
        return self.transform_with_info(X)[0]

    def transform_with_info(self, X: Any) -> tuple[ClipSet, list[FaceTube]]:
        """Like :meth:`transform`, and also return the per-clip :class:`FaceTube` records.

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet

        Returns
        -------
        tubes : ClipSet
            As :meth:`transform` returns them.
        records : list of FaceTube
            One per clip: boxes before and after smoothing, statuses, detector scores.
        """
        out, records, skipped = [], [], []
        for tube, rec in self._iter_clips(X):
            self._apply_policy(rec, skipped)
            out.append(tube)
            records.append(rec)
        self._apply_policy(None, skipped)
        return self._package(X, out, records), records

    def iter_transform(self, X: Any) -> Iterator[tuple[np.ndarray, FaceTube]]:
        """Yield ``(tube, record)`` clip by clip, e.g. to show progress on long data sets.

        All clips are validated before the first is processed; errors name the clip by its
        index in ``X``. The tubes come bare (the statuses and boxes are in the records).
        ``on_missing`` applies clip by clip (one warning per clip).

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet

        Yields
        ------
        tube : ndarray
        record : FaceTube
        """
        for tube, rec in self._iter_clips(X):
            pending: list[SkippedFrames] = []
            self._apply_policy(rec, pending)
            self._apply_policy(None, pending)
            yield tube, rec

    def _iter_clips(self, X: Any) -> Iterator[tuple[np.ndarray, FaceTube]]:
        """``(tube, record)`` per face of each clip (one per clip unless ``faces="all"``),
        in clip order; clips in parallel under ``n_jobs``; no policy applied."""
        check_is_fitted(self, "detector_")
        if effective_n_jobs(self.n_jobs) > 1:
            from ._parallel_tubes import iter_clips_parallel

            yield from iter_clips_parallel(self, X, self.n_jobs)
            return
        clips = check_clips(X, color=True if self.color else None)
        sources = clip_sources(X, len(clips))
        detect = as_detector(self.detector_)
        for i, clip in enumerate(clips):
            yield from self._extract(clip, i, detect, source=sources[i])

    def _apply_policy(self, rec: FaceTube | None, pending: list[SkippedFrames]) -> None:
        """``on_missing`` on a clip's record (``"raise"`` at once, else kept in ``pending``),
        or, for ``rec=None``, on everything ``pending`` (one warning per call)."""
        if rec is not None:
            # Missing frames of a clip with a face are the aggregator's business (status);
            # suspect frames and frames the reader lost go through the policy.
            pending.extend(r for r in rec.skipped if r.reason != "no_face" or not rec.face_found)
            if self.on_missing != "raise":
                return  # one warning at the end of the call
        apply_policy(
            pending,
            self.on_missing,
            "without a trustworthy face (clips without one are centre crops; suspect frames "
            "are flagged in status)",
            hint='set on_missing="warn" or "ignore" to output a centre crop for such clips '
            "and flag suspect frames",
            stacklevel=4,
        )
        pending.clear()

    def transform_files(self, paths: Iterable[str | os.PathLike]) -> ClipSet:
        """Extract one face tube per video file, streaming its frames.

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
        tubes : ClipSet
            ``(T, height, width)`` uint8 (or ``(..., 3)`` with ``color=True``) per video,
            with the ``status`` and ``source_boxes`` companions of :meth:`transform` and the file
            names as ``source``.

        Raises
        ------
        FileNotFoundError
            If a file does not exist.
        ValueError
            If a file cannot be decoded or holds no frame (see :func:`skfer.io.iter_frames`),
            or ``paths`` is empty.
        """
        return self.transform_files_with_info(paths)[0]

    def transform_files_with_info(
        self, paths: Iterable[str | os.PathLike]
    ) -> tuple[ClipSet, list[FaceTube]]:
        """Like :meth:`transform_files`, and also return the :class:`FaceTube` records.

        Parameters
        ----------
        paths : list of str or path-like

        Returns
        -------
        tubes : ClipSet
        records : list of FaceTube
        """
        check_is_fitted(self, "detector_")
        if isinstance(paths, (str, bytes, os.PathLike)):
            raise TypeError("paths must be a list of video files, got a single path")
        paths = list(paths)
        if not paths:
            raise ValueError("paths is empty: at least one video file is needed")
        detect = as_detector(self.detector_)
        every = int(self.detect_every)
        out, records, skipped = [], [], []
        for i, path in enumerate(paths):
            name = f"clip {i} ({path})"
            frames: list[np.ndarray] = []
            work: list[np.ndarray | None] = []
            found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
            lost: list[SkippedFrames] = []  # frames the reader could not decode
            stream = prefetch(self._decode(path, lost))
            try:
                for t, (frame, small) in enumerate(stream):
                    frames.append(frame)
                    work.append(small)
                    # The stride's detections (and the frames between two that disagree)
                    # run while the next frames decode; _extract adds the last frame's.
                    if t % every == 0:
                        self._detect_between(frames, detect, 1.0, found, t - every, t, name)
            finally:
                stream.close()  # on a detector error, stop the decoding thread now
            if not frames:
                raise ValueError(f"video {path} (clip {i}) yielded no frame")
            lost = [dataclasses.replace(r, clip_index=i) for r in lost]
            for tube, rec in self._extract(frames, i, detect, found, work, source=str(path)):
                # The reader's records (indices in the file) join the tube's, under the same
                # policy and the one warning of this call.
                rec = dataclasses.replace(rec, skipped=(*lost, *rec.skipped))
                self._apply_policy(rec, skipped)
                out.append(tube)
                records.append(rec)
        self._apply_policy(None, skipped)
        tubes = self._package(None, out, records).replace(
            source=[str(paths[rec.clip_index]) for rec in records])
        return tubes, records

    def iter_windows(
        self, frames: Iterable[np.ndarray], chunk_frames: int = 300
    ) -> Iterator[tuple[list[np.ndarray], ClipSet]]:
        """Face tubes of a long stream of frames, window by window, in bounded memory.

        The frames (e.g. :func:`skfer.io.iter_frames` of a video of any length) are taken
        ``chunk_frames`` at a time, the next window decoding on a background thread while
        the current one is processed (:func:`skfer.io._prefetch.prefetch_windows`), so
        memory holds two windows of frames. Each window is one clip for
        :meth:`transform` (grey frames are given to the detector unless ``color``).

        Parameters
        ----------
        frames : iterable of ndarray
            Equal-size frames ``(H, W)`` or ``(H, W, 3)``. An iterator with a ``close``
            method is closed when the windows end or the caller stops.
        chunk_frames : int, default=300
            Frames per window.

        Yields
        ------
        window : list of ndarray
            The window's frames as given (e.g. RGB, for drawing on them).
        tubes : ClipSet
            The window's tubes with the companions of :meth:`transform`: one with
            ``faces="primary"``, one per person with ``faces="all"``, whose ``face_id``
            is then the person's across windows: a face continues an earlier window's
            when its first box is where that face was last seen
            (:func:`~skfer.preprocessing._tracking.same_face_score`), else it gets the
            next free id; ``-1`` for a window in which nobody is found (its one tube is
            the centre crop, every frame ``"missing"``).

        Notes
        -----
        Where this departs from EmoNets' face tubes (section 3.1.3): detection, tracking
        and box smoothing restart in every window, so a long video is not one tube but
        consecutive tubes of ``chunk_frames`` frames (a box may step slightly at a window
        boundary). A stream no longer than one window gives exactly the tubes of
        :meth:`transform`.
        """
        from ..io._prefetch import prefetch_windows
        from ..utils.pixels import to_grey
        from ._tracking import same_face_score

        check_is_fitted(self, "detector_")
        if int(chunk_frames) < 1:
            raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
        last_seen: dict[int, np.ndarray] = {}  # person id -> last located box
        for window in prefetch_windows(frames, int(chunk_frames)):
            clip = np.stack(window)
            tubes = self.transform(clip[None] if self.color else to_grey(clip)[None])
            if self.faces != "all":
                yield window, tubes
                continue
            statuses, boxes = tubes.get("status"), tubes.get("source_boxes")
            located = [np.flatnonzero(st != "missing") for st in statuses]
            pairs = []
            for k, rows in enumerate(located):
                for pid, box in last_seen.items():
                    score = None if not rows.size else same_face_score(box, boxes[k][rows[0]])
                    if score is not None:
                        pairs.append((score, k, pid))
            ids: dict[int, int] = {}
            for _, k, pid in sorted(pairs, reverse=True):
                if k not in ids and pid not in ids.values():
                    ids[k] = pid
            for k in range(len(tubes)):
                if not located[k].size:
                    ids[k] = -1  # the window's centre crop: nobody in it
                elif k not in ids:
                    ids[k] = max([*last_seen, *ids.values(), -1]) + 1
                if located[k].size:
                    last_seen[ids[k]] = boxes[k][located[k][-1]]
            yield window, tubes.replace(face_id=[ids[k] for k in range(len(tubes))])

    def _package(self, X: Any, tubes: list[np.ndarray], records: list[FaceTube]) -> ClipSet:
        """The tubes as a ClipSet with ``status``, ``confidence`` and ``source_boxes``; X's
        landmarks mapped."""
        companions: dict[str, Any] = {
            "status": [rec.status for rec in records],
            "confidence": [rec.confidence for rec in records],
            "source_boxes": [rec.smoothed_boxes for rec in records],
            # Face boxes in the clip's own pixels would now be the whole tube frame.
            "boxes": None,
        }
        if self.faces == "all":
            # One tube per person: the clip's companions repeated for each of its faces.
            clip_of = [rec.clip_index for rec in records]
            if isinstance(X, ClipSet):
                X = X[clip_of]
            companions["face_id"] = [rec.face_id for rec in records]
            companions["source_clip"] = clip_of
        landmarks = X.get("landmarks") if isinstance(X, ClipSet) else None
        if landmarks is not None:
            companions["landmarks"] = [
                None if pts is None else self._points_in_tube(pts, rec.smoothed_boxes)
                for pts, rec in zip(landmarks, records)
            ]
        return same_container(X if isinstance(X, ClipSet) else tubes, tubes, **companions)

    def _decode(
        self, path: str | os.PathLike, lost: list[SkippedFrames]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Frames of a video file (grey unless ``color``) with their working frames; the
        reader's records of frames it could not decode go to ``lost`` (``on_missing="raise"``
        raises at once)."""
        scale = None
        policy = "raise" if self.on_missing == "raise" else "ignore"
        for frame in iter_frames(path, color=bool(self.color), on_missing=policy, skipped=lost):
            if scale is None:
                scale = work_scale(frame.shape[1])
            # Built here, on the decoding thread: tracking needs most of them, and it
            # takes them off the thread that runs the detector.
            yield frame, work_frame(frame, 1.0, scale)

    # -- one clip -------------------------------------------------------------------------

    @staticmethod
    def _detect_between(
        clip: np.ndarray | Sequence[np.ndarray],
        detect: Any,
        unit: float,
        found: dict[int, tuple[np.ndarray, np.ndarray]],
        a: int,
        b: int,
        name: str,
    ) -> None:
        """Detect on the scheduled frames ``a`` (skipped if < 0) and ``b`` and, when one
        holds a face and the other none, on every frame between; results go to ``found``
        (frames already there are not detected again). ``name`` ("clip 3") names the clip
        in the errors of the detector's output check."""

        def run(t: int) -> bool:
            if t not in found:
                found[t] = detect(to_uint8(clip[t], unit), f"{name}, frame {t}: ")
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
        name: str = "",
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
            self._detect_between(clip, detect, unit, found, a, b, name)
        return found

    def _extract(
        self,
        clip: np.ndarray | Sequence[np.ndarray],
        index: int,
        detect: Any,
        found: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
        work: list[np.ndarray | None] | None = None,
        source: str | None = None,
    ) -> list[tuple[np.ndarray, FaceTube]]:
        """Face tubes and records of one clip: an array or a list of equal-size frames.

        One pair (the primary face's) unless ``faces="all"``: then one per person with a
        trustworthy frame, in order of first appearance, or the one centre crop when no
        person has one. ``found`` holds detections already made, ``work`` working frames
        already built, ``source`` is the clip's file (for the records).
        """
        name = f"clip {index}" + (f" ({source})" if source is not None else "")
        unit = pixel_unit(clip, index=index, source=source)
        found = self._detect_frames(clip, detect, unit, found, name)
        tubes = associate(
            {t: d for t, d in found.items() if len(d[0])}, int(self.detect_every) + self.max_gap
        )
        if self.faces == "primary" or not tubes:
            # Primary tube: most detected frames, ties by the larger mean box area.
            primary = max(
                tubes,
                key=lambda tb: (len(tb), np.mean([b[2] * b[3] for b, _ in tb.values()])),
                default=None,
            )
            return [self._person(clip, index, detect, found, work, unit, name, source,
                                 primary, len(tubes))]
        # Each run of detections is tracked and trusted on its own (a detector that
        # misses a face for a minute is right to: the person left), then the runs of one
        # person who left and came back are put together.
        parts = [self._person(clip, index, detect, found, work, unit, name, source, tube,
                              len(tubes)) for tube in tubes]
        kept = [k for k, (_, rec) in enumerate(parts) if rec.face_found]
        if not kept:  # located faces, none trusted: the clip as one untrusted face
            return [parts[max(range(len(tubes)), key=lambda k: len(tubes[k]))]]
        out = []
        for group in link_returning([tubes[k] for k in kept]):
            tube, rec = self._join([parts[kept[g]] for g in group], index, source)
            out.append((tube, dataclasses.replace(rec, face_id=len(out))))
        return out

    def _join(
        self, parts: list[tuple[np.ndarray, FaceTube]], index: int, source: str | None
    ) -> tuple[np.ndarray, FaceTube]:
        """One tube of a person from the tubes of their separate appearances.

        Each frame is taken from the appearance that located the face in it; a frame that
        none did takes the crop and box of the nearest frame that one did.
        """
        if len(parts) == 1:
            return parts[0]
        recs = [rec for _, rec in parts]
        n = len(recs[0].status)
        cover = np.full(n, -1)
        for k, rec in enumerate(recs):
            cover[rec.status != "missing"] = k
        located = np.flatnonzero(cover >= 0)
        nearest = located[np.abs(np.arange(n)[:, None] - located[None, :]).argmin(axis=1)]
        src = cover[nearest]

        def pick(values: list[np.ndarray]) -> np.ndarray:
            return np.stack([values[src[t]][t] for t in range(n)])

        found_here = cover >= 0
        status = np.where(found_here, pick([r.status for r in recs]), "missing")
        boxes = np.where(found_here[:, None], pick([r.boxes for r in recs]), np.nan)
        scores = np.where(found_here, pick([r.scores for r in recs]), np.nan)
        confidence = np.where(found_here, pick([r.confidence for r in recs]), 0.0)
        turned = next((r.orientation for r in recs if r.orientation), 0)
        record = dataclasses.replace(
            recs[0],
            boxes=boxes,
            smoothed_boxes=pick([r.smoothed_boxes for r in recs]),
            status=status,
            scores=scores,
            confidence=confidence,
            linear_sides=any(r.linear_sides for r in recs),
            n_detector_calls=max(r.n_detector_calls for r in recs),
            skipped=self._skip_records(status, confidence, index, source, Orientation()),
            orientation=turned,
        )
        return pick([tube for tube, _ in parts]), record

    def _person(
        self,
        clip: np.ndarray | Sequence[np.ndarray],
        index: int,
        detect: Any,
        found: dict[int, tuple[np.ndarray, np.ndarray]],
        work: list[np.ndarray | None] | None,
        unit: float,
        name: str,
        source: str | None,
        person: dict[int, tuple[np.ndarray, float]] | None,
        n_tubes: int,
    ) -> tuple[np.ndarray, FaceTube]:
        """The tube and record of one person's detections (``None``: no face at all)."""
        n = len(clip)
        height, width = clip[0].shape[:2]
        boxes = np.full((n, 4), np.nan)
        status = np.full(n, "missing", dtype=object)
        scores = np.full(n, np.nan)
        confidence = np.zeros(n)
        orientation = Orientation()
        linear = False
        if person is not None:
            for t, (box, score) in person.items():
                boxes[t], scores[t], status[t] = box, score, "detected"
            locate_undetected(
                WorkFrames(clip, unit, work),
                person,
                found,
                boxes,
                status,
                SearchParams(
                    float(self.search_radius), int(self.max_gap), float(self.max_hist_distance)
                ),
            )
            window = max(int(self.detect_every), int(self.smoothing_window) // 2)
            confidence = tube_confidence(person, found, boxes, status, window)
            if ((status != "missing") & (confidence >= self.min_confidence)).any():
                # Only a tube that would be trusted is worth the detector's runs on turned
                # frames: an upside-down face can give one of full confidence.
                orientation = face_orientation(
                    lambda t: to_uint8(clip[t], unit), detect, person, found, boxes,
                    status, name,
                )
                if orientation.turn:
                    confidence[:] = 0.0
            status[(status != "missing") & (confidence < self.min_confidence)] = "suspect"
        trusted = np.flatnonzero(~np.isin(status.astype(str), UNUSABLE_STATUSES))
        if trusted.size:
            # Missing and suspect frames take the temporally closest trusted box.
            nearest = trusted[np.abs(np.arange(n)[:, None] - trusted[None, :]).argmin(axis=1)]
            smoothed, linear = smooth_tube_boxes(
                boxes[nearest], int(self.smoothing_window), float(self.scale_threshold)
            )
            if self.margin:
                # Grow the square about its centre: the crop frames the face as the
                # network's training images did (FER2013: a Haar box is 83% of the image).
                grow = smoothed[:, 2:3] * float(self.margin)
                smoothed = np.hstack([smoothed[:, :2] - grow, smoothed[:, 2:] + 2 * grow])
        else:  # no trustworthy face: the centred square of the frames
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
            n_tubes=n_tubes,
            n_detector_calls=len(found) + orientation.n_calls,
            confidence=confidence,
            skipped=self._skip_records(status, confidence, index, source, orientation),
            orientation=orientation.turn,
        )
        return tube, record

    def _skip_records(
        self,
        status: np.ndarray,
        confidence: np.ndarray,
        index: int,
        source: str | None,
        orientation: Orientation,
    ) -> tuple[SkippedFrames, ...]:
        """The ``"no_face"`` (missing) and ``"inconsistent"`` (suspect) frames of a clip."""
        crop = "" if (~np.isin(status, UNUSABLE_STATUSES)).any() else (
            "no trustworthy face in any frame of the clip"
        )
        turned = ""
        if orientation.turn:
            o = orientation
            how = "upside down" if o.turn == 180 else "on its side"
            turned = (
                f"the detector finds the face in {o.hits} or more of {o.n_frames} frames "
                f"turned {o.turn} degrees counter-clockwise but in {o.upright_hits} as they "
                f"are: the face is {how} (turn the clip with np.rot90(clip, {o.turn // 90}, "
                "axes=(1, 2)))"
            )
        records = []
        for reason, st in (("no_face", "missing"), ("inconsistent", "suspect")):
            idx = np.flatnonzero(status == st)
            if not idx.size:
                continue
            detail = crop
            if st == "suspect":
                detail = "; ".join(filter(None, [
                    f"confidence {confidence[idx].max():.2f} or less, below min_confidence "
                    f"{self.min_confidence}",
                    turned,
                    crop,
                ]))
            records.append(SkippedFrames(idx, reason, index, source, detail))
        return tuple(records)

    @staticmethod
    def _square(box: np.ndarray) -> tuple[int, int, int]:
        """Integer top-left corner and side of the square cropped for ``box``."""
        return int(round(box[0])), int(round(box[1])), max(int(round(box[2])), 1)

    def _crop(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Crop the square ``box`` (zero padding outside the frame), convert and resize."""
        x0, y0, side = self._square(box)
        fx0, fy0 = max(x0, 0), max(y0, 0)
        fx1, fy1 = min(x0 + side, frame.shape[1]), min(y0 + side, frame.shape[0])
        if (fx0, fy0, fx1, fy1) == (x0, y0, x0 + side, y0 + side):
            patch = frame[y0 : y0 + side, x0 : x0 + side]  # inside the frame: a view, no copy
        else:
            patch = np.zeros((side, side) + frame.shape[2:], dtype=frame.dtype)
            if fx1 > fx0 and fy1 > fy0:
                patch[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = frame[fy0:fy1, fx0:fx1]
        if not self.color and patch.ndim == 3:
            patch = grey(patch).astype(frame.dtype, copy=False)
        work = patch if patch.dtype in (np.uint8, np.float32) else patch.astype(np.float32)
        h, w = int(self.frame_size[0]), int(self.frame_size[1])
        interp = cv2.INTER_AREA if side >= max(h, w) else cv2.INTER_LINEAR
        return cv2.resize(work, (w, h), interpolation=interp).astype(frame.dtype)

    def _points_in_tube(self, points: np.ndarray, squares: np.ndarray) -> np.ndarray:
        """Landmarks ``(T, P, 2)`` of the source frames in pixels of the tube's frames.

        The same offset and scale as :meth:`_crop`; ``cv2.resize`` maps the centre of
        source pixel ``c`` to ``(c + 0.5) * scale - 0.5``. NaN points stay NaN.
        """
        out = np.array(points, dtype=np.float64)
        h, w = int(self.frame_size[0]), int(self.frame_size[1])
        for t, box in enumerate(squares):
            x0, y0, side = self._square(box)
            scale = np.array([w / side, h / side])
            out[t] = (out[t] - [x0, y0] + 0.5) * scale - 0.5
        return out
