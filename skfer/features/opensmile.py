"""openSMILE's standard acoustic feature sets (eGeMAPS, ComParE) of every clip's sound track.

The speech-emotion literature compares classifiers on a few standard feature sets computed
by openSMILE (Eyben et al., 2010): the extended Geneva Minimalistic Acoustic Parameter Set
(eGeMAPS, 88 functionals of pitch, loudness, jitter, shimmer, formants, spectral balance and
MFCC; Eyben et al., 2016) and the ComParE 2016 set (6,373 functionals of 65 low-level
descriptors; Schuller et al., 2016). :class:`OpenSmileFeatures` computes them through
audEERING's ``opensmile`` package (``pip install 'skfer[opensmile]'``), whose wheel bundles
the openSMILE library and runs offline. It takes sound tracks as
:class:`~skfer.features.AudioFeatures` does, with the same checks and errors.

The ``opensmile`` package is distributed under audEERING's research license (free for
research and education; commercial use needs a license from audEERING), which is why it is
an optional extra that skfer imports only when these features are computed.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..utils._sklearn import Interval, StrOptions, _fit_context
from .audio import AudioFeatures, SoundTrackTransformerMixin, features_of_tracks, sequences_like

__all__ = ["OPENSMILE_FEATURE_SETS", "OpenSmileFeatures"]

#: Feature sets of the ``opensmile`` package (``opensmile.FeatureSet`` names).
OPENSMILE_FEATURE_SETS = (
    "eGeMAPSv02", "eGeMAPSv01b", "GeMAPSv01b", "ComParE_2016", "emobase",
)

_LEVELS = {"functionals": "Functionals", "lld": "LowLevelDescriptors",
           "lld_deltas": "LowLevelDescriptors_Deltas"}


def _opensmile():
    try:
        import opensmile
    except ImportError as exc:  # an optional dependency
        raise ImportError(
            "openSMILE features need the opensmile package: pip install 'skfer[opensmile]' "
            "(or opensmile; audEERING's research license applies)"
        ) from exc
    return opensmile


class OpenSmileFeatures(SoundTrackTransformerMixin, TransformerMixin, BaseEstimator):
    """openSMILE's eGeMAPS, ComParE and other standard sets of every clip's sound track.

    Parameters
    ----------
    feature_set : str, default="eGeMAPSv02"
        One of :data:`OPENSMILE_FEATURE_SETS`: ``"eGeMAPSv02"`` (88 functionals),
        ``"ComParE_2016"`` (6,373), ``"GeMAPSv01b"`` (62), ``"emobase"`` (988)...
    feature_level : {"functionals", "lld", "lld_deltas"}, default="functionals"
        ``"functionals"``: one vector per clip, an ndarray ``(n_clips, F)`` for
        scikit-learn classifiers. ``"lld"`` (low-level descriptors, 10 ms frames) and
        ``"lld_deltas"`` (their deltas, for the sets that define them): one ``(T_i, F)``
        sequence per clip, as ``AudioFeatures(pooling=None)`` gives them.
    sample_rate : int, default=16000
        Rate (Hz) the tracks are given to openSMILE at: plain waveforms are taken to be at
        this rate, the tracks of a ClipSet are resampled to it from their ``sample_rate``
        companion (with librosa's soxr resampler, as ``AudioFeatures``: ``skfer[audio]``;
        tracks already at this rate need no librosa), files are decoded at it.

    Attributes
    ----------
    feature_names_ : list of str
        openSMILE's name of every output column.
    n_features_out_ : int

    Notes
    -----
    ``X`` is what :class:`~skfer.features.AudioFeatures` takes: a :class:`~skfer.ClipSet`
    with an ``audio`` companion (the output sequences keep its per-clip companions, such
    as ``speaker``), a list of mono waveforms or of audio/video files, or a 2-D array of
    equal-length waveforms. Bad input (no sound track, an empty or too short track, NaN
    samples, unscaled integer PCM as floats) raises the same ``ValueError`` naming the
    clip; a silent track gives openSMILE's features of silence with a ``UserWarning``; a
    non-finite openSMILE output raises a ``ValueError`` naming the clip (nothing is dropped
    or filled silently).

    The configurations are openSMILE's own, unchanged: eGeMAPS and ComParE are defined for
    any sample rate; skfer's 16 kHz default is Emo-DB's and the CREMA-D/RAVDESS
    resampling's.

    Examples
    --------
    >>> import numpy as np
    >>> tone = 0.1 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)
    >>> OpenSmileFeatures().fit_transform([tone]).shape  # doctest: +SKIP
    (1, 88)
    """

    _parameter_constraints: dict = {
        "feature_set": [StrOptions(set(OPENSMILE_FEATURE_SETS))],
        "feature_level": [StrOptions(set(_LEVELS))],
        "sample_rate": [Interval(numbers.Integral, 1000, None, closed="left")],
    }

    def __init__(self, feature_set: str = "eGeMAPSv02", *, feature_level: str = "functionals",
                 sample_rate: int = 16000) -> None:
        self.feature_set = feature_set
        self.feature_level = feature_level
        self.sample_rate = sample_rate

    def _smile(self):
        opensmile = _opensmile()
        return opensmile.Smile(
            feature_set=getattr(opensmile.FeatureSet, self.feature_set),
            feature_level=getattr(opensmile.FeatureLevel, _LEVELS[self.feature_level]),
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check that openSMILE runs and name the output columns; nothing is learnt.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self
        """
        names = list(self._smile().feature_names)
        self.feature_names_ = names
        self.n_features_out_ = len(names)
        return self

    def transform(self, X):
        """openSMILE's features of every clip's sound track.

        Parameters
        ----------
        X : ClipSet with ``audio``, list of waveforms or files, or ndarray (n, n_samples)

        Returns
        -------
        ndarray of shape ``(n_clips, n_features_out_)``, or sequences
            Functionals: a matrix. Low-level descriptors: a ``(T_i, n_features_out_)``
            sequence per clip in ``X``'s container (a ClipSet for a ClipSet, else a list).
        """
        check_is_fitted(self, "n_features_out_")
        self._validate_params()
        smile = self._smile()
        # AudioFeatures' reader: the same containers, decoding, resampling and errors. A
        # 25 ms track is the shortest openSMILE's 20-60 ms analysis windows can frame.
        reader = AudioFeatures(sample_rate=self.sample_rate, window=0.06)

        def features(y: np.ndarray, where: str) -> np.ndarray:
            values = smile.process_signal(y, self.sample_rate).to_numpy(dtype=np.float64)
            if len(values) == 0:
                raise ValueError(f"{where}: openSMILE gave no frame for this track")
            if not np.isfinite(values).all():
                raise ValueError(f"{where}: openSMILE gave non-finite features")
            return values[0] if self.feature_level == "functionals" else values

        out = features_of_tracks(reader._tracks(X), features)
        if self.feature_level == "functionals":
            return np.stack(out)
        return sequences_like(X, out)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """openSMILE's column names (see ``feature_names_``)."""
        check_is_fitted(self, "feature_names_")
        return np.asarray(self.feature_names_, dtype=object)
