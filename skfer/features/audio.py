"""Frame-level audio features of a clip's sound track: MFCC, their deltas, spectral descriptors.

EmoNets (Kahou et al., 2015, section 3.2.1) describes the sound of a clip with frame-level
features: MFCC (22 cepstral coefficients) with their first and second temporal derivatives
and the spectral descriptors of the Yaafe toolbox (centroid, flux, roll-off, zero-crossing
rate, energy and the like). :class:`AudioFeatures` computes them as a ``(T, F)`` sequence per
clip, for the audio network of a later issue, or pooled to one vector per clip (``pooling=``)
for scikit-learn classifiers.

Library choice: **librosa** (``pip install 'skfer[audio]'``). It is the well-kept reference
for these features in Python (MFCC, deltas, centroid, bandwidth, roll-off, flatness,
zero-crossing rate, RMS energy, resampling through soxr), installs from wheels without any
CUDA build, and its MFCC agrees with python_speech_features (checked in
``tests/test_audio_features.py``). Its cost is numba and llvmlite (about 210 MB installed,
1-2 s of import and first-call compilation), so it is an optional extra rather than a core
dependency: skfer imports it only when audio features are computed. python_speech_features
was the alternative: pure NumPy and light, but unmaintained since 2017 and limited to
MFCC/filter banks (no spectral descriptors, no resampling); skfer's tests use it as the
independent reference implementation. Yaafe, the paper's library, is not on the package index.
Sound tracks are decoded by :func:`skfer.io.read_audio` (PyAV), as the loaders do.
"""

from __future__ import annotations

import numbers
import os
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..base import same_container
from ..clipset import PER_FRAME_COMPANIONS, ClipSet
from ..io.audio import read_audio
from ..utils._sklearn import Interval, _fit_context

__all__ = ["SPECTRAL_DESCRIPTORS", "AudioFeatures", "audio_feature_names", "audio_frame_features"]

#: Spectral descriptors after the MFCC and their deltas, in column order.
SPECTRAL_DESCRIPTORS = ("centroid", "bandwidth", "rolloff", "flatness", "flux", "zcr", "rms")

#: Peak amplitude below which a track counts as silent (a warning names such clips).
_SILENCE_PEAK = 1e-4

#: Largest peak accepted from float samples, which are read on the [-1, 1] scale. Float
#: recordings exceed 1 a little (overs, resampling), never by 18 dB; integer PCM cast to
#: float without scaling exceeds 8 as soon as it is louder than -72 dBFS (int16).
_FLOAT_PEAK_LIMIT = 8.0

_POOLING = ("mean", "std", "min", "max")


def _librosa():
    try:
        import librosa
    except ImportError as exc:  # an optional dependency
        raise ImportError(
            "audio features need librosa: pip install 'skfer[audio]' (or librosa)"
        ) from exc
    return librosa


def audio_feature_names(n_mfcc: int = 22, spectral: bool = True) -> list[str]:
    """Names of the columns of :func:`audio_frame_features`.

    Examples
    --------
    >>> audio_feature_names(2, spectral=False)
    ['mfcc_0', 'mfcc_1', 'mfcc_delta_0', 'mfcc_delta_1', 'mfcc_delta2_0', 'mfcc_delta2_1']
    """
    names = [f"{kind}_{i}" for kind in ("mfcc", "mfcc_delta", "mfcc_delta2")
             for i in range(n_mfcc)]
    return names + (list(SPECTRAL_DESCRIPTORS) if spectral else [])


