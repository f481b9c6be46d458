"""Tests of skfer.ensemble (EmoNets, sections 4.1-4.4)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Perceptron
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skfer.ensemble import CoarseToFineSVC, SVMStackingClassifier, WeightedAverageClassifier
from skfer.ensemble.stacking import coarse_grid, fine_grid
from skfer.ensemble.weighted_average import (
    EXHAUSTIVE_SUBSETS_MAX_MEMBERS,
    _Search,
    combine_proba,
    member_subsets,
    round_simplex,
)


@pytest.fixture
def data():
    X, y = make_classification(240, n_features=10, n_informative=6, n_classes=4,
                               n_clusters_per_class=1, random_state=0)
    return X, y, np.arange(len(y)) // 8  # 30 "subjects" of 8 samples


def _members():
    return [("lr", LogisticRegression(max_iter=300)), ("nb", GaussianNB()),
            ("lr_weak", LogisticRegression(C=1e-3, max_iter=300))]


def _fast(**kw):
    return WeightedAverageClassifier(_members(), n_iter=100, n_local_iter=100, random_state=0,
                                     **kw)


# --- weights: simplexes rounded to 2 decimals (section 4.3) ----------------------------------


def test_round_simplex_keeps_sum_and_two_decimals():
    w = np.full((3, 2), 1 / 3)
    r = round_simplex(w)
    assert np.allclose(r.sum(axis=0), 1.0)
    assert np.allclose(np.sort(r[:, 0]), [0.33, 0.33, 0.34])
    rng = np.random.RandomState(0)
    raw = rng.uniform(size=(50, 4, 7))
    r = round_simplex(raw / raw.sum(axis=1, keepdims=True))
    assert np.allclose(r.sum(axis=1), 1.0)
    assert np.allclose(r * 100, np.round(r * 100))
    assert np.abs(r - raw / raw.sum(axis=1, keepdims=True)).max() <= 0.01 + 1e-12


def test_weights_are_per_class_rounded_simplexes(data):
    X, y, groups = data
    clf = _fast().fit(X, y, groups)
    assert clf.weights_.shape == (3, 4)
    assert np.all(clf.weights_ >= 0)
    assert np.allclose(clf.weights_.sum(axis=0), 1.0)
    assert np.allclose(clf.weights_ * 100, np.round(clf.weights_ * 100))
    assert clf.oof_proba_.shape == (240, 3, 4)
    assert [type(e) for e in clf.estimators_] == [LogisticRegression, GaussianNB,
                                                  LogisticRegression]
    proba = clf.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    # predict_proba is the per-class weighted average of the refitted members, renormalised
    members = np.stack([e.predict_proba(X) for e in clf.estimators_], axis=1)
    mixed = np.einsum("nmk,mk->nk", members, clf.weights_)
    assert np.allclose(proba, mixed / mixed.sum(axis=1, keepdims=True))
    assert set(clf.predict(X)) <= set(y)


def test_best_score_is_the_accuracy_of_the_weights_on_oof(data):
    X, y, groups = data
    clf = _fast().fit(X, y, groups)
    acc = (combine_proba(clf.oof_proba_, clf.weights_).argmax(1) == y).mean()
    assert clf.best_score_ == pytest.approx(acc)
    assert clf.best_score_ == pytest.approx(clf.search_history_["accuracy"].max())


def test_local_phase_never_worse_than_uniform_phase_nor_average(data):
    X, y, groups = data
    clf = _fast().fit(X, y, groups)
    h = clf.search_history_
    uniform = h["accuracy"][h["phase"] == "uniform"]
    assert (h["phase"] == "uniform").sum() == 100 and (h["phase"] == "local").sum() == 100
    assert clf.best_score_ >= uniform.max()
    # the first uniform candidate is the plain average (section 4.1)
    avg = _fast(weights_search="average").fit(X, y, groups)
    assert np.allclose(avg.weights_, [[0.34] * 4, [0.33] * 4, [0.33] * 4])
    assert uniform[0] == pytest.approx(avg.best_score_)
    assert clf.best_score_ >= avg.best_score_


def test_tie_break_prefers_lower_log_loss():
    # two members with identical arg-max everywhere: accuracies tie, the sharper one wins
    y = np.array([0, 1, 0, 1])
    sharp = np.eye(2)[y] * 0.9 + 0.05
    soft = np.eye(2)[y] * 0.2 + 0.4
    proba = np.stack([soft, sharp], axis=1)
    search = _Search(proba, y, np.random.RandomState(0), n_iter=50, n_local_iter=50,
                     local_scale=0.1, search_subsets=False, decimals=2)
    best = search.run()
    assert best[1].min() > 0.9  # weight mass on the sharp member


def test_same_random_state_same_result(data):
    X, y, groups = data
    a = _fast().fit(X, y, groups)
    b = _fast().fit(X, y, groups)
    assert np.array_equal(a.weights_, b.weights_)
    assert np.array_equal(a.search_history_["accuracy"], b.search_history_["accuracy"])
    c = WeightedAverageClassifier(_members(), n_iter=100, n_local_iter=100,
                                  random_state=1).fit(X, y, groups)
    assert not np.array_equal(a.search_history_["accuracy"], c.search_history_["accuracy"])


def test_subset_search_candidates_drop_whole_members():
    proba = np.random.RandomState(0).dirichlet(np.ones(3), size=(30, 4))
    search = _Search(proba, np.arange(30) % 3, np.random.RandomState(0), n_iter=200,
                     n_local_iter=0, local_scale=0.1, search_subsets=True, decimals=2)
    weights, masks = search.uniform_candidates()
    used = weights.sum(axis=2) > 0  # (candidates, members)
    assert used.any(axis=1).all()
    assert (~used).any()  # some candidates leave members out
    assert np.array_equal(used, masks[:, :, 0] > 0)
    assert np.allclose(weights.sum(axis=1), 1.0)


def test_search_history_records_every_candidate_in_order(data):
    # (what the Optuna-study variant of the search recorded per trial, now one code path)
    X, y, groups = data
    members = [("lr", LogisticRegression(max_iter=200)), ("nb", GaussianNB())]
    clf = WeightedAverageClassifier(members, n_iter=10, n_local_iter=10,
                                    random_state=0).fit(X, y, groups)
    h = clf.search_history_
    assert h["phase"].tolist() == ["uniform"] * 10 + ["local"] * 10
    assert h["weights"].shape == (20, 2, 4)
    assert np.allclose(h["weights"][0], 0.5)  # the first uniform candidate: plain average
    assert np.isclose(clf.best_score_, h["accuracy"].max())
    best = np.flatnonzero(h["accuracy"] == h["accuracy"].max())
    assert any(np.array_equal(h["weights"][i], clf.weights_) for i in best)
    # a larger local budget starts from the same uniform phase and can only do better
    more = WeightedAverageClassifier(members, n_iter=10, n_local_iter=15,
                                     random_state=0).fit(X, y, groups)
    assert np.array_equal(more.search_history_["accuracy"][:10], h["accuracy"][:10])
    assert more.best_score_ >= clf.best_score_


def test_member_subsets_are_all_non_empty_subsets_whole_set_first():
    subsets = member_subsets(5)
    assert subsets.shape == (31, 5)  # section 4.1: 31 combinations of 5 models
    assert len({tuple(r) for r in subsets}) == 31 and subsets.sum(axis=1).min() == 1
    assert subsets[0].tolist() == [1.0] * 5
    assert np.all(np.diff(subsets.sum(axis=1)) <= 0)


def test_subset_search_is_exhaustive_up_to_five_members():
    proba = np.random.RandomState(0).dirichlet(np.ones(3), size=(30, 4))
    search = _Search(proba, np.arange(30) % 3, np.random.RandomState(0), n_iter=40,
                     n_local_iter=0, local_scale=0.1, search_subsets=True, decimals=2)
    weights, masks = search.uniform_candidates()
    # the first 15 candidates are the plain averages of the 15 subsets of 4 members
    assert np.array_equal(masks[:15, :, 0], member_subsets(4))
    for w, m in zip(weights[:15], masks[:15, :, 0]):
        assert np.allclose(w, round_simplex(np.repeat(m[:, None], 3, 1) / m.sum()))
    # then uniform weights, cycling through the subsets again
    assert np.array_equal(masks[15:30, :, 0], member_subsets(4))
    assert not np.allclose(weights[15], weights[0])
    # more members than that: random subsets
    proba6 = np.random.RandomState(0).dirichlet(np.ones(3), size=(30, 6))
    search6 = _Search(proba6, np.arange(30) % 3, np.random.RandomState(0), n_iter=63,
                      n_local_iter=0, local_scale=0.1, search_subsets=True, decimals=2)
    _, masks6 = search6.uniform_candidates()
    assert EXHAUSTIVE_SUBSETS_MAX_MEMBERS == 5
    assert len({tuple(m) for m in masks6[:, :, 0]}) < 63


def test_exhaustive_subset_search_needs_the_budget(data):
    X, y, groups = data
    with pytest.raises(ValueError, match="n_iter=5 cannot try the 7 subsets of 3 members"):
        _fast().set_params(search_subsets=True, n_iter=5).fit(X, y, groups)
    clf = _fast().set_params(search_subsets=True, n_iter=7, n_local_iter=5).fit(X, y, groups)
    assert clf.best_score_ >= clf.search_history_["accuracy"][:7].max()


def test_bagging_averages_searches(data):
    X, y, groups = data
    clf = _fast(n_bags=3).fit(X, y, groups)
    assert set(clf.search_history_["bag"]) == {0, 1, 2}
    assert np.allclose(clf.weights_.sum(axis=0), 1.0)
    assert np.allclose(clf.weights_ * 100, np.round(clf.weights_ * 100))


# --- cross-fitting: no leakage, groups, lists of clips (section 4.4.1) ----------------------


class Memoriser(ClassifierMixin, BaseEstimator):
    """Returns a one-hot of the label for samples seen in fit (id in column 0), else uniform."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.memory_ = dict(zip(np.asarray(X)[:, 0].astype(int), y))
        return self

    def predict_proba(self, X):
        out = np.full((len(X), len(self.classes_)), 1.0 / len(self.classes_))
        for i, key in enumerate(np.asarray(X)[:, 0].astype(int)):
            if key in self.memory_:
                out[i] = np.eye(len(self.classes_))[np.searchsorted(self.classes_,
                                                                    self.memory_[key])]
        return out

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


