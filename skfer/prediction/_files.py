"""Predict on media files: per-frame class probabilities, clip labels, timelines.

:func:`predict_files` runs a fitted skfer model (a named pipeline of :mod:`skfer.models`,
e.g. saved by ``skfer train``) on video files, still images and folders of them (searched
recursively) and returns a tidy table with one row per frame: time stamp, face box, frame
status (``"detected"``, ``"tracked"``, ``"filled"``, ``"suspect"`` or ``"missing"``: every
frame has a row, frames without a face and frames the decoder failed on included), the class
probabilities of the frame and the prediction for the whole file. It can also write, per
file, the rows as CSV and JSON, a timeline plot (PNG) and an annotated video. ``skfer
predict`` is this function on the command line.

Per-frame probabilities
-----------------------
:func:`predict_frames` knows two shapes of model (both those of :mod:`skfer.models`):

* **Frame classifiers** (a :class:`skfer.neural.ConvNet`-like last step scoring each frame):
  their own per-frame probabilities, :meth:`~skfer.neural.ConvNet.transform`.
* **Pooled pipelines** (per-frame features -> :class:`~skfer.preprocessing.FramePooling`
  or :class:`~skfer.preprocessing.FrameAggregator` -> clip classifier, e.g. HOG + apex
  pooling + SVM): a frame's probabilities are what the clip classifier gives for a clip
  made of that frame alone; its features are pooled as a one-frame sequence (for
  ``FramePooling`` that is the frame's own vector; ``FrameAggregator`` repeats it) and go
  through the steps after the pooling to the classifier's ``predict_proba``. A pooling
  whose one-frame result says nothing of the frame (``FramePooling(method="delta")``,
  always zero) is refused.

Frames whose status is ``"missing"`` get NaN probabilities and a NaN box.

Skipped frames
--------------
Frames that do not count towards a file's prediction are recorded, per file, in
:attr:`FilePrediction.skipped` as :class:`~skfer.utils.frame_policy.SkippedFrames` (frame
indices in the file and a reason; ``docs/reliability.md``): those the reader could not
decode (``"undecodable"``; they get a ``"missing"`` row), those a truncated container
declares but does not hold (``"truncated"``; no rows), frames without a face
(``"no_face"``, status ``"missing"``) and frames whose face the tracker does not trust
(``"inconsistent"``, status ``"suspect"``: box kept, NaN probabilities, as
:meth:`skfer.ClipSet.usable_frames` leaves them out). Frames of another size than the
first are letterboxed by the reader and recorded ``"resized"``, but kept and scored. Each
row's ``skipped`` column holds its reason (``""`` for a frame as it was). ``on_missing``
says what else happens: ``"warn"`` (default) one
:class:`~skfer.utils.frame_policy.SkippedFramesWarning` naming every file with skipped
frames, ``"raise"`` a :class:`~skfer.utils.frame_policy.SkippedFramesError` at the first
such file, ``"ignore"`` only the records (``skfer predict`` prints one line per file instead).

Streaming and scale
-------------------
A video is decoded frame by frame in windows of ``chunk_frames`` frames, the next window
decoding on a background thread while the current one is processed; each window's faces
are found by the model's :class:`~skfer.preprocessing.FaceTubeExtractor` (or the named
models' default one, :func:`skfer.models.face_tube_step`, for a model fitted on face crops)
and scored, so memory is bounded by two windows of decoded frames plus the per-frame
features of the file (a few hundred numbers per frame), whatever the video's length.
Files are processed in parallel with joblib (``n_jobs``), so under
``joblib.parallel_backend("dask")`` they run on a Dask cluster unchanged.

Notes
-----
Where skfer departs from the face-tube procedure of EmoNets (section 3.1.3): face
detection, tracking and box smoothing restart in every window, so a long video is not one
tube but consecutive tubes of ``chunk_frames`` frames (a box may step slightly at a window
boundary; 300 frames are 10 s at 30 fps). A video no longer than one window gives exactly
the tube of :meth:`~skfer.preprocessing.FaceTubeExtractor.transform`.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sklearn.utils.validation import check_is_fitted

from .clipset import FRAME_STATUSES, UNUSABLE_STATUSES, ClipSet
from .io import IMAGE_EXTENSIONS
from .utils._atomic import AtomicPath, atomic_path, check_output_dir
from .utils.frame_policy import (
    SkippedFrames,
    SkippedFramesError,
    apply_policy,
    check_policy,
)
from .utils.pixels import to_grey

__all__ = [
    "VIDEO_EXTENSIONS",
    "FilePrediction",
    "FrameModel",
    "find_media",
    "plot_timeline",
    "predict_files",
    "predict_files_with_info",
    "predict_frames",
]

#: File extensions (lower case) taken as videos when folders are searched.
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".flv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".ogv",
     ".3gp"}
)

#: Errors that mean "this file cannot be processed"; others are bugs and propagate.
_FILE_ERRORS = (ValueError, OSError, RuntimeError, cv2.error)

#: Skip reason of the frames of each unusable status (UNUSABLE_STATUSES).
_STATUS_REASONS = {"missing": "no_face", "suspect": "inconsistent"}

#: Reasons of reader records whose frames the reader did not yield: they leave a gap in
#: the file's frame numbers (and get a "missing" row). "truncated" frames lie past the end.
_READER_GAPS = ("undecodable",)

#: Reasons of records whose frames were altered but kept and scored (the reader
#: letterboxes a frame of another size, skfer.io.video).
_KEPT_REASONS = ("resized",)


# -- the model seen frame by frame ---------------------------------------------------------


class FrameModel:
    """A fitted skfer model split into face tubes, per-frame vectors and a clip head.

    Parameters
    ----------
    model : fitted Pipeline or estimator
        A pipeline of :mod:`skfer.models` (or of the same shape, see the module docstring),
        with or without a leading :class:`~skfer.preprocessing.FaceTubeExtractor`.

    Attributes
    ----------
    extractor : FaceTubeExtractor
        The model's own (fitted, with ``on_missing="ignore"`` so that a window without a
        face gives ``"missing"`` frames) or :func:`skfer.models.face_tube_step`'s.
    classes : ndarray
    kind : {"pooled", "frame-classifier"}

    Raises
    ------
    TypeError
        If the model has neither a frame-pooling step nor a frame classifier last.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    """

    def __init__(self, model: Any) -> None:
        from sklearn.base import clone

        from .models import face_tube_step
        from .preprocessing import FaceTubeExtractor, FrameAggregator, FramePooling

        steps = list(model.steps) if hasattr(model, "steps") else [("model", model)]
        extractor = steps.pop(0)[1] if isinstance(steps[0][1], FaceTubeExtractor) else None
        if extractor is None:
            # A shipped network's card says how its training faces were framed.
            card = getattr(_unfrozen(steps[-1][1]), "pretrained_card_", None) or {}
            extractor = face_tube_step(card.get("input", {}).get("face_tube_margin", 0.0))
        else:
            extractor = clone(extractor)
        self.extractor = extractor.set_params(on_missing="ignore").fit()
        pools = [k for k, (_, est) in enumerate(steps)
                 if isinstance(est, (FramePooling, FrameAggregator))]
        if pools:
            k = pools[0]
            self.kind = "pooled"
            # A copy that only records: predict records the frames it leaves out per file
            # and applies its own on_missing (the pooling would warn about "clip 0" again).
            self.pool = copy.copy(steps[k][1])
            if "on_missing" in self.pool.get_params(deep=False):
                self.pool.set_params(on_missing="ignore")
            if getattr(self.pool, "method", None) == "delta":
                raise TypeError(
                    "FramePooling(method='delta') pools one frame to zeros: per-frame "
                    "probabilities of this model would say nothing of the frame"
                )
            self.pre, self.post = [e for _, e in steps[:k]], [e for _, e in steps[k + 1 :]]
        elif _is_frame_classifier(_unfrozen(steps[-1][1])):
            self.kind = "frame-classifier"
            self.pre, self.clf = [e for _, e in steps[:-1]], steps[-1][1]
        else:
            names = " -> ".join(type(e).__name__ for _, e in steps)
            raise TypeError(
                f"cannot score frames of the model {names}: it has no frame-pooling step "
                "(FramePooling, FrameAggregator) and does not end in a frame classifier"
            )
        check_is_fitted(steps[-1][1])
        self.classes = np.asarray(steps[-1][1].classes_)

    def vectors(self, tubes: ClipSet) -> list[np.ndarray]:
        """Per-frame vectors of each tube: pre-pooling features, or frame probabilities."""
        X = tubes
        for est in self.pre:
            X = est.transform(X)
        if self.kind == "pooled":
            return [np.asarray(s, dtype=np.float32) for s in getattr(X, "data", X)]
        if getattr(self.clf, "transform_output", "proba") == "proba":
            Xt = self.clf.transform(X)
            return list(getattr(Xt, "data", Xt))
        # A network whose transform gives features: its frames scored as one-frame clips.
        out = []
        for i, clip in enumerate(getattr(X, "data", X)):
            usable = X.usable_frames(i) if isinstance(X, ClipSet) else np.ones(len(clip), bool)
            probs = np.full((len(clip), len(self.classes)), np.nan)
            if usable.any():
                probs[usable] = self.clf.predict_proba([f[None] for f in clip[usable]])
            out.append(probs)
        return out

    def frame_proba(self, vectors: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """``(T, n_classes)`` probabilities of the frames (NaN where not ``usable``)."""
        if self.kind == "frame-classifier":
            out = np.array(vectors, dtype=np.float64)
            out[~usable] = np.nan
            return out
        out = np.full((len(vectors), len(self.classes)), np.nan)
        if usable.any():
            # Each usable frame pooled as a one-frame sequence: (n, 1, F).
            out[usable] = self._head(self.pool.transform(vectors[usable][:, None, :]))
        return out

    def clip_predict(self, vectors: np.ndarray, status: np.ndarray) -> tuple[Any, np.ndarray]:
        """The model's label and class probabilities for a whole file from its frames.

        The label is the model's own ``predict`` (for an SVM, its decision values, which
        may differ from the arg-max of its Platt probabilities), from the same pooled
        vector as the probabilities.
        """
        usable = ~np.isin(status, UNUSABLE_STATUSES)
        if self.kind == "frame-classifier":
            # BaseFrameClassifier.predict_proba's rule, on the frames already scored.
            probs = np.asarray(vectors, dtype=np.float64)[usable]
            last = getattr(self.clf, "clip_aggregation", "mean") == "last"
            proba = probs[-1] if last else probs.mean(axis=0)
            return self.classes[int(np.argmax(proba))], proba
        pooled = self.pool.transform(ClipSet([np.asarray(vectors)], status=[status]))
        for est in self.post[:-1]:
            pooled = est.transform(pooled)
        return self.post[-1].predict(pooled)[0], self._head(pooled, transformed=True)[0]

    def _head(self, pooled: np.ndarray, transformed: bool = False) -> np.ndarray:
        """The clip classifier's probabilities of pooled vectors (through the steps between)."""
        if not transformed:
            for est in self.post[:-1]:
                pooled = est.transform(pooled)
        last = self.post[-1]
        if not hasattr(last, "predict_proba"):
            raise TypeError(
                f"the model's classifier {type(last).__name__} has no predict_proba (wrap an "
                "SVC in CalibratedClassifierCV: make_model(..., probability=True), as `skfer "
                "train` builds them)"
            )
        return last.predict_proba(pooled)


