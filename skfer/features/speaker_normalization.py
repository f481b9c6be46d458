"""Per-speaker standardisation of audio features: the field's speaker normalisation.

Speaker-independent speech emotion recognition is dominated by who speaks: a voice's pitch,
loudness and timbre move every feature more than most emotions do. The field's standard
remedy (Schuller et al., 2009, "Acoustic emotion recognition: a benchmark comparison of
performances"; Busso et al., 2011) standardises each speaker's features by that speaker's
own mean and standard deviation, computed from the speaker's utterances *without their
labels*. :class:`SpeakerNormalizer` does that as a pipeline step; the speaker of every clip
travels with it as the ``speaker`` companion of a :class:`~skfer.ClipSet`
(``ClipSet.from_bunch(load_emodb(...))`` carries it), so splits and pipelines never separate
a clip from its speaker. :class:`SpeakerKFold` is the matching inner cross-validation: folds
of whole speakers, read from the same companion, for a ``GridSearchCV`` that must choose its
hyper-parameters speaker-independently.

It is **transductive**: a test speaker is standardised with statistics of that speaker's own
test utterances, so the model needs several utterances of a new speaker before it can
classify any (``min_clips``). The plain, inductive alternative is a
:class:`~sklearn.preprocessing.StandardScaler` fitted on the training speakers only;
``docs/benchmarks.md`` ("Speech emotion on Emo-DB") reports both.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.model_selection import GroupKFold
from sklearn.utils.validation import check_is_fitted

from ..clipset import ClipSet
from ..utils._sklearn import HasMethods, Interval, _fit_context
from .audio import SoundTrackTransformerMixin

__all__ = ["SpeakerKFold", "SpeakerNormalizer", "clip_speakers"]

#: Standard deviations below this are a constant feature within the speaker: centred only.
_MIN_STD = 1e-8


def clip_speakers(X: Any, groups: Any = None, *, what: str = "X") -> np.ndarray:
    """The speaker of every clip of ``X``: ``groups`` if given, else its ``speaker`` companion.

    Parameters
    ----------
    X : ClipSet or sequence
        Clips; a :class:`~skfer.ClipSet` with a ``speaker`` companion when ``groups`` is None.
    groups : array-like of shape (n_clips,), default=None
        Explicit speaker ids (a splitter's ``groups``).
    what : str, default="X"
        How messages name ``X``.

    Returns
    -------
    speakers : ndarray of shape (n_clips,), dtype object

    Raises
    ------
    ValueError
        No speakers (a plain list or array, or a ClipSet without ``speaker``), a clip whose
        speaker is unknown (``None``), or ``groups`` of another length than ``X``.
    """
    if groups is not None:
        speakers = np.asarray(groups, dtype=object)
        if speakers.shape != (len(X),):
            raise ValueError(f"groups has shape {speakers.shape}; {what} has {len(X)} clips")
        return speakers
    speakers = X.get("speaker") if isinstance(X, ClipSet) else None
    if speakers is None:
        raise ValueError(
            f"{what} must carry each clip's speaker: give a ClipSet with a 'speaker' "
            "companion, e.g. ClipSet(tracks, speaker=ids) or ClipSet.from_bunch("
            "load_emodb(path)); got "
            + (f"{X!r}" if isinstance(X, ClipSet) else f"a {type(X).__name__}")
        )
    unknown = [i for i, s in enumerate(speakers) if s is None]
    if unknown:
        raise ValueError(f"clips {unknown[:10]} of {what} have no speaker (None)")
    return np.asarray(speakers, dtype=object)


class SpeakerNormalizer(SoundTrackTransformerMixin, TransformerMixin, BaseEstimator):
    """Standardise every speaker's features by that speaker's own statistics (transductive).

    For every speaker ``s`` among the clips of ``X``, each feature ``f`` of the speaker's
    clips becomes ``(f - mean_s) / std_s``, the mean and standard deviation over the
    speaker's clips in ``X`` (over their frames, for sequences). Labels are never used.

    Parameters
    ----------
    features : transformer or None, default=None
        The feature step whose output is normalised, e.g.
        ``AudioFeatures(pooling=["mean", "std", "min", "max"])`` or
        :class:`~skfer.features.OpenSmileFeatures`: fitted (cloned, without the labels) on
        ``X`` in :meth:`fit`, applied in :meth:`transform`; the speakers are read from ``X``
        itself. ``None``: the clips of ``X`` are the features already (vectors or sequences).
    with_mean : bool, default=True
        Subtract each speaker's mean.
    with_std : bool, default=True
        Divide by each speaker's standard deviation (a feature constant within a speaker is
        only centred).
    min_clips : int, default=2
        Fewest clips of one speaker that :meth:`transform` standardises: statistics of a
        single utterance are no estimate (every pooled feature would become 0). A speaker
        with fewer clips in ``X`` raises a ``ValueError`` naming it.

    Attributes
    ----------
    features_ : transformer or None
        The fitted clone of ``features``.
    n_features_out_ : int
        Values per clip (pooled input) or per frame (sequences).

    Notes
    -----
    ``X`` is a :class:`~skfer.ClipSet` with a ``speaker`` companion (str or int per clip):
    what ``features`` reads (sound tracks), or with ``features=None`` the features
    themselves: 1-D vectors (one per clip) or ``(T_i, F)`` sequences. The output is a matrix
    ``(n_clips, F)`` for vectors, and for sequences the sequences in ``features``' container
    (a ClipSet keeping the per-clip companions), for a frame model such as
    :class:`~skfer.neural.audio_dbn.AudioDBNClassifier`.

    **Transductive.** :meth:`transform` computes every speaker's statistics from that
    speaker's clips in the ``X`` it is given, the test speaker's unlabelled utterances at
    test time, as the speaker-independent emotion literature does; nothing about the
    training speakers is kept (they are standardised by their own statistics in ``fit``'s
    data, by :meth:`fit_transform` or the pipeline), so a clip's output depends only on its
    own speaker's clips in the batch, never on the other speakers there, nor on any label.
    Passing a speaker's utterances in several batches standardises each batch by its own
    statistics. The inductive alternative is a ``StandardScaler`` fitted on the training
    speakers (the plain pipeline).

    Where skfer departs from the literature: Schuller et al. standardise the functionals
    of each speaker; with ``features`` producing sequences this standardises every frame by
    the speaker's frame statistics instead (cepstral mean and variance normalisation per
    speaker), which is what a frame model takes.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer import ClipSet
    >>> X = ClipSet([np.array([1.0]), np.array([3.0]), np.array([10.0]), np.array([30.0])],
    ...             speaker=["a", "a", "b", "b"])
    >>> SpeakerNormalizer().fit_transform(X).ravel().tolist()
    [-1.0, 1.0, -1.0, 1.0]
    """

    _parameter_constraints: dict = {
        "features": [HasMethods(["fit", "transform"]), None],
        "with_mean": ["boolean"],
        "with_std": ["boolean"],
        "min_clips": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        features: Any = None,
        *,
        with_mean: bool = True,
        with_std: bool = True,
        min_clips: int = 2,
    ) -> None:
        self.features = features
        self.with_mean = with_mean
        self.with_std = with_std
        self.min_clips = min_clips

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit ``features`` on ``X`` (without ``y``) and record the feature width.

        Parameters
        ----------
        X : ClipSet with a ``speaker`` companion
        y : ignored
            Never used, nor passed to ``features``: the normalisation sees no label.

        Returns
        -------
        self
        """
        self._fit_transform(X)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """:meth:`fit`, then :meth:`transform` of the same ``X`` (features computed once)."""
        self._validate_params()
        return self._fit_transform(X)

    def _fit_transform(self, X):
        speakers = clip_speakers(X)
        self.features_ = None if self.features is None else clone(self.features)
        Z = X if self.features_ is None else self.features_.fit_transform(X)
        values, kind = self._values(Z, len(speakers))
        self.n_features_out_ = values[0].shape[-1]
        return self._normalise(Z, values, kind, speakers)

    def transform(self, X):
        """Standardise every speaker's clips of ``X`` by that speaker's statistics in ``X``.

        Parameters
        ----------
        X : ClipSet with a ``speaker`` companion

        Returns
        -------
        ndarray of shape ``(n_clips, n_features_out_)``, or sequences
            A matrix for one vector per clip; ``(T_i, F)`` sequences in their container
            otherwise.
        """
        check_is_fitted(self, "n_features_out_")
        speakers = clip_speakers(X)
        Z = X if self.features_ is None else self.features_.transform(X)
        values, kind = self._values(Z, len(speakers))
        if values[0].shape[-1] != self.n_features_out_:
            raise ValueError(
                f"X has {values[0].shape[-1]} features per "
                f"{'clip' if kind == 'vectors' else 'frame'}, but SpeakerNormalizer was "
                f"fitted with {self.n_features_out_}"
            )
        return self._normalise(Z, values, kind, speakers)

    # ------------------------------------------------------------------------ helpers
    @staticmethod
    def _values(Z: Any, n: int) -> tuple[list[np.ndarray], str]:
        """Every clip's features as float arrays, and their kind: vectors or sequences."""
        if isinstance(Z, np.ndarray) and Z.dtype != object and Z.ndim == 2:
            items = list(Z)
        elif isinstance(Z, (ClipSet, list, tuple)) or (
                isinstance(Z, np.ndarray) and Z.ndim in (1, 3)):
            items = list(Z)
        else:
            raise TypeError(
                "the features must be one vector or one (T, F) sequence per clip, got "
                f"{type(Z).__name__}"
            )
        if len(items) != n:
            raise ValueError(f"the features have {len(items)} clips, X has {n}")
        values, ndims = [], set()
        for i, item in enumerate(items):
            a = np.asarray(item)
            if a.dtype == object or not np.issubdtype(a.dtype, np.number) or a.dtype == bool:
                raise TypeError(f"clip {i}: features must be numeric, got dtype {a.dtype}")
            if a.ndim not in (1, 2) or a.shape[-1] == 0 or (a.ndim == 2 and len(a) == 0):
                raise ValueError(
                    f"clip {i}: features must be a vector (F,) or a sequence (T, F) with "
                    f"T, F >= 1, got shape {a.shape}"
                )
            if not np.isfinite(a).all():
                raise ValueError(f"clip {i}: NaN or infinite feature value")
            values.append(a.astype(np.float64))
            ndims.add(a.ndim)
        if len(ndims) > 1:
            raise ValueError("the clips mix vectors (F,) and sequences (T, F)")
        widths = {a.shape[-1] for a in values}
        if len(widths) > 1:
            raise ValueError(f"the clips have different feature widths {sorted(widths)}")
        return values, "vectors" if ndims == {1} else "sequences"

    def _normalise(self, Z: Any, values: list[np.ndarray], kind: str,
                   speakers: np.ndarray) -> Any:
        out = list(values)
        for speaker in dict.fromkeys(speakers.tolist()):  # first-seen order, any id type
            idx = [i for i, s in enumerate(speakers.tolist()) if s == speaker]
            if len(idx) < self.min_clips:
                raise ValueError(
                    f"speaker {speaker!r} has {len(idx)} clip(s) in X (clips {idx}); "
                    f"speaker normalisation needs at least min_clips={self.min_clips} of "
                    "each speaker's utterances to estimate the speaker's statistics"
                )
            frames = np.concatenate([np.atleast_2d(values[i]) for i in idx])
            mean = frames.mean(axis=0) if self.with_mean else 0.0
            std = frames.std(axis=0) if self.with_std else np.ones(frames.shape[1])
            std = np.where(std < _MIN_STD, 1.0, std)
            for i in idx:
                out[i] = (values[i] - mean) / std
        if kind == "vectors":
            return np.stack(out)
        if isinstance(Z, ClipSet):
            return Z.replace(data=out)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The names of ``features`` (normalised values keep their names), or x0, x1..."""
        check_is_fitted(self, "n_features_out_")
        if self.features_ is not None and hasattr(self.features_, "get_feature_names_out"):
            return self.features_.get_feature_names_out()
        return np.asarray([f"x{i}" for i in range(self.n_features_out_)], dtype=object)


class SpeakerKFold(GroupKFold):
    """:class:`~sklearn.model_selection.GroupKFold` over speakers read from ``X`` itself.

    The inner cross-validation of a ``GridSearchCV`` around a speaker-normalised pipeline:
    each fold holds out whole speakers, taken from ``groups`` when the caller passes them and
    otherwise from the ``speaker`` companion of the :class:`~skfer.ClipSet` ``X``, so that a
    search nested inside ``cross_validate`` (which passes no ``groups`` to ``fit``) still
    chooses its hyper-parameters on held-out speakers.

    Parameters
    ----------
    n_splits : int, default=5
        Folds; at most the number of speakers.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer import ClipSet
    >>> X = ClipSet([np.zeros(2)] * 4, speaker=["a", "a", "b", "c"])
    >>> [test.tolist() for _, test in SpeakerKFold(n_splits=3).split(X)]
    [[0, 1], [3], [2]]
    """

    def __init__(self, n_splits: int = 5) -> None:
        super().__init__(n_splits=n_splits)

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Train and test indices of each fold (see the class docstring for the speakers)."""
        speakers = clip_speakers(X, groups)
        return super().split(np.zeros((len(speakers), 1)), y, speakers.astype(str))

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits
