"""Per-model, per-class weighted averaging found by random search (EmoNets, sections 4.1-4.4).

Kahou et al. (EmoNets) combine the class probabilities of several models with one weight per
model *per emotion*: the weights of each class form a simplex over the models (section 4.3). The
weights are chosen by a random search on held-out predictions: a uniform phase (weights drawn
uniformly then normalised per class), then a local phase drawing Gaussian perturbations around the
best weights so far, every candidate rounded to 2 decimals "to help to avoid overfitting on the
validation set". Section 4.4.2 runs the search on swapped (cross-fitted) predictions, which is
what :class:`WeightedAverageClassifier` does inside ``fit``, and bags several searches.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._cross_fit import (
    _check_target, _member_tags, check_members, cross_fit_proba, make_splits,
)

__all__ = ["WeightedAverageClassifier", "round_simplex", "combine_proba"]


def round_simplex(weights: np.ndarray, decimals: int = 2) -> np.ndarray:
    """Round simplex weights to ``decimals`` while keeping every simplex summing to 1.

    Largest-remainder rounding along axis ``-2`` (the members): plain rounding of, e.g.,
    ``(1/3, 1/3, 1/3)`` gives ``0.99``; this gives ``(0.34, 0.33, 0.33)``.

    Parameters
    ----------
    weights : ndarray, shape (..., n_members, n_classes)
        Non-negative, each ``[..., :, k]`` summing to 1.
    decimals : int, default=2

    Returns
    -------
    ndarray of the same shape, multiples of ``10**-decimals`` summing to 1 per class.
    """
    scale = 10**decimals
    scaled = np.moveaxis(weights, -2, -1) * scale  # (..., K, M)
    floor = np.floor(scaled + 1e-9)
    short = np.rint(scale - floor.sum(axis=-1)).astype(int)  # units still to hand out
    order = np.argsort(-(scaled - floor), axis=-1, kind="stable")
    rank = np.argsort(order, axis=-1, kind="stable")
    floor += rank < short[..., None]
    return np.moveaxis(floor / scale, -1, -2)


def combine_proba(proba: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-class weighted average of member probabilities, renormalised per sample.

    Parameters
    ----------
    proba : ndarray, shape (n_samples, n_members, n_classes)
    weights : ndarray, shape (n_members, n_classes) or (n_candidates, n_members, n_classes)

    Returns
    -------
    ndarray, shape (n_samples, n_classes) or (n_candidates, n_samples, n_classes)
        Rows sum to 1 (per-class weights do not keep the sum, so it is restored; the arg-max,
        the paper's decision, is unchanged).
    """
    if weights.ndim == 2:
        return combine_proba(proba, weights[None])[0]
    mixed = np.einsum("nmk,bmk->bnk", proba, weights)
    total = mixed.sum(axis=-1, keepdims=True)
    return np.divide(mixed, total, out=np.full_like(mixed, 1.0 / mixed.shape[-1]), where=total > 0)