def test_oof_predictions_never_come_from_a_member_that_saw_the_sample(data):
    X, y, groups = data
    Xid = np.column_stack([np.arange(len(y)), X])
    clf = WeightedAverageClassifier([("mem", Memoriser()), ("nb", GaussianNB())], cv=4,
                                    n_iter=20, n_local_iter=20, random_state=0)
    clf.fit(Xid, y, groups)
    assert np.allclose(clf.oof_proba_[:, 0], 0.25)  # never memorised
    assert np.allclose(clf.predict_proba(Xid[:5])[:, :].max(1) > 0.25, True)  # refit on all


def test_groups_make_subject_folds(data):
    X, y, groups = data
    Xg = np.column_stack([groups, X])

    class GroupMemoriser(Memoriser):
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            self.memory_ = dict(zip(np.asarray(X)[:, 0].astype(int), y))
            return self

    clf = WeightedAverageClassifier([("mem", GroupMemoriser()), ("nb", GaussianNB())], cv=3,
                                    n_iter=5, n_local_iter=0, random_state=0)
    clf.fit(Xg, y, groups)
    assert np.allclose(clf.oof_proba_[:, 0], 0.25)  # the subject was never in the training fold
    clf.fit(Xg, y)  # without groups a subject's other samples leak into training folds
    assert not np.allclose(clf.oof_proba_[:, 0], 0.25)


