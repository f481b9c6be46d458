"""Read video files as skfer clips, whole or streamed frame by frame.

OpenCV's ``cv2.VideoCapture`` decodes (it is the fastest path); files it cannot open, or opens
but decodes no frame from, are decoded with PyAV (FFmpeg). Frames are returned as RGB
(``color=True``) or grey ``uint8``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

__all__ = ["Video", "iter_frames", "read_video", "video_fps"]


@dataclass
class Video:
    """A decoded video.

    Attributes
    ----------
    frames : ndarray of uint8
        ``(T, H, W, 3)`` RGB or ``(T, H, W)`` grey; this is the skfer clip.
    fps : float
        Frame rate the container declares (``nan`` where it declares none).
    path : str
        The file it was read from.
    frame_indices : ndarray of int
        Index in the file of each returned frame (depends on ``start``/``stride``).
    audio : ndarray of float32 or None
        The sound track when asked for (see :func:`skfer.io.read_audio`), else ``None``.
    sample_rate : int or None
        Sample rate of ``audio``.
    """

    frames: np.ndarray
    fps: float
    path: str
    frame_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    audio: np.ndarray | None = None
    sample_rate: int | None = None

    def __len__(self) -> int:
        return len(self.frames)


def _check_args(path: str | os.PathLike, start: int, stride: int, max_frames: int | None) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"video file {path} does not exist")
    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a folder, not a video file; use skfer.io.read_frame_folder for frame "
            "folders"
        )
    if int(start) < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if int(stride) < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if max_frames is not None and int(max_frames) < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    return path


def _opencv_frames(
    cap: cv2.VideoCapture, path: Path, color: bool, start: int, stride: int, max_frames: int | None
) -> Iterator[tuple[int, np.ndarray]]:
    declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    index, n_out = 0, 0
    try:
        while max_frames is None or n_out < max_frames:
            # grab() without retrieve() skips frames without the colour conversion cost.
            if not cap.grab():
                break
            if index >= start and (index - start) % stride == 0:
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    raise ValueError(f"cannot decode frame {index} of video {path}: file corrupt")
                if color:
                    frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                else:
                    frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
                yield index, frame
                n_out += 1
            index += 1
    finally:
        cap.release()
    reached_end = max_frames is None or n_out < max_frames
    # A container declaring many more frames than can be decoded was cut short. Declared counts
    # are estimates (from duration x fps) in many containers, hence the 10% slack.
    if reached_end and 0 < index < 0.9 * declared:
        raise ValueError(
            f"video {path} is truncated or corrupt: it declares {declared} frames but only "
            f"{index} could be decoded"
        )


def _pyav_frames(
    path: Path, color: bool, start: int, stride: int, max_frames: int | None
) -> Iterator[tuple[int, np.ndarray]]:
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise ValueError(
            f"cannot open video {path} (corrupt, truncated or not a video): {exc}"
        ) from exc
    with container:
        if not container.streams.video:
            raise ValueError(f"{path} has no video stream")
        n_out = 0
        try:
            for index, frame in enumerate(container.decode(video=0)):
                if max_frames is not None and n_out >= max_frames:
                    break
                if index >= start and (index - start) % stride == 0:
                    yield index, frame.to_ndarray(format="rgb24" if color else "gray")
                    n_out += 1
        except av.FFmpegError as exc:
            raise ValueError(f"video {path} is corrupt or truncated: {exc}") from exc


def _open(path: Path) -> cv2.VideoCapture | None:
    cap = cv2.VideoCapture(str(path))
    if cap.isOpened():
        return cap
    cap.release()
    return None


def iter_frames(
    path: str | os.PathLike,
    *,
    color: bool = True,
    max_frames: int | None = None,
    start: int = 0,
    stride: int = 1,
) -> Iterator[np.ndarray]:
    """Stream the frames of a video one at a time, without holding the video in memory.

    Parameters
    ----------
    path : str or path-like
        Video file in any format OpenCV or FFmpeg (PyAV) reads.
    color : bool, default=True
        ``True`` yields ``(H, W, 3)`` RGB frames, ``False`` yields ``(H, W)`` grey frames.
    max_frames : int, optional
        Stop after yielding this many frames.
    start : int, default=0
        Index of the first frame to yield.
    stride : int, default=1
        Yield every ``stride``-th frame from ``start``.

    Yields
    ------
    frame : ndarray of uint8

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If neither OpenCV nor PyAV can open it, or if decoding stops before 90% of the frame
        count the container declares (truncated file; declared counts are often estimates).
        The error is raised when streaming reaches it.
    """
    for _, frame in _iter_indexed(path, color, max_frames, start, stride):
        yield frame


def _iter_indexed(
    path: str | os.PathLike, color: bool, max_frames: int | None, start: int, stride: int
) -> Iterator[tuple[int, np.ndarray]]:
    path = _check_args(path, start, stride, max_frames)
    cap = _open(path)
    if cap is not None:
        grabbed = False
        for item in _opencv_frames(cap, path, color, int(start), int(stride), max_frames):
            grabbed = True
            yield item
        if grabbed or int(start) > 0:
            return
        # OpenCV opened the container but decoded nothing (no decoder for the codec in its
        # build): let FFmpeg try before calling the video empty.
    yield from _pyav_frames(path, color, int(start), int(stride), max_frames)


def video_fps(path: str | os.PathLike) -> float:
    """Frame rate the video container declares (``nan`` where it declares none)."""
    path = _check_args(path, 0, 1, None)
    cap = _open(path)
    if cap is not None:
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        cap.release()
        return fps if fps > 0 else float("nan")
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path} has no video stream")
            rate = container.streams.video[0].average_rate
    except av.FFmpegError as exc:
        raise ValueError(
            f"cannot open video {path} (corrupt, truncated or not a video): {exc}"
        ) from exc
    return float(rate) if rate else float("nan")


def read_video(
    path: str | os.PathLike,
    *,
    color: bool = True,
    max_frames: int | None = None,
    start: int = 0,
    stride: int = 1,
    audio: bool = False,
    sample_rate: int | None = 16000,
    mono: bool = True,
) -> Video:
    """Read a video file into memory.

    Parameters
    ----------
    path : str or path-like
        Video file in any format OpenCV or FFmpeg (PyAV) reads.
    color : bool, default=True
        ``True`` gives ``(T, H, W, 3)`` RGB frames, ``False`` gives ``(T, H, W)`` grey.
    max_frames : int, optional
        Keep at most this many frames.
    start : int, default=0
        Index of the first frame kept.
    stride : int, default=1
        Keep every ``stride``-th frame from ``start``.
    audio : bool, default=False
        Also read the sound track (with :func:`skfer.io.read_audio`); a file without one raises.
    sample_rate : int or None, default=16000
        Sample rate the sound track is resampled to (``None`` keeps the file's own).
    mono : bool, default=True
        Mix the sound track down to one channel.

    Returns
    -------
    video : Video
        ``video.frames`` is the clip.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file cannot be opened or decoded, is truncated, yields no frame, or has no
        sound track while ``audio=True``.
    """
    indexed = list(_iter_indexed(path, color, max_frames, start, stride))
    if not indexed:
        raise ValueError(
            f"video {path} yielded no frame (start={start}, stride={stride}): the file holds "
            "zero frames or fewer than start"
        )
    frames = np.stack([f for _, f in indexed])
    indices = np.array([i for i, _ in indexed], dtype=np.intp)
    video = Video(frames=frames, fps=video_fps(path), path=str(path), frame_indices=indices)
    if audio:
        from .audio import read_audio

        video.audio, video.sample_rate = read_audio(path, sample_rate=sample_rate, mono=mono)
    return video
