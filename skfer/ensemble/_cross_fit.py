"""Cross-fitted (out-of-fold) member probabilities shared by skfer's ensembles.

Both combiners of the EmoNets paper (Kahou et al., sections 4.2-4.4) learn on predictions of
samples the members did not see: the paper's "swapped predictions" (section 4.4.1) are the
2-fold case; :func:`cross_fit_proba` generalises them to any (group) k-fold.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import cross_val_predict

__all__ = ["check_proba_rows", "cross_fit_proba", "naming_member"]

#: Tolerance on ``sum(predict_proba) == 1`` per row.
PROBA_ATOL = 1e-6


def cross_fit_proba(
    names, estimators, X, y_enc, splits, n_classes, *, n_jobs=None, params=None
) -> np.ndarray:
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
    params : dict of {str: dict} or None, default=None
        Metadata for each member's ``fit`` by name (e.g. routed ``groups`` or
        ``sample_weight``), indexed by every training fold as
        :func:`~sklearn.model_selection.cross_val_predict` does.

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
        with warnings.catch_warnings(record=True) as caught, naming_member(
                name, "while cross-fitting it (out-of-fold predict_proba)"):
            warnings.simplefilter("always")
            proba = cross_val_predict(
                clone(est), X, y_enc, cv=splits, method="predict_proba", n_jobs=n_jobs,
                params=(params or {}).get(name),
            )
        for w in caught:
            if "Number of classes in training fold" in str(w.message):
                warnings.warn(
                    f"Member {name!r}: {str(w.message).rstrip('. ')}; missing classes get "
                    "probability 0 in that fold.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        out[:, m, :] = check_proba_rows(proba, name, n_classes)
    return out


@contextlib.contextmanager
def naming_member(name: str, stage: str) -> Iterator[None]:
    """Add a note naming the member (and the stage) to an exception raised inside.

    The exception keeps its type and message, so callers catching a member's ``ValueError``
    still do; the note, shown under the traceback and in ``skfer``'s one-line errors, says
    which of the members raised it (their own messages rarely do).
    """
    try:
        yield
    except Exception as exc:
        exc.add_note(f"raised by ensemble member {name!r} {stage}")
        raise


def check_proba_rows(proba, name: str, n_classes: int) -> np.ndarray:
    """A member's ``predict_proba``: ``(n_samples, n_classes)``, finite, in [0, 1], rows sum to 1.

    Checked on the cross-fitted probabilities and again at predict time, so that a member
    returning NaN (or unnormalised scores) on new data is an error naming it and the sample,
    not a silently wrong combination.

    Raises
    ------
    ValueError
        Naming the member and the first bad sample.
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != n_classes:
        raise ValueError(
            f"Member {name!r}: predict_proba returned shape {proba.shape}; expected "
            f"(n_samples, {n_classes})."
        )
    sums = proba.sum(axis=1)
    bad = np.flatnonzero(~np.isclose(sums, 1.0, atol=PROBA_ATOL)
                         | ~np.isfinite(proba).all(axis=1) | (proba < 0).any(axis=1))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"Member {name!r}: predict_proba rows must be non-negative, finite and sum to 1; "
            f"sample {i} sums to {sums[i]:.6g} ({np.array2string(proba[i], precision=4)})."
        )
    return proba
