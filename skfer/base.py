"""Base classes shared by skfer's estimators.

skfer estimators follow scikit-learn's conventions (parameters stored unchanged in
``__init__``, fitted attributes with a trailing underscore, ``__sklearn_tags__``). What
differs is the input: many steps take a *list of clips* (see ``docs/data_model.md``), not a
2-D feature matrix. :class:`ClipTransformerMixin` declares that in the estimator tags, so
that scikit-learn's tabular checks are not run on them and skfer's own clip checks
(:mod:`skfer.utils.estimator_checks`) are run instead.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .clipset import ClipSet
from .utils._sklearn import _fit_context
from .utils.validation import check_clips

__all__ = [
    "ClipTransformerMixin",
    "SequenceTransformerMixin",
    "StatelessClipTransformer",
    "same_container",
]


class ClipTransformerMixin:
    """Mixin for estimators whose ``X`` is a collection of clips (image sequences).

    Place it before :class:`sklearn.base.BaseEstimator` in the bases. The tags declare that
    ``X`` is not a 2-D feature matrix (``two_d_array=False``) but image stacks
    (``three_d_array=True``), which is what makes scikit-learn skip its tabular checks;
    the clip checks in :mod:`skfer.utils.estimator_checks` take their place.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


class SequenceTransformerMixin:
    """Mixin for estimators whose ``X`` is a collection of per-frame vector sequences.

    A 2-D array ``(n, F)`` is a valid input (``n`` sequences of one frame), so these
    estimators keep ``two_d_array=True`` and run scikit-learn's full check suite.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


class StatelessClipTransformer(
    ClipTransformerMixin, TransformerMixin, BaseEstimator, metaclass=ABCMeta
):
    """Base of clip-to-clip transformers that learn nothing (illumination, mouth crops).

    ``fit`` validates the parameters (``_parameter_constraints``, through
    :func:`sklearn.base._fit_context`, then :meth:`_check_param_relations` for checks across
    parameters) and the clips, and marks the estimator fitted (``fitted_``) so that an
    unfitted ``transform`` fails like any scikit-learn estimator. Subclasses implement
    ``transform`` and start it with :meth:`_check_ready`, which validates the parameters
    again (they may have been set after ``fit``) without changing the estimator. Abstract:
    not an estimator of its own.
    """

    _parameter_constraints: dict = {}

    def _check_param_relations(self) -> None:
        """Checks across parameters that constraints cannot express (raise ValueError)."""

    def _check_ready(self) -> None:
        """For ``transform``: fitted, and the parameters (set after fit or not) valid."""
        check_is_fitted(self, "fitted_")
        self._validate_params()
        self._check_param_relations()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and the clips; nothing is learnt from the data.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`
        y : ignored

        Returns
        -------
        self
        """
        self._check_param_relations()
        check_clips(X)
        self.fitted_ = True
        return self

    @abstractmethod
    def transform(self, X):
        """Transform every clip; the output keeps ``X``'s container kind."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags


def same_container(X_in: Any, clips: list[np.ndarray], **companions: Any) -> Any:
    """Return ``clips`` in the container kind of ``X_in``.

    * a :class:`~skfer.ClipSet` stays a ClipSet: ``X_in.replace(data=clips, **companions)``
      keeps its companions (a step that moves pixels or frames passes the updated ones, or
      ``name=None`` to drop one);
    * an ndarray stays an ndarray when the shapes allow (an ``(n, T, H, W)`` array stays an
      array; ``(n, 1, H, W[, 3])`` from still images goes back to ``(n, H, W[, 3])``);
    * anything else becomes a list. A step that produces companions from a plain input
      returns a ClipSet carrying them: ``same_container(X, clips, status=...)``.
    """
    if isinstance(X_in, ClipSet):
        return X_in.replace(data=list(clips), **companions)
    produced = {k: v for k, v in companions.items() if v is not None}
    if produced:
        return ClipSet(list(clips), **produced)
    if isinstance(X_in, np.ndarray) and X_in.dtype != object:
        shapes = {c.shape for c in clips}
        if len(shapes) == 1:
            out = np.stack(clips)
            # (n, 1, H, W[, 3]) came from (n, H, W[, 3]) still images: give them back so.
            if X_in.ndim in (3, 4) and out.ndim == X_in.ndim + 1 and out.shape[1] == 1:
                out = out[:, 0]
            return out
    return list(clips)