def test_lists_of_clips_reach_members_unchanged(data):
    X, y, groups = data
    clips = [row.reshape(1, 2, 5) for row in X]  # 1-frame "clips"
    flat = FunctionTransformer(lambda c: np.stack([x.ravel() for x in c]))
    members = [("lr", make_pipeline(flat, LogisticRegression(max_iter=300))),
               ("nb", make_pipeline(flat, GaussianNB()))]
    clf = WeightedAverageClassifier(members, n_iter=20, n_local_iter=20, random_state=0)
    clf.fit(clips, y, groups)
    assert clf.predict(clips).shape == (240,)
    ref = WeightedAverageClassifier(
        [("lr", LogisticRegression(max_iter=300)), ("nb", GaussianNB())], n_iter=20,
        n_local_iter=20, random_state=0).fit(X, y, groups)
    assert np.allclose(clf.weights_, ref.weights_)


def test_ensemble_beats_weak_members_on_noisy_views():
    # two members each see half of the informative features: the combination wins
    X, y = make_classification(400, n_features=8, n_informative=8, n_redundant=0,
                               n_classes=3, random_state=3)
    groups = np.arange(400) // 4
    left = FunctionTransformer(lambda Z: Z[:, :4])
    right = FunctionTransformer(lambda Z: Z[:, 4:])
    members = [("left", make_pipeline(left, LogisticRegression())),
               ("right", make_pipeline(right, LogisticRegression()))]
    clf = WeightedAverageClassifier(members, n_iter=200, n_local_iter=200,
                                    random_state=0).fit(X, y, groups)
    member_acc = (clf.oof_proba_.argmax(2) == y[:, None]).mean(0)
    assert clf.best_score_ > member_acc.max()


