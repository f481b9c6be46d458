import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skfer import ClipSet
from skfer.features import BagOfMouths, FrameLevelClassifier
from skfer.features.bag_of_mouths import (
    normalise_patches,
    triangle_activation,
    whitening_basis,
)


def _mouths(n_clips=3, n_frames=4, size=(32, 32), seed=0):
    rng = np.random.RandomState(seed)
    return [rng.randint(0, 256, (n_frames, *size)).astype(np.uint8) for _ in range(n_clips)]


# ----------------------------------------------------------------------- building blocks
def test_triangle_activation_on_three_centroids_by_hand():
    centroids = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    points = np.array([[0.0, 0.0], [3.0, 4.0]])
    # point 0: distances 0, 3, 4 (mean 7/3) -> 7/3, 0, 0
    # point 1: distances 5, 4, 3 (mean 4)   -> 0, 0, 1
    expected = np.array([[7 / 3, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(triangle_activation(points, centroids), expected)


def test_patch_normalisation_zero_mean_unit_variance_and_constant_patches():
    patches = np.array([[0.0, 20.0, 0.0, 20.0], [7.0, 7.0, 7.0, 7.0]])
    out = normalise_patches(patches, epsilon=10.0)
    # mean 10, variance 100: (x - 10) / sqrt(110)
    np.testing.assert_allclose(out[0], np.array([-10, 10, -10, 10]) / np.sqrt(110))
    np.testing.assert_array_equal(out[1], 0.0)  # constant patch: zeros, not NaN
    big = normalise_patches(np.array([[0.0, 2000.0]]), epsilon=10.0)
    np.testing.assert_allclose(big.var(), 1.0, rtol=1e-5)  # high contrast: unit variance


def test_whitening_keeps_ninety_percent_of_the_variance_by_hand():
    # Points on three orthogonal axes with variances 6:3:1 (60%, 30%, 10% of the total).
    a, b, c = np.sqrt(6.0), np.sqrt(3.0), 1.0
    x = np.array([[a, 0, 0], [-a, 0, 0], [0, b, 0], [0, -b, 0], [0, 0, c], [0, 0, -c]])
    x = x + 5.0  # an offset the centring removes
    mean, comps, scale, kept = whitening_basis(x, 0.9)
    np.testing.assert_allclose(mean, 5.0)
    assert comps.shape == (2, 3) and kept == pytest.approx(0.9)  # 0.6 + 0.3 reaches 0.9
    np.testing.assert_allclose(np.abs(comps), [[1, 0, 0], [0, 1, 0]], atol=1e-12)
    # eigenvalues 2 a^2 / (n - 1) = 12/5 and 6/5
    np.testing.assert_allclose(scale**2, [12 / 5, 6 / 5])
    white = (x - mean) @ comps.T / scale
    np.testing.assert_allclose(np.cov(white, rowvar=False), np.eye(2), atol=1e-12)
    assert whitening_basis(x, 0.89)[1].shape[0] == 2
    assert whitening_basis(x, 0.91)[1].shape[0] == 3
    assert whitening_basis(x, 0.5)[1].shape[0] == 1
    with pytest.raises(ValueError, match="no variance"):
        whitening_basis(np.ones((4, 3)), 0.9)


# ---------------------------------------------------------------------------- encoder
def test_encoding_matches_a_hand_pipeline():
    """Regions to the pixel, strided patches, whitening, triangle, pooling, region order."""
    clips = _mouths(n_clips=2, n_frames=3, size=(10, 11), seed=1)
    bom = BagOfMouths(grid=2, patch_size=3, patch_stride=2, n_clusters=4, random_state=0)
    out = bom.fit(clips).transform(clips)
    ys, xs = [0, 5, 10], [0, 5, 11]  # 10 // 2 and 11 // 2
    for clip, seq in zip(clips, out):
        assert seq.shape == (3, 2 * 2 * 4)
        for t, frame in enumerate(clip.astype(float)):
            expected = []
            for r in range(4):
                y0, y1, x0, x1 = ys[r // 2], ys[r // 2 + 1], xs[r % 2], xs[r % 2 + 1]
                region = frame[y0:y1, x0:x1]
                patches = np.array([
                    region[i : i + 3, j : j + 3].ravel()
                    for i in range(0, region.shape[0] - 2, 2)
                    for j in range(0, region.shape[1] - 2, 2)
                ])
                p = patches - patches.mean(1, keepdims=True)
                p = p / np.sqrt(p.var(1, keepdims=True) + 10.0)
                w = (p - bom.patch_mean_[r]) @ bom.components_[r].T / bom.whiten_scale_[r]
                z = np.linalg.norm(w[:, None] - bom.cluster_centers_[r][None], axis=2)
                expected.append(np.maximum(z.mean(1, keepdims=True) - z, 0).mean(0))
            np.testing.assert_allclose(seq[t], np.concatenate(expected), atol=1e-10)
    assert (bom.explained_variance_ratio_ >= 0.9 - 1e-9).all()
    # 2 clips x 3 frames x 2 x 2 patches (regions 5x5 / 5x6 with stride 2)
    np.testing.assert_array_equal(bom.n_patches_, 2 * 3 * 4)


def test_paper_defaults_give_6400_values_per_frame_and_std_pooling():
    clips = _mouths(n_clips=1, n_frames=20, size=(48, 48))
    bom = BagOfMouths(random_state=0).fit(clips)
    seq = bom.transform(clips)[0]
    assert seq.shape == (20, 16 * 400) and bom.n_features_out_ == 6400
    assert np.isfinite(seq).all() and (seq >= 0).all()
    std = bom.set_params(pooling="std").transform(clips)[0]  # pooling is not learnt
    assert std.shape == seq.shape and (std >= 0).all() and not np.allclose(std, seq)


def test_deterministic_under_random_state_and_both_kmeans():
    clips = _mouths(n_clips=3, n_frames=6)
    for kmeans in ("minibatch", "lloyd"):
        a = BagOfMouths(n_clusters=6, kmeans=kmeans, random_state=3).fit_transform(clips)
        b = BagOfMouths(n_clusters=6, kmeans=kmeans, random_state=3).fit_transform(clips)
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
    c = BagOfMouths(n_clusters=6, random_state=4).fit_transform(clips)
    assert not np.allclose(a[0], c[0])


def test_max_patches_samples_the_training_patches():
    clips = _mouths(n_clips=2, n_frames=5, size=(40, 40))
    bom = BagOfMouths(n_clusters=5, max_patches=20, random_state=0).fit(clips)
    np.testing.assert_array_equal(bom.n_patches_, 2 * 5 * 9)  # regions 10x10: 3x3 patches
    assert bom.transform(clips)[0].shape == (5, 16 * 5)


# --------------------------------------------------------------------------- bad input
def test_crops_smaller_than_the_patch_grid_are_rejected_naming_the_clip():
    clips = _mouths(n_clips=2) + [np.zeros((2, 31, 40), np.uint8)]
    with pytest.raises(ValueError, match=r"clip 2: mouth crops of 31x40 .*at least 32x32"):
        BagOfMouths(n_clusters=2).fit(clips)
    fitted = BagOfMouths(n_clusters=2, random_state=0).fit(clips[:2])
    source = ClipSet(clips, source=["a.mp4", "b.mp4", "c.mp4"])
    with pytest.raises(ValueError, match=r"clip 2 \(c.mp4\): mouth crops"):
        fitted.transform(source)


def test_fewer_training_patches_than_centroids_names_the_region():
    with pytest.raises(ValueError, match=r"region \(0, 0\).*12 training patches for n_clust"):
        BagOfMouths(n_clusters=400).fit(_mouths(n_clips=3, n_frames=4))


def test_constant_patches_encode_without_nan_and_all_constant_is_an_error():
    clips = _mouths(n_clips=3, n_frames=6)
    clips[0][:3] = 128  # three flat frames among textured ones
    bom = BagOfMouths(n_clusters=4, random_state=0).fit(clips)
    out = bom.transform(clips + [np.full((2, 32, 32), 50, np.uint8)])
    assert all(np.isfinite(s).all() for s in out)
    np.testing.assert_allclose(out[0][0], out[-1][0])  # every flat frame encodes alike
    with pytest.raises(ValueError, match=r"region \(0, 0\).*no variance"):
        BagOfMouths(n_clusters=2).fit([np.full((5, 32, 32), 9, np.uint8)])


# ----------------------------------------------------------------------------- ClipSet
def test_clipset_in_clipset_out_missing_frames_left_out_of_fit():
    clips = _mouths(n_clips=3, n_frames=4)
    status = [["detected"] * 4, ["detected", "missing", "missing", "tracked"], ["filled"] * 4]
    X = ClipSet(clips, status=status, source=["a", "b", "c"])
    bom = BagOfMouths(n_clusters=4, random_state=0).fit(X)
    assert bom.n_frames_fit_ == 10
    out = bom.transform(X)
    assert isinstance(out, ClipSet) and out.get("source") == ["a", "b", "c"]
    assert [s.shape for s in out.data] == [(4, 64)] * 3
    assert out.get("status")[1].tolist() == status[1]


# ------------------------------------------------------------------ FrameLevelClassifier
def _frame_data(seed=0):
    rng = np.random.RandomState(seed)
    X, y = [], []
    for i in range(12):
        label = i % 2
        X.append(rng.normal(label * 2.0, 1.0, (rng.randint(1, 6), 3)))
        y.append(["neutral", "happiness"][label])
    return X, np.array(y)


def test_frame_level_classifier_trains_on_frames_and_averages_probabilities():
    X, y = _frame_data()
    clf = FrameLevelClassifier(LogisticRegression(C=0.5)).fit(X, y)
    frames = np.concatenate(X)
    labels = np.repeat(y, [len(s) for s in X])
    ref = LogisticRegression(C=0.5).fit(frames, labels)
    np.testing.assert_allclose(clf.estimator_.coef_, ref.coef_)
    assert clf.n_frames_fit_ == len(frames)
    proba = clf.predict_proba(X)
    expected = np.stack([ref.predict_proba(s).mean(axis=0) for s in X])
    np.testing.assert_allclose(proba, expected)
    np.testing.assert_array_equal(clf.predict(X), ref.classes_[expected.argmax(1)])


def test_frame_level_classifier_clip_weighting_and_missing_frames():
    X, y = _frame_data(1)
    clf = FrameLevelClassifier(weighting="clip").fit(X, y)
    lengths = np.array([len(s) for s in X])
    ref = LogisticRegression(max_iter=1000).fit(
        np.concatenate(X), np.repeat(y, lengths), sample_weight=np.repeat(1 / lengths, lengths)
    )
    np.testing.assert_allclose(clf.estimator_.coef_, ref.coef_, rtol=1e-5)
    # A ClipSet status leaves "missing" frames out of training and of the average.
    X2 = [np.vstack([s, np.full((1, 3), 50.0)]) for s in X]
    status = [["detected"] * len(s) + ["missing"] for s in X]
    on_clipset = FrameLevelClassifier().fit(ClipSet(X2, status=status), y)
    plain = FrameLevelClassifier().fit(X, y)
    np.testing.assert_allclose(on_clipset.estimator_.coef_, plain.estimator_.coef_)
    np.testing.assert_allclose(
        on_clipset.predict_proba(ClipSet(X2, status=status)), plain.predict_proba(X)
    )
    all_missing = ClipSet(X[:2], status=[["missing"] * len(s) for s in X[:2]])
    with pytest.warns(UserWarning, match=r"clips \[0, 1\] have no usable frame"):
        assert plain.predict(all_missing).shape == (2,)


def test_frame_level_classifier_errors_and_cross_validation_by_clip():
    X, y = _frame_data()
    with pytest.raises(ValueError, match="12 clips but y has 11 labels"):
        FrameLevelClassifier().fit(X, y[:11])
    clips = _mouths(n_clips=12, n_frames=3, seed=5)
    for clip, label in zip(clips, y):  # a bright mouth for one class
        clip[:, 16:, :] //= 2 if label == "neutral" else 1
    model = make_pipeline(
        BagOfMouths(n_clusters=5, random_state=0), FrameLevelClassifier()
    )
    groups = np.repeat(np.arange(6), 2)
    scores = cross_val_score(model, clips, y, groups=groups, cv=GroupKFold(3))
    assert scores.shape == (3,) and (scores >= 0).all()
    assert model.fit(clips, y).predict(clips).shape == (12,)  # one prediction per clip
