import numpy as np
import pytest
from sklearn.metrics.pairwise import chi2_kernel
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skfer.features import Chi2KernelTransformer


def _histograms(n=30, bins=6, seed=0):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    counts = rng.poisson(np.where(y[:, None] == 1, np.arange(1, bins + 1), bins), (n, bins))
    counts[0, :2] = 0  # empty bins: 0/0 terms must count 0
    return counts / counts.sum(axis=1, keepdims=True), y, np.arange(n) // 3


def _by_hand(A, B, gamma):
    K = np.empty((len(A), len(B)))
    for i, a in enumerate(A):
        for j, b in enumerate(B):
            s = sum((u - v) ** 2 / (u + v) for u, v in zip(a, b) if u + v > 0)
            K[i, j] = np.exp(-gamma * s)
    return K


def test_kernel_matches_the_formula_and_scikit_learn():
    X, _, _ = _histograms()
    train, test = X[:20], X[20:]
    k = Chi2KernelTransformer(gamma=0.7).fit(train)
    np.testing.assert_allclose(k.transform(test), _by_hand(test, train, 0.7), rtol=1e-12)
    np.testing.assert_allclose(k.transform(test), chi2_kernel(test, train, gamma=0.7))
    gram = k.fit_transform(train)
    assert gram.shape == (20, 20)
    np.testing.assert_allclose(np.diag(gram), 1.0)
    np.testing.assert_allclose(gram, gram.T)
    # two histograms: x = (1, 0), y = (0.5, 0.5): chi2 = 0.25/1.5 + 0.25/0.5 = 2/3
    two = Chi2KernelTransformer(gamma=1.5).fit([[0.5, 0.5]]).transform([[1.0, 0.0]])
    np.testing.assert_allclose(two, [[np.exp(-1.5 * 2 / 3)]])


def test_gamma_mean_is_the_inverse_mean_training_distance():
    X, _, _ = _histograms(n=8)
    k = Chi2KernelTransformer(gamma="mean").fit(X)
    dist = -np.log(_by_hand(X, X, 1.0))
    mean = dist[~np.eye(8, dtype=bool)].mean()
    assert k.gamma_ == pytest.approx(1 / mean)
    np.testing.assert_allclose(k.transform(X[:3]), _by_hand(X[:3], X, 1 / mean), rtol=1e-10)


def test_inside_svc_and_group_cross_validation_each_fold_uses_its_own_training_set():
    X, y, groups = _histograms(n=40, seed=1)
    model = Pipeline([("k", Chi2KernelTransformer(gamma=2.0)), ("svm", SVC(kernel="precomputed"))])
    cv = GroupKFold(4)
    scores = cross_val_score(model, X, y, groups=groups, cv=cv)
    # The same folds by hand: training Gram matrix, then test-by-training kernel.
    expected = []
    for tr, te in cv.split(X, y, groups):
        svm = SVC(kernel="precomputed").fit(_by_hand(X[tr], X[tr], 2.0), y[tr])
        expected.append((svm.predict(_by_hand(X[te], X[tr], 2.0)) == y[te]).mean())
    np.testing.assert_allclose(scores, expected)
    # gamma is a searchable parameter, and the searched model predicts new histograms.
    search = GridSearchCV(model, {"k__gamma": [0.5, 2.0, "mean"]}, cv=cv).fit(X, y, groups=groups)
    assert search.predict(X[:5]).shape == (5,)


def test_negative_values_and_feature_count_are_rejected():
    with pytest.raises(ValueError, match=r"Negative values in data: X\[1, 0\]"):
        Chi2KernelTransformer().fit([[0.0, 1.0], [-0.1, 1.0]])
    k = Chi2KernelTransformer().fit([[0.0, 1.0]])
    with pytest.raises(ValueError, match="features"):
        k.transform([[1.0, 2.0, 3.0]])
    assert k.get_feature_names_out().tolist() == ["chi2kerneltransformer0"]
