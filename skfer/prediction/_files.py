"""Predict on media files: one row per frame, one :class:`FilePrediction` per file."""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sklearn.base import clone

from ..clipset import FRAME_STATUSES, UNUSABLE_STATUSES
from ..io import IMAGE_EXTENSIONS
from ..utils._atomic import check_output_dir
from ..utils.frame_policy import (
    SkippedFrames,
    SkippedFramesError,
    apply_policy,
    check_policy,
)
from ._frame_model import FrameModel
from .outputs import _Annotator, write_outputs

__all__ = ["VIDEO_EXTENSIONS", "FilePrediction", "find_media", "predict_files", "smooth_track"]

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
    faces : {"primary", "all"}
        Whose faces the rows follow: the primary face's (one row per frame, ``face`` 0) or
        every person's (one row per located face and frame, ``face`` the person's id; a
        frame without any face gets one row with ``face`` -1).
    frame : ndarray of int (R,)
        Index of the row's frame in the file (a frame the decoder failed on keeps its
        number). Sorted; repeated with ``faces="all"`` when a frame holds several faces.
    face : ndarray of int (R,)
        The row's person (see ``faces``).
    time_s : ndarray of float (R,)
        Seconds from the video's start, from the frames' own timestamps (right on
        variable-frame-rate videos; ``frame / fps`` is not); a frame the decoder failed on
        is placed between its neighbours. 0 for an image.
    boxes : ndarray (R, 4)
        Face box ``(x, y, w, h)`` in the file's pixels (the square the face was cut from);
        NaN on ``"missing"`` frames.
    status : ndarray of str (R,)
    proba : ndarray (R, n_classes)
        Per-frame class probabilities, NaN on ``"missing"`` and ``"suspect"`` frames.
    smooth : ndarray (R, n_classes)
        The face's probabilities averaged over ``smooth_s`` seconds centred on the row's
        frame (its usable frames in that window; NaN where the row's own are NaN): the
        readable track, the raw one kept beside it.
    smooth_s : float
        Width of that window in seconds (0: ``smooth`` equals ``proba``).
    skipped : list of SkippedFrames
        The frames left out of the file's prediction (or, ``"resized"``, letterboxed), by
        reason (indices in the file; see the module's "Skipped frames"); empty when every
        frame counted as it was.
    label : str or None
        The model's prediction for the whole file (None when it failed): the primary
        face's, the person with the most usable frames under ``faces="all"``.
    clip_proba : ndarray (n_classes,) or None
    people : list of dict
        Per person (``faces="all"``; the primary face otherwise): ``face`` (id),
        ``prediction``, ``clip_proba`` and ``n_frames`` (usable frames), from the model's
        clip prediction on that person's frames.
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
    faces: str = "primary"
    frame: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    face: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    time_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="U8"))
    proba: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    smooth: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    smooth_s: float = 0.0
    label: str | None = None
    clip_proba: np.ndarray | None = None
    people: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    skipped: list[SkippedFrames] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def n_frames(self) -> int:
        """Frames of the file with a row (every decoded frame and decoder gap)."""
        return len(np.unique(self.frame))

    @property
    def n_rows(self) -> int:
        """Rows: ``n_frames``, or more with ``faces="all"`` (a row per face and frame)."""
        return len(self.frame)

    def status_counts(self) -> dict[str, int]:
        """Rows per status, every status of :data:`skfer.FRAME_STATUSES` listed."""
        return {s: int(np.sum(self.status == s)) for s in FRAME_STATUSES}

    def skip_reasons(self) -> np.ndarray:
        """``(R,)`` str: each row's skip reason, ``""`` where the row counts.

        The reader's records mark every row of their frames; a row's own status gives
        ``"no_face"`` (missing) and ``"inconsistent"`` (suspect).
        """
        out = np.full(self.n_rows, "", dtype="U16")
        for st, reason in _STATUS_REASONS.items():
            out[self.status == st] = reason
        for record in self.skipped:
            if record.reason not in _STATUS_REASONS.values():
                out[np.isin(self.frame, record.indices)] = record.reason
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
        for t in range(self.n_rows):
            box = self.boxes[t]
            rows.append({
                "frame": int(self.frame[t]),
                "face": int(self.face[t]),
                "time_s": _num(self.time_s[t]),
                "box": None if np.isnan(box).any() else [round(float(v), 1) for v in box],
                "status": str(self.status[t]),
                "skipped": str(reasons[t]) or None,
                "proba": {c: _num(p) for c, p in zip(self.classes, self.proba[t])},
                "smooth": {c: _num(p) for c, p in zip(self.classes, self.smooth[t])},
            })
        return {
            "file": self.path,
            "kind": self.kind,
            "fps": _num(self.fps),
            "n_frames": self.n_frames,
            "faces": self.faces,
            "smooth_s": self.smooth_s,
            "status_counts": self.status_counts(),
            "classes": self.classes,
            "prediction": self.label,
            "clip_proba": None if self.clip_proba is None
            else {c: _num(p) for c, p in zip(self.classes, self.clip_proba)},
            "people": [
                {"face": p["face"], "prediction": p["prediction"], "n_frames": p["n_frames"],
                 "clip_proba": {c: _num(v) for c, v in zip(self.classes, p["clip_proba"])}}
                for p in self.people
            ],
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


@dataclass
class _Options:
    output_dir: Path | None
    stem: str
    annotate: bool
    chunk_frames: int
    model_name: str
    on_missing: str = "warn"
    smooth_s: float = 0.0


@dataclass
class _Track:
    """One face over the decoded frames of a file, filled window by window."""

    rows: list[np.ndarray] = field(default_factory=list)  # decoded-frame positions
    vectors: list[np.ndarray] = field(default_factory=list)
    status: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    proba: list[np.ndarray] = field(default_factory=list)

    def add(self, rows, vectors, status, boxes, proba) -> None:
        for name, value in zip(("rows", "vectors", "status", "boxes", "proba"),
                               (rows, vectors, status, boxes, proba)):
            getattr(self, name).append(value)

    def cat(self, name: str) -> np.ndarray:
        return np.concatenate(getattr(self, name))


def smooth_track(times: np.ndarray, proba: np.ndarray, window_s: float) -> np.ndarray:
    """Probabilities averaged over ``window_s`` seconds centred on each frame.

    Frames with NaN probabilities (no usable face) are left out of the averages and stay
    NaN. ``times`` must be sorted.

    >>> times = np.array([0.0, 0.1, 0.2, 0.3])
    >>> proba = np.array([[1.0, 0.0], [0.0, 1.0], [np.nan, np.nan], [1.0, 0.0]])
    >>> smooth_track(times, proba, 0.25).round(2).tolist()
    [[0.5, 0.5], [0.5, 0.5], [nan, nan], [1.0, 0.0]]
    """
    proba = np.asarray(proba, dtype=np.float64)
    if window_s <= 0 or len(proba) < 2:
        return proba.copy()
    ok = np.isfinite(proba).all(axis=1)
    # Sums over windows by cumulative sums: O(T) however wide the window.
    csum = np.vstack([np.zeros((1, proba.shape[1])), np.cumsum(np.where(ok[:, None], proba, 0),
                                                                axis=0)])
    count = np.r_[0, np.cumsum(ok)]
    # A frame's time sits in the middle of its period: half a window and a hair each side.
    lo = np.searchsorted(times, times - window_s / 2 - 1e-9, side="left")
    hi = np.searchsorted(times, times + window_s / 2 + 1e-9, side="right")
    n = (count[hi] - count[lo])[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (csum[hi] - csum[lo]) / n
    out[~ok] = np.nan
    return out


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
    from ..io import iter_frames, video_fps
    from ..io._prefetch import prefetch
    from ..io.images import read_image_noting

    every = head.extractor.faces == "all"
    result = FilePrediction(path=str(path), classes=[str(c) for c in head.classes],
                            faces=head.extractor.faces, smooth_s=float(opts.smooth_s))
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
            frames: Iterable[np.ndarray] = [frame]
        else:
            result.fps = video_fps(path)
            # The reader only records (on_missing="ignore"); this function applies the
            # caller's policy to its records and to the frames without a usable face.
            frames = iter_frames(path, color=opts.annotate, on_missing="ignore",
                                 skipped=read_skips, times=read_times, orientation=turned)
        if opts.annotate and opts.output_dir is not None:
            writer = _Annotator(opts.output_dir, opts.stem, result.kind, result.fps,
                                result.classes)
        tracks: dict[int, _Track] = {}
        n = 0  # frames decoded so far
        pending = None  # the window waiting for the next one's frames to be drawn smoothed
        # The next window's face tubes are found on a thread while the network scores this
        # one (OpenCV and torch both release the GIL): one window ahead, so memory still
        # holds a bounded number of windows.
        windows = prefetch(head.extractor.iter_windows(frames, opts.chunk_frames), ahead=1)
        for window, tubes in windows:
            rows = np.arange(n, n + len(window))
            ids = tubes.get("face_id") or [0] * len(tubes)
            for vec, fid, st, bx in zip(head.vectors(tubes), ids, tubes.get("status"),
                                        tubes.get("source_boxes")):
                st = np.asarray(st).astype(str)
                bx = np.array(bx, dtype=np.float64)
                bx[st == "missing"] = np.nan
                pr = head.frame_proba(vec, ~np.isin(st, UNUSABLE_STATUSES))
                keep = st != "missing" if every else np.ones(len(st), bool)
                if keep.any():
                    tracks.setdefault(int(fid), _Track()).add(
                        rows[keep], np.asarray(vec)[keep], st[keep], bx[keep], pr[keep])
            n += len(window)
            if writer is not None:
                if pending is not None:
                    writer.write(pending[0], _drawn(tracks, pending[1], read_times,
                                                    result.fps, opts.smooth_s))
                pending = (window, rows)
            if on_frames is not None:
                on_frames(len(window))
        if n == 0:
            why = f" ({read_skips[0]})" if read_skips else ""
            raise ValueError(f"the video holds no frame that could be decoded{why}")
        if writer is not None and pending is not None:
            writer.write(pending[0], _drawn(tracks, pending[1], read_times, result.fps,
                                            opts.smooth_s))
        if turned and turned[0] != (0, False):
            rotation, mirrored = turned[0]
            result.notes.append(
                f"frames turned upright as the file's display matrix says (rotated {rotation} "
                f"degrees counter-clockwise{', then mirrored' if mirrored else ''})")
        tracks.pop(-1, None)  # windows with nobody in them: their frames get "missing" rows
        status = np.concatenate([tr.cat("status") for tr in tracks.values()]
                                or [np.full(1, "missing")])
        if not (status != "missing").any():
            raise ValueError(f"no face was found in any of its {n} frames")
        if np.isin(status, UNUSABLE_STATUSES).all():
            raise ValueError(f"no trustworthy face in any of its {n} frames (faces were "
                             "located but the detections disagree: status 'suspect')")
        _fill_rows(result, path, n, tracks, read_skips, read_times)
        if opts.on_missing == "raise":
            apply_policy(result.skipped, "raise", "left out of the prediction",
                         hint='predict_files(on_missing="warn" or "ignore") predicts from '
                              "the other frames")
        for fid, tr in sorted(tracks.items()):
            st = tr.cat("status")
            usable = int((~np.isin(st, UNUSABLE_STATUSES)).sum())
            if usable:
                label, proba = head.clip_predict(tr.cat("vectors"), st)
                result.people.append({"face": fid, "prediction": str(label),
                                      "clip_proba": proba, "n_frames": usable})
        main = max(result.people, key=lambda p: p["n_frames"])
        result.label, result.clip_proba = main["prediction"], main["clip_proba"]
        if writer is not None:
            result.outputs["annotated"] = str(writer.close())
            writer = None
        if opts.output_dir is not None:
            result.outputs.update(write_outputs(result, opts.output_dir, opts.stem,
                                                opts.model_name))
    except SkippedFramesError:
        raise  # the caller's policy, not a problem of the file
    except _FILE_ERRORS as exc:
        message = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        # The readers' messages often name the file; the report names it first already.
        result.error = message.replace(f"video {path} ", "video ").replace(
            f"image {path}", "the image")
        result.frame = result.face = np.zeros(0, dtype=np.int64)
        result.status = np.zeros(0, dtype="U8")
        result.proba = result.smooth = np.zeros((0, len(result.classes)))
        result.time_s, result.boxes = np.zeros(0), np.zeros((0, 4))
        result.skipped, result.people = [], []
    finally:
        if writer is not None:
            writer.abort()
    return result


def _times(rows: np.ndarray, read_times: list[float], fps: float) -> np.ndarray:
    """Seconds of decoded-frame positions: the reader's times, else ``row / fps``."""
    if len(read_times) > (rows.max() if rows.size else -1):
        return np.asarray(read_times, dtype=np.float64)[rows]
    return rows / (fps if np.isfinite(fps) and fps > 0 else 25.0)


def _drawn(tracks: dict[int, _Track], rows: np.ndarray, read_times: list[float], fps: float,
           smooth_s: float) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(face, boxes, smoothed proba)`` of each face on the decoded frames ``rows``
    (NaN boxes where the face is not in a frame), for the annotated video."""
    out = []
    for fid, tr in sorted(tracks.items()):
        at = tr.cat("rows")
        here = np.isin(rows, at)
        if not here.any():
            continue
        sm = smooth_track(_times(at, read_times, fps), tr.cat("proba"), smooth_s)
        boxes = np.full((len(rows), 4), np.nan)
        proba = np.full((len(rows), sm.shape[1]), np.nan)
        where = np.searchsorted(at, rows[here])
        boxes[here], proba[here] = tr.cat("boxes")[where], sm[where]
        out.append((fid, boxes, proba))
    return out


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


def _fill_rows(result: FilePrediction, path: Path, n: int, tracks: dict[int, _Track],
               read_skips: list[SkippedFrames], read_times: list[float]) -> None:
    """Set the rows of ``result`` (each face's frames, empty frames, reader gaps), their
    smoothed track and the file's skip records."""
    decoded = _decoded_indices(n, read_skips)  # file frame number of each decoded position
    n_classes = len(result.classes)
    parts = []  # (decoded position or -1 for a gap, file frame, face, status, boxes, proba)
    covered = np.zeros(n, bool)
    smooth = []
    for fid, tr in tracks.items():
        at = tr.cat("rows")
        covered[at] = True
        parts.append((decoded[at], np.full(len(at), fid), tr.cat("status"), tr.cat("boxes"),
                      tr.cat("proba")))
        times = (np.zeros(len(at)) if result.kind == "image"
                 else _times(at, read_times, result.fps))
        smooth.append(smooth_track(times, tr.cat("proba"), result.smooth_s))
    gaps = np.concatenate([r.indices for r in read_skips if r.reason in _READER_GAPS]
                          or [np.zeros(0, np.intp)])
    # Frames where nobody is (faces="all") and frames the decoder lost: one row each.
    empty = np.union1d(decoded[~covered], gaps).astype(np.int64)
    nobody = -1 if result.faces == "all" else 0
    parts.append((empty, np.full(len(empty), nobody), np.full(len(empty), "missing"),
                  np.full((len(empty), 4), np.nan), np.full((len(empty), n_classes), np.nan)))
    smooth.append(np.full((len(empty), n_classes), np.nan))
    frame, face, status, boxes, proba = (np.concatenate(col) for col in zip(*parts))
    order = np.lexsort((face, frame))
    result.frame = frame[order].astype(np.int64)
    result.face = face[order].astype(np.int64)
    width = max(len(s) for s in FRAME_STATUSES)
    result.status = status[order].astype(f"U{width}")
    result.boxes, result.proba = boxes[order], proba[order]
    result.smooth = np.concatenate(smooth)[order]
    result.time_s = (np.zeros(len(frame)) if result.kind == "image"
                     else _row_times(result.frame, decoded, read_times, result.fps))
    source = str(path)
    records = [r if r.source is not None else _with_source(r, source) for r in read_skips]
    for st, reason in _STATUS_REASONS.items():
        where = np.unique(result.frame[(result.status == st) & ~np.isin(result.frame, gaps)])
        if where.size:
            records.append(SkippedFrames(indices=where, reason=reason, source=source,
                                         detail=f"frame status {st!r}"))
    result.skipped = [r for r in records if r.count]


def _with_source(record: SkippedFrames, source: str) -> SkippedFrames:
    from dataclasses import replace

    return replace(record, source=source)



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
    faces: str = "primary",
    smooth_s: float = 1.0,
    n_jobs: int | None = None,
    chunk_frames: int = 300,
    progress: bool = False,
    on_error: str = "warn",
    on_missing: str = "warn",
    as_frame: bool | str = "auto",
    model_name: str = "model",
    details: bool = False,
) -> Any:
    """Predict expressions on video and image files, frame by frame.

    Parameters
    ----------
    model : fitted Pipeline or FrameModel
        A fitted model (see :class:`FrameModel`): a named model of :mod:`skfer.models`
        fitted by you, one that comes fitted (``make_model("emonets-fer2013")``, the
        network shipped inside skfer), or a model file loaded with
        :func:`skfer.load_model`.
    paths : iterable of str or path-like
        Video files, image files and folders of them (searched recursively).
    output_dir : str or path-like, optional
        Where to write, per file, ``<name>.csv`` and ``<name>.json`` (one row per frame and
        face), ``<name>_timeline.png`` and with ``annotate`` ``<name>_annotated.mp4``
        (``.png`` for an image). None writes nothing. An unwritable folder raises
        ``OSError``.
    annotate : bool, default=False
        Also write the frames with each face's box and smoothed label drawn.
    faces : {"primary", "all"}, default="primary"
        Follow the primary face (the person seen most; one row per frame) or every person
        (one tube per person, EmoNets section 3.1.3; a row per face and frame, with the
        person's id in ``face``, a frame without anyone getting one row with ``face``
        -1; see :meth:`~skfer.preprocessing.FaceTubeExtractor.iter_windows` for how ids
        carry across windows).
    smooth_s : float, default=1.0
        Width in seconds of the centred window over which each face's per-frame
        probabilities are averaged into the ``smooth_<class>`` columns, the timeline's
        solid lines and the annotated labels (:func:`smooth_track`); the raw per-frame
        ones stay in ``p_<class>``. ``0`` does not smooth.
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
        nothing (``details=True`` returns the failures).
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
    model_name : str, default="model"
        How the JSON files and timeline titles name the model.
    details : bool, default=False
        Also return one :class:`FilePrediction` per file.

    Returns
    -------
    table : pandas.DataFrame or structured ndarray
        One row per frame (and face, with ``faces="all"``) of every file processed:
        ``file``, ``frame``, ``face``, ``time_s``, ``x``, ``y``, ``w``, ``h`` (face box,
        NaN when missing), ``status``, ``skipped`` (why the row is left out of the file's
        prediction, ``""`` if it is not), ``p_<class>`` and ``smooth_<class>`` per class
        (NaN when missing or suspect) and ``prediction`` (the file's predicted class; the
        person's own with ``faces="all"``).
    results : list of FilePrediction
        With ``details=True``: one per file found and per path that failed (missing path,
        folder without media), in order; failed ones have ``error`` set and no frames.

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
    from joblib import Parallel, delayed, effective_n_jobs

    check_policy(on_error, "on_error")
    check_policy(on_missing)
    if int(chunk_frames) < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    if faces not in ("primary", "all"):
        raise ValueError(f"faces must be 'primary' or 'all', got {faces!r}")
    if not np.isfinite(smooth_s) or smooth_s < 0:
        raise ValueError(f"smooth_s must be a number of seconds >= 0, got {smooth_s}")
    if isinstance(model, (str, os.PathLike)):
        raise TypeError(
            f"model must be a fitted model, got the path {model!r}: load a model file with "
            "skfer.load_model(path) (it checks the file against its card) and pass the model")
    head = model if isinstance(model, FrameModel) else FrameModel(model)
    if faces != head.extractor.faces:
        head = copy.copy(head)  # the caller's FrameModel keeps its extractor
        head.extractor = clone(head.extractor).set_params(faces=faces).fit()
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files, problems = find_media(paths)
    out = None if output_dir is None else Path(output_dir)
    if out is not None:
        check_output_dir(out)
    opts = [
        _Options(out, stem, bool(annotate), int(chunk_frames), model_name, on_missing,
                 float(smooth_s))
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
                 "left out of the files' predictions", stacklevel=2)
    table = _table(results, as_frame)
    return (table, results) if details else table


def _table(results: list[FilePrediction], as_frame: bool | str) -> Any:
    """The rows of the successful files as a DataFrame or a structured array."""
    ok = [r for r in results if r.ok]
    classes = ok[0].classes if ok else []

    def cat(values, empty):
        return np.concatenate(values or [empty])

    columns: dict[str, np.ndarray] = {
        "file": cat([np.full(r.n_rows, r.path) for r in ok], np.zeros(0, "U1")),
        "frame": cat([r.frame for r in ok], np.zeros(0, np.int64)),
        "face": cat([r.face for r in ok], np.zeros(0, np.int64)),
        "time_s": cat([r.time_s for r in ok], np.zeros(0)),
    }
    boxes = cat([r.boxes for r in ok], np.zeros((0, 4)))
    columns |= {k: boxes[:, j] for j, k in enumerate("xywh")}
    columns["status"] = cat([r.status for r in ok], np.zeros(0, "U8"))
    columns["skipped"] = cat([r.skip_reasons() for r in ok], np.zeros(0, "U16"))
    proba = cat([r.proba for r in ok], np.zeros((0, len(classes))))
    columns |= {f"p_{c}": proba[:, j] for j, c in enumerate(classes)}
    smooth = cat([r.smooth for r in ok], np.zeros((0, len(classes))))
    columns |= {f"smooth_{c}": smooth[:, j] for j, c in enumerate(classes)}
    columns["prediction"] = cat([_row_labels(r) for r in ok], np.zeros(0, "U1"))
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


def _row_labels(result: FilePrediction) -> np.ndarray:
    """Each row's clip prediction: its person's, else the file's."""
    out = np.full(result.n_rows, result.label, dtype=object)
    if result.faces == "all":
        for person in result.people:
            out[result.face == person["face"]] = person["prediction"]
    return out.astype(str)