def _unfrozen(est: Any) -> Any:
    """The estimator inside a ``FrozenEstimator`` (a shipped network), else ``est``."""
    from sklearn.frozen import FrozenEstimator

    return est.estimator if isinstance(est, FrozenEstimator) else est


def _is_frame_classifier(est: Any) -> bool:
    """Whether ``est`` is a skfer network scoring single frames (e.g. ConvNet).

    Looked up in ``sys.modules`` rather than imported: a model holding one has imported
    it when it was built or unpickled, and a classical model then does not pay for
    importing torch (a few hundred MB of resident memory).
    """
    base = sys.modules.get("skfer.neural._base")
    return base is not None and isinstance(est, base.BaseFrameClassifier)


def predict_frames(model: Any, X: Any) -> list[np.ndarray]:
    """Class probabilities of every frame of every clip.

    Parameters
    ----------
    model : fitted Pipeline or FrameModel
        See :class:`FrameModel`. A leading face-tube extractor is *not* applied: ``X`` are
        the clips its next step takes (face tubes).
    X : ClipSet or list of clips
        Face tubes; a ``status`` companion marks ``"missing"`` frames.

    Returns
    -------
    proba : list of ndarray of shape (T_i, n_classes)
        NaN rows on ``"missing"`` frames; columns in the order of ``model.classes_``.

    Examples
    --------
    >>> from skfer.datasets import make_expressions
    >>> from skfer.models import make_model
    >>> data = make_expressions(n_subjects=2, random_state=0)
    >>> model = make_model("hog-svm", faces="detect", probability=True).fit(data.data, data.target)
    >>> tubes = model[0].transform(data.data[:2])
    >>> proba = predict_frames(model, tubes)
    >>> proba[0].shape == (len(tubes[0]), 6), bool(np.allclose(proba[0].sum(axis=1), 1))
    (True, True)
    """
    head = model if isinstance(model, FrameModel) else FrameModel(model)
    X = X if isinstance(X, ClipSet) else ClipSet(list(X))
    return [
        head.frame_proba(vec, X.usable_frames(i)) for i, vec in enumerate(head.vectors(X))
    ]


