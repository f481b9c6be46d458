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
from sklearn.utils import check_random_state

from ..utils._sklearn import Interval, StrOptions, _fit_context
from ._base import _BaseCrossFitEnsemble

__all__ = ["WeightedAverageClassifier", "combine_proba", "member_subsets", "round_simplex"]

#: Up to this many members, ``search_subsets=True`` tries every non-empty subset (section
#: 4.1: 31 for 5 models); beyond it, random subsets.
EXHAUSTIVE_SUBSETS_MAX_MEMBERS = 5


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


def member_subsets(n_members: int) -> np.ndarray:
    """Every non-empty subset of ``n_members`` members as 0/1 masks, the whole set first.

    Returns
    -------
    ndarray, shape (2**n_members - 1, n_members)
        Rows in decreasing order of size (then of the binary number they spell), so row 0
        is the plain average of all members (section 4.1 tries all 31 subsets of 5 models).

    Examples
    --------
    >>> member_subsets(2)
    array([[1., 1.],
           [1., 0.],
           [0., 1.]])
    """
    codes = np.arange(1, 2**n_members)
    bits = (codes[:, None] >> np.arange(n_members - 1, -1, -1)) & 1
    order = np.lexsort((-codes, -bits.sum(axis=1)))
    return bits[order].astype(float)


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
        self.history: list[tuple[str, float, float, np.ndarray]] = []
        self.best = None
        self.best_key = (-np.inf, -np.inf)
        self.best_mask = np.ones((self.n_members, 1))

    def uniform_candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """The plain average then ``n_iter - 1`` uniform draws (and their member masks).

        With ``search_subsets``, up to :data:`EXHAUSTIVE_SUBSETS_MAX_MEMBERS` members every
        non-empty subset is tried (section 4.1): candidate ``i`` uses subset
        ``i mod (2**M - 1)`` (the whole set first), with equal weights in the first round
        (the plain average of every subset) and uniform draws after; with more members each
        candidate draws a random non-empty subset.
        """
        M, K = self.n_members, self.n_classes
        raw = self.rng.uniform(size=(self.n_iter, M, K))
        masks = np.ones((self.n_iter, M, 1))
        if self.search_subsets and M <= EXHAUSTIVE_SUBSETS_MAX_MEMBERS:
            subsets = member_subsets(M)
            masks = subsets[np.arange(self.n_iter) % len(subsets), :, None]
            raw[: len(subsets)] = 1.0
        elif self.search_subsets:  # a random non-empty subset of members per candidate
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
            self.history.append((phase, float(acc[b]), float(ll[b]), weights[b]))
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


