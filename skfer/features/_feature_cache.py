"""Per-clip features computed once and shared by every clone of a model (named audio models).

A hyper-parameter search around a pipeline that starts with a feature step (as the named
audio models' ``GridSearchCV``, which must wrap the speaker normaliser so that its inner
folds can read the speakers) recomputes the features of every clip in every inner fold and
for every candidate: ComParE's 6,373 functionals cost about 40 ms of CPU a clip, so a
10-fold evaluation would extract each Emo-DB utterance about 100 times. The feature steps
learn nothing from the data, so a clip's features are the same every time;
:class:`_CachedFeatures` keeps them in memory, keyed by the feature step's parameters and the
clip's content, in a store that its clones share (``__sklearn_clone__``), so that the
clones made by ``cross_validate`` and ``GridSearchCV`` compute each clip once.
"""

from __future__ import annotations

from typing import Any

import joblib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..clipset import PER_CLIP_COMPANIONS, ClipSet
from ..utils._sklearn import _clone_parametrized

__all__: list[str] = []


class _CachedFeatures(TransformerMixin, BaseEstimator):
    """``features``' one vector per clip, computed once per distinct clip and kept in memory.

    Parameters
    ----------
    features : transformer
        A step that learns nothing from the data and returns one vector per clip
        (``AudioFeatures(pooling=...)``, ``OpenSmileFeatures()``).

    Notes
    -----
    The store is shared with every clone (``sklearn.base.clone`` calls
    ``__sklearn_clone__``), is not pickled (a saved model carries no cached features), and is
    keyed by ``joblib.hash`` of the feature step's parameters and of each clip with its
    per-clip companions (sound track, sample rate, source), so another clip, track or
    parameter is computed afresh.
    """

    def __init__(self, features: Any) -> None:
        self.features = features

    def __sklearn_clone__(self):
        new = _clone_parametrized(self)
        new._store = self._shared_store()
        return new

    def _shared_store(self) -> dict:
        store = self.__dict__.get("_store")
        if store is None:
            store = self.__dict__["_store"] = {}
        return store

    def __getstate__(self):
        # A copy: object.__getstate__ may return the live __dict__, whose store must stay.
        state = dict(super().__getstate__())
        state.pop("_store", None)
        return state

    def fit(self, X, y=None):
        """Fit a clone of ``features`` on ``X`` (without ``y``: it learns nothing)."""
        self.features_ = clone(self.features).fit(X)
        return self

    def transform(self, X) -> np.ndarray:
        """The features of every clip, from the store where computed before."""
        check_is_fitted(self, "features_")
        store = self._shared_store()
        params = joblib.hash(self.features_.get_params(deep=True))
        keys = [(params, self._clip_hash(X, i)) for i in range(len(X))]
        # The first clip of every key not in the store: one computation per distinct clip.
        first: dict = {}
        for i, k in enumerate(keys):
            if k not in store:
                first.setdefault(k, i)
        if first:
            todo = list(first.values())
            out = self.features_.transform(_subset(X, todo))
            if not (isinstance(out, np.ndarray) and out.ndim == 2 and len(out) == len(todo)):
                raise TypeError("_CachedFeatures caches steps that return one vector per clip "
                                f"(an (n, F) matrix); {type(self.features_).__name__} did not")
            for i, row in zip(todo, out):
                store[keys[i]] = row
        return np.stack([store[k] for k in keys])

    @staticmethod
    def _clip_hash(X: Any, i: int) -> str:
        if isinstance(X, ClipSet):
            extra = {name: X.companions[name][i] for name in PER_CLIP_COMPANIONS
                     if name in X.companions and name != "speaker"}
            return joblib.hash((X.data[i], extra))
        return joblib.hash(X[i])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "features_")
        return self.features_.get_feature_names_out()


def _subset(X: Any, indices: list[int]) -> Any:
    if isinstance(X, (ClipSet, np.ndarray)):
        return X[indices]
    return [X[i] for i in indices]
