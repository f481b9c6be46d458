"""What :func:`~skfer.prediction.predict_files` writes per file: CSV, JSON, timeline, video.

Each output is written whole or not at all (a temporary file renamed; see
:mod:`skfer.utils._atomic`).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..utils._atomic import AtomicPath, atomic_path

if TYPE_CHECKING:
    from ._files import FilePrediction

__all__ = ["plot_timeline", "write_outputs"]

# -- outputs -------------------------------------------------------------------------------


_COLUMNS = ("frame", "face", "time_s", "x", "y", "w", "h", "status", "skipped")


def write_outputs(result: FilePrediction, out: Path, stem: str, model: str) -> dict[str, str]:
    """Write the file's CSV, JSON and timeline PNG, all three or none (see _atomic).

    The CSV has a row per row of ``result``: :data:`_COLUMNS`, then ``p_<class>`` (the
    frame's own probabilities) and ``smooth_<class>`` (the smoothed track) per class.
    """
    paths = {"csv": out / f"{stem}.csv", "json": out / f"{stem}.json",
             "timeline": out / f"{stem}_timeline.png"}
    reasons = result.skip_reasons()
    with contextlib.ExitStack() as stack:
        # Each goes to a temporary file; all are renamed when the block completes, and all
        # deleted if anything in it fails or is interrupted.
        tmp = {key: stack.enter_context(atomic_path(p)) for key, p in paths.items()}
        with open(tmp["csv"], "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(list(_COLUMNS) + [f"p_{c}" for c in result.classes]
                       + [f"smooth_{c}" for c in result.classes])
            for t in range(result.n_rows):
                w.writerow(
                    [int(result.frame[t]), int(result.face[t]), _cell(result.time_s[t])]
                    + [_cell(v, 1) for v in result.boxes[t]]
                    + [result.status[t], reasons[t]] + [_cell(p) for p in result.proba[t]]
                    + [_cell(p) for p in result.smooth[t]]
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


#: Most people drawn on a timeline (one panel each); the CSV and JSON hold them all.
_MAX_PANELS = 6


def _draw_timeline(result: FilePrediction, path: Path, *, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    video = result.kind == "video" and np.isfinite(result.fps)
    step = 1.0 / result.fps if video else 1.0
    people = [p["face"] for p in result.people][:_MAX_PANELS] or [0]
    fig, axes = plt.subplots(len(people), 1, figsize=(7.5, 0.4 + 2.4 * len(people)),
                             sharex=True, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    try:
        for ax, fid in zip(axes[:, 0], people):
            mine = result.face == fid
            if result.faces != "all":
                mine[:] = True
            x = (result.time_s if video else result.frame.astype(float))[mine]
            for k, name in enumerate(result.classes):
                colour = colours[k % len(colours)]
                single = dict(marker="o") if len(x) == 1 else {}
                if result.smooth_s > 0 and len(x) > 1:
                    # The raw frames faint, the smoothed track that reads over time solid.
                    ax.plot(x, result.proba[mine, k], color=colour, lw=0.6, alpha=0.35)
                ax.plot(x, result.smooth[mine, k], color=colour, lw=1.4, label=name,
                        **single)
            status = result.status[mine]
            for shade, (colour, label) in _SHADES.items():
                for i, (a, b) in enumerate(_runs(status == shade)):
                    ax.axvspan(x[a] - step / 2, x[b - 1] + step / 2, color=colour, lw=0,
                               label=label if i == 0 else None)
            ax.set_ylim(0, 1)
            ax.set_ylabel("probability")
            person = next((p for p in result.people if p["face"] == fid), None)
            label = person["prediction"] if person else result.label
            head = f"{title}: " if title else ""
            face = f"face {fid}: " if result.faces == "all" else ""
            ax.set_title(f"{head}{face}{label}", fontsize=10)
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
        axes[-1, 0].set_xlabel("time (s)" if video else "frame")
        fig.tight_layout()
        fig.savefig(path, dpi=80, format="png")
    finally:
        plt.close(fig)


class _Annotator:
    """Writes frames with each face's box and label drawn (PyAV, H.264 or MPEG-4).

    The label is the class of highest smoothed probability (the track of
    ``FilePrediction.smooth``), prefixed by the face id when several people are followed.

    Videos become ``<stem>_annotated.mp4`` (frame rate of the source, 25 where it declares
    none; odd sizes lose their last row or column, as 4:2:0 video needs even sizes); an
    image becomes ``<stem>_annotated.png``. The frames go to a temporary file that
    :meth:`close` renames to that name and :meth:`abort` deletes, so a failed or interrupted
    file leaves no partial video (and an earlier run's video stays as it was).
    """

    def __init__(self, out: Path, stem: str, kind: str, fps: float,
                 classes: list[str]) -> None:
        self.kind, self.fps, self.classes = kind, fps, classes
        ext = ".png" if kind == "image" else ".mp4"
        self.target = AtomicPath(out / f"{stem}_annotated{ext}")
        self.path = self.target.path
        self.container = self.stream = None

    def write(self, frames: list[np.ndarray],
              faces: list[tuple[int, np.ndarray, np.ndarray]]) -> None:
        """Draw and encode ``frames``; ``faces``: ``(face id, boxes, proba)`` per person,
        one box and probability row per frame (NaN where the person is not in it)."""
        show_ids = len(faces) > 1 or any(fid > 0 for fid, _, _ in faces)
        for t, frame in enumerate(frames):
            img = np.ascontiguousarray(frame if frame.ndim == 3 else
                                       cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB))
            drawn = [(fid, box[t], p[t]) for fid, box, p in faces if not np.isnan(box[t]).any()]
            if not drawn:
                _draw(img, np.full(4, np.nan), np.full(1, np.nan), [])
            for fid, box, p in drawn:
                _draw(img, box, p, self.classes, f"{fid}: " if show_ids else "")
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


def _draw(img: np.ndarray, box: np.ndarray, proba: np.ndarray, classes: list[str],
          prefix: str = "") -> None:
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
    cv2.putText(img, f"{prefix}{classes[k]} {proba[k]:.2f}", (x, max(y - 6, int(16 * scale))),
                cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (64, 255, 64),
                max(int(2 * scale), 1), cv2.LINE_AA)


