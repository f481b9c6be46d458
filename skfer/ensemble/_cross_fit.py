"""Cross-fitted (out-of-fold) member probabilities shared by skfer's ensembles.

Both combiners of the EmoNets paper (Kahou et al., sections 4.2-4.4) learn on predictions of
samples the members did not see: the paper's "swapped predictions" (section 4.4.1) are the
2-fold case; :func:`cross_fit_proba` generalises them to any (group) k-fold.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, check_cv, cross_val_predict
from sklearn.utils import get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

__all__ = ["check_members", "cross_fit_proba", "make_splits"]

#: Tolerance on ``sum(predict_proba) == 1`` per row.
PROBA_ATOL = 1e-6


def check_members(estimators) -> tuple[list[str], list]:
    """Validate a ``[(name, estimator), ...]`` member list.

    Returns
    -------
    names, estimators : list of str, list of estimators

    Raises
    ------
    ValueError
        If the list is empty, not made of ``(name, estimator)`` pairs, has duplicated names,
        or a member has no ``predict_proba``.
    """
    if estimators is None or len(estimators) == 0:
        raise ValueError("estimators must be a non-empty list of (name, estimator) pairs.")
    names, ests = [], []
    for i, pair in enumerate(estimators):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ValueError(f"estimators[{i}] must be a (name, estimator) tuple, got {pair!r}.")
        name, est = pair
        if not hasattr(est, "predict_proba"):
            raise ValueError(
                f"Member {name!r} (estimators[{i}]) has no predict_proba: the ensemble combines "
                "class probabilities (wrap it, e.g. in CalibratedClassifierCV)."
            )
        names.append(name)
        ests.append(est)
    if len(set(names)) != len(names):
        raise ValueError(f"Member names must be unique, got {names}.")
    return names, ests


def _check_target(y) -> np.ndarray:
    """1-D classification target (a column vector is raveled with a warning)."""
    if y is None:
        raise ValueError("The ensemble requires y to be passed, but the target y is None.")
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    return y


def _member_tags(ensemble, tags):
    """An ensemble accepts sparse / NaN input only when every member does (X goes to all)."""
    members = [est for _, est in (ensemble.estimators or [])]
    if members:
        member_tags = [get_tags(est).input_tags for est in members]
        tags.input_tags.sparse = all(t.sparse for t in member_tags)
        tags.input_tags.allow_nan = all(t.allow_nan for t in member_tags)
    return tags


def make_splits(cv, X, y, groups=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Materialise the folds once so that every member sees the same splits.

    An integer ``cv`` means :class:`~sklearn.model_selection.GroupKFold` when ``groups`` is
    given (subject-independent folds) and :class:`~sklearn.model_selection.StratifiedKFold`
    otherwise; ``cv=2`` is the paper's swapped predictions (section 4.4.1).
    """
    if isinstance(cv, numbers.Integral) and groups is not None:
        cv = GroupKFold(n_splits=int(cv))
    cv = check_cv(cv, y, classifier=True)
    return list(cv.split(X, y, groups))


def cross_fit_proba(names, estimators, X, y_enc, splits, n_classes, *, n_jobs=None) -> np.ndarray:
    """Out-of-fold ``predict_proba`` of every member.

    Parameters
    ----------
    names : list of str
    estimators : list of unfitted estimators
    X : array-like or list of clips
        Passed unchanged to every member.
    y_enc : ndarray of int, shape (n_samples,)
        Labels encoded as ``0 .. n_classes - 1``.
    splits : list of (train, test) index arrays
        Must partition the samples (every sample in exactly one test fold).
    n_classes : int
    n_jobs : int, default=None

    Returns
    -------
    proba : ndarray, shape (n_samples, n_members, n_classes)
        ``proba[i, m]`` comes from the model of member ``m`` fitted on the fold not containing
        sample ``i``. A class missing from a training fold gets probability 0 in that fold
        (scikit-learn's :func:`~sklearn.model_selection.cross_val_predict` behaviour), with a
        :class:`RuntimeWarning` naming the member.

    Raises
    ------
    ValueError
        If the folds are not a partition, or a member's probabilities do not sum to 1.
    """
    counts = np.bincount(np.concatenate([test for _, test in splits]), minlength=len(y_enc))
    if not np.all(counts == 1):
        raise ValueError(
            "The cross-fitting folds must put every sample in exactly one test fold; sample "
            f"{int(np.flatnonzero(counts != 1)[0])} is in {int(counts[counts != 1][0])}."
        )
    out = np.empty((len(y_enc), len(estimators), n_classes))
    for m, (name, est) in enumerate(zip(names, estimators)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            proba = cross_val_predict(
                clone(est), X, y_enc, cv=splits, method="predict_proba", n_jobs=n_jobs
            )
        for w in caught:
            if "Number of classes in training fold" in str(w.message):
                warnings.warn(
                    f"Member {name!r}: {w.message} Missing classes get probability 0.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        sums = proba.sum(axis=1)
        bad = np.flatnonzero(~np.isclose(sums, 1.0, atol=PROBA_ATOL))
        if bad.size:
            raise ValueError(
                f"Member {name!r}: predict_proba rows must sum to 1; sample {int(bad[0])} sums "
                f"to {sums[bad[0]]:.6g}."
            )
        out[:, m, :] = proba
    return out
