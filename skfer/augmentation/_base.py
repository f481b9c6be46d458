"""Plumbing shared by skfer's augmenters: imbalanced-learn samplers over non-tabular X.

imbalanced-learn runs a sampler's ``fit_resample`` inside :class:`imblearn.pipeline.Pipeline`
during ``fit`` only, never in ``predict``: exactly when training-data augmentation must
happen. Its :class:`~imblearn.base.BaseSampler` validates ``X`` as a 2-D matrix and converts
the output back to the input's container (``list`` via ``.tolist()``), which fails on lists
of clips or landmark sequences; :class:`BaseAugmenter` replaces those two steps and keeps
the rest (``_sampling_type``, tags, ``fit``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
from imblearn.base import BaseSampler
from imblearn.utils import check_sampling_strategy, check_target_type
from sklearn.preprocessing import label_binarize
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets

from ..utils._sklearn import _fit_context

__all__ = ["BaseAugmenter"]


class BaseAugmenter(BaseSampler):
    """Base class of samplers that add transformed copies of every sample.

    Subclasses declare ``_parameter_constraints`` (checked by ``fit`` and ``fit_resample``)
    and implement ``_validate_X(X) -> (samples, restore)``, which returns the samples as a
    list and a function turning a list of output samples back into the input's container,
    and ``_augment(sample, rng) -> list`` of the copies of one sample (the original first).
    A sample is whatever ``_validate_X`` makes it (a clip, a landmark sequence, a clip with
    its companions).

    Attributes set by ``fit_resample``
    ----------------------------------
    sample_indices_ : ndarray of int
        For each output sample, the index of the input sample it was made from, to align
        per-sample metadata (e.g. ``groups[sample_indices_]``).
    n_augmentations_ : int
        Output samples per input sample.
    """

    # "bypass": class counts are not balanced, every class is multiplied alike.
    _sampling_type = "bypass"

    @abstractmethod
    def _validate_X(self, X: Any) -> tuple[list, Callable[[list], Any]]:
        """Samples of ``X`` as a list, and the function restoring ``X``'s container."""

    @abstractmethod
    def _augment(self, sample: np.ndarray, rng: np.random.RandomState) -> list:
        """The copies of one sample, the original first."""

    def _rng(self) -> np.random.RandomState:
        # Deterministic augmenters have no random_state parameter.
        return check_random_state(getattr(self, "random_state", None))

    def _check_X_y(self, X, y, accept_sparse=None):
        samples, restore = self._validate_X(X)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)
        # Like imbalanced-learn's samplers: labels or a one-vs-all indicator matrix.
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if len(y) != len(samples):
            raise ValueError(f"X has {len(samples)} samples but y has {len(y)} labels")
        check_classification_targets(y)
        return (samples, restore), y, binarize_y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, **params):
        """Validate ``X`` and ``y``; augmentation happens in :meth:`fit_resample`.

        Parameters
        ----------
        X : see the class's ``X`` notes
        y : array-like of shape (n_samples,)
            At least two classes, as for every imbalanced-learn sampler.

        Returns
        -------
        self
        """
        _, y, _ = self._check_X_y(X, y)
        self.sampling_strategy_ = check_sampling_strategy("auto", y, self._sampling_type)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y, **params):
        """Return the augmented data set: every sample followed by its transformed copies.

        Parameters
        ----------
        X : see the class's ``X`` notes
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels, or a one-vs-all indicator matrix (returned in the same encoding). At
            least two classes, as for every imbalanced-learn sampler.

        Returns
        -------
        X_res : same container kind as ``X``
            ``n_samples * n_augmentations_`` samples, sample-major: the copies of sample 0
            first (the original first among them), then those of sample 1, ...
        y_res : ndarray of shape (n_samples * n_augmentations_,)
        """
        (samples, restore), y_checked, binarize_y = self._check_X_y(X, y)
        self.sampling_strategy_ = check_sampling_strategy(
            "auto", y_checked, self._sampling_type
        )
        X_res, y_res = self._fit_resample((samples, restore), y_checked)
        if binarize_y:
            y_res = label_binarize(y_res, classes=np.unique(y_checked))
        if isinstance(y, list):  # give y back in its container, as imbalanced-learn does
            y_res = y_res.tolist()
        return X_res, y_res

    def _fit_resample(self, X, y, **params):
        samples, restore = X
        rng = self._rng()
        out, index = [], []
        for i, sample in enumerate(samples):
            copies = self._augment(sample, rng)
            out.extend(copies)
            index.extend([i] * len(copies))
        self.sample_indices_ = np.asarray(index, dtype=np.intp)
        self.n_augmentations_ = len(out) // len(samples)
        return restore(out), np.asarray(y)[self.sample_indices_]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.sample_indices = True
        tags.input_tags.sparse = False
        tags.input_tags.dataframe = False
        return tags
