"""Subject-independent splitting: the one CV resolver of skfer and the papers' CK+ protocol.

:func:`check_group_cv` is the single place where skfer turns a ``cv`` argument into a
splitter (ensembles' cross-fitting, :func:`~skfer.model_selection.tune`,
:func:`~skfer.evaluation.evaluate`): an integer means
:class:`~sklearn.model_selection.GroupKFold` when subject ids are given, so no subject is ever
split between training and test, and :class:`~sklearn.model_selection.StratifiedKFold`
otherwise.

:class:`AscendingSubjectKFold` is the 10-fold protocol of the CK+ papers (Jung et al. 2015,
DTAGN, section 5.2; Ding et al. 2017, FaceNet2ExpNet, section IV; after Liu et al. 2014): "the
subjects are divided into ten groups by ID in ascending order".
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.model_selection import BaseCrossValidator, GroupKFold, StratifiedKFold, check_cv
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping
from sklearn.utils.validation import column_or_1d

from ..utils._sklearn import (
    GroupsConsumerMixin,
    Interval,
    StrOptions,
    _num_samples,
    _routing_enabled,
    validate_parameter_constraints,
)
from ..utils.sorting import natural_key
from ..utils.validation import check_labels, mixed_kinds

__all__ = ["AscendingSubjectKFold", "check_group_cv", "check_groups"]

#: Folds of an integer ``cv`` given as None (scikit-learn's default).
_DEFAULT_N_SPLITS = 5


def check_group_cv(
    cv=_DEFAULT_N_SPLITS, y=None, groups=None, *, classifier=True, shuffle=False,
    random_state=None,
):
    """Resolve ``cv`` into a splitter, subject-grouped when subject ids are given.

    Parameters
    ----------
    cv : int, cross-validation generator, iterable of (train, test) or None, default=5
        None means 5. An int means ``GroupKFold(cv)`` when ``groups`` is given, otherwise
        ``StratifiedKFold(cv)`` for a classifier's binary or multiclass ``y`` (``KFold``
        for other targets, as :func:`~sklearn.model_selection.check_cv`). Splitters and
        iterables are returned as :func:`~sklearn.model_selection.check_cv` returns them
        (they receive ``groups`` in ``split``).
    y : array-like of shape (n_samples,), default=None
    groups : array-like of shape (n_samples,), default=None
        Subject of each sample.
    classifier : bool, default=True
    shuffle : bool, default=False
        Only for an int ``cv`` without ``groups``: shuffle the stratified folds (GroupKFold
        keeps its deterministic size-balancing assignment).
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffled stratified folds.

    Returns
    -------
    splitter : cross-validator

    Raises
    ------
    ValueError
        If an int ``cv`` asks for more folds than there are subjects.

    Examples
    --------
    >>> check_group_cv(3, [0, 1, 0, 1], groups=[1, 1, 2, 3])
    GroupKFold(n_splits=3, random_state=None, shuffle=False)
    >>> check_group_cv(2, [0, 1, 0, 1])
    StratifiedKFold(n_splits=2, random_state=None, shuffle=False)
    """
    if cv is None:
        cv = _DEFAULT_N_SPLITS
    if classifier and y is not None and np.ndim(y) == 1:
        # Stratifying sorts the labels: "S" mixed with 1 would fail inside numpy.
        check_labels(y, classification=False)
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if groups is not None:
            groups = check_groups(groups, None if y is None else len(y))
            n_groups = len(np.unique(groups))
            if n_groups < cv:
                raise ValueError(f"{n_groups} subjects cannot be split into {int(cv)} folds")
            return GroupKFold(n_splits=int(cv))
        if shuffle:
            return StratifiedKFold(int(cv), shuffle=True, random_state=random_state) \
                if classifier and _stratifiable(y) else check_cv(int(cv), y, classifier=False)
    return check_cv(cv, y, classifier=classifier)


def check_groups(groups, n_samples: int | None = None) -> np.ndarray:
    """Subject ids as a 1-D array: no missing id, one type, one per sample.

    A NaN (or None) id cannot be put in a fold (scikit-learn's splitters refuse NaN, and a
    ``NaN != NaN`` id would make every such sample its own subject), and ids mixing strings
    and numbers (``"S5"`` and ``5``) are most likely one subject written two ways.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
    n_samples : int or None
        The number of samples ``groups`` must match.

    Returns
    -------
    ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        Wrong length, or a missing id (naming the first sample).
    TypeError
        Strings mixed with numbers (naming a sample of each).

    Examples
    --------
    >>> check_groups([float("nan"), 1.0])
    Traceback (most recent call last):
    ...
    ValueError: groups: sample 0 has no subject id (nan); every sample needs one ...
    """
    groups = column_or_1d(groups, warn=True)
    if n_samples is not None and len(groups) != n_samples:
        raise ValueError(f"groups has {len(groups)} entries for {n_samples} samples")
    values = groups.tolist()
    missing = [i for i, g in enumerate(values)
               if g is None or (isinstance(g, float) and np.isnan(g))]
    if missing:
        raise ValueError(
            f"groups: sample {missing[0]} has no subject id ({values[missing[0]]}); every "
            f"sample needs one ({len(missing)} have none)"
        )
    if groups.dtype == object and (pair := mixed_kinds(values)) is not None:
        s, o = pair
        raise TypeError(
            f"groups mixes string and non-string subject ids (sample {s}: "
            f"{values[s]!r}, sample {o}: {values[o]!r}); write every id the same way"
        )
    return groups


def routed_groups(estimator, groups) -> dict:
    """``{"groups": groups}`` for an estimator whose ``fit`` requests them, else ``{}``.

    What ``cross_validate(params={"groups": groups})`` hands to the estimator: only with
    ``sklearn.set_config(enable_metadata_routing=True)`` and an estimator that requested
    them (``set_fit_request(groups=True)``, e.g. an ensemble whose inner cross-fitting must
    be subject-grouped too); an estimator whose ``fit`` takes ``groups`` without a request
    raises scikit-learn's error asking for one. The splitter gets ``groups`` anyway.
    """
    if groups is None or not _routing_enabled():
        return {}
    router = MetadataRouter(owner="skfer").add(
        estimator=estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit")
    )
    return dict(router.route_params(params={"groups": groups}, caller="fit").estimator.fit)


def _stratifiable(y) -> bool:
    """Whether ``check_cv`` would stratify ``y`` (binary or multiclass)."""
    from sklearn.utils.multiclass import type_of_target

    return y is not None and type_of_target(y) in ("binary", "multiclass")


class AscendingSubjectKFold(GroupsConsumerMixin, BaseCrossValidator):
    """K folds of subjects taken in ascending subject id, the CK+ protocol of the papers.

    Jung et al. (DTAGN, section 5.2) and Ding et al. (FaceNet2ExpNet, section IV), after
    Liu et al. (2014), evaluate on CK+ with 10 folds: "the subjects are divided into ten
    groups by ID in ascending order". Subject ids are sorted naturally
    (:func:`skfer.utils.natural_key`: digit runs compare as numbers, so ``S5 < S10``, text
    ignores case; CK+'s ``S005 ... S999`` sort the same either way), then the
    subject of rank ``r`` goes to fold ``r mod n_splits`` (``assignment="interleaved"``, the
    default) or to the ``r * n_splits // n_subjects``-th block of consecutive ids
    (``assignment="contiguous"``). Every clip of a subject is in its subject's fold.

    Parameters
    ----------
    n_splits : int, default=10
        Number of folds, at least 2 and at most the number of subjects.
    assignment : {"interleaved", "contiguous"}, default="interleaved"
        How ranks in ascending id order map to folds (see Notes).

    Notes
    -----
    The papers' sentence does not say whether the ten groups are blocks of consecutive ids
    or a deal of the ids in ascending order. skfer deals (rank mod ``n_splits``) by default:
    on CK+48 (327 clips, 118 subjects S005-S999) its folds hold 22-40 clips and every fold
    but one has all 7 classes, whereas blocks of consecutive ids (22-41 clips) leave 1-3
    classes out of every fold (only 4 of 7 in the last one), which makes per-fold accuracy
    noisier and per-class recall of a missing class undefined in that fold.
    ``assignment="contiguous"`` gives the other reading for comparison. Neither balances
    the fold sizes as :class:`~sklearn.model_selection.GroupKFold` does, so the two
    protocols' numbers are comparable in mean, not fold by fold.

    Examples
    --------
    >>> import numpy as np
    >>> groups = ["S10", "S5", "S5", "S22", "S7", "S130"]
    >>> cv = AscendingSubjectKFold(n_splits=2)
    >>> for train, test in cv.split(np.zeros(6), groups=groups):
    ...     print(sorted({groups[i] for i in test}))
    ['S10', 'S130', 'S5']
    ['S22', 'S7']
    """

    _parameter_constraints: dict = {
        "n_splits": [Interval(numbers.Integral, 2, None, closed="left")],
        "assignment": [StrOptions({"interleaved", "contiguous"})],
    }

    def __init__(self, n_splits=10, *, assignment="interleaved"):
        self.n_splits = n_splits
        self.assignment = assignment

    def _validate_params(self):
        validate_parameter_constraints(
            self._parameter_constraints,
            {"n_splits": self.n_splits, "assignment": self.assignment},
            caller_name=type(self).__name__,
        )

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of folds: ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Ignored, for API compatibility.

        Returns
        -------
        int
        """
        self._validate_params()
        return self.n_splits

    def subject_folds(self, groups) -> dict:
        """The fold of every subject id.

        Parameters
        ----------
        groups : array-like of shape (n_samples,)
            Subject of each sample.

        Returns
        -------
        dict
            Subject id -> fold index (``0 .. n_splits - 1``).
        """
        self._validate_params()
        if groups is None:
            raise ValueError("The 'groups' parameter should not be None.")
        subjects = sorted(np.unique(check_groups(groups)).tolist(), key=natural_key)
        if len(subjects) < self.n_splits:
            raise ValueError(
                f"{len(subjects)} subjects cannot be split into {self.n_splits} folds"
            )
        ranks = np.arange(len(subjects))
        if self.assignment == "interleaved":
            folds = ranks % self.n_splits
        else:
            folds = ranks * self.n_splits // len(subjects)
        return dict(zip(subjects, folds.tolist()))

    def _iter_test_indices(self, X, y=None, groups=None):
        if groups is None:
            raise ValueError("The 'groups' parameter should not be None.")
        groups = check_groups(groups, _num_samples(X))
        folds = self.subject_folds(groups)
        sample_fold = np.array([folds[g] for g in groups])
        for k in range(self.n_splits):
            yield np.flatnonzero(sample_fold == k)