def _scores(proba, y, weights) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and log-loss of each candidate weighting on held-out probabilities."""
    mixed = combine_proba(proba, weights)
    acc = (mixed.argmax(axis=-1) == y).mean(axis=-1)
    p_true = np.take_along_axis(mixed, y[None, :, None], axis=-1)[..., 0]
    logloss = -np.log(np.clip(p_true, 1e-15, 1.0)).mean(axis=-1)
    return acc, logloss


def _normalise(raw: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """Normalise non-negative raw weights per class; an all-zero class takes ``fallback``."""
    total = raw.sum(axis=-2, keepdims=True)
    if fallback is None:
        fallback = np.full(raw.shape[-2:], 1.0 / raw.shape[-2])
    fallback = np.broadcast_to(fallback, raw.shape)
    return np.where(total > 0, raw / np.where(total > 0, total, 1.0), fallback)


class _Search:
    """One uniform-then-local random search over per-class simplexes (section 4.3).

    Candidates are compared by accuracy, ties broken by the lower log-loss; the first candidate
    is the plain average (section 4.1), so the search never returns worse than averaging.
    """

    def __init__(
        self, proba, y, rng, *, n_iter, n_local_iter, local_scale, search_subsets, decimals
    ):
        self.proba, self.y, self.rng = proba, y, rng
        self.n_iter, self.n_local_iter = n_iter, n_local_iter
        self.local_scale, self.search_subsets, self.decimals = local_scale, search_subsets, decimals
        _, self.n_members, self.n_classes = proba.shape
        self.history: list[tuple[str, float, float]] = []
        self.best = None
        self.best_key = (-np.inf, -np.inf)
        self.best_mask = np.ones((self.n_members, 1))

    def uniform_candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """The plain average then ``n_iter - 1`` uniform draws (and their member masks)."""
        M, K = self.n_members, self.n_classes
        raw = self.rng.uniform(size=(self.n_iter, M, K))
        masks = np.ones((self.n_iter, M, 1))
        if self.search_subsets:  # a random non-empty subset of members per candidate
            masks = (self.rng.uniform(size=(self.n_iter, M, 1)) < 0.5).astype(float)
            empty = masks.sum(axis=1)[:, 0] == 0
            masks[empty, self.rng.randint(M, size=int(empty.sum()))] = 1.0
        raw[0], masks[0] = 1.0, 1.0
        return round_simplex(_normalise(raw * masks), self.decimals), masks

    def local_candidate(self, raw_draw: np.ndarray | None = None) -> np.ndarray:
        """A Gaussian perturbation of the best weights, clipped at 0, renormalised, rounded."""
        if raw_draw is None:
            raw_draw = self.rng.normal(size=self.best.shape)
        raw = np.clip(self.best + self.local_scale * raw_draw, 0.0, None) * self.best_mask
        return round_simplex(_normalise(raw, fallback=self.best), self.decimals)

    def offer(self, weights, phase, masks=None) -> tuple[np.ndarray, np.ndarray]:
        """Score candidates ``(B, M, K)``, keep the best, record the history."""
        acc, ll = _scores(self.proba, self.y, weights)
        for b in range(len(weights)):
            self.history.append((phase, float(acc[b]), float(ll[b])))
            key = (acc[b], -ll[b])
            if key > self.best_key:
                self.best_key, self.best = key, weights[b]
                if masks is not None:
                    self.best_mask = masks[b]
        return acc, ll

    def run(self) -> np.ndarray:
        weights, masks = self.uniform_candidates()
        self.offer(weights, "uniform", masks)
        for _ in range(self.n_local_iter):
            self.offer(self.local_candidate()[None], "local")
        return self.best


def _run_search_in_study(search: _Search, storage, study_name, seed):
    """Run ``search`` as an Optuna study (ask/tell), resuming COMPLETE trials it already has.

    Uniform-phase candidates are sampled by :class:`optuna.samplers.RandomSampler` (params
    ``w_{member}_{class}`` in [0, 1], and ``use_{member}`` < 0.5 dropping a member when
    ``search_subsets``); the first is the enqueued plain average. Local-phase candidates are
    drawn by the search's own Gaussian generator (Optuna has no Gaussian sampler) and logged as
    trials without params. Every trial stores its phase, log-loss and rounded weights as user
    attributes, from which a resumed search restores its best candidate.
    """
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState

    study = optuna.create_study(
        storage=storage, study_name=study_name, load_if_exists=True, direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    for t in done:  # resume: the best so far and the budgets already spent
        weights = np.asarray(t.user_attrs["weights"])
        mask = (weights.sum(axis=1, keepdims=True) > 0).astype(float)
        key = (t.value, -t.user_attrs["log_loss"])
        if key > search.best_key:
            search.best_key, search.best, search.best_mask = key, weights, mask
    n_uniform = sum(t.user_attrs.get("phase") == "uniform" for t in done)
    n_local = sum(t.user_attrs.get("phase") == "local" for t in done)

    M, K = search.n_members, search.n_classes
    dists = {f"w_{m}_{k}": FloatDistribution(0.0, 1.0) for m in range(M) for k in range(K)}
    if search.search_subsets:
        dists |= {f"use_{m}": FloatDistribution(0.0, 1.0) for m in range(M)}

    def tell(trial, weights, phase, mask=None):
        acc, ll = search.offer(weights[None], phase, None if mask is None else mask[None])
        trial.set_user_attr("phase", phase)
        trial.set_user_attr("log_loss", float(ll[0]))
        trial.set_user_attr("weights", weights.tolist())
        study.tell(trial, float(acc[0]))

    for i in range(n_uniform, search.n_iter):
        if i == 0:
            study.enqueue_trial({name: 1.0 for name in dists})  # the plain average
        trial = study.ask(dists)
        raw = np.array([[trial.params[f"w_{m}_{k}"] for k in range(K)] for m in range(M)])
        mask = np.ones((M, 1))
        if search.search_subsets and i > 0:
            mask = np.array([[trial.params[f"use_{m}"] >= 0.5] for m in range(M)], float)
            if not mask.any():
                mask[int(np.argmax([trial.params[f"use_{m}"] for m in range(M)]))] = 1.0
        tell(trial, round_simplex(_normalise(raw * mask), search.decimals), "uniform", mask)
    for _ in range(n_local, search.n_local_iter):
        tell(study.ask(), search.local_candidate(), "local")
    return search.best, study


class WeightedAverageClassifier(ClassifierMixin, BaseEstimator):
    """Per-class weighted average of member probabilities, weights by random search.

    Implements the combination of Kahou et al. (EmoNets), sections 4.1 (averaging), 4.3
    (uniform then local random search over per-class simplexes, weights rounded to 2 decimals)
    and 4.4.2 (search on swapped = cross-fitted predictions; bagging of searches).

    ``fit`` computes out-of-fold probabilities of every member with one (group) k-fold shared
    by all members (the paper's swapped predictions are ``cv=2``), searches the weights on
    them, then refits every member on all the data. ``X`` is passed unchanged to every
    member (like :class:`~sklearn.ensemble.VotingClassifier`), so members may be whole
    pipelines reading different modalities/columns of the same ``X`` and ``X`` may be a list
    of clips: the ensemble does not validate ``X``, its members do.

    Parameters
    ----------
    estimators : list of (str, estimator)
        Members; each needs ``predict_proba``. They are fitted on labels encoded as
        ``0 .. n_classes - 1`` (as VotingClassifier does).
    cv : int or cross-validation generator or iterable, default=5
        Cross-fitting folds. An int means :class:`~sklearn.model_selection.GroupKFold` when
        ``groups`` are passed to ``fit``, :class:`~sklearn.model_selection.StratifiedKFold`
        otherwise.
    weights_search : {"random", "average"}, default="random"
        ``"average"``: equal weights (section 4.1), no search (the members are still
        cross-fitted, so ``oof_proba_`` and ``best_score_`` compare with the search).
    n_iter : int, default=500
        Uniform-phase budget (>= 1); its first candidate is the plain average.
    n_local_iter : int, default=500
        Local-phase budget (>= 0).
    local_scale : float, default=0.05
        Standard deviation of the Gaussian perturbations of the local phase.
    search_subsets : bool, default=False
        Uniform candidates use a random non-empty subset of members (the subsets of section
        4.1); the local phase keeps the best candidate's subset.
    n_bags : int, default=1
        Number of independent searches whose weights are averaged (then re-rounded), as in
        the bagged submission of section 4.4.2. With ``n_bags > 1`` each search runs on a
        bootstrap resample of the held-out predictions, so the searches differ by more than
        their seed.
    decimals : int, default=2
        Rounding of the weights (section 4.3).
    optuna : bool, default=False
        Run the search as an Optuna study (ask/tell with
        :class:`optuna.samplers.RandomSampler` seeded from ``random_state``): every candidate
        is a trial with its accuracy as value, its phase, log-loss and rounded weights as user
        attributes, so the search is visible in Optuna's tools and resumable: trials already
        COMPLETE in a loaded study count against the budgets and their best is the
        starting point. ``n_bags > 1`` uses one study per bag (``{study_name}-bag{b}``).
    storage : str or None, default=None
        Optuna storage URL (``sqlite:///file.db``, a PostgreSQL URL for many processes);
        None keeps the study in memory. Only used with ``optuna=True``.
    study_name : str or None, default=None
        Optuna study name (loaded if it exists). Only used with ``optuna=True``.
    n_jobs : int, default=None
        Parallel fold fits in :func:`~sklearn.model_selection.cross_val_predict`.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
    weights_ : ndarray, shape (n_members, n_classes)
        Each column is a simplex (non-negative, sums to 1), multiples of ``10**-decimals``.
    oof_proba_ : ndarray, shape (n_samples, n_members, n_classes)
        Cross-fitted member probabilities the weights were searched on.
    best_score_ : float
        Accuracy of ``weights_`` on ``oof_proba_``.
    search_history_ : dict of ndarray
        One entry per candidate (all bags): ``"bag"``, ``"phase"`` ("average", "uniform",
        "local"), ``"accuracy"``, ``"log_loss"`` (of the rows that bag searched on).
    estimators_ : list of estimators
        Members refitted on all the data.
    named_estimators_ : dict
    studies_ : list of optuna.Study
        Only with ``optuna=True``.

    Notes
    -----
    Score of a candidate: accuracy of the arg-max of the weighted average on the cross-fitted
    predictions, ties broken by the lower log-loss of the renormalised average (with ~300
    samples many weightings tie on accuracy; log-loss prefers the more confident-correct one).

    A class missing from a training fold (rare class, few subjects) gets probability 0 from
    that fold's model, with a RuntimeWarning naming the member (scikit-learn's
    ``cross_val_predict`` convention).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> X, y = make_classification(200, n_classes=3, n_informative=4, random_state=0)
    >>> clf = WeightedAverageClassifier(
    ...     [("lr", LogisticRegression()), ("nb", GaussianNB())], n_iter=50, n_local_iter=50,
    ...     random_state=0).fit(X, y)
    >>> clf.weights_.shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "cv": ["cv_object"],
        "weights_search": [StrOptions({"random", "average"})],
        "n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_local_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "local_scale": [Interval(numbers.Real, 0, None, closed="neither")],
        "search_subsets": ["boolean"],
        "n_bags": [Interval(numbers.Integral, 1, None, closed="left")],
        "decimals": [Interval(numbers.Integral, 0, None, closed="left")],
        "optuna": ["boolean"],
        "storage": [str, None],
        "study_name": [str, None],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimators,
        *,
        cv=5,
        weights_search="random",
        n_iter=500,
        n_local_iter=500,
        local_scale=0.05,
        search_subsets=False,
        n_bags=1,
        decimals=2,
        optuna=False,
        storage=None,
        study_name=None,
        n_jobs=None,
        random_state=None,
    ):
        self.estimators = estimators
        self.cv = cv
        self.weights_search = weights_search
        self.n_iter = n_iter
        self.n_local_iter = n_local_iter
        self.local_scale = local_scale
        self.search_subsets = search_subsets
        self.n_bags = n_bags
        self.decimals = decimals
        self.optuna = optuna
        self.storage = storage
        self.study_name = study_name
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y, groups=None):
        """Cross-fit the members, search the weights, refit the members on all data.

        Parameters
        ----------
        X : array-like or list of clips
            Passed unchanged to every member.
        y : array-like, shape (n_samples,)
        groups : array-like, shape (n_samples,), default=None
            Subject ids: the cross-fitting folds then never split a subject.

        Returns
        -------
        self
        """
        self._validate_params()
        names, members = check_members(self.estimators)
        y = _check_target(y)
        le = LabelEncoder().fit(y)
        self._le, self.classes_ = le, le.classes_
        y_enc = le.transform(y)
        n_classes = len(self.classes_)

        splits = make_splits(self.cv, X, y_enc, groups)
        self.oof_proba_ = cross_fit_proba(
            names, members, X, y_enc, splits, n_classes, n_jobs=self.n_jobs
        )
        self.weights_, history, self.studies_ = self._search(y_enc)
        self.search_history_ = {
            key: np.asarray([h[i] for h in history]) for i, key in
            enumerate(("bag", "phase", "accuracy", "log_loss"))
        }
        self.best_score_ = float(_scores(self.oof_proba_, y_enc, self.weights_[None])[0][0])

        self.estimators_ = [clone(est).fit(X, y_enc) for est in members]
        for name, est in zip(names, self.estimators_):
            if not np.array_equal(getattr(est, "classes_", None), np.arange(n_classes)):
                raise ValueError(
                    f"Member {name!r} has classes_ {getattr(est, 'classes_', None)} after "
                    f"fitting on encoded labels 0..{n_classes - 1}; all members must predict "
                    "the same classes."
                )
        self.named_estimators_ = dict(zip(names, self.estimators_))
        return self

    def _search(self, y_enc):
        """Run ``n_bags`` searches and average their weights."""
        n_samples, n_members, n_classes = self.oof_proba_.shape
        if self.weights_search == "average":
            w = round_simplex(np.full((n_members, n_classes), 1.0 / n_members), self.decimals)
            acc, ll = _scores(self.oof_proba_, y_enc, w[None])
            return w, [(0, "average", float(acc[0]), float(ll[0]))], None
        rng = check_random_state(self.random_state)
        weights, history, studies = [], [], []
        for bag in range(self.n_bags):
            seed = rng.randint(np.iinfo(np.int32).max)
            bag_rng = np.random.RandomState(seed)
            rows = np.arange(n_samples)
            if self.n_bags > 1:
                rows = bag_rng.randint(n_samples, size=n_samples)
            search = _Search(
                self.oof_proba_[rows], y_enc[rows], bag_rng, n_iter=self.n_iter,
                n_local_iter=self.n_local_iter, local_scale=self.local_scale,
                search_subsets=self.search_subsets, decimals=self.decimals,
            )
            if self.optuna:
                name = self.study_name
                if name is not None and self.n_bags > 1:
                    name = f"{name}-bag{bag}"
                best, study = _run_search_in_study(search, self.storage, name, seed)
                studies.append(study)
            else:
                best = search.run()
            weights.append(best)
            history += [(bag, *h) for h in search.history]
        mean = np.mean(weights, axis=0)
        return round_simplex(mean, self.decimals), history, (studies if self.optuna else None)

    def predict_proba(self, X):
        """Per-class weighted average of the refitted members' probabilities.

        Parameters
        ----------
        X : array-like or list of clips

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        proba = np.stack([est.predict_proba(X) for est in self.estimators_], axis=1)
        return combine_proba(proba, self.weights_)

    def predict(self, X):
        """Class with the highest weighted-average probability.

        Parameters
        ----------
        X : array-like or list of clips

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

    def __sklearn_tags__(self):
        return _member_tags(self, super().__sklearn_tags__())
