"""Base of skfer's ensembles: members cross-fitted, then refitted, as a scikit-learn composition.

Both combiners of the EmoNets paper (Kahou et al., sections 4.2-4.4) learn on predictions of
samples the members did not see (the paper's "swapped predictions", section 4.4.1, are the
2-fold case). :class:`_BaseCrossFitEnsemble` does that part once for both: it is a
:class:`~sklearn.ensemble._base._BaseHeterogeneousEnsemble` (like scikit-learn's
StackingClassifier and VotingClassifier), so the members are parameters
(``get_params(deep=True)`` lists ``lr__C``, ``set_params(lr__C=3)`` and ``set_params(lr="drop")``
work, and :func:`~skfer.model_selection.tune` can tune a member), and metadata routing hands
``groups`` and ``sample_weight`` to the members that request them, in the cross-fit and in the
refit alike.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.validation import check_is_fitted

from ..model_selection import check_group_cv
from ..utils._sklearn import _BaseHeterogeneousEnsemble, _raise_for_params, _routing_enabled
from ..utils.validation import check_labels
from ._cross_fit import check_proba_rows, cross_fit_proba, naming_member

__all__: list[str] = []


def _check_target(y) -> np.ndarray:
    """1-D classification target of one label type and at least 2 classes.

    A column vector is raveled with a warning. One class is refused here, naming it, rather
    than by whichever member fails first with its own wording.
    """
    if y is None:
        raise ValueError("The ensemble requires y to be passed, but the target y is None.")
    y = check_labels(y)
    if len(y) == 0:
        raise ValueError("y is empty: the ensemble needs samples of at least 2 classes.")
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(
            f"y has 1 class ({classes.tolist()}); the ensemble's members need at least 2."
        )
    return y


class _BaseCrossFitEnsemble(ClassifierMixin, _BaseHeterogeneousEnsemble):
    """Members with ``predict_proba``, cross-fitted on shared (subject-grouped) folds.

    Subclasses define ``_parameter_constraints``, ``__init__`` (``estimators`` first, the
    rest keyword-only, including ``cv`` and ``n_jobs``), ``fit`` (decorated with
    ``_fit_context``, calling :meth:`_fit_members` then learning their combination) and
    ``predict_proba``.
    """

    @abstractmethod
    def __init__(self, estimators):
        super().__init__(estimators)

    # --- members ---------------------------------------------------------------------------

    def _check_members(self) -> tuple[list[str], list]:
        """Names and estimators of the members not set to ``"drop"``.

        Raises
        ------
        ValueError
            If the list is empty or all dropped, not made of ``(name, estimator)`` pairs, has
            duplicated names (or names clashing with a parameter), or a member has no
            ``predict_proba``.
        """
        if self.estimators is None or len(self.estimators) == 0:
            raise ValueError("estimators must be a non-empty list of (name, estimator) pairs.")
        for i, pair in enumerate(self.estimators):
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ValueError(
                    f"estimators[{i}] must be a (name, estimator) tuple, got {pair!r}."
                )
        self._validate_names([name for name, _ in self.estimators])
        names, ests = [], []
        for i, (name, est) in enumerate(self.estimators):
            if isinstance(est, str) and est == "drop":
                continue
            if not hasattr(est, "predict_proba"):
                raise ValueError(
                    f"Member {name!r} (estimators[{i}]) has no predict_proba: the ensemble "
                    "combines class probabilities (wrap it, e.g. in CalibratedClassifierCV)."
                )
            names.append(name)
            ests.append(est)
        if not names:
            raise ValueError("All estimators are dropped; at least one member is required.")
        return names, ests

    def _route_fit_params(self, names, groups, fit_params) -> tuple[dict, Bunch]:
        """Metadata for every member's ``fit`` (cross-fit and refit) and the routed bunch.

        With metadata routing enabled, ``groups`` and ``fit_params`` go to the members that
        request them; without it, ``sample_weight`` goes to every member (scikit-learn's
        StackingClassifier convention) and ``groups`` only shapes the folds.
        """
        if _routing_enabled():
            params = dict(fit_params)
            if groups is not None:
                params["groups"] = groups
            routed = process_routing(self, "fit", **params)
            return {name: dict(routed[name].fit) for name in names}, routed
        _raise_for_params(fit_params, self, "fit", allow=["sample_weight"])
        return {name: dict(fit_params) for name in names}, Bunch()

    def _fit_members(self, X, y, groups, fit_params) -> tuple[np.ndarray, Bunch]:
        """Encode ``y``, cross-fit the members on shared folds, refit them on all data.

        Sets ``classes_``, ``oof_proba_`` (n_samples, n_members, n_classes),
        ``estimators_`` and ``named_estimators_``; returns the encoded labels and the routed
        metadata (empty without routing).
        """
        names, members = self._check_members()
        y = _check_target(y)
        le = LabelEncoder().fit(y)
        self.classes_ = le.classes_
        y_enc = le.transform(y)
        n_classes = len(self.classes_)
        member_params, routed = self._route_fit_params(names, groups, fit_params)
        # The folds are materialised once so that every member sees the same splits.
        cv = check_group_cv(self.cv, y_enc, groups)
        splits = list(cv.split(X, y_enc, groups))
        self.oof_proba_ = cross_fit_proba(
            names, members, X, y_enc, splits, n_classes, n_jobs=self.n_jobs,
            params=member_params,
        )
        self.estimators_ = []
        for name, est in zip(names, members):
            with naming_member(name, "while fitting it on all the data"):
                self.estimators_.append(clone(est).fit(X, y_enc, **member_params[name]))
        for name, est in zip(names, self.estimators_):
            if not np.array_equal(getattr(est, "classes_", None), np.arange(n_classes)):
                raise ValueError(
                    f"Member {name!r} has classes_ {getattr(est, 'classes_', None)} after "
                    f"fitting on encoded labels 0..{n_classes - 1}; all members must predict "
                    "the same classes."
                )
        self.named_estimators_ = Bunch(**dict(zip(names, self.estimators_)))
        return y_enc, routed

    def _members_proba(self, X) -> np.ndarray:
        """Refitted members' probabilities, shape (n_samples, n_members, n_classes)."""
        check_is_fitted(self)
        names = list(self.named_estimators_)
        probas = []
        for name, est in zip(names, self.estimators_):
            with naming_member(name, "in predict_proba"):
                probas.append(check_proba_rows(est.predict_proba(X), name, len(self.classes_)))
        return np.stack(probas, axis=1)

    # --- scikit-learn API --------------------------------------------------------------------

    @abstractmethod
    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""

    def predict(self, X):
        """Class with the highest combined probability.

        Parameters
        ----------
        X : array-like or list of clips
            Passed unchanged to every member.

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy; labels unseen in ``fit`` raise a ValueError naming them."""
        check_is_fitted(self)
        unknown = np.setdiff1d(np.asarray(y), self.classes_)
        if unknown.size:
            raise ValueError(f"y contains labels unseen in fit: {unknown.tolist()}.")
        return super().score(X, y, sample_weight=sample_weight)

    @property
    def n_features_in_(self):
        """Number of features of the first member (when it records one)."""
        check_is_fitted(self)
        return self.estimators_[0].n_features_in_

    def get_metadata_routing(self):
        """Metadata routing: the ensemble consumes ``groups``; members get what they request.

        ``groups`` is the ensemble's own ``fit`` argument (it shapes the cross-fitting folds;
        a caller routing groups to the ensemble needs ``set_fit_request(groups=True)``); it
        is also routed, like ``sample_weight``, to every member's ``fit`` that requests it,
        in the cross-fit and in the refit.

        Returns
        -------
        MetadataRouter
        """
        router = MetadataRouter(owner=self).add_self_request(self)
        for name, est in self.estimators:
            if isinstance(est, str) and est == "drop":
                continue
            router.add(**{name: est}, method_mapping=MethodMapping().add(caller="fit",
                                                                          callee="fit"))
        return router