def audio_frame_features(
    y: np.ndarray,
    sample_rate: int,
    *,
    n_mfcc: int = 22,
    n_mels: int = 40,
    window: float = 0.025,
    hop: float = 0.010,
    delta_width: int = 9,
    spectral: bool = True,
) -> np.ndarray:
    """Frame-level features of one mono waveform.

    Frames of ``window`` seconds every ``hop`` seconds (Hann window, centred: frame ``t``
    is centred on sample ``t * hop``, the signal zero-padded at both ends), FFT size the next
    power of two. Columns (see :func:`audio_feature_names`): ``n_mfcc`` MFCC of a
    ``n_mels``-band mel power spectrum in dB (no per-clip clipping), their first and second
    derivatives (Savitzky-Golay over ``delta_width`` frames, edges repeated so short clips
    work), then, with ``spectral``: spectral centroid, bandwidth and 85% roll-off (Hz),
    flatness, flux (Euclidean distance between consecutive unit-norm magnitude spectra, 0 on
    the first frame), zero-crossing rate (per sample) and RMS energy.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
    sample_rate : int
    n_mfcc, n_mels, window, hop, delta_width, spectral
        As in :class:`AudioFeatures`.

    Returns
    -------
    ndarray of shape (1 + n_samples // hop_samples, 3 * n_mfcc [+ 7]), float64
    """
    librosa = _librosa()
    y = np.asarray(y, dtype=np.float32)
    win = max(int(round(window * sample_rate)), 2)
    step = max(int(round(hop * sample_rate)), 1)
    n_fft = 1 << (win - 1).bit_length()
    mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=step, win_length=win, center=True))
    mel = librosa.feature.melspectrogram(
        S=mag**2, sr=sample_rate, n_mels=n_mels, htk=True, norm=None
    )
    db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    mfcc = librosa.feature.mfcc(S=db, n_mfcc=n_mfcc)
    cols = [
        mfcc,
        librosa.feature.delta(mfcc, width=delta_width, order=1, mode="nearest"),
        librosa.feature.delta(mfcc, width=delta_width, order=2, mode="nearest"),
    ]
    if spectral:
        unit = mag / np.maximum(np.linalg.norm(mag, axis=0, keepdims=True), 1e-12)
        flux = np.concatenate([[0.0], np.linalg.norm(np.diff(unit, axis=1), axis=0)])
        cols += [
            librosa.feature.spectral_centroid(S=mag, sr=sample_rate, n_fft=n_fft),
            librosa.feature.spectral_bandwidth(S=mag, sr=sample_rate, n_fft=n_fft),
            librosa.feature.spectral_rolloff(S=mag, sr=sample_rate, n_fft=n_fft),
            librosa.feature.spectral_flatness(S=mag),
            flux[None],
            librosa.feature.zero_crossing_rate(y, frame_length=win, hop_length=step),
            librosa.feature.rms(y=y, frame_length=win, hop_length=step),
        ]
    return np.concatenate(cols, axis=0).T.astype(np.float64)


