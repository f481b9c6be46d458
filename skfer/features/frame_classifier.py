"""Clip classification from per-frame features: a frame classifier averaged over each clip.

EmoNets' bag-of-mouths model (Kahou et al., 2015, section 3.4) trains "a regularized logistic
regression classifier ... on a frame-by-frame basis" and, for a test video, averages "the
predictions of the model ... over all its frames". :class:`FrameLevelClassifier` is that
recipe for any frame classifier and any per-frame features (bag of mouths, HOG, LBP, pixels),
while keeping scikit-learn's one-sample-per-clip contract: ``fit(X, y)`` and ``predict(X)``
take one sequence and one label per clip, so it cross-validates by clip (and by subject with
``GroupKFold``) like any classifier.

It lives in :mod:`skfer.features` beside the per-frame feature steps whose output it consumes
(the ConvNet-free pipelines are ``features step -> FrameLevelClassifier``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ..base import SequenceTransformerMixin
from ..clipset import ClipSet
from ..preprocessing.temporal import _validate_sequences
from ..utils._sklearn import HasMethods, StrOptions, _fit_context
from ..utils.validation import check_labels

__all__ = ["FrameLevelClassifier"]


class FrameLevelClassifier(
    SequenceTransformerMixin, ClassifierMixin, MetaEstimatorMixin, BaseEstimator
):
    """Train a classifier on frames labelled with their clip's label; average per clip.

    ``fit`` stacks the frames of every clip's feature sequence, gives each frame its clip's
    label and fits a clone of ``estimator`` on them. ``predict_proba`` of a clip is the mean
    of its frames' class probabilities, ``predict`` the class of highest mean probability.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``, default=None
        The frame classifier. ``None``: the paper's regularised logistic regression,
        ``LogisticRegression(C=1.0, max_iter=1000)``; tune ``C`` with
        ``estimator__C`` in a search.
    weighting : {"frame", "clip"}, default="frame"
        ``"frame"``: every training frame counts once (the paper), so long clips weigh
        more; ``"clip"``: frame weights ``1 / T_i`` make every clip count equally (passed
        as ``sample_weight``, which the estimator must accept).

    Attributes
    ----------
    estimator_ : classifier
        The fitted frame classifier.
    classes_ : ndarray
        Class labels.
    n_features_in_ : int
        Features per frame.
    n_frames_fit_ : int
        Training frames.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (one-frame clips).

    Notes
    -----
    ``X`` is a list of ``(T_i, F)`` sequences, a :class:`~skfer.ClipSet` of them, a 3-D
    array ``(n, T, F)`` or a 2-D array ``(n, F)`` of one-frame clips (then this is the
    estimator itself). With a ClipSet carrying a frame ``status``, frames marked
    ``"missing"`` are left out of training and of a clip's average; a clip whose frames are
    all missing uses all of them, with a ``UserWarning`` naming the clips.

    Examples
    --------
    >>> import numpy as np
    >>> X = [np.array([[0.0], [0.2]]), np.array([[1.0], [0.8], [0.9]]),
    ...      np.array([[0.1]]), np.array([[1.1], [0.7]])]
    >>> clf = FrameLevelClassifier().fit(X, ["calm", "loud", "calm", "loud"])
    >>> clf.predict([np.array([[0.05], [0.15]])]).tolist()
    ['calm']
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "weighting": [StrOptions({"frame", "clip"})],
    }

    def __init__(self, estimator: Any = None, *, weighting: str = "frame") -> None:
        self.estimator = estimator
        self.weighting = weighting

    def _frames(self, X: Any, *, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        """All usable frames stacked ``(N, F)`` and the clip index of each frame ``(N,)``."""
        seqs = _validate_sequences(self, X.data if isinstance(X, ClipSet) else X, reset=reset)
        masks = [
            X.usable_frames(i) if isinstance(X, ClipSet) else np.ones(len(s), bool)
            for i, s in enumerate(seqs)
        ]
        empty = [i for i, m in enumerate(masks) if not m.any()]
        if empty:
            warnings.warn(
                f"clips {empty} have no usable frame (all 'missing'); all their frames are "
                "used instead",
                UserWarning,
                stacklevel=3,
            )
            for i in empty:
                masks[i] = np.ones(len(seqs[i]), bool)
        frames = np.concatenate([s[m] for s, m in zip(seqs, masks)])
        owner = np.concatenate([np.full(m.sum(), i) for i, m in enumerate(masks)])
        return frames, owner

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the frame classifier on every frame, labelled with its clip's label.

        Parameters
        ----------
        X : list of (T_i, F) arrays, ClipSet, ndarray (n, T, F) or (n, F)
        y : array-like of shape (n_clips,)

        Returns
        -------
        self
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        y = check_labels(y)
        frames, owner = self._frames(X, reset=True)
        n_clips = owner[-1] + 1 if len(owner) else 0
        if len(y) != n_clips:
            raise ValueError(f"X has {n_clips} clips but y has {len(y)} labels")
        est = LogisticRegression(max_iter=1000) if self.estimator is None else self.estimator
        self.estimator_ = clone(est)
        if self.weighting == "clip":
            weight = 1.0 / np.bincount(owner)[owner]
            self.estimator_.fit(frames, y[owner], sample_weight=weight)
        else:
            self.estimator_.fit(frames, y[owner])
        self.classes_ = self.estimator_.classes_
        self.n_frames_fit_ = len(frames)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Mean frame probabilities of every clip.

        Parameters
        ----------
        X : list of (T_i, F) arrays, ClipSet, ndarray (n, T, F) or (n, F)

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
        """
        check_is_fitted(self, "estimator_")
        frames, owner = self._frames(X, reset=False)
        proba = self.estimator_.predict_proba(frames)
        sums = np.zeros((owner[-1] + 1, proba.shape[1]))
        np.add.at(sums, owner, proba)
        return sums / np.bincount(owner)[:, None]

    def predict(self, X) -> np.ndarray:
        """Class of highest mean frame probability for every clip.

        Parameters
        ----------
        X : list of (T_i, F) arrays, ClipSet, ndarray (n, T, F) or (n, F)

        Returns
        -------
        y : ndarray of shape (n_clips,)
        """
        check_is_fitted(self, "estimator_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