# --- bad input ---------------------------------------------------------------------------------


class BadProba(GaussianNB):
    def predict_proba(self, X):
        return super().predict_proba(X) * 2


class ShiftedClasses(GaussianNB):
    """A member that relabels its classes (e.g. a pipeline with its own label mapping)."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y)
        self.classes_ = self.classes_ + 10
        return self


def test_bad_input(data):
    X, y, groups = data
    with pytest.raises(ValueError, match="no predict_proba"):
        WeightedAverageClassifier([("p", Perceptron())]).fit(X, y)
    with pytest.raises(ValueError, match="non-empty"):
        WeightedAverageClassifier([]).fit(X, y)
    with pytest.raises(ValueError, match="unique"):
        WeightedAverageClassifier([("a", GaussianNB()), ("a", GaussianNB())]).fit(X, y)
    with pytest.raises(ValueError, match="'bad'.*sum to 1; sample 0"):
        WeightedAverageClassifier([("bad", BadProba())], n_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="n_iter"):
        WeightedAverageClassifier(_members(), n_iter=0).fit(X, y)
    with pytest.raises(ValueError, match="'shifted' has classes_"):
        WeightedAverageClassifier([("nb", GaussianNB()), ("shifted", ShiftedClasses())],
                                  n_iter=2, n_local_iter=0, cv=2).fit(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        WeightedAverageClassifier(_members()).fit(X, np.linspace(0, 1, len(y)))
    clf = _fast().fit(X, y)
    with pytest.raises(ValueError, match=r"unseen in fit: \[9\]"):
        clf.score(X[:3], [0, 1, 9])


def test_class_missing_from_a_fold_warns_and_gets_zero_probability(data):
    X, y, _ = data
    y = y.copy()
    y[:2] = 7  # a rare class: only in the first fold
    clf = WeightedAverageClassifier([("nb", GaussianNB())], cv=[
        (np.arange(2, 240), np.arange(0, 120)), (np.arange(0, 120), np.arange(120, 240))],
        n_iter=2, n_local_iter=0)
    with pytest.warns(RuntimeWarning, match="'nb'.*Number of classes in training fold"):
        clf.fit(X, y)
    assert np.all(clf.oof_proba_[:120, 0, 4] == 0)  # the fold model never saw class 7


def test_folds_must_partition_the_samples(data):
    X, y, _ = data
    half = np.arange(120)
    clf = WeightedAverageClassifier([("nb", GaussianNB())], cv=[(half + 120, half)], n_iter=1)
    with pytest.raises(ValueError, match="exactly one test fold"):
        clf.fit(X, y)


# --- SVM stacking (sections 4.2, 4.4.1) ---------------------------------------------------------


def test_coarse_then_fine_grid_is_the_papers():
    assert np.allclose(coarse_grid(), [1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3])
    fine = fine_grid(10.0, step=0.5)
    assert np.allclose(np.log2(fine / 10.0), np.arange(-3, 3.5, 0.5))  # powers of 2 ...
    assert np.allclose(fine_grid(0.1), 0.1 * 2.0 ** np.arange(-3, 4))
    assert not np.allclose(np.log2(fine_grid(0.1)), np.round(np.log2(fine_grid(0.1))))
    assert fine.min() > 1.0 and fine.max() < 100.0  # ... within the coarse neighbours


def test_coarse_to_fine_svc_searches_both_stages(data):
    X, y, _ = data
    svc = CoarseToFineSVC(random_state=0).fit(X[:120], y[:120])
    coarse = svc.coarse_search_.best_params_
    assert svc.coarse_search_.cv_results_["params"].__len__() == 49
    assert len(svc.fine_search_.cv_results_["params"]) == 7 * 7
    for p in ("C", "gamma"):
        assert coarse[p] / 10 < svc.best_params_[p] < coarse[p] * 10
        steps = np.log2(svc.best_params_[p] / coarse[p])
        assert steps == pytest.approx(np.round(steps))
    assert np.allclose(svc.predict_proba(X[120:]).sum(1), 1.0)
    assert svc.score(X[120:], y[120:]) > 0.5


def test_svm_stacking_uses_grouped_out_of_fold_predictions(data):
    X, y, groups = data
    Xid = np.column_stack([np.arange(len(y)), X])
    stack = SVMStackingClassifier([("mem", Memoriser()), ("nb", GaussianNB())], cv=3,
                                  random_state=0).fit(Xid, y, groups)
    # had the final SVM seen memorised (in-sample) predictions it would trust "mem" fully;
    # on out-of-fold ones "mem" is uninformative (uniform), so the SVM learns from "nb".
    nb_only = GaussianNB().fit(Xid, y)
    Xnew = np.column_stack([np.arange(1000, 1240), X])  # unseen ids: "mem" is uniform
    agree = (stack.predict(Xnew) == nb_only.predict(Xnew)).mean()
    assert agree > 0.8
    assert isinstance(stack.final_estimator_, CoarseToFineSVC)
    assert len(stack.estimators_) == 2


# scikit-learn's estimator checks for the ensembles run in test_common.py.


class _RecordingGroupKFold:
    """GroupKFold that records the groups each split call receives (in a class attribute:
    the ensembles are cloned by cross_val_score, and their ``cv`` deep-copied with them)."""

    seen: list = []

    def __init__(self, n_splits=3):
        from sklearn.model_selection import GroupKFold

        self.inner = GroupKFold(n_splits)

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.inner.get_n_splits()

    def split(self, X, y=None, groups=None):
        _RecordingGroupKFold.seen.append(None if groups is None else np.asarray(groups))
        return self.inner.split(X, y, groups)


@pytest.mark.parametrize("make", [
    lambda cv: _fast(cv=cv),
    lambda cv: SVMStackingClassifier(_members(), cv=cv, final_estimator=LogisticRegression()),
])
def test_groups_reach_the_inner_cross_fitting_through_metadata_routing(data, make):
    """cross_val_score(params={"groups": g}) groups both the outer and the inner folds."""
    import sklearn
    from sklearn.model_selection import GroupKFold, cross_val_score

    X, y, groups = data
    inner = _RecordingGroupKFold(3)
    _RecordingGroupKFold.seen = []
    with sklearn.config_context(enable_metadata_routing=True):
        model = make(inner).set_fit_request(groups=True)
        cross_val_score(model, X, y, cv=GroupKFold(3), params={"groups": groups})
    seen = _RecordingGroupKFold.seen
    assert len(seen) == 3 and all(g is not None for g in seen)
    # each inner call saw the groups of one outer training fold: two thirds of the subjects
    assert all(len(np.unique(g)) == 20 for g in seen)


# --- compositions: members are parameters, metadata reaches them ----------------------------


ENSEMBLES = [
    pytest.param(lambda members, **kw: WeightedAverageClassifier(
        members, n_iter=5, n_local_iter=5, random_state=0, **kw), id="weighted"),
    pytest.param(lambda members, **kw: SVMStackingClassifier(
        members, final_estimator=LogisticRegression(), **kw), id="stacking"),
]


@pytest.mark.parametrize("make", ENSEMBLES)
def test_members_are_parameters(data, make):
    X, y, groups = data
    clf = make(_members(), cv=3)
    params = clf.get_params(deep=True)
    assert params["lr"] is clf.estimators[0][1] and params["lr__C"] == 1.0
    assert params["lr_weak__C"] == 1e-3 and "nb__var_smoothing" in params
    assert clf.set_params(lr__C=3.0) is clf
    assert clf.estimators[0][1].C == 3.0 and clf.named_estimators.lr.C == 3.0
    clf.set_params(nb="drop").fit(X, y, groups)
    assert list(clf.named_estimators_) == ["lr", "lr_weak"]
    assert clf.oof_proba_.shape == (240, 2, 4) and clf.estimators_[0].C == 3.0
    with pytest.raises(ValueError, match="All estimators are dropped"):
        make([("nb", "drop")]).fit(X, y)
    with pytest.raises(ValueError, match="conflict with constructor arguments"):
        make([("cv", GaussianNB())]).fit(X, y)


class _MetadataRecorder(GaussianNB):
    """A member recording the groups and sample weights its fit receives (class attribute:
    the ensembles clone their members)."""

    calls: list = []

    def fit(self, X, y, sample_weight=None, groups=None):
        _MetadataRecorder.calls.append((len(y), groups, sample_weight))
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("make", ENSEMBLES)
def test_members_receive_routed_groups_and_weights_in_cross_fit_and_refit(data, make):
    import sklearn

    X, y, groups = data
    weights = np.linspace(0.5, 1.5, len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        member = _MetadataRecorder().set_fit_request(groups=True, sample_weight=True)
        lr = LogisticRegression(max_iter=300).set_fit_request(sample_weight=False)
        ensemble = make([("rec", member), ("lr", lr)], cv=3)
        if isinstance(ensemble, SVMStackingClassifier):
            ensemble.final_estimator.set_fit_request(sample_weight=False)
        _MetadataRecorder.calls = []
        ensemble.fit(X, y, groups, sample_weight=weights)
    calls = _MetadataRecorder.calls
    assert len(calls) == 4  # 3 cross-fitting folds, then the refit on all data
    for n, g, w in calls[:3]:  # a training fold's own groups: two thirds of the subjects
        assert n == 160 and len(g) == 160 and len(np.unique(g)) == 20 and len(w) == 160
    n, g, w = calls[3]
    assert n == 240 and np.array_equal(g, groups) and np.array_equal(w, weights)
    # the folds the members were cross-fitted on never split a subject
    for _, g, _ in calls[:3]:
        held_out = set(groups) - set(g)
        assert held_out and not held_out & set(g)


@pytest.mark.parametrize("make", ENSEMBLES)
def test_without_routing_groups_shape_folds_only_and_weights_reach_members(data, make):
    X, y, groups = data
    weights = np.linspace(0.5, 1.5, len(y))
    _MetadataRecorder.calls = []
    make([("rec", _MetadataRecorder()), ("nb", GaussianNB())], cv=3).fit(
        X, y, groups, sample_weight=weights)
    calls = _MetadataRecorder.calls
    assert len(calls) == 4 and all(g is None for _, g, _ in calls)
    assert [len(w) for _, _, w in calls] == [160, 160, 160, 240]
    with pytest.raises(ValueError, match="only supported if enable_metadata_routing=True"):
        make(_members(), cv=3).fit(X, y, groups, foo=1)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_stacking_matches_sklearn_stacking_classifier(n_classes):
    from sklearn.ensemble import StackingClassifier
    from sklearn.model_selection import StratifiedKFold

    X, y = make_classification(150, n_features=6, n_informative=4, n_classes=n_classes,
                               random_state=1)
    splits = list(StratifiedKFold(3).split(X, y))
    members = [("lr", LogisticRegression(max_iter=300)), ("nb", GaussianNB())]
    ours = SVMStackingClassifier(members, cv=splits,
                                 final_estimator=LogisticRegression()).fit(X, y)
    ref = StackingClassifier(members, final_estimator=LogisticRegression(), cv=splits,
                             stack_method="predict_proba").fit(X, y)
    assert np.allclose(ours.predict_proba(X), ref.predict_proba(X))
    assert np.array_equal(ours.predict(X), ref.predict(X))