def _pcm_to_float(y: np.ndarray, where: str) -> np.ndarray:
    """float32 samples on the [-1, 1] scale from float or integer PCM samples.

    Integer samples are PCM, whose scale their dtype says (the WAV convention, also
    librosa's ``util.buf_to_float`` and soundfile's): signed ``b``-bit samples are divided
    by ``2 ** (b - 1)`` (int16: 32768), unsigned 8-bit samples are centred on 128 first.
    Other unsigned and 64-bit integers are no PCM format and are refused.
    """
    if np.issubdtype(y.dtype, np.floating):
        return y.astype(np.float32)
    if y.dtype in (np.int8, np.int16, np.int32):
        return (y / float(2 ** (8 * y.dtype.itemsize - 1))).astype(np.float32)
    if y.dtype == np.uint8:
        return ((y.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    raise TypeError(
        f"{where}: audio samples of dtype {y.dtype} are no PCM format skfer knows; give "
        "float samples in [-1, 1], or int8/int16/int32/uint8 PCM"
    )


class SoundTrackTransformerMixin:
    """Tags of the steps that take one sound track (or its features) per clip.

    The clips are 1-D waveforms, files or a ClipSet with an ``audio`` companion, never a
    2-D feature matrix, so scikit-learn's array checks do not apply; the steps are fitted
    (they record their output columns) before they transform.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.requires_fit = True
        return tags


def features_of_tracks(tracks, features) -> list[np.ndarray]:
    """``features(y, where)`` of every ``(y, where)`` track, warning once about silent ones.

    A silent track (peak below ``_SILENCE_PEAK``) is not an error: its features are those of
    silence, and one ``UserWarning`` lists the clips, so nothing passes unnoticed.
    """
    out, silent = [], []
    for i, (y, where) in enumerate(tracks):
        if np.abs(y).max() < _SILENCE_PEAK:
            silent.append(i)
        out.append(features(y, where))
    if silent:
        warnings.warn(
            f"clips {silent} have a silent sound track (peak amplitude below "
            f"{_SILENCE_PEAK:g}): their features are those of silence",
            UserWarning,
            stacklevel=3,
        )
    return out


def sequences_like(X: Any, sequences: list[np.ndarray]) -> Any:
    """Per-frame sequences in ``X``'s container: a ClipSet (per-clip companions kept) or a list."""
    if isinstance(X, ClipSet):
        return same_container(X, sequences, **dict.fromkeys(PER_FRAME_COMPANIONS))
    return sequences


class AudioFeatures(SoundTrackTransformerMixin, TransformerMixin, BaseEstimator):
    """MFCC, deltas and spectral descriptors of every clip's sound track (EmoNets 3.2.1).

    Parameters
    ----------
    sample_rate : int, default=16000
        Rate (Hz) the features are computed at. Plain waveforms are taken to be at this
        rate; the tracks of a ClipSet are resampled to it from their ``sample_rate``
        companion (librosa's soxr resampler) and files are decoded at it.
    n_mfcc : int, default=22
        Cepstral coefficients (the paper's 22).
    n_mels : int, default=40
        Mel bands the cepstrum is computed from.
    window : float, default=0.025
        Analysis window in seconds (25 ms).
    hop : float, default=0.010
        Step between frames in seconds (10 ms: 100 feature frames per second).
    delta_width : int, default=9
        Frames the first and second derivatives are fitted over (odd, >= 3).
    spectral : bool, default=True
        Add the spectral descriptors (:data:`SPECTRAL_DESCRIPTORS`) after the MFCC.
    pooling : list of {"mean", "std", "min", "max"} or None, default=None
        ``None``: one ``(T_i, F)`` sequence per clip. Otherwise each clip's frames are pooled
        with these statistics, concatenated in the order given: an ``(n, F * len(pooling))``
        matrix for scikit-learn classifiers (e.g. ``["mean", "std"]``).

    Attributes
    ----------
    n_features_out_ : int
        Values per frame (``F``), times ``len(pooling)`` when pooling.
    feature_names_ : list of str
        Name of each output column (``"mean_mfcc_0"`` ... when pooling).

    Notes
    -----
    ``X`` is one of

    * a :class:`~skfer.ClipSet` with an ``audio`` companion (and ``sample_rate``; without it
      the tracks are taken to be at ``sample_rate``), e.g. ``ClipSet.from_bunch(
      load_sample_videos())``. The output is a ClipSet of the feature sequences keeping the
      per-clip companions; the per-frame ones (landmarks, boxes, status, frame_ids) count
      video frames, not audio frames, so they are dropped;
    * a list of mono waveforms ``(n_samples,)`` at ``sample_rate``, or a 2-D array of
      equal-length waveforms (one per row); the output is a list;
    * a list of audio or video file names, decoded with :func:`skfer.io.read_audio`.

    Bad input: a clip without sound (no ``audio`` companion, an entry ``None``, a video file
    with no audio track), an empty track, a track shorter than one ``window``, NaN or
    infinite samples raise a ``ValueError`` naming the clip and, when known, its file.
    Integer samples are PCM and scaled by their dtype (int16: ``v / 32768``; uint8:
    ``(v - 128) / 128``; int8, int32 alike); other integer dtypes (uint16, int64) are refused.
    Float samples are read on the [-1, 1] scale; a float track peaking above 8 (integer PCM
    cast to float without scaling) is refused with a ``ValueError``. A
    silent track (peak below 1e-4) gives the features of silence (finite: the mel powers
    are floored at 1e-10, i.e. -100 dB) with a ``UserWarning`` naming the clips. No NaN
    leaves the transformer.

    Where skfer departs from the paper: the paper used Yaafe's 29 features at 48 kHz and
    reduced them by online PCA to 909 values per time scale; skfer computes librosa's MFCC
    (with deltas) and seven spectral descriptors at 16 kHz by default and leaves any
    reduction (``PCA``) to the pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> tone = np.sin(2 * np.pi * 440 * np.arange(8000) / 16000).astype(np.float32)
    >>> [s.shape for s in AudioFeatures().fit_transform([tone])]  # doctest: +SKIP
    [(51, 73)]
    """

    _parameter_constraints: dict = {
        "sample_rate": [Interval(numbers.Integral, 1000, None, closed="left")],
        "n_mfcc": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_mels": [Interval(numbers.Integral, 1, None, closed="left")],
        "window": [Interval(numbers.Real, 0, 1, closed="right")],
        "hop": [Interval(numbers.Real, 0, 1, closed="right")],
        "delta_width": [Interval(numbers.Integral, 3, None, closed="left")],
        "spectral": ["boolean"],
        "pooling": [list, tuple, None],
    }

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        n_mfcc: int = 22,
        n_mels: int = 40,
        window: float = 0.025,
        hop: float = 0.010,
        delta_width: int = 9,
        spectral: bool = True,
        pooling: list[str] | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.window = window
        self.hop = hop
        self.delta_width = delta_width
        self.spectral = spectral
        self.pooling = pooling

    def _check_param_relations(self) -> None:
        if self.delta_width % 2 == 0:
            raise ValueError(f"delta_width must be odd, got {self.delta_width}")
        if self.n_mfcc > self.n_mels:
            raise ValueError(
                f"n_mfcc={self.n_mfcc} cannot exceed n_mels={self.n_mels} (the cepstrum of "
                f"{self.n_mels} bands has {self.n_mels} coefficients)"
            )
        if self.pooling is not None:
            bad = [p for p in self.pooling if p not in _POOLING]
            if bad or not self.pooling or len(set(self.pooling)) != len(self.pooling):
                raise ValueError(
                    f"pooling must be None or distinct statistics among {_POOLING}, got "
                    f"{self.pooling!r}"
                )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and name the output columns; nothing is learnt.

        Parameters
        ----------
        X : ignored
            The tracks are read by :meth:`transform` only (no need to decode them twice).
        y : ignored

        Returns
        -------
        self
        """
        self._check_param_relations()
        names = audio_feature_names(self.n_mfcc, self.spectral)
        if self.pooling is not None:
            names = [f"{stat}_{name}" for stat in self.pooling for name in names]
        self.feature_names_ = names
        self.n_features_out_ = len(names)
        return self

    # ----------------------------------------------------------------------- reading
    def _tracks(self, X: Any) -> list[tuple[np.ndarray, int, str | None]]:
        """``(waveform, rate, file)`` of every clip of ``X``, validated."""
        if isinstance(X, ClipSet):
            audio = X.get("audio")
            sources = X.get("source") or [None] * len(X)
            if audio is None:
                raise ValueError(
                    "X is a ClipSet without an 'audio' companion: load the clips with their "
                    "sound (e.g. ClipSet.from_bunch(load_sample_videos(audio=True)))"
                )
            rates = X.get("sample_rate") or [self.sample_rate] * len(X)
            items = list(zip(audio, rates, sources))
        elif isinstance(X, np.ndarray) and X.dtype != object and X.dtype.kind not in "US":
            if X.ndim != 2:
                raise ValueError(
                    f"an array X must hold one waveform per row (n_clips, n_samples), got "
                    f"shape {X.shape}"
                )
            items = [(row, self.sample_rate, None) for row in X]
        elif isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.ndim == 1):
            items = []
            for x in X:
                if isinstance(x, (str, os.PathLike)):
                    items.append((x, self.sample_rate, str(x)))
                else:
                    items.append((x, self.sample_rate, None))
        else:
            raise TypeError(
                "X must be a ClipSet with audio, a list of waveforms or files, or a 2-D array "
                f"of waveforms; got {type(X).__name__}"
            )
        if not items:
            raise ValueError("X is empty: at least one sound track is needed")
        return [self._track(i, *item) for i, item in enumerate(items)]

    def _track(self, i: int, x: Any, rate: Any, source: str | None):
        where = f"clip {i}" + (f" ({source})" if source else "")
        if isinstance(x, (str, os.PathLike)):
            try:
                x, rate = read_audio(x, sample_rate=self.sample_rate)
            except (ValueError, FileNotFoundError) as exc:
                raise ValueError(f"clip {i}: {exc}") from exc
        if x is None:
            raise ValueError(f"{where}: no audio track")
        y = np.asarray(x)
        if y.dtype == object or not np.issubdtype(y.dtype, np.number):
            raise TypeError(f"{where}: audio samples must be numeric, got dtype {y.dtype}")
        if y.ndim != 1:
            raise ValueError(
                f"{where}: expected a mono waveform of shape (n_samples,), got shape {y.shape}"
            )
        if y.size == 0:
            raise ValueError(f"{where}: the audio track is empty (zero samples)")
        y = _pcm_to_float(y, where)
        if not np.isfinite(y).all():
            raise ValueError(
                f"{where}: NaN or infinite audio sample at index {np.argmin(np.isfinite(y))}"
            )
        peak = float(np.abs(y).max())
        if peak > _FLOAT_PEAK_LIMIT:
            raise ValueError(
                f"{where}: float audio samples are read on the [-1, 1] scale, but this track "
                f"peaks at {peak:g}: integer PCM converted to float without scaling? Pass "
                "the integer array itself (int16 is read as v / 32768), or divide by 32768 "
                "for 16-bit samples"
            )
        if isinstance(rate, bool) or not isinstance(rate, numbers.Integral) or rate <= 0:
            raise ValueError(f"{where}: sample_rate must be a positive int, got {rate!r}")
        if rate != self.sample_rate:
            y = _librosa().resample(y, orig_sr=int(rate), target_sr=self.sample_rate)
        need = int(round(self.window * self.sample_rate))
        if len(y) < need:
            raise ValueError(
                f"{where}: the audio track has {len(y)} samples at {self.sample_rate} Hz, "
                f"shorter than one {self.window * 1000:g} ms analysis window ({need} samples)"
            )
        return y, where

    # --------------------------------------------------------------------- transform
    def transform(self, X):
        """Features of every clip's sound track.

        Parameters
        ----------
        X : ClipSet with ``audio``, list of waveforms or files, or ndarray (n, n_samples)

        Returns
        -------
        sequences or matrix
            ``pooling=None``: a ``(T_i, n_features_out_)`` sequence per clip, in ``X``'s
            container (a ClipSet for a ClipSet, else a list). Otherwise an ndarray
            ``(n_clips, n_features_out_)``.
        """
        check_is_fitted(self, "n_features_out_")
        self._validate_params()
        self._check_param_relations()
        def features(y: np.ndarray, where: str) -> np.ndarray:
            feats = audio_frame_features(
                y, self.sample_rate, n_mfcc=self.n_mfcc, n_mels=self.n_mels,
                window=self.window, hop=self.hop, delta_width=self.delta_width,
                spectral=self.spectral,
            )
            if not np.isfinite(feats).all():  # a guard: validated input never gets here
                raise ValueError(f"{where}: non-finite audio features")
            return feats

        seqs = features_of_tracks(self._tracks(X), features)
        if self.pooling is not None:
            stats = {"mean": np.mean, "std": np.std, "min": np.min, "max": np.max}
            return np.stack([
                np.concatenate([stats[p](s, axis=0) for p in self.pooling]) for s in seqs
            ])
        return sequences_like(X, seqs)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output column names (see ``feature_names_``)."""
        check_is_fitted(self, "feature_names_")
        return np.asarray(self.feature_names_, dtype=object)
