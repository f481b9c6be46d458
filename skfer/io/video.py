"""Read video files as skfer clips, whole or streamed frame by frame.

PyAV (FFmpeg) demuxes and decodes, one packet at a time, so that every frame the file holds
is accounted for. Frames are returned as RGB (``color=True``) or grey ``uint8``.

Frames that cannot be returned as stored are recorded as
:class:`~skfer.utils.frame_policy.SkippedFrames` (``source`` = the file, ``indices`` = frame
indices in the file) and handled by the ``on_missing`` policy (``"raise"``, ``"warn"``,
``"ignore"``; see :mod:`skfer.utils.frame_policy`). Nothing is dropped or altered silently:

``"undecodable"``
    The decoder raised on a packet, or flagged the frame it produced corrupt, and a later
    frame decoded (failures at the very end of a short file are part of its truncation).
    The frame is left out. A packet that only the demuxer flags corrupt is still decoded:
    the flag is also raised at harmless discontinuities (concatenated MPEG-TS segments).
    For codecs that reorder frames (B-frames), the index is the frame's slot in decoding
    order, exact to within the decoder's delay (a few frames); the total count is exact.
``"truncated"``
    Fewer frames were decoded than the container declares (the file was cut short, or its
    end is corrupt). The missing indices are the declared ones after the last decoded frame.
``"resized"``
    A frame's size differs from the stream's first frame (a stream whose resolution changes,
    e.g. concatenated MPEG-TS segments). The frame is **kept, letterboxed** into the first
    frame's size: scaled by the largest factor that fits, aspect ratio preserved, centred on
    black. Letterboxing rather than dropping keeps the timeline whole (frame indices, fps
    and the sound track stay in step), and rather than OpenCV's stretch to the first size
    (what ``cv2.VideoCapture`` does, silently) it never distorts a face. Under ``"raise"``
    the first such frame raises. MPEG-1/2 decoders drop the frame they hold back when a
    sequence header changes the size (a frame vanished and every later index was off by
    one): the reader drains the decoder before such a packet, so that frame is kept.

Orientation and time
--------------------
Frames are turned upright as the file's **display matrix** says (``autorotate=True``): the
rotation flag of a phone video (MP4/MOV ``tkhd`` matrix), Matroska's projection, H.264's
display-orientation SEI, all handed over by FFmpeg as the frames' ``DISPLAYMATRIX`` side
data, in the 8 orientations (rotations by multiples of 90 degrees, mirrored or not), as
players show them. What was applied is recorded (:attr:`Video.rotation`,
:attr:`Video.mirrored`; ``iter_frames(orientation=[])``); a matrix rotating by another angle
is refused (``autorotate=False`` reads the frames as stored). Each frame's **time** comes from
its own timestamp (:attr:`Video.times`, ``iter_frames(times=[])``), so that variable-frame-rate
videos (phones, screen recordings) get their true times rather than ``index / fps``.

How the declared frame count is found, and what can be detected
--------------------------------------------------------------
1. **Exact count**: the container's index (``stream.frames`` > 0: MP4/MOV sample tables,
   AVI index). Packets the container marks to be discarded (an MP4 edit list trimming the
   start) are subtracted. Any shortfall, even one frame, is recorded.
2. **Estimate**: otherwise the stream's duration (its own, or Matroska's per-track
   ``DURATION`` tag, else the container's) times the average frame rate (MKV, WebM, FLV).
   Such estimates are off by rounding and by the last frame's duration, so a shortfall is
   recorded only beyond a tolerance of ``1 + 1%`` of the estimate (a cut that loses 2 of
   120 frames passes; one that loses 3 does not).
3. **Nothing declared**: MPEG-TS declares neither count nor duration; FFmpeg estimates the
   duration from the timestamps of the file itself, so a cut TS looks complete. A cut is
   still detected when the file ends inside a transport packet (its size is no multiple of
   188, 192 or 204 bytes: 187 in 188 cut points) or when the demuxer fails; the frame being
   read is then recorded ``"truncated"`` as an **open-ended** record
   (``SkippedFrames.open_ended``): its messages say "at least 1 frames ... and an unknown
   number after them", never a count the file cannot give. A TS cut exactly on a packet
   boundary between frames is undetectable.

MP4 files whose index (``moov``) sits at the end do not open at all once cut (a clear
``ValueError``); with the index first ("faststart") the exact count applies. Damage that
the decoder conceals without flagging (e.g. bytes overwritten inside a JPEG frame of an MJPEG
AVI) cannot be detected by any reader and yields a damaged frame.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..utils.frame_policy import SkippedFrames, apply_policy, check_policy
from ..utils.pixels import to_grey_frame
from ._files import check_count, check_file

__all__ = ["Video", "iter_frames", "read_video", "video_fps"]

# A duration-based estimate may exceed the decodable frames by rounding and the last frame's
# duration: tolerate 1 frame plus 1% of the estimate (module docstring, rule 2).
_ESTIMATE_SLACK_FRAMES = 1
_ESTIMATE_SLACK_FRACTION = 0.01
# MPEG-TS packet sizes: plain, M2TS (4-byte timestamp prefix), with 16-byte Reed-Solomon.
_TS_PACKET_SIZES = (188, 192, 204)
_LOST = "not decoded (truncated or corrupt video)"
_LETTERBOXED = "letterboxed into the stream's first frame size (its resolution changes)"
_HINT = 'pass on_missing="warn" or "ignore" to read the rest'
# warnings point at the caller of read_video / the loop over iter_frames.
_STACKLEVEL = 4


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
        Index in the file of each returned frame (depends on ``start``/``stride``, and skips
        the indices of undecodable frames).
    audio : ndarray of float32 or None
        The sound track when asked for (see :func:`skfer.io.read_audio`), else ``None``.
    sample_rate : int or None
        Sample rate of ``audio``.
    skipped : tuple of SkippedFrames
        Frames of the selection that were left out (``"undecodable"``, ``"truncated"``) or
        letterboxed (``"resized"``); recorded under every ``on_missing`` policy.
    times : ndarray of float
        Time in seconds of each returned frame from the stream's start, from the frames'
        own timestamps (right on variable-frame-rate videos, where ``index / fps`` is not).
    rotation : int
        Degrees (0, 90, 180, 270) the stored frames were turned counter-clockwise to show
        them upright, as the file's display matrix says (a phone video's "rotate" flag).
    mirrored : bool
        Whether the frames were also mirrored left-right (after ``rotation``), as the
        display matrix says.
    """

    frames: np.ndarray
    fps: float
    path: str
    frame_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    audio: np.ndarray | None = None
    sample_rate: int | None = None
    skipped: tuple[SkippedFrames, ...] = ()
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rotation: int = 0
    mirrored: bool = False

    def __len__(self) -> int:
        return len(self.frames)


