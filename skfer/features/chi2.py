"""A χ² kernel that works inside ``SVC`` and cross-validation: a precomputed-kernel step.

EmoNets' motion bag-of-words (Kahou et al., 2015, section 3.3) classifies word histograms
with an SVM and a χ² kernel. scikit-learn has the kernel
(:func:`sklearn.metrics.pairwise.chi2_kernel`) but ``SVC(kernel=chi2_kernel)`` cannot take
its ``gamma`` as a searchable parameter, and ``SVC(kernel="precomputed")`` needs the kernel
between the samples being predicted and the *training* samples of the current fold.
:class:`Chi2KernelTransformer` computes exactly that inside a ``Pipeline``: ``fit`` keeps the
fold's training histograms, ``transform`` returns the kernel against them, so
``Pipeline([("k", Chi2KernelTransformer()), ("svm", SVC(kernel="precomputed"))])`` is
cross-validation-safe (no test histogram ever enters the training kernel) and its ``gamma``
is tuned with ``k__gamma``.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.metrics.pairwise import additive_chi2_kernel, chi2_kernel
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._sklearn import Interval, StrOptions, _fit_context

__all__ = ["Chi2KernelTransformer"]


class Chi2KernelTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Exponential χ² kernel against the training histograms, for ``SVC(kernel="precomputed")``.

    ``k(x, y) = exp(-gamma * sum_i (x_i - y_i)**2 / (x_i + y_i))``, a term with
    ``x_i + y_i = 0`` counting 0 (:func:`sklearn.metrics.pairwise.chi2_kernel`).

    Parameters
    ----------
    gamma : float > 0 or "mean", default=1.0
        Kernel width. ``"mean"``: ``1 / mean`` χ² distance between the training histograms
        (Zhang et al., 2007), learnt by ``fit`` from the training fold only.

    Attributes
    ----------
    X_fit_ : ndarray of shape (n_train, n_features)
        The training histograms: the columns of every kernel ``transform`` returns.
    gamma_ : float
        The gamma used (``gamma``, or the learnt value for ``"mean"``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame.

    Raises
    ------
    ValueError
        Negative values (a χ² kernel compares histograms), NaN or infinite values.

    Notes
    -----
    ``fit_transform(X)`` is the ``(n_train, n_train)`` Gram matrix ``SVC.fit`` needs;
    ``transform(X_test)`` is the ``(n_test, n_train)`` matrix ``SVC.predict`` needs. The
    transformer stores its training set, as ``SVC`` stores its support vectors.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import SVC
    >>> X = np.array([[0.5, 0.5, 0.0], [0.4, 0.6, 0.0], [0.0, 0.1, 0.9], [0.1, 0.0, 0.9]])
    >>> model = make_pipeline(Chi2KernelTransformer(), SVC(kernel="precomputed"))
    >>> model.fit(X, [0, 0, 1, 1]).predict([[0.0, 0.2, 0.8]]).tolist()
    [1]
    """

    _parameter_constraints: dict = {
        "gamma": [Interval(numbers.Real, 0, None, closed="neither"), StrOptions({"mean"})],
    }

    def __init__(self, *, gamma: float | str = 1.0) -> None:
        self.gamma = gamma

    def _check_histograms(self, X, *, reset: bool) -> np.ndarray:
        X = validate_data(self, X, reset=reset, dtype=np.float64)
        if (X < 0).any():
            row, col = np.argwhere(X < 0)[0]
            raise ValueError(
                f"Negative values in data: X[{row}, {col}] < 0; the chi2 kernel "
                "compares histograms (non-negative values)"
            )
        # scikit-learn's Cython chi2 kernels reject read-only buffers (e.g. joblib memmaps).
        return np.require(X, requirements=["C", "W"])

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Store the training histograms (and learn ``gamma_`` for ``gamma="mean"``).

        Parameters
        ----------
        X : array-like of shape (n_train, n_features), non-negative
        y : ignored

        Returns
        -------
        self
        """
        X = self._check_histograms(X, reset=True)
        self.X_fit_ = X.copy()
        if self.gamma == "mean":
            # additive_chi2_kernel is minus the chi2 distance.
            dist = -additive_chi2_kernel(X)
            off = dist[~np.eye(len(X), dtype=bool)]
            mean = off.mean() if off.size else 0.0
            self.gamma_ = 1.0 / mean if mean > 0 else 1.0  # identical histograms: any gamma
        else:
            self.gamma_ = float(self.gamma)
        return self

    def transform(self, X) -> np.ndarray:
        """The kernel between ``X`` and the training histograms.

        Parameters
        ----------
        X : array-like of shape (n, n_features), non-negative

        Returns
        -------
        K : ndarray of shape (n, n_train)
        """
        check_is_fitted(self, "X_fit_")
        X = self._check_histograms(X, reset=False)
        # A copy only when X_fit_ is read-only (an estimator loaded from a joblib memmap).
        fit = np.require(self.X_fit_, requirements=["C", "W"])
        return chi2_kernel(X, fit, gamma=self.gamma_)

    @property
    def _n_features_out(self) -> int:
        return self.X_fit_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.requires_fit = True
        return tags