class WeightedAverageClassifier(_BaseCrossFitEnsemble):
    """Per-class weighted average of member probabilities, weights by random search.

    Implements the combination of Kahou et al. (EmoNets), sections 4.1 (averaging, all member
    subsets), 4.3 (uniform then local random search over per-class simplexes, weights rounded
    to 2 decimals) and 4.4.2 (search on swapped = cross-fitted predictions; bagging of
    searches).

    ``fit`` computes out-of-fold probabilities of every member with one (group) k-fold shared
    by all members (the paper's swapped predictions are ``cv=2``), searches the weights on
    them, then refits every member on all the data. ``X`` is passed unchanged to every
    member (like :class:`~sklearn.ensemble.VotingClassifier`), so members may be whole
    pipelines reading different modalities/columns of the same ``X`` and ``X`` may be a list
    of clips: the ensemble does not validate ``X``, its members do.

    The members are parameters: ``get_params(deep=True)`` lists them and their parameters,
    ``set_params(lr__C=3)`` sets one and ``set_params(lr="drop")`` leaves a member out, so
    :func:`~skfer.model_selection.tune` can tune them. To keep a search in an Optuna
    study (storage, resuming), tune the ensemble with :func:`~skfer.model_selection.tune`;
    the weight search itself is one code path, so the same ``random_state`` gives the same
    weights however the ensemble is driven.

    Parameters
    ----------
    estimators : list of (str, estimator)
        Members; each needs ``predict_proba`` (or is ``"drop"``). They are fitted on labels
        encoded as ``0 .. n_classes - 1`` (as VotingClassifier does).
    cv : int, cross-validation generator or iterable, default=5
        Cross-fitting folds, resolved by :func:`~skfer.model_selection.check_group_cv`: an
        int means :class:`~sklearn.model_selection.GroupKFold` when ``groups`` are passed to
        ``fit``, :class:`~sklearn.model_selection.StratifiedKFold` otherwise.
    weights_search : {"random", "average"}, default="random"
        ``"average"``: equal weights (section 4.1), no search (the members are still
        cross-fitted, so ``oof_proba_`` and ``best_score_`` compare with the search).
    n_iter : int, default=500
        Uniform-phase budget (>= 1); its first candidate is the plain average.
    n_local_iter : int, default=500
        Local-phase budget (>= 0).
    local_scale : float, default=0.05
        Standard deviation σ of the Gaussian perturbations of the local phase (see Notes).
    search_subsets : bool, default=False
        Uniform candidates leave members out (the subsets of section 4.1): with at most
        :data:`EXHAUSTIVE_SUBSETS_MAX_MEMBERS` (5) members every non-empty subset is tried,
        first as the plain average of the subset, then with uniform weights in turn (so
        ``n_iter`` must be at least ``2**n_members - 1``); with more members each candidate
        draws a random non-empty subset. The local phase keeps the best candidate's subset.
    n_bags : int, default=1
        Number of independent searches whose weights are averaged (then re-rounded), as in
        the bagged submission of section 4.4.2. With ``n_bags > 1`` each search runs on a
        bootstrap resample of the held-out predictions, so the searches differ by more than
        their seed.
    decimals : int, default=2
        Rounding of the weights (section 4.3).
    n_jobs : int, default=None
        Parallel fold fits in :func:`~sklearn.model_selection.cross_val_predict`.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
    weights_ : ndarray, shape (n_members, n_classes)
        Each column is a simplex (non-negative, sums to 1), multiples of ``10**-decimals``.
        Rows follow the members not dropped, in order.
    oof_proba_ : ndarray, shape (n_samples, n_members, n_classes)
        Cross-fitted member probabilities the weights were searched on.
    best_score_ : float
        Accuracy of ``weights_`` on ``oof_proba_``.
    search_history_ : dict of ndarray
        One entry per candidate (all bags): ``"bag"``, ``"phase"`` ("average", "uniform",
        "local"), ``"accuracy"``, ``"log_loss"`` (of the rows that bag searched on) and
        ``"weights"`` (n_candidates, n_members, n_classes).
    estimators_ : list of estimators
        Members refitted on all the data.
    named_estimators_ : Bunch
        Refitted members by name.

    See Also
    --------
    sklearn.ensemble.VotingClassifier : ``voting="soft"`` is the equal-weight case (one
        weight per member for all classes); DTAGN's eq. 7 (α = 0.5) is that soft vote.
    SVMStackingClassifier : an RBF SVM learnt on the same cross-fitted probabilities.

    Notes
    -----
    Score of a candidate: accuracy of the arg-max of the weighted average on the cross-fitted
    predictions, ties broken by the lower log-loss of the renormalised average (with ~300
    samples many weightings tie on accuracy; log-loss prefers the more confident-correct one).

    Search budget: the paper ran its uniform search "for a number of hours" and its local
    search for a "short" then a "longer" duration, without giving counts; skfer defaults to
    500 uniform + 500 local candidates (1000 draws; about 0.15 s on 300 samples, 4 members and
    7 classes), which on CK+ reaches its best cross-fitted accuracy well before the end
    (``search_history_`` shows the curve); raise ``n_iter``/``n_local_iter`` for more. The
    paper does not give the standard deviation σ of its Gaussian local search either:
    ``local_scale=0.05`` moves a weight by about 5 of the 2-decimal steps, enough to leave a
    rounded optimum and small next to the simplex's extent.

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
    >>> clf.set_params(lr__C=3.0).get_params()["lr__C"]
    3.0
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
        n_jobs=None,
        random_state=None,
    ):
        super().__init__(estimators)
        self.cv = cv
        self.weights_search = weights_search
        self.n_iter = n_iter
        self.n_local_iter = n_local_iter
        self.local_scale = local_scale
        self.search_subsets = search_subsets
        self.n_bags = n_bags
        self.decimals = decimals
        self.n_jobs = n_jobs
        self.random_state = random_state

    # Members are estimators whose parameters are validated by their own fit.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None, **fit_params):
        """Cross-fit the members, search the weights, refit the members on all data.

        Parameters
        ----------
        X : array-like or list of clips
            Passed unchanged to every member.
        y : array-like, shape (n_samples,)
        groups : array-like, shape (n_samples,), default=None
            Subject ids: the cross-fitting folds then never split a subject. With metadata
            routing enabled they also reach the members that request them.
        **fit_params : dict
            ``sample_weight`` (to every member without metadata routing); with routing, any
            metadata the members request.

        Returns
        -------
        self
        """
        n_members = len(self._check_members()[0])
        if (self.search_subsets and self.weights_search == "random"
                and n_members <= EXHAUSTIVE_SUBSETS_MAX_MEMBERS
                and self.n_iter < 2**n_members - 1):
            raise ValueError(
                f"n_iter={self.n_iter} cannot try the {2**n_members - 1} subsets of "
                f"{n_members} members that search_subsets=True tries exhaustively; use "
                f"n_iter >= {2**n_members - 1}."
            )
        y_enc, _ = self._fit_members(X, y, groups, fit_params)
        self.weights_, history = self._search(y_enc)
        self.search_history_ = {
            key: np.asarray([h[i] for h in history]) for i, key in
            enumerate(("bag", "phase", "accuracy", "log_loss", "weights"))
        }
        self.best_score_ = float(_scores(self.oof_proba_, y_enc, self.weights_[None])[0][0])
        return self

    def _search(self, y_enc):
        """Run ``n_bags`` searches and average their weights."""
        n_samples, n_members, n_classes = self.oof_proba_.shape
        if self.weights_search == "average":
            w = round_simplex(np.full((n_members, n_classes), 1.0 / n_members), self.decimals)
            acc, ll = _scores(self.oof_proba_, y_enc, w[None])
            return w, [(0, "average", float(acc[0]), float(ll[0]), w)]
        rng = check_random_state(self.random_state)
        weights, history = [], []
        for bag in range(self.n_bags):
            bag_rng = np.random.RandomState(rng.randint(np.iinfo(np.int32).max))
            rows = np.arange(n_samples)
            if self.n_bags > 1:
                rows = bag_rng.randint(n_samples, size=n_samples)
            search = _Search(
                self.oof_proba_[rows], y_enc[rows], bag_rng, n_iter=self.n_iter,
                n_local_iter=self.n_local_iter, local_scale=self.local_scale,
                search_subsets=self.search_subsets, decimals=self.decimals,
            )
            weights.append(search.run())
            history += [(bag, *h) for h in search.history]
        return round_simplex(np.mean(weights, axis=0), self.decimals), history

    def predict_proba(self, X):
        """Per-class weighted average of the refitted members' probabilities.

        Parameters
        ----------
        X : array-like or list of clips

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
        """
        return combine_proba(self._members_proba(X), self.weights_)
