"""SVM stacking of member probabilities (EmoNets, sections 4.2 and 4.4.1).

Kahou et al. concatenate the class probabilities of their models and learn an RBF SVM on them,
"set via a two stage coarse, then fine grid search over integer powers of 10, then non-integer
powers of 2 within the reduced region of space" over ``C`` and ``gamma`` (section 4.2). Section
4.4.1 trains it on swapped (cross-fitted) predictions.

:class:`SVMStackingClassifier` is a composition like scikit-learn's
:class:`~sklearn.ensemble.StackingClassifier` (``stack_method="predict_proba"``), on the same
cross-fitting as :class:`~skfer.ensemble.WeightedAverageClassifier`: subject-grouped folds
from ``groups``, members' metadata routed in the cross-fit and the refit, and
:class:`CoarseToFineSVC` as default final estimator.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils.metadata_routing import MethodMapping
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._sklearn import HasMethods, Interval, _fit_context
from ._base import _BaseCrossFitEnsemble

__all__ = ["CoarseToFineSVC", "SVMStackingClassifier", "coarse_grid", "fine_grid"]


def coarse_grid(low: int = -3, high: int = 3) -> np.ndarray:
    """Integer powers of 10 from ``10**low`` to ``10**high`` (section 4.2, coarse stage)."""
    return 10.0 ** np.arange(low, high + 1)


def fine_grid(best: float, step: float = 1.0) -> np.ndarray:
    """Non-integer powers of 2 within one decade either side of ``best`` (fine stage).

    The coarse grid's neighbours of ``best`` are ``best / 10`` and ``best * 10``, i.e.
    ``best * 2**(+-log2 10)``: the fine grid covers ``best * 2**e`` for ``e`` in
    ``[-3, 3]`` in steps of ``step`` (``2**3.32 = 10``). Since ``best`` is a power of 10, these
    are non-integer powers of 2 unless ``best`` is 1, where the grid is ``2**-3 .. 2**3``.
    """
    exponents = np.arange(-3.0, 3.0 + step / 2, step)
    return best * 2.0**exponents


class CoarseToFineSVC(ClassifierMixin, BaseEstimator):
    """RBF SVM with a coarse (powers of 10) then fine (powers of 2) search of C and gamma.

    The two-stage grid search of Kahou et al. (EmoNets), section 4.2. Probabilities come from
    ``CalibratedClassifierCV(SVC(...), ensemble=False)`` (``SVC(probability=True)`` is
    deprecated in scikit-learn 1.9); ``predict`` is their arg-max, so there is no
    ``decision_function`` (the SVC's own sign could disagree with the calibrated arg-max).

    Parameters
    ----------
    coarse_low, coarse_high : int, default=-3, 3
        Coarse grid ``10**coarse_low .. 10**coarse_high`` for both ``C`` and ``gamma``.
    fine_step : float, default=1.0
        Step of the fine grid's exponents of 2 (see :func:`fine_grid`): ``best * 2**e`` for
        ``e`` in ``[-3, 3]``, 7 values per parameter (49 pairs) by default; 0.5 gives 169.
        (Non-integer powers of 2 unless the coarse best is 1.)
    inner_cv : int, default=3
        Stratified folds of the grid searches and of the calibration.
    scoring : str or callable, default="accuracy"
        Score of the grid searches (scikit-learn's scorer names or a scorer).
    random_state : int, RandomState instance or None, default=None
        Shuffles the inner stratified folds.

    Attributes
    ----------
    classes_ : ndarray
    best_params_ : dict
        ``C`` and ``gamma`` chosen by the fine stage.
    coarse_search_, fine_search_ : GridSearchCV
    calibrated_ : CalibratedClassifierCV
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        "coarse_low": [numbers.Integral],
        "coarse_high": [numbers.Integral],
        "fine_step": [Interval(numbers.Real, 0, None, closed="neither")],
        "inner_cv": [Interval(numbers.Integral, 2, None, closed="left")],
        "scoring": [str, callable],
        "random_state": ["random_state"],
    }

    def __init__(self, *, coarse_low=-3, coarse_high=3, fine_step=1.0, inner_cv=3,
                 scoring="accuracy", random_state=None):
        self.coarse_low = coarse_low
        self.coarse_high = coarse_high
        self.fine_step = fine_step
        self.inner_cv = inner_cv
        self.scoring = scoring
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Coarse grid, fine grid around its best, then a calibrated SVC on all of ``X``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)

        Returns
        -------
        self
        """
        if self.coarse_low > self.coarse_high:
            raise ValueError(
                f"coarse_low={self.coarse_low} must be <= coarse_high={self.coarse_high}."
            )
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self.classes_, counts = np.unique(y, return_counts=True)
        if len(self.classes_) < 2:
            raise ValueError("CoarseToFineSVC needs samples of at least 2 classes; got 1 class.")
        if counts.min() < 2:
            # The calibration's stratified folds cannot hold a class of one sample.
            rare = self.classes_[np.argmin(counts)].tolist()
            raise ValueError(
                f"CoarseToFineSVC: class {rare!r} has 1 sample; the inner grid searches and "
                "the calibration need at least 2 of every class."
            )
        # Fewer folds than the rarest class would leave a class out of a fold.
        n_splits = int(max(2, min(self.inner_cv, counts.min())))
        cv = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state)
        grid = coarse_grid(self.coarse_low, self.coarse_high)
        self.coarse_search_ = GridSearchCV(
            SVC(kernel="rbf"), {"C": grid, "gamma": grid}, cv=cv, scoring=self.scoring
        ).fit(X, y)
        best = self.coarse_search_.best_params_
        self.fine_search_ = GridSearchCV(
            SVC(kernel="rbf"),
            {"C": fine_grid(best["C"], self.fine_step),
             "gamma": fine_grid(best["gamma"], self.fine_step)},
            cv=cv, scoring=self.scoring,
        ).fit(X, y)
        self.best_params_ = dict(self.fine_search_.best_params_)
        self.calibrated_ = CalibratedClassifierCV(
            SVC(kernel="rbf", **self.best_params_), ensemble=False, cv=cv
        ).fit(X, y)
        return self

    def predict_proba(self, X):
        """Calibrated class probabilities, shape (n_samples, n_classes)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.calibrated_.predict_proba(X)

    def predict(self, X):
        """Class with the highest calibrated probability."""
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class SVMStackingClassifier(_BaseCrossFitEnsemble):
    """Stack member probabilities into a coarse-to-fine RBF SVM, with subject-grouped folds.

    Kahou et al. (EmoNets), sections 4.2 and 4.4.1: the members' class probabilities are
    concatenated and an RBF SVM (:class:`CoarseToFineSVC`) is learnt on their cross-fitted
    (swapped) values; members are then refitted on all data. Like scikit-learn's
    :class:`~sklearn.ensemble.StackingClassifier` with ``stack_method="predict_proba"``
    (whose feature layout it keeps: for two classes only the second class's column of each
    member), plus ``groups`` in ``fit`` for subject-grouped cross-fitting. Like
    VotingClassifier, ``X`` goes unchanged to every member (it may be a list of clips).
    The members are parameters (``set_params(lr__C=3)``, ``set_params(lr="drop")``).

    Parameters
    ----------
    estimators : list of (str, estimator)
        Members with ``predict_proba`` (or ``"drop"``).
    cv : int, cross-validation generator or iterable, default=5
        Cross-fitting folds, resolved by :func:`~skfer.model_selection.check_group_cv`: an
        int means GroupKFold when ``groups`` are given to ``fit``, StratifiedKFold
        otherwise (``cv=2``: the paper's swapped predictions).
    final_estimator : estimator or None, default=None
        None means ``CoarseToFineSVC(random_state=random_state)``.
    n_jobs : int, default=None
        Parallel fold fits in :func:`~sklearn.model_selection.cross_val_predict`.
    random_state : int, RandomState instance or None, default=None
        Seed of the default final estimator.

    Attributes
    ----------
    classes_ : ndarray
    oof_proba_ : ndarray, shape (n_samples, n_members, n_classes)
        Cross-fitted member probabilities the final estimator was fitted on.
    estimators_ : list of estimators
        Members refitted on all data.
    named_estimators_ : Bunch
    final_estimator_ : estimator
        Fitted on the cross-fitted probabilities, with labels encoded ``0 .. n_classes - 1``.
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "cv": ["cv_object"],
        "final_estimator": [None, HasMethods(["fit", "predict"])],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimators, *, cv=5, final_estimator=None, n_jobs=None,
                 random_state=None):
        super().__init__(estimators)
        self.cv = cv
        self.final_estimator = final_estimator
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _final(self):
        if self.final_estimator is None:
            return CoarseToFineSVC(random_state=self.random_state)
        return self.final_estimator

    @staticmethod
    def _stack(proba: np.ndarray) -> np.ndarray:
        """(n_samples, n_members, n_classes) -> StackingClassifier's meta-features."""
        if proba.shape[2] == 2:  # the first column is 1 - the second: StackingClassifier drops it
            proba = proba[:, :, 1:]
        return proba.reshape(len(proba), -1)

    # Members and the final estimator are validated by their own fit.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None, **fit_params):
        """Cross-fit the members, fit the final SVM on their probabilities, refit members.

        Parameters
        ----------
        X : array-like or list of clips
        y : array-like, shape (n_samples,)
        groups : array-like, shape (n_samples,), default=None
            Subject ids for the cross-fitting folds; with metadata routing enabled they also
            reach the members that request them.
        **fit_params : dict
            ``sample_weight`` (to every member and the final estimator without metadata
            routing); with routing, any metadata the members or the final estimator request.

        Returns
        -------
        self
        """
        y_enc, routed = self._fit_members(X, y, groups, fit_params)
        final_params = dict(routed["final_estimator"].fit) if routed else dict(fit_params)
        self.final_estimator_ = clone(self._final()).fit(
            self._stack(self.oof_proba_), y_enc, **final_params
        )
        return self

    def predict_proba(self, X):
        """Final estimator's probabilities on the members' probabilities.

        Parameters
        ----------
        X : array-like or list of clips

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
        """
        meta = self._stack(self._members_proba(X))  # checks that the ensemble is fitted
        return self.final_estimator_.predict_proba(meta)

    def predict(self, X):
        """Final estimator's class on the members' probabilities.

        Parameters
        ----------
        X : array-like or list of clips

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        meta = self._stack(self._members_proba(X))
        return self.classes_[np.asarray(self.final_estimator_.predict(meta), dtype=int)]

    def get_metadata_routing(self):
        """Metadata routing of the members (see the base) and of the final estimator's fit.

        Returns
        -------
        MetadataRouter
        """
        router = super().get_metadata_routing()
        router.add(
            final_estimator=self._final(),
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )
        return router
