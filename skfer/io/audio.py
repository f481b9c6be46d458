"""Read the sound track of an audio or video file with PyAV (FFmpeg), resampled."""

from __future__ import annotations

import os

import numpy as np

from ._files import check_file

__all__ = ["read_audio"]


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
    ValueError
        If the file is empty, cannot be opened, has no sound track, its track holds no
        sample, or the decoder fails on it (corrupt sound).

    Notes
    -----
    A sound file cut short is not detected: FFmpeg computes a WAV's duration from the file
    size, not from the header's data size, so the samples that are there are returned.
    """
    import av

    path = check_file(path, "audio/video")
    if sample_rate is not None and int(sample_rate) <= 0:
        raise ValueError(f"sample_rate must be positive or None, got {sample_rate}")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise ValueError(f"cannot open {path} to read its sound: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise ValueError(f"{path} has no audio track")
        stream = container.streams.audio[0]
        rate = int(sample_rate) if sample_rate is not None else int(stream.rate)
        # Planar float output: each decoded chunk is (n_channels, n_samples). Channels are kept
        # and averaged below: FFmpeg's own downmix scales by 1/sqrt(2) and changes the level.
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
        chunks = []
        try:
            for frame in container.decode(stream):
                chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray() for f in resampler.resample(None))  # flush
        except av.FFmpegError as exc:
            raise ValueError(f"sound track of {path} is corrupt or truncated: {exc}") from exc
    if not chunks:
        raise ValueError(f"the audio track of {path} holds no sample")
    samples = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    return (samples.mean(axis=0) if mono else samples.T.copy()), rate
