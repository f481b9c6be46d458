"""DTAGN's data augmentation (section 3.4, eq. 5-6) as imbalanced-learn samplers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator, ClassifierMixin

from skfer.augmentation import ImageSequenceAugmenter, LandmarkAugmenter, rotate_clip
from skfer.preprocessing.landmarks import LandmarkNormalizer, flip_permutation
from skfer.utils.estimator_checks import make_clip_data, parametrize_with_clip_checks

# ----------------------------------------------------------------------- image sequences


@parametrize_with_clip_checks([ImageSequenceAugmenter(angles=(-10, 10))])
def test_image_augmenter_clip_api(estimator, check):
    check(type(estimator).__name__, estimator)


def test_image_augmenter_gives_14_times_the_clips():
    X, y = make_clip_data(n_clips=4)
    aug = ImageSequenceAugmenter()
    X_res, y_res = aug.fit_resample(X, y)
    assert len(X_res) == len(y_res) == 14 * len(X) and aug.n_augmentations_ == 14
    np.testing.assert_array_equal(aug.sample_indices_, np.repeat(np.arange(4), 14))
    np.testing.assert_array_equal(y_res, np.repeat(y, 14))
    for i, clip in enumerate(X):
        out = X_res[14 * i : 14 * (i + 1)]
        np.testing.assert_array_equal(out[0], clip)  # original first
        np.testing.assert_array_equal(out[1], clip[:, :, ::-1])  # its horizontal flip
        np.testing.assert_array_equal(out[2], rotate_clip(clip, -15))
        np.testing.assert_array_equal(out[3], rotate_clip(clip, -15)[:, :, ::-1])
        assert all(o.shape == clip.shape and o.dtype == clip.dtype for o in out)
    assert len(ImageSequenceAugmenter(flip=False).fit_resample(X, y)[0]) == 7 * len(X)


def test_rotate_clip_geometry():
    rng = np.random.RandomState(0)
    clip = rng.randint(0, 255, size=(2, 9, 12)).astype(np.uint8)
    # 180 degrees about the centre ((W-1)/2, (H-1)/2) maps pixel (x, y) to (W-1-x, H-1-y).
    np.testing.assert_array_equal(rotate_clip(clip, 180), clip[:, ::-1, ::-1])
    square = rng.rand(1, 8, 8, 3)
    # OpenCV's positive angles turn the image counter-clockwise, as np.rot90 does.
    np.testing.assert_allclose(rotate_clip(square, 90), np.rot90(square, axes=(1, 2)), atol=1e-9)
    # Replicated borders: a constant frame stays constant (no black corners).
    flat = np.full((1, 16, 16), 77, np.uint8)
    np.testing.assert_array_equal(rotate_clip(flat, 15), flat)
    # The same rotation for every frame keeps equal frames equal.
    twice = np.repeat(clip[:1], 2, axis=0)
    rotated = rotate_clip(twice, 10)
    np.testing.assert_array_equal(rotated[0], rotated[1])


def test_image_augmenter_keeps_groups_alignable():
    X, y = make_clip_data(n_clips=6)
    groups = np.array([10, 10, 11, 11, 12, 12])
    aug = ImageSequenceAugmenter(angles=(5,))
    X_res, y_res = aug.fit_resample(np.stack([c[:3] for c in X]), y)
    assert isinstance(X_res, np.ndarray) and X_res.shape[0] == 24
    np.testing.assert_array_equal(groups[aug.sample_indices_], np.repeat(groups, 4))


# ----------------------------------------------------------------------- landmarks


def _normalised_landmarks(n=6, n_frames=5, n_points=68, seed=0):
    rng = np.random.RandomState(seed)
    raw = rng.normal(size=(n, n_frames, n_points, 2)) * 20 + 100
    seqs = LandmarkNormalizer(flatten=False).fit_transform(raw)
    return [s.reshape(n_frames, n_points, 2) for s in seqs], np.array([0, 1] * (n // 2))


def _angles(before, after):
    """Per-point rotation angles from ``before`` to ``after`` (T, P, 2)."""
    cross = before[..., 0] * after[..., 1] - before[..., 1] * after[..., 0]
    dot = (before * after).sum(-1)
    return np.arctan2(cross, dot)


def test_landmark_augmenter_gives_14_times_in_paper_order():
    X, y = _normalised_landmarks()
    aug = LandmarkAugmenter(random_state=0)
    X_res, y_res = aug.fit_resample(X, y)
    assert len(X_res) == 14 * len(X) and aug.n_augmentations_ == 14
    np.testing.assert_array_equal(y_res, np.repeat(y, 14))
    perm = flip_permutation("68")
    out = X_res[:14]
    np.testing.assert_array_equal(out[0], X[0])
    originals, flips = out[0::2], out[1::2]
    for v, f in zip(originals, flips):
        # Flip: x negated, points relabelled left/right.
        np.testing.assert_allclose(f, v[:, perm] * [-1, 1])
    noisy, rotated = originals[1:4], originals[4:7]
    for v in noisy:
        assert 0 < np.abs(v - X[0]).max() < 0.1
    for v in rotated:
        np.testing.assert_allclose(np.linalg.norm(v, axis=-1), np.linalg.norm(X[0], axis=-1))


def test_landmark_noise_std_is_measured_sigma():
    X, y = _normalised_landmarks(n=2, n_frames=50)
    aug = LandmarkAugmenter(flip=False, n_noise=3, n_rotations=0, noise_std=0.01, random_state=1)
    X_res, _ = aug.fit_resample(X, y)
    noise = np.concatenate([(X_res[i] - X[0]).ravel() for i in (1, 2, 3)])
    # 3 * 50 * 68 * 2 = 20400 draws: the std is within 2% of 0.01, the mean near 0.
    assert abs(noise.std() - 0.01) < 2e-4 and abs(noise.mean()) < 3e-4


def test_landmark_rotation_angles_per_frame_within_bounds():
    X, y = _normalised_landmarks(n=2, n_frames=200)
    aug = LandmarkAugmenter(flip=False, n_noise=0, n_rotations=3, random_state=2)
    X_res, _ = aug.fit_resample(X, y)
    off_nose = np.arange(68) != 30  # the nose is the origin: it has no angle
    angles = np.stack([_angles(X[0], X_res[i])[:, off_nose] for i in (1, 2, 3)])
    # One rigid rotation per frame (eq. 6: R^(t)): every point of a frame turns alike.
    np.testing.assert_allclose(angles, angles[..., :1].repeat(67, axis=-1), atol=1e-9)
    theta = angles[..., 0].ravel()
    assert np.all(np.abs(theta) <= np.pi / 10 + 1e-12)
    # Drawn per frame from U[-pi/10, pi/10]: spread over the whole interval.
    assert np.unique(np.round(theta, 12)).size == theta.size
    assert theta.min() < -0.9 * np.pi / 10 and theta.max() > 0.9 * np.pi / 10
    assert abs(theta.std() - (np.pi / 10) / np.sqrt(3)) < 0.02  # std of a uniform
    per_seq = LandmarkAugmenter(flip=False, n_noise=0, n_rotations=1, rotation="sequence",
                                random_state=2)
    seq_angles = _angles(X[0], per_seq.fit_resample(X, y)[0][1])[:, off_nose]
    np.testing.assert_allclose(seq_angles, seq_angles[0, 0], atol=1e-9)


def test_landmark_augmenter_reproducible():
    X, y = _normalised_landmarks()
    a = LandmarkAugmenter(random_state=3).fit_resample(X, y)[0]
    b = LandmarkAugmenter(random_state=3).fit_resample(X, y)[0]
    c = LandmarkAugmenter(random_state=4).fit_resample(X, y)[0]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert any(not np.array_equal(u, w) for u, w in zip(a, c))


def test_landmark_augmenter_input_forms():
    X, y = _normalised_landmarks(n=4, n_frames=3)
    seq_out = LandmarkAugmenter(random_state=0).fit_resample(X, y)[0]
    flat = np.stack([s.reshape(-1) for s in X])  # LandmarkNormalizer(flatten=True) output
    flat_out, _ = LandmarkAugmenter(random_state=0).fit_resample(flat, y)
    assert flat_out.shape == (56, 3 * 68 * 2)
    np.testing.assert_allclose(flat_out, np.stack([s.reshape(-1) for s in seq_out]))
    arr_out, _ = LandmarkAugmenter(random_state=0).fit_resample(np.stack(X), y)
    assert arr_out.shape == (56, 3, 68, 2)
    # 49-point IntraFace landmarks use their own flip permutation.
    X49 = [s[:, [i for i in range(17, 68) if i not in (60, 64)]] for s in X]
    out49, _ = LandmarkAugmenter(random_state=0).fit_resample(X49, y)
    np.testing.assert_allclose(out49[1], X49[0][:, flip_permutation("49")] * [-1, 1])


def test_landmark_augmenter_errors():
    X, y = _normalised_landmarks(n=4, n_frames=3)
    X[2] = X[2].copy()
    X[2][1, 5, 1] = np.nan
    with pytest.raises(ValueError, match=r"sequence 2: NaN .* frame 1, point 5"):
        LandmarkAugmenter().fit_resample(X, y)
    odd = [s[:, :10] for s in _normalised_landmarks(n=4)[0]]
    with pytest.raises(ValueError, match="flip permutation"):
        LandmarkAugmenter().fit_resample(odd, y)
    assert len(LandmarkAugmenter(flip=False).fit_resample(odd, y)[0]) == 28
    with pytest.raises(ValueError, match="set n_points"):
        LandmarkAugmenter().fit_resample(np.zeros((4, 10)), y)
    with pytest.raises(ValueError, match="rotation"):
        LandmarkAugmenter(rotation="clip").fit_resample(_normalised_landmarks(n=4)[0], y)


# imbalanced-learn's sampler checks for LandmarkAugmenter run in test_common.py.


# ----------------------------------------------------------------------- composition


class _RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Records what it is trained on; predicts the first class."""

    def fit(self, X, y):
        self.n_train_ = len(X)
        self.class_counts_ = Counter(np.asarray(y).tolist())
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_composes_with_random_over_sampler_in_a_pipeline():
    rng = np.random.RandomState(5)
    raw = rng.normal(size=(12, 4, 68, 2)) * 20 + 100
    y = np.array([0] * 9 + [1] * 3)  # imbalanced
    flat = LandmarkNormalizer().fit_transform(raw)
    pipe = Pipeline(
        [
            ("balance", RandomOverSampler(random_state=0)),
            ("augment", LandmarkAugmenter(random_state=0)),
            ("clf", _RecordingClassifier()),
        ]
    ).fit(flat, y)
    clf = pipe.named_steps["clf"]
    # Balanced to 9 + 9, then each sample 14 times.
    assert clf.class_counts_ == {0: 9 * 14, 1: 9 * 14} and clf.n_train_ == 18 * 14
    # Samplers act during fit only: predict sees the 12 original samples.
    assert len(pipe.predict(flat)) == 12