# -- one file --------------------------------------------------------------------------------


@dataclass
class FilePrediction:
    """What :func:`predict_files` found in one file.

    Attributes
    ----------
    path : str
    kind : {"video", "image"}
    classes : list of str
        Order of the columns of ``proba`` and ``clip_proba``.
    fps : float
        Frame rate (NaN for an image or a container declaring none).
    frame : ndarray of int (T,)
        Index of the frame in the file (a frame the decoder failed on keeps its number).
    time_s : ndarray of float (T,)
        Seconds from the video's start, from the frames' own timestamps (right on
        variable-frame-rate videos; ``frame / fps`` is not); a frame the decoder failed on
        is placed between its neighbours. 0 for an image.
    boxes : ndarray (T, 4)
        Face box ``(x, y, w, h)`` in the file's pixels (the square the face was cut from);
        NaN on ``"missing"`` frames.
    status : ndarray of str (T,)
    proba : ndarray (T, n_classes)
        Per-frame class probabilities, NaN on ``"missing"`` and ``"suspect"`` frames.
    skipped : list of SkippedFrames
        The frames left out of the file's prediction (or, ``"resized"``, letterboxed), by
        reason (indices in the file; see the module's "Skipped frames"); empty when every
        frame counted as it was.
    label : str or None
        The model's prediction for the whole file (None when it failed).
    clip_proba : ndarray (n_classes,) or None
    notes : list of str
        What was done to the input on the way (alpha channel dropped, 16-bit scaled...).
    error : str or None
        Why the file failed (it then has no frames); None when it succeeded.
    outputs : dict of str to str
        Files written: ``"csv"``, ``"json"``, ``"timeline"``, ``"annotated"``.
    """

    path: str
    kind: str = "video"
    classes: list[str] = field(default_factory=list)
    fps: float = float("nan")
    frame: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    time_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="U8"))
    proba: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    label: str | None = None
    clip_proba: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    skipped: list[SkippedFrames] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def n_frames(self) -> int:
        return len(self.frame)

    def status_counts(self) -> dict[str, int]:
        """Frames per status, every status of :data:`skfer.FRAME_STATUSES` listed."""
        return {s: int(np.sum(self.status == s)) for s in FRAME_STATUSES}

    def skip_reasons(self) -> np.ndarray:
        """``(T,)`` str: each row's skip reason, ``""`` where the frame counts."""
        out = np.full(self.n_frames, "", dtype="U16")
        for record in self.skipped:
            rows = np.searchsorted(self.frame, record.indices)
            hit = rows < self.n_frames
            hit[hit] = self.frame[rows[hit]] == record.indices[hit]
            out[rows[hit]] = record.reason
        return out

    def skipped_summary(self) -> str:
        """``"12 frames left out: 8 no_face, 4 undecodable"``; ``""`` when none was.

        >>> FilePrediction("a.mp4").skipped_summary()
        ''
        """
        counts: dict[str, int] = {}
        for record in self.skipped:
            counts[record.reason] = counts.get(record.reason, 0) + record.count
        out = {r: n for r, n in counts.items() if r not in _KEPT_REASONS}
        kept = {r: n for r, n in counts.items() if r in _KEPT_REASONS}
        # A cut MPEG-TS says how many frames it lost at least, never how many.
        at_least = "at least " if any(r.open_ended for r in self.skipped) else ""
        parts = []
        if out:
            what = ", ".join(f"{n} {reason}" for reason, n in out.items())
            parts.append(f"{at_least}{sum(out.values())} frames left out of the prediction: "
                         f"{what}")
        if kept:
            what = ", ".join(f"{n} {reason}" for reason, n in kept.items())
            parts.append(f"{sum(kept.values())} frames altered but kept: {what}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the file's prediction and one record per frame."""
        rows = []
        reasons = self.skip_reasons()
        for t in range(self.n_frames):
            box = self.boxes[t]
            rows.append({
                "frame": int(self.frame[t]),
                "time_s": _num(self.time_s[t]),
                "box": None if np.isnan(box).any() else [round(float(v), 1) for v in box],
                "status": str(self.status[t]),
                "skipped": str(reasons[t]) or None,
                "proba": {c: _num(p) for c, p in zip(self.classes, self.proba[t])},
            })
        return {
            "file": self.path,
            "kind": self.kind,
            "fps": _num(self.fps),
            "n_frames": self.n_frames,
            "status_counts": self.status_counts(),
            "classes": self.classes,
            "prediction": self.label,
            "clip_proba": None if self.clip_proba is None
            else {c: _num(p) for c, p in zip(self.classes, self.clip_proba)},
            "notes": self.notes,
            "error": self.error,
            "skipped": [
                {"reason": r.reason, "count": r.count, "indices": r.indices.tolist(),
                 "detail": r.detail,
                 # only the first lost frames are known (a cut MPEG-TS): "count" is a minimum
                 **({"open_ended": True} if r.open_ended else {})}
                for r in self.skipped
            ],
            "frames": rows,
        }


def _num(v: float) -> float | None:
    """A float for JSON: NaN becomes null (JSON has no NaN)."""
    return None if v is None or not np.isfinite(v) else round(float(v), 6)


def _windows(frames: Iterator[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    """Lists of ``size`` frames; the next one decodes on a thread while the caller works.

    One window ahead at most, so memory holds two windows, however long the video.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="skfer-decode") as pool:
        pending = pool.submit(lambda: list(islice(frames, size)))
        try:
            while True:
                window = pending.result()
                if not window:
                    return
                pending = pool.submit(lambda: list(islice(frames, size)))
                yield window
        finally:
            pending.cancel()
            if not pending.cancelled():
                pending.exception()  # let a running read finish before the file is closed
            close = getattr(frames, "close", None)
            if close is not None:
                close()


def _grey(frames: list[np.ndarray]) -> np.ndarray:
    return to_grey(np.stack(frames))


@dataclass
class _Options:
    output_dir: Path | None
    stem: str
    annotate: bool
    chunk_frames: int
    model_name: str
    on_missing: str = "warn"


def _predict_path(
    head: FrameModel, path: Path, opts: _Options, on_frames: Callable[[int], None] | None = None
) -> FilePrediction:
    """Predict on one file, writing its outputs; a file problem becomes ``error``.

    Raises
    ------
    SkippedFramesError
        Under ``on_missing="raise"``, when frames of the file are left out (before any
        output of the file is written).
    """
    from .io import iter_frames, video_fps
    from .io.images import read_image_noting

    result = FilePrediction(path=str(path), classes=[str(c) for c in head.classes])
    writer = None
    read_skips: list[SkippedFrames] = []  # the reader's records, filled as it streams
    read_times: list[float] = []  # the decoded frames' own times, filled as it streams
    turned: list[tuple[int, bool]] = []  # how the reader turned the frames upright
    try:
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            result.kind = "image"
            # The readers' one rule for stills (EXIF orientation, 16-bit, alpha, pixel
            # budget), as in training data loaded by skfer.io.read_image.
            frame, result.notes = read_image_noting(path)
            windows: Iterable[list[np.ndarray]] = [[frame]]
        else:
            result.fps = video_fps(path)
            # The reader only records (on_missing="ignore"); this function applies the
            # caller's policy to its records and to the frames without a usable face.
            frames = iter_frames(path, color=opts.annotate, on_missing="ignore",
                                 skipped=read_skips, times=read_times, orientation=turned)
            windows = _windows(frames, opts.chunk_frames)
        if opts.annotate and opts.output_dir is not None:
            writer = _Annotator(opts.output_dir, opts.stem, result.kind, result.fps)
        vectors, status, boxes, proba = [], [], [], []
        for window in windows:
            tubes = head.extractor.transform([_grey(window)])
            vec = head.vectors(tubes)[0]
            st = np.asarray(tubes.get("status")[0]).astype(str)
            pr = head.frame_proba(vec, ~np.isin(st, UNUSABLE_STATUSES))
            bx = np.array(tubes.get("source_boxes")[0], dtype=np.float64)
            bx[st == "missing"] = np.nan
            if writer is not None:
                writer.write(window, bx, pr, result.classes)
            vectors.append(vec)
            status.append(st)
            boxes.append(bx)
            proba.append(pr)
            if on_frames is not None:
                on_frames(len(window))
        if not status:
            why = f" ({read_skips[0]})" if read_skips else ""
            raise ValueError(f"the video holds no frame that could be decoded{why}")
        if turned and turned[0] != (0, False):
            rotation, mirrored = turned[0]
            result.notes.append(
                f"frames turned upright as the file's display matrix says (rotated {rotation} "
                f"degrees counter-clockwise{', then mirrored' if mirrored else ''})")
        decoded_status = np.concatenate(status)
        n = len(decoded_status)
        if (decoded_status == "missing").all():
            raise ValueError(f"no face was found in any of its {n} frames")
        if np.isin(decoded_status, UNUSABLE_STATUSES).all():
            raise ValueError(f"no trustworthy face in any of its {n} frames (faces were "
                             "located but the detections disagree: status 'suspect')")
        _fill_rows(result, path, decoded_status, np.concatenate(boxes), np.concatenate(proba),
                   read_skips, read_times)
        if opts.on_missing == "raise":
            apply_policy(result.skipped, "raise", "left out of the prediction",
                         hint='predict_files(on_missing="warn" or "ignore") predicts from '
                              "the other frames")
        label, result.clip_proba = head.clip_predict(np.concatenate(vectors), decoded_status)
        result.label = str(label)
        if writer is not None:
            result.outputs["annotated"] = str(writer.close())
            writer = None
        if opts.output_dir is not None:
            result.outputs.update(_write_outputs(result, opts.output_dir, opts.stem,
                                                 opts.model_name))
    except SkippedFramesError:
        raise  # the caller's policy, not a problem of the file
    except _FILE_ERRORS as exc:
        message = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        # The readers' messages often name the file; the report names it first already.
        result.error = message.replace(f"video {path} ", "video ").replace(
            f"image {path}", "the image")
        result.frame = np.zeros(0, dtype=np.int64)
        result.status = np.zeros(0, dtype="U8")
        result.proba = np.zeros((0, len(result.classes)))
        result.time_s, result.boxes = np.zeros(0), np.zeros((0, 4))
        result.skipped = []
    finally:
        if writer is not None:
            writer.abort()
    return result


def _decoded_indices(n: int, read_skips: list[SkippedFrames]) -> np.ndarray:
    """File index of each of the ``n`` frames a reader yielded, around the frames it skipped.

    >>> record = SkippedFrames(indices=[1, 2], reason="undecodable")
    >>> _decoded_indices(4, [record]).tolist()
    [0, 3, 4, 5]
    """
    gaps = np.concatenate(
        [r.indices for r in read_skips if r.reason in _READER_GAPS] or [np.zeros(0, np.intp)]
    )
    candidates = np.arange(n + len(np.unique(gaps)))
    return candidates[~np.isin(candidates, gaps)][:n]


def _row_times(frame: np.ndarray, decoded: np.ndarray, times: list[float],
               fps: float) -> np.ndarray:
    """Time in s of each row: the decoded frames' own times, the gaps' placed between.

    A frame the decoder failed on has no timestamp: it is placed by linear interpolation
    between its decoded neighbours (by frame number), or one frame period per frame beyond
    the first or last decoded frame.

    >>> _row_times(np.array([0, 1, 2, 3]), np.array([0, 2, 3]), [0.0, 0.5, 0.6], 10.0).tolist()
    [0.0, 0.25, 0.5, 0.6]
    """
    if len(times) != len(decoded):  # a reader without times (a test double): index / fps
        return frame / fps
    known = np.asarray(times, dtype=np.float64)
    out = np.interp(frame, decoded, known)
    before, after = frame < decoded[0], frame > decoded[-1]
    out[before] = known[0] - (decoded[0] - frame[before]) / fps
    out[after] = known[-1] + (frame[after] - decoded[-1]) / fps
    return out


def _fill_rows(result: FilePrediction, path: Path, status: np.ndarray, boxes: np.ndarray,
               proba: np.ndarray, read_skips: list[SkippedFrames],
               read_times: list[float]) -> None:
    """Set the rows of ``result`` (decoded frames and reader gaps) and its skip records."""
    decoded = _decoded_indices(len(status), read_skips)
    gaps = [r.indices for r in read_skips if r.reason in _READER_GAPS]
    frame = np.union1d(decoded, np.concatenate(gaps or [np.zeros(0, np.intp)]))
    at = np.searchsorted(frame, decoded)
    n_classes = proba.shape[1]
    result.frame = frame.astype(np.int64)
    result.status = np.full(len(frame), "missing", dtype=f"U{max(len(s) for s in FRAME_STATUSES)}")
    result.status[at] = status
    result.boxes = np.full((len(frame), 4), np.nan)
    result.boxes[at] = boxes
    result.proba = np.full((len(frame), n_classes), np.nan)
    result.proba[at] = proba
    result.time_s = (np.zeros(1) if result.kind == "image"
                     else _row_times(frame, decoded, read_times, result.fps))
    source = str(path)
    records = [r if r.source is not None else _with_source(r, source) for r in read_skips]
    for st, reason in _STATUS_REASONS.items():
        where = decoded[status == st]
        if where.size:
            records.append(SkippedFrames(indices=where, reason=reason, source=source,
                                         detail=f"frame status {st!r}"))
    result.skipped = [r for r in records if r.count]


def _with_source(record: SkippedFrames, source: str) -> SkippedFrames:
    from dataclasses import replace

    return replace(record, source=source)


# -- outputs -------------------------------------------------------------------------------


_COLUMNS = ("frame", "time_s", "x", "y", "w", "h", "status", "skipped")


def _write_outputs(result: FilePrediction, out: Path, stem: str, model: str) -> dict[str, str]:
    """Write the file's CSV, JSON and timeline PNG, all three or none (see _atomic)."""
    paths = {"csv": out / f"{stem}.csv", "json": out / f"{stem}.json",
             "timeline": out / f"{stem}_timeline.png"}
    reasons = result.skip_reasons()
    with contextlib.ExitStack() as stack:
        # Each goes to a temporary file; all are renamed when the block completes, and all
        # deleted if anything in it fails or is interrupted.
        tmp = {key: stack.enter_context(atomic_path(p)) for key, p in paths.items()}
        with open(tmp["csv"], "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(list(_COLUMNS) + [f"p_{c}" for c in result.classes])
            for t in range(result.n_frames):
                w.writerow(
                    [int(result.frame[t]), _cell(result.time_s[t])]
                    + [_cell(v, 1) for v in result.boxes[t]]
                    + [result.status[t], reasons[t]] + [_cell(p) for p in result.proba[t]]
                )
        data = result.to_dict() | {"model": model}
        with open(tmp["json"], "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
            fh.write("\n")
        _draw_timeline(result, tmp["timeline"], title=f"{Path(result.path).name} ({model})")
    return {k: str(v) for k, v in paths.items()}


def _cell(v: float, digits: int = 5) -> str:
    return "" if not np.isfinite(v) else f"{v:.{digits}f}"


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of the runs of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return list(zip(edges[::2], edges[1::2]))


def plot_timeline(result: FilePrediction, path: str | os.PathLike, *, title: str = "") -> Path:
    """Draw the class probabilities of a file over time, frames without a face shaded.

    Parameters
    ----------
    result : FilePrediction
    path : str or path-like
        PNG to write, whole or not at all (a temporary file renamed; see
        :mod:`skfer.utils._atomic`).
    title : str, optional

    Returns
    -------
    path : Path
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        _draw_timeline(result, tmp, title=title)
    return path


#: How the timeline shades the frames of each unusable status.
_SHADES = {"missing": ("0.85", "no face"), "suspect": ("#f3d9a4", "suspect face")}


def _draw_timeline(result: FilePrediction, path: Path, *, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    video = result.kind == "video" and np.isfinite(result.fps)
    x = result.time_s if video else result.frame.astype(float)
    step = 1.0 / result.fps if video else 1.0
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    try:
        for k, name in enumerate(result.classes):
            ax.plot(x, result.proba[:, k], label=name, lw=1.4,
                    marker="o" if len(x) == 1 else None)
        for status, (colour, label) in _SHADES.items():
            for i, (a, b) in enumerate(_runs(result.status == status)):
                ax.axvspan(x[a] - step / 2, x[b - 1] + step / 2, color=colour, lw=0,
                           label=label if i == 0 else None)
        ax.set_ylim(0, 1)
        ax.set_xlabel("time (s)" if video else "frame")
        ax.set_ylabel("probability")
        ax.set_title(f"{title}: {result.label}" if title else str(result.label), fontsize=10)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
        fig.tight_layout()
        fig.savefig(path, dpi=80, format="png")
    finally:
        plt.close(fig)


class _Annotator:
    """Writes frames with the face box and the frame's label drawn (PyAV, H.264 or MPEG-4).

    Videos become ``<stem>_annotated.mp4`` (frame rate of the source, 25 where it declares
    none; odd sizes lose their last row or column, as 4:2:0 video needs even sizes); an
    image becomes ``<stem>_annotated.png``. The frames go to a temporary file that
    :meth:`close` renames to that name and :meth:`abort` deletes, so a failed or interrupted
    file leaves no partial video (and an earlier run's video stays as it was).
    """

    def __init__(self, out: Path, stem: str, kind: str, fps: float) -> None:
        self.kind, self.fps = kind, fps
        ext = ".png" if kind == "image" else ".mp4"
        self.target = AtomicPath(out / f"{stem}_annotated{ext}")
        self.path = self.target.path
        self.container = self.stream = None

    def write(self, frames: list[np.ndarray], boxes: np.ndarray, proba: np.ndarray,
              classes: list[str]) -> None:
        for frame, box, p in zip(frames, boxes, proba):
            img = np.ascontiguousarray(frame if frame.ndim == 3 else
                                       cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB))
            _draw(img, box, p, classes)
            if self.kind == "image":
                if not cv2.imwrite(str(self.target.tmp), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
                    raise OSError(f"cannot write {self.path}")
                continue
            self._encode(img)

    def _encode(self, img: np.ndarray) -> None:
        from fractions import Fraction

        import av

        h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
        if self.container is None:
            # The temporary name ends in .mp4: PyAV picks the container from it.
            self.container = av.open(str(self.target.tmp), mode="w")
            rate = Fraction(self.fps).limit_denominator(1001) if np.isfinite(self.fps) else 25
            try:
                self.stream = self.container.add_stream("libx264", rate=rate)
            except (av.FFmpegError, ValueError):  # an FFmpeg build without x264
                self.stream = self.container.add_stream("mpeg4", rate=rate)
            self.stream.width, self.stream.height, self.stream.pix_fmt = w, h, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:h, :w]), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> Path:
        """Finish the video and give it its name."""
        if self.container is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
            self.container = None
        return self.target.commit()

    def abort(self) -> None:
        """Close and delete a half-written video (the file failed or was interrupted)."""
        try:
            if self.container is not None:
                self.container.close()
                self.container = None
        finally:
            self.target.discard()


def _draw(img: np.ndarray, box: np.ndarray, proba: np.ndarray, classes: list[str]) -> None:
    scale = max(img.shape[0] / 360, 0.5)
    if np.isnan(box).any():
        cv2.putText(img, "no face", (8, int(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6 * scale, (255, 64, 64), max(int(2 * scale), 1), cv2.LINE_AA)
        return
    x, y, w, h = (int(round(v)) for v in box)
    if np.isnan(proba).all():  # a "suspect" face: located, not trusted, not scored
        cv2.rectangle(img, (x, y), (x + w, y + h), (255, 176, 64), max(int(2 * scale), 1))
        cv2.putText(img, "suspect", (x, max(y - 6, int(16 * scale))),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (255, 176, 64),
                    max(int(2 * scale), 1), cv2.LINE_AA)
        return
    k = int(np.argmax(proba))
    cv2.rectangle(img, (x, y), (x + w, y + h), (64, 255, 64), max(int(2 * scale), 1))
    cv2.putText(img, f"{classes[k]} {proba[k]:.2f}", (x, max(y - 6, int(16 * scale))),
                cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (64, 255, 64),
                max(int(2 * scale), 1), cv2.LINE_AA)


# -- many files ----------------------------------------------------------------------------


def find_media(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[tuple[str, str]]]:
    """The media files named by ``paths``, folders searched recursively.

    Parameters
    ----------
    paths : iterable of str or path-like
        Files (taken whatever their extension: the reader decides) and folders (their
        files with a video or image extension, in sorted order).

    Returns
    -------
    files : list of Path
    problems : list of (path, message)
        Paths that do not exist and folders holding no media file.
    """
    files, problems = [], []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS | IMAGE_EXTENSIONS
            )
            if not found:
                problems.append((str(p), "folder holds no video or image file"))
            files += found
        elif p.exists():
            files.append(p)
        else:
            problems.append((str(p), "no such file or folder"))
    return files, problems


def _stems(files: list[Path]) -> list[str]:
    """Output names: the file stems, with parent folders added where two would collide."""
    stems = [f.stem for f in files]
    depth = 1
    while len(set(stems)) < len(stems) and depth < 8:
        stems = ["__".join(f.with_suffix("").parts[-depth - 1 :]) for f in files]
        depth += 1
    seen: dict[str, int] = {}
    out = []
    for s in stems:  # still equal (the same file given twice): number them
        seen[s] = seen.get(s, 0) + 1
        out.append(s if seen[s] == 1 else f"{s}_{seen[s]}")
    return out


def predict_files_with_info(
    model: Any,
    paths: Iterable[str | os.PathLike],
    *,
    output_dir: str | os.PathLike | None = None,
    annotate: bool = False,
    n_jobs: int | None = None,
    chunk_frames: int = 300,
    progress: bool = False,
    on_error: str = "warn",
    on_missing: str = "warn",
    as_frame: bool | str = "auto",
    model_name: str | None = None,
) -> tuple[Any, list[FilePrediction]]:
    """Like :func:`predict_files`, and also return one :class:`FilePrediction` per file.

    ``model_name`` names the model in the JSON files and timeline titles (default: the
    model card's name for a model file, else ``"model"``).

    Returns
    -------
    table : pandas.DataFrame or structured ndarray
    results : list of FilePrediction
        One per file found and per path that failed (missing path, folder without media),
        in order; failed ones have ``error`` set and no frames.
    """
    from joblib import Parallel, delayed, effective_n_jobs

    from ._model_card import load_model

    check_policy(on_error, "on_error")
    check_policy(on_missing)
    if int(chunk_frames) < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    name = model_name or "model"
    if isinstance(model, (str, os.PathLike)):
        model, card = load_model(model)
        name = model_name or card.model
    head = model if isinstance(model, FrameModel) else FrameModel(model)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files, problems = find_media(paths)
    out = None if output_dir is None else Path(output_dir)
    if out is not None:
        check_output_dir(out)
    opts = [
        _Options(out, stem, bool(annotate), int(chunk_frames), name, on_missing)
        for stem in _stems(files)
    ]
    results = [FilePrediction(path=p, error=msg) for p, msg in problems]
    if effective_n_jobs(n_jobs) == 1:
        results += _sequential(head, files, opts, progress)
    else:
        tasks = (delayed(_predict_path)(head, f, o) for f, o in zip(files, opts))
        done = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
        if progress:
            from tqdm.auto import tqdm

            done = tqdm(done, total=len(files), desc="files", unit="file")
        results += list(done)
    failed = [r for r in results if not r.ok]
    if failed and on_error != "ignore":
        message = "; ".join(f"{r.path}: {r.error}" for r in failed)
        if on_error == "raise":
            raise ValueError(f"{len(failed)} of {len(results)} files failed: {message}")
        warnings.warn(f"{len(failed)} of {len(results)} files failed: {message}",
                      UserWarning, stacklevel=2)
    # Warned here, not in the workers: joblib's processes would lose their warnings.
    apply_policy([rec for r in results for rec in r.skipped], on_missing,
                 "left out of the files' predictions", stacklevel=3)
    return _table(results, as_frame), results


def _sequential(head, files, opts, progress) -> list[FilePrediction]:
    """Files one after the other, with progress bars over files and frames."""
    if not progress:
        return [_predict_path(head, f, o) for f, o in zip(files, opts)]
    from tqdm.auto import tqdm

    out = []
    with tqdm(total=len(files), desc="files", unit="file", position=0) as fbar, \
            tqdm(desc="frames", unit="frame", position=1) as tbar:
        for f, o in zip(files, opts):
            fbar.set_postfix_str(f.name)
            out.append(_predict_path(head, f, o, tbar.update))
            fbar.update()
    return out


def predict_files(
    model: Any,
    paths: Iterable[str | os.PathLike],
    *,
    output_dir: str | os.PathLike | None = None,
    annotate: bool = False,
    n_jobs: int | None = None,
    chunk_frames: int = 300,
    progress: bool = False,
    on_error: str = "warn",
    on_missing: str = "warn",
    as_frame: bool | str = "auto",
) -> Any:
    """Predict expressions on video and image files, frame by frame.

    Parameters
    ----------
    model : fitted Pipeline, FrameModel, str or path-like
        A fitted model (see :class:`FrameModel`) or a model file of ``skfer train``
        (loaded with :func:`skfer._model_card.load_model`, which checks versions).
    paths : iterable of str or path-like
        Video files, image files and folders of them (searched recursively).
    output_dir : str or path-like, optional
        Where to write, per file, ``<name>.csv`` and ``<name>.json`` (one row per frame),
        ``<name>_timeline.png`` and with ``annotate`` ``<name>_annotated.mp4`` (``.png``
        for an image). None writes nothing. An unwritable folder raises ``OSError``.
    annotate : bool, default=False
        Also write the frames with the face box and the frame's label drawn.
    n_jobs : int, optional
        Files processed in parallel (joblib; ``joblib.parallel_backend("dask")`` sends
        them to a Dask cluster). Progress then advances per file, not per frame.
    chunk_frames : int, default=300
        Frames decoded and processed together (the memory bound; see the module Notes).
    progress : bool, default=False
        Progress bars over files and frames (tqdm).
    on_error : {"raise", "warn", "ignore"}, default="warn"
        A file that cannot be processed (unreadable, corrupt, no face at all) is skipped
        and the others are done; at the end ``"raise"`` raises a ``ValueError`` naming
        every failed file and its problem, ``"warn"`` warns the same, ``"ignore"`` says
        nothing (:func:`predict_files_with_info` returns the failures).
    on_missing : {"raise", "warn", "ignore"}, default="warn"
        Frames left out of a file's prediction (not decoded, no face, suspect face: see the
        module's "Skipped frames") are always recorded in the file's rows (``skipped``
        column) and :attr:`FilePrediction.skipped`; ``"warn"`` also emits one
        :class:`~skfer.utils.frame_policy.SkippedFramesWarning` naming each such file and
        its counts and reasons, ``"raise"`` raises
        :class:`~skfer.utils.frame_policy.SkippedFramesError` at the first such file
        (before its outputs are written), ``"ignore"`` only records.
    as_frame : bool or "auto", default="auto"
        Return a pandas DataFrame (``"auto"``: when pandas is installed) or a structured
        NumPy array.

    Returns
    -------
    table : pandas.DataFrame or structured ndarray
        One row per frame of every file processed: ``file``, ``frame``, ``time_s``,
        ``x``, ``y``, ``w``, ``h`` (face box, NaN when missing), ``status``, ``skipped``
        (why the frame is left out of the file's prediction, ``""`` if it is not),
        ``p_<class>`` per class (NaN when missing or suspect) and ``prediction`` (the
        file's predicted class).

    Examples
    --------
    >>> from skfer.datasets import make_expressions, sample_videos_path
    >>> from skfer.models import make_model
    >>> data = make_expressions(n_subjects=2, random_state=0)
    >>> model = make_model("hog-svm", faces="detect", probability=True).fit(data.data, data.target)
    >>> video = sample_videos_path() / "1001_DFA_HAP_XX.flv"
    >>> table = predict_files(model, [video], as_frame=False)
    >>> len(table) == 56, set(table["status"]) <= {"detected", "tracked", "filled"}
    (True, True)
    """
    return predict_files_with_info(
        model, paths, output_dir=output_dir, annotate=annotate, n_jobs=n_jobs,
        chunk_frames=chunk_frames, progress=progress, on_error=on_error,
        on_missing=on_missing, as_frame=as_frame,
    )[0]


def _table(results: list[FilePrediction], as_frame: bool | str) -> Any:
    """The frame rows of the successful files as a DataFrame or a structured array."""
    ok = [r for r in results if r.ok]
    classes = ok[0].classes if ok else []
    columns: dict[str, np.ndarray] = {
        "file": np.concatenate([np.full(r.n_frames, r.path) for r in ok] or [np.zeros(0, "U1")]),
        "frame": np.concatenate([r.frame for r in ok] or [np.zeros(0, np.int64)]),
        "time_s": np.concatenate([r.time_s for r in ok] or [np.zeros(0)]),
    }
    boxes = np.concatenate([r.boxes for r in ok] or [np.zeros((0, 4))])
    columns |= {k: boxes[:, j] for j, k in enumerate("xywh")}
    columns["status"] = np.concatenate([r.status for r in ok] or [np.zeros(0, "U8")])
    columns["skipped"] = np.concatenate([r.skip_reasons() for r in ok] or [np.zeros(0, "U16")])
    proba = np.concatenate([r.proba for r in ok] or [np.zeros((0, len(classes)))])
    columns |= {f"p_{c}": proba[:, j] for j, c in enumerate(classes)}
    columns["prediction"] = np.concatenate(
        [np.full(r.n_frames, r.label) for r in ok] or [np.zeros(0, "U1")]
    )
    if as_frame == "auto":
        try:
            import pandas  # noqa: F401
        except ImportError:
            as_frame = False
    if as_frame:
        import pandas as pd

        return pd.DataFrame(columns)
    dtype = [(k, v.dtype) for k, v in columns.items()]
    table = np.empty(len(columns["frame"]), dtype=dtype)
    for k, v in columns.items():
        table[k] = v
    return table