def _check_args(path: str | os.PathLike, start: int, stride: int, max_frames: int | None,
                on_missing: str = "warn") -> Path:
    path = check_file(path, "video", folder_hint="; use skfer.io.read_frame_folder for "
                      "frame folders")
    if int(start) < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if int(stride) < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    check_count(max_frames, "max_frames")
    check_policy(on_missing)
    return path


def _open_container(path: Path):
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"cannot open video {path} (corrupt, truncated or not a video): {exc}"
        ) from exc
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path} has no video stream")
    return container


def _rate(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else float("nan")


_HMS = re.compile(r"^(\d+):(\d+):(\d+(?:\.\d+)?)$")


def _declared(container, stream) -> tuple[int | None, bool, str]:
    """``(count, exact, how)``: the frame count the file declares (module docstring)."""
    if stream.frames and stream.frames > 0:
        return int(stream.frames), True, "the container's frame index"
    seconds = None
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif (m := _HMS.match(str(stream.metadata.get("DURATION", "")))) is not None:
        seconds = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    elif container.duration:
        seconds = container.duration / 1e6
    rate = _rate(stream)
    if seconds is None or not rate > 0:
        return None, False, "nothing (no frame count, no duration)"
    return int(round(seconds * rate)), False, f"duration {seconds:.3f} s x {rate:.3f} fps"


def _letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Fit ``image`` into ``size`` (height, width): aspect ratio kept, centred on black."""
    h, w = image.shape[:2]
    height, width = size
    scale = min(height / h, width / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    out = np.zeros((height, width) + image.shape[2:], dtype=image.dtype)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top:top + new_h, left:left + new_w] = resized
    return out


def _display_orientation(frame, path: Path, autorotate: bool) -> tuple[int, bool]:
    """``(rotation, mirrored)`` that turn ``frame`` upright, from its display matrix.

    ``rotation`` is counter-clockwise, in degrees (0, 90, 180, 270: FFmpeg's and PyAV's
    convention, ``VideoFrame.rotation``); ``mirrored`` is a left-right flip after it. Together
    they express the 8 orientations a container (MP4/MOV ``tkhd`` matrix, Matroska
    ``ProjectionPoseRoll``) or a codec (H.264 display-orientation SEI) can declare; FFmpeg
    hands all of them over as the frame's ``DISPLAYMATRIX`` side data.

    Raises
    ------
    ValueError
        If the matrix rotates by an angle other than a multiple of 90 degrees: resampling
        the picture would change it, so skfer refuses instead of guessing. (A scale in the
        matrix is not applied: frames keep their stored size.)
    """
    if not autorotate:
        return 0, False
    matrix = next((bytes(sd) for sd in frame.side_data
                   if getattr(sd.type, "name", "") == "DISPLAYMATRIX"), None)
    if matrix is None or len(matrix) < 36:
        return 0, False
    # 16.16 fixed point, native byte order; (x, y) in the picture (y down) is shown at
    # (a x + c y, b x + d y) (libavutil/display.h), translation aside.
    a, b, _, c, d = (v / 65536 for v in np.frombuffer(matrix[:20], dtype=np.int32))
    mirrored = a * d - b * c < 0
    if mirrored:  # undo the left-right flip (it negates the shown x) to leave a rotation
        a, c = -a, -c
    angle = float(np.degrees(-np.arctan2(b, a))) % 360
    rotation = int(round(angle / 90)) % 4 * 90
    if abs(angle - round(angle / 90) * 90) > 0.5:
        raise ValueError(
            f"video {path} declares a display matrix that rotates by {angle:.1f} degrees; "
            "skfer turns frames upright by multiples of 90 degrees only: rotate the file "
            "first (ffmpeg -vf rotate=...), or pass autorotate=False to read the frames as "
            "stored"
        )
    return rotation, bool(mirrored)


def _upright(image: np.ndarray, orientation: tuple[int, bool]) -> np.ndarray:
    """Apply ``(rotation, mirrored)`` of :func:`_display_orientation` to a decoded frame."""
    rotation, mirrored = orientation
    if rotation:
        image = np.rot90(image, k=rotation // 90)  # counter-clockwise
    if mirrored:
        image = image[:, ::-1]
    return np.ascontiguousarray(image) if rotation or mirrored else image


def _mpeg_sequence_size(data: bytes) -> tuple[int, int] | None:
    """``(height, width)`` of the first MPEG-1/2 sequence header in a packet, if any."""
    at = data.find(b"\x00\x00\x01\xb3")
    if at < 0 or len(data) < at + 7:
        return None
    b0, b1, b2 = data[at + 4:at + 7]
    return ((b1 & 0x0F) << 8) | b2, (b0 << 4) | (b1 >> 4)


@dataclass
class _StreamState:
    """What :func:`_decode` learns of a stream besides its frames (for :class:`Video`)."""

    rotation: int = 0
    mirrored: bool = False


class _FrameClock:
    """Each frame's time in seconds from the stream's start.

    The frame's own timestamp is used (variable frame rates are common in phone videos and
    screen recordings, where ``index / fps`` drifts); a frame without one, or whose time does
    not increase (a timestamp discontinuity, e.g. concatenated MPEG-TS segments), is placed
    one frame period after the previous frame. The stream's declared start, else its first
    timestamped frame, is time 0.
    """

    def __init__(self, stream) -> None:
        rate = _rate(stream)
        self.period = 1.0 / rate if rate > 0 else float("nan")
        self.origin = (float(stream.start_time * stream.time_base)
                       if stream.start_time is not None and stream.time_base else None)
        self.last: float | None = None

    def __call__(self, frame) -> float:
        t = frame.time
        if t is not None:
            if self.origin is None:
                self.origin = t
            t -= self.origin
        if t is None or (self.last is not None and not t > self.last):
            t = 0.0 if self.last is None else self.last + self.period
        self.last = float(t)
        return self.last


def _decode(
    path: Path,
    color: bool,
    start: int,
    stride: int,
    max_frames: int | None,
    on_missing: str,
    skipped: list | None,
    autorotate: bool = True,
    state: _StreamState | None = None,
) -> Iterator[tuple[int, np.ndarray, float]]:
    """Yield ``(index in file, frame, time in s)``; record, and apply ``on_missing`` to, lost
    frames. ``state`` receives the orientation the frames were turned upright by."""
    import av

    # Grey frames are converted from RGB by OpenCV, not decoded as FFmpeg's "gray": the two
    # differ by up to one grey level, and a grey stream must give exactly the grey of the
    # colour frames (FaceTubeExtractor.transform_files == transform on decoded clips).
    source = str(path)
    state = _StreamState() if state is None else state
    # Frames the decoder failed on wait in ``pending`` (their reasons) until it accepts a later
    # packet: then they take the next indices and are "undecodable" (placed within the
    # decoder's delay). If the stream ends first and is short, they were the packets the cut
    # went through: part of the "truncated" indices.
    pending: list[str] = []
    bad: list[tuple[int, str]] = []
    resized: list[int] = []
    sizes: dict[tuple[int, int], int] = {}  # displayed frame size -> first index
    orientations: dict[int | None, tuple[int, bool]] = {}  # frame.rotation -> orientation
    slot = n_out = discarded = 0

    def selected(i: int) -> bool:
        return i >= start and (i - start) % stride == 0

    def next_selected(i: int) -> int:
        return i if i <= start else start + -(-(i - start) // stride) * stride

    def check(indices: list[int], reason: str, detail: str,
              open_ended: bool = False) -> SkippedFrames:
        rec = SkippedFrames(indices=indices, reason=reason, source=source, detail=detail,
                            open_ended=open_ended)
        if on_missing == "raise":
            if skipped is not None:
                skipped.append(rec)
            apply_policy([rec], "raise", "", hint=_HINT)
        return rec

    def confirm_pending() -> None:
        nonlocal slot
        for why in pending:
            if selected(slot):
                check([slot], "undecodable", why)  # raises under "raise"
                bad.append((slot, why))
            slot += 1
        pending.clear()

    def full() -> bool:
        return max_frames is not None and n_out >= max_frames

    def orientation(frame) -> tuple[int, bool]:
        # The full matrix (flips too) is read once per distinct rotation angle: reading a
        # frame's side data ties the frame in a reference cycle, which keeps its buffer from
        # the decoder's pool until the garbage collector runs. ``frame.rotation`` is cheap.
        key = getattr(frame, "rotation", None)
        if key not in orientations:
            orientations[key] = _display_orientation(frame, path, autorotate)
        return orientations[key]

    stopped_early, closed, demux_error = False, False, None
    with _open_container(path) as container:
        stream = container.streams.video[0]
        declared, exact, how = _declared(container, stream)
        is_ts = "mpegts" in container.format.name
        # MPEG-1/2 decoders drop the frame they hold back when a sequence header changes the
        # picture size (one frame vanished and every later index was off by one): the decoder
        # is drained before such a packet instead.
        mpeg12 = stream.codec_context.name in ("mpeg1video", "mpeg2video")
        sequence_size = None
        time_of = _FrameClock(stream)
        packets = container.demux(stream)
        try:
            while True:
                if full():
                    stopped_early = True
                    break
                try:
                    packet = next(packets)
                except StopIteration:
                    break
                except av.FFmpegError as exc:
                    demux_error = exc
                    break
                if packet.is_discard:  # e.g. before an MP4 edit list's start: not a frame
                    discarded += 1
                drained = []
                if mpeg12 and packet.size:
                    size = _mpeg_sequence_size(bytes(packet))
                    if size is not None and sequence_size not in (None, size):
                        drained = list(stream.codec_context.decode(None))
                        stream.codec_context.flush_buffers()
                    sequence_size = size or sequence_size
                # A packet the demuxer flags corrupt is still decoded: the flag is raised at
                # harmless discontinuities too (concatenated MPEG-TS); the decoder judges.
                try:
                    decoded, failure = packet.decode(), None
                except av.FFmpegError as exc:
                    decoded, failure = [], exc
                if drained or (failure is None and packet.size):
                    confirm_pending()
                for frame in drained + decoded:
                    if frame.is_corrupt:
                        pending.append(f"the decoder flagged the frame after {slot - 1} corrupt")
                        continue
                    index, slot = slot, slot + 1
                    time = time_of(frame)
                    turn = orientation(frame)
                    if not sizes:  # the stream's first frame sets its orientation and size
                        state.rotation, state.mirrored = turn
                    size = (frame.height, frame.width)
                    size = size[::-1] if turn[0] in (90, 270) else size  # as displayed
                    sizes.setdefault(size, index)
                    if not selected(index) or full():
                        continue
                    image = _upright(frame.to_ndarray(format="rgb24"), turn)
                    if not color:
                        image = to_grey_frame(image)
                    first = next(iter(sizes))
                    if size != first:
                        check([index], "resized", f"frame {index} is {size[0]}x{size[1]}, "
                              f"the first frame {first[0]}x{first[1]}")
                        resized.append(index)
                        image = _letterbox(image, first)
                    n_out += 1
                    try:
                        yield index, image, time
                    except GeneratorExit:  # the caller stopped early: hand over what we have
                        closed = True
                        raise
                if failure is not None:
                    pending.append(f"decoding failed after frame {slot - 1}: {failure}")
        finally:
            if closed:  # by the caller (break): nothing more can be checked
                _finish(_records(source, bad, resized, sizes), on_missing, skipped)
    cut = None
    if not stopped_early:
        room = None if max_frames is None else max_frames - n_out
        if declared is not None:
            expected = declared - discarded if exact else declared
            slack = 0 if exact else (_ESTIMATE_SLACK_FRAMES
                                     + _ESTIMATE_SLACK_FRACTION * declared)
            if slot < expected - slack:
                est = "" if exact else "about "
                # A TS "declares" only what FFmpeg estimates from the cut file itself: the
                # frames after the estimate are unknown too (open-ended).
                cut = (list(range(next_selected(slot), expected, stride)),
                       f"declared {est}{expected} frames ({how}), decoded {slot}", is_ts)
        if cut is None and (demux_error is not None or is_ts):
            size = path.stat().st_size
            if demux_error is not None:
                why = f"the demuxer failed after frame {slot - 1}: {demux_error}"
            elif all(size % n for n in _TS_PACKET_SIZES):
                why = (f"the MPEG-TS file ends inside a transport packet ({size} bytes is no "
                       f"multiple of 188): frame {slot} was cut")
            else:
                why = None
            if why is not None:  # the frame being read is lost, and an unknown number after it
                cut = ([next_selected(slot)], f"{why}; declared {how}, decoded {slot}, "
                       "how many frames followed cannot be known", True)
        if cut is not None:
            indices, detail, open_ended = cut
            if pending:  # the decoder failed on the last packets: the ones the cut went through
                detail = f"{detail}; {pending[-1]}"
                pending.clear()
            indices = indices[:room]
            cut = check(indices, "truncated", detail, open_ended) if indices else None
        confirm_pending()
    records = _records(source, bad, resized, sizes)
    if cut is not None:
        records.append(cut)
    _finish(records, on_missing, skipped)


def _records(source: str, bad: list[tuple[int, str]], resized: list[int],
             sizes: dict[tuple[int, int], int]) -> list[SkippedFrames]:
    """One ``"undecodable"`` and one ``"resized"`` record (where there are such frames)."""
    records = []
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        records.append(SkippedFrames(indices=[i for i, _ in bad], reason="undecodable",
                                     source=source, detail=bad[0][1] + more))
    if resized:
        shown = ", ".join(f"{h}x{w} from frame {i}" for (h, w), i in sizes.items())
        records.append(SkippedFrames(indices=resized, reason="resized", source=source,
                                     detail=f"sizes {shown}; letterboxed"))
    return records


def _finish(records: list[SkippedFrames], on_missing: str, skipped: list | None) -> None:
    """Hand the records over (``skipped``) and warn under ``"warn"`` (one per kind)."""
    if skipped is not None:
        skipped.extend(records)
    apply_policy([r for r in records if r.reason != "resized"], on_missing, _LOST,
                 hint=_HINT, stacklevel=_STACKLEVEL + 1)
    apply_policy([r for r in records if r.reason == "resized"], on_missing, _LETTERBOXED,
                 hint=_HINT, stacklevel=_STACKLEVEL + 1)


def iter_frames(
    path: str | os.PathLike,
    *,
    color: bool = True,
    max_frames: int | None = None,
    start: int = 0,
    stride: int = 1,
    on_missing: str = "warn",
    skipped: list | None = None,
    times: list | None = None,
    orientation: list | None = None,
    autorotate: bool = True,
) -> Iterator[np.ndarray]:
    """Stream the frames of a video one at a time, without holding the video in memory.

    Parameters
    ----------
    path : str or path-like
        Video file in any format FFmpeg (PyAV) reads.
    color : bool, default=True
        ``True`` yields ``(H, W, 3)`` RGB frames, ``False`` yields ``(H, W)`` grey frames.
    max_frames : int, optional
        Stop after yielding this many frames.
    start : int, default=0
        Index of the first frame to yield.
    stride : int, default=1
        Yield every ``stride``-th frame from ``start``.
    on_missing : {"raise", "warn", "ignore"}, default="warn"
        What happens when frames of the selection are undecodable, missing (truncated file)
        or of another size (letterboxed): raise :class:`~skfer.utils.frame_policy.
        SkippedFramesError` at the first one, emit one
        :class:`~skfer.utils.frame_policy.SkippedFramesWarning` when the stream ends (or
        is closed early), or only record (see ``skipped``).
    skipped : list, optional
        When a list is given, the :class:`~skfer.utils.frame_policy.SkippedFrames` records
        of this file are appended to it (``source`` = the file, ``indices`` in the file),
        under every policy: when the stream ends, when it is closed early (``break``), and
        before the error under ``"raise"``. The list is the streaming counterpart of
        :attr:`Video.skipped`.
    times : list, optional
        When a list is given, the time in seconds of each yielded frame is appended to it
        before the frame is yielded (the counterpart of :attr:`Video.times`).
    orientation : list, optional
        When a list is given, ``(rotation, mirrored)`` is appended to it before the first
        frame is yielded: how the frames were turned upright (the counterpart of
        :attr:`Video.rotation` and :attr:`Video.mirrored`).
    autorotate : bool, default=True
        Turn the frames upright as the file's display matrix says (a phone video's
        rotation flag), as players show them. ``False`` yields the frames as stored.

    Yields
    ------
    frame : ndarray of uint8
        Every frame has the size of the stream's first frame as displayed (others are
        letterboxed).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    IsADirectoryError
        If ``path`` is a folder.
    PermissionError
        If the file is not readable.
    ValueError
        If the file is empty or cannot be opened (corrupt, not a video, an MP4 cut before
        its index), has no video stream, declares a rotation that is no multiple of 90
        degrees (with ``autorotate``), or an argument is out of range.
    SkippedFramesError
        Under ``on_missing="raise"``, at the first frame left out or letterboxed, or when
        the stream ends short of the declared count (a ``ValueError``).

    Notes
    -----
    How truncation is detected, and its limits, are in the :mod:`skfer.io.video` docstring.
    Checks that need the end of the file (truncation) do not run when ``max_frames`` stops
    the stream first.
    """
    path = _check_args(path, start, stride, max_frames, on_missing)
    state = _StreamState()
    for k, (_, frame, time) in enumerate(_decode(
            path, bool(color), int(start), int(stride), max_frames, on_missing, skipped,
            bool(autorotate), state)):
        if k == 0 and orientation is not None:
            orientation.append((state.rotation, state.mirrored))
        if times is not None:
            times.append(time)
        yield frame


def video_fps(path: str | os.PathLike) -> float:
    """Frame rate the video container declares (``nan`` where it declares none).

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError, ValueError
        As :func:`iter_frames` for a file that cannot be opened.
    """
    path = _check_args(path, 0, 1, None)
    with _open_container(path) as container:
        return _rate(container.streams.video[0])



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
    on_missing: str = "warn",
    autorotate: bool = True,
) -> Video:
    """Read a video file into memory.

    Parameters
    ----------
    path : str or path-like
        Video file in any format FFmpeg (PyAV) reads.
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
    on_missing : {"raise", "warn", "ignore"}, default="warn"
        What happens when frames are undecodable, missing (truncated file) or of another
        size (letterboxed); see :func:`iter_frames`. The records are in ``video.skipped``
        under every policy.
    autorotate : bool, default=True
        Turn the frames upright as the file's display matrix says (recorded in
        ``video.rotation`` and ``video.mirrored``); ``False`` keeps them as stored.

    Returns
    -------
    video : Video
        ``video.frames`` is the clip; ``video.skipped`` the frames left out or letterboxed.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    IsADirectoryError
        If ``path`` is a folder.
    PermissionError
        If the file is not readable.
    ValueError
        If the file is empty, cannot be opened, yields no frame (naming what the container
        declared), or, with ``audio=True``, has no sound track or one cut short (see
        :func:`skfer.io.read_audio`: a sound track shorter than declared is an error, not a
        record).
    SkippedFramesError
        Under ``on_missing="raise"``, when frames are left out or letterboxed.
    """
    path = _check_args(path, start, stride, max_frames, on_missing)
    records: list[SkippedFrames] = []
    state = _StreamState()
    indexed = list(_decode(path, bool(color), int(start), int(stride), max_frames, on_missing,
                           records, bool(autorotate), state))
    if not indexed:
        lost = "; ".join(str(r) for r in records)
        raise ValueError(
            f"video {path} yielded no frame (start={start}, stride={stride}): "
            + (lost if lost else "the file holds zero frames or fewer than start")
        )
    frames = np.stack([f for _, f, _ in indexed])
    indices = np.array([i for i, _, _ in indexed], dtype=np.intp)
    video = Video(frames=frames, fps=video_fps(path), path=str(path), frame_indices=indices,
                  skipped=tuple(records), times=np.array([t for _, _, t in indexed]),
                  rotation=state.rotation, mirrored=state.mirrored)
    if audio:
        from .audio import read_audio

        video.audio, video.sample_rate = read_audio(path, sample_rate=sample_rate, mono=mono)
    return video
