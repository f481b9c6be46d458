"""Read the sound track of an audio or video file with PyAV (FFmpeg), resampled."""

from __future__ import annotations

import numbers
import os
import struct
from pathlib import Path

import numpy as np

from ._files import check_file

__all__ = ["read_audio"]

# A declared duration (not an exact sample count) may exceed the decoded samples by the
# codec's padding and rounding: tolerate one decoded frame of samples plus 1%.
_DURATION_SLACK_FRACTION = 0.01
# WAV data sizes that streaming writers leave in the header when they cannot seek back.
_WAV_SIZE_PLACEHOLDERS = (0, 0xFFFFFFFF)


def read_audio(
    path: str | os.PathLike,
    *,
    sample_rate: int | None = 16000,
    mono: bool = True,
) -> tuple[np.ndarray, int]:
    """Decode the first sound track of a file to float32 samples.

    Parameters
    ----------
    path : str or path-like
        Audio file or video file with a sound track (any format FFmpeg reads).
    sample_rate : int or None, default=16000
        Resample to this rate in Hz; ``None`` keeps the track's own rate.
    mono : bool, default=True
        Mix all channels down to one (their mean).

    Returns
    -------
    samples : ndarray of float32
        ``(n_samples,)`` when mono, else ``(n_samples, n_channels)``, in ``[-1, 1]``.
    sample_rate : int
        The rate of ``samples``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    IsADirectoryError
        If ``path`` is a folder.
    PermissionError
        If the file is not readable.
    TypeError
        If ``sample_rate`` is not an integer or None.
    ValueError
        If the file is empty, cannot be opened, has no sound track, its track holds no
        sample, the decoder fails on it (corrupt sound), or it holds fewer samples than it
        declares (a file cut short), or if ``sample_rate`` is not positive.

    Notes
    -----
    A sound track is one signal: features of a shortened track are silently different, so
    a track shorter than declared is refused (naming the file, both lengths and where the
    declaration comes from) rather than returned. The declared length is

    * for WAV, the header's ``data`` chunk size (FFmpeg computes a WAV's duration from the
      file size, which hides the cut), exact; a placeholder size (0 or 0xFFFFFFFF, left by
      a writer that could not seek back) declares nothing;
    * otherwise the stream's declared duration (AIFF's sample count, FLAC's STREAMINFO,
      an MP4 or Matroska index), with a tolerance of one codec frame plus 1% for codec
      padding.

    Formats that declare no length (raw PCM, MP3 without a Xing header, whose duration
    FFmpeg estimates from the file size) cannot be checked.
    """
    import av

    path = check_file(path, "audio/video")
    sample_rate = _check_rate(sample_rate)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise ValueError(f"cannot open {path} to read its sound: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise ValueError(f"{path} has no audio track")
        stream = container.streams.audio[0]
        rate = sample_rate if sample_rate is not None else int(stream.rate)
        declared = _declared_samples(container, stream, path)
        # Planar float output: each decoded chunk is (n_channels, n_samples). Channels are kept
        # and averaged below: FFmpeg's own downmix scales by 1/sqrt(2) and changes the level.
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
        chunks = []
        decoded = longest = 0  # samples at the file's own rate; the largest decoded frame
        try:
            for frame in container.decode(stream):
                decoded += frame.samples
                longest = max(longest, frame.samples)
                chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray() for f in resampler.resample(None))  # flush
        except av.FFmpegError as exc:
            raise ValueError(f"sound track of {path} is corrupt or truncated: {exc}") from exc
        file_rate = int(stream.rate)
    if not chunks:
        raise ValueError(f"the audio track of {path} holds no sample")
    if declared is not None:
        count, exact, how = declared
        slack = 0 if exact else longest + _DURATION_SLACK_FRACTION * count
        if decoded < count - slack:
            raise ValueError(
                f"the sound track of {path} is cut short: it declares {count} samples "
                f"({count / file_rate:.3f} s at {file_rate} Hz; {how}), the file holds {decoded} "
                f"({decoded / file_rate:.3f} s); {(count - decoded) / file_rate:.3f} s are "
                "missing (a truncated copy?)"
            )
    samples = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    return (samples.mean(axis=0) if mono else samples.T.copy()), rate


def _check_rate(sample_rate: object) -> int | None:
    """``sample_rate`` as a positive int, or None; a clear error naming it otherwise."""
    if sample_rate is None:
        return None
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral):
        raise TypeError(f"sample_rate must be a positive integer (Hz) or None, got "
                        f"{type(sample_rate).__name__} {sample_rate!r}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive or None, got {sample_rate}")
    return int(sample_rate)


def _declared_samples(container, stream, path: Path) -> tuple[int, bool, str] | None:
    """``(samples at the file's rate, exact, where from)`` the file declares, or None."""
    if container.format.name == "wav":
        return _wav_declared_samples(path)
    if stream.duration and stream.time_base and stream.rate:
        seconds = float(stream.duration * stream.time_base)
        return int(round(seconds * stream.rate)), False, "the stream's declared duration"
    return None


def _wav_declared_samples(path: Path) -> tuple[int, bool, str] | None:
    """Sample frames a RIFF/WAVE header's ``data`` chunk declares (None: a placeholder)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None  # RF64/BW64 (64-bit sizes) or not RIFF: no 32-bit size to trust
        block_align = None
        while True:
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"data":
                if size in _WAV_SIZE_PLACEHOLDERS or not block_align:
                    return None
                return size // block_align, True, "the WAV header's data size"
            body = fh.read(min(size, 64)) if name == b"fmt " else b""
            if name == b"fmt " and len(body) >= 14:
                block_align = struct.unpack("<H", body[12:14])[0]  # bytes per sample frame
            fh.seek(size + (size & 1) - len(body), os.SEEK_CUR)  # chunks are word-aligned
