"""DTAGN's data augmentation (section 3.4, eq. 5-6) as imbalanced-learn samplers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from imblearn import FunctionSampler
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator, ClassifierMixin

from skfer import ClipSet
from skfer.augmentation import ImageSequenceAugmenter, LandmarkAugmenter, rotate_clip
from skfer.preprocessing.landmarks import LandmarkNormalizer
from skfer.utils.estimator_checks import make_clip_data, parametrize_with_clip_checks
from skfer.utils.landmark_scheme import flip_permutation

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


# ------------------------------------------------- paired clips and landmarks (ClipSet)

#: One dot per frame, at these landmarks (right eye outer corner, left eye outer corner,
#: mouth corners, nose tip, a jaw point): flips must relabel the lateral ones.
_DOTTED = (36, 45, 48, 54, 30, 3)


def _dotted_clipset(n_clips=2, height=40, width=50, seed=0):
    """Clips with one bright Gaussian dot per frame at a known landmark, and their landmarks.

    Returns the ClipSet (landmarks, boxes around them, statuses, sources) and labels.
    """
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:height, :width].astype(np.float64)
    clips, lms, boxes = [], [], []
    for _ in range(n_clips):
        # Points near the centre, so a 15 degree turn keeps them well inside the frame.
        pts = rng.uniform([17, 13], [width - 17, height - 13], size=(len(_DOTTED), 68, 2))
        frames = []
        for t, k in enumerate(_DOTTED):
            x, y = pts[t, k]
            frames.append(255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.2**2)))
        clips.append(np.stack(frames).astype(np.float32))
        lms.append(pts)
        lo, hi = pts.min(axis=1), pts.max(axis=1)
        boxes.append(np.concatenate([lo, hi - lo], axis=1))
    status = [np.array(["detected", "tracked", "filled", "missing", "detected", "detected"])
              ] * n_clips
    X = ClipSet(clips, landmarks=lms, boxes=boxes, status=status,
                source=[f"clip{i}.avi" for i in range(n_clips)])
    return X, np.arange(n_clips) % 2


def _dot_centre(frame, x, y, half=3):
    """Brightness-weighted centre of the window around (x, y)."""
    cx, cy = int(round(x)), int(round(y))
    win = frame[cy - half : cy + half + 1, cx - half : cx + half + 1].astype(np.float64)
    yy, xx = np.mgrid[cy - half : cy + half + 1, cx - half : cx + half + 1]
    return (win * xx).sum() / win.sum(), (win * yy).sum() / win.sum()


def test_paired_augmentation_moves_landmarks_with_the_pixels():
    X, y = _dotted_clipset()
    aug = ImageSequenceAugmenter(angles=(-15, 10))
    X_res, y_res = aug.fit_resample(X, y)
    assert isinstance(X_res, ClipSet) and len(X_res) == 12 and aug.n_augmentations_ == 6
    np.testing.assert_array_equal(aug.sample_indices_, np.repeat([0, 1], 6))
    perm = flip_permutation("68")
    for j, (clip, points) in enumerate(zip(X_res, X_res.get("landmarks"))):
        flipped = j % 2 == 1  # order: original, flip, -15, its flip, 10, its flip
        src = aug.sample_indices_[j]
        # The pixels are exactly those of the unpaired augmentation.
        np.testing.assert_array_equal(
            clip, ImageSequenceAugmenter(angles=(-15, 10)).fit_resample(
                list(X.data), y)[0][j]
        )
        for t, k in enumerate(_DOTTED):
            # A flip relabels: the dot drawn at point k is at point perm[k] of the mirror.
            kk = perm[k] if flipped else k
            x, yv = points[t, kk]
            cx, cy = _dot_centre(clip[t], x, yv)
            assert abs(cx - x) < 0.15 and abs(cy - yv) < 0.15, (j, t, (x, yv), (cx, cy))
            # and the brightest pixel of the frame is the dot's.
            r, c = np.unravel_index(np.argmax(clip[t]), clip[t].shape)
            assert abs(c - x) <= 0.71 and abs(r - yv) <= 0.71
        if j % 6 == 0:  # the original keeps its landmarks exactly
            np.testing.assert_array_equal(points, X.get("landmarks")[src])
    # Mirrored x = W - 1 - x, with left/right relabelled.
    np.testing.assert_allclose(
        X_res.get("landmarks")[1], (X.get("landmarks")[0] * [-1, 1] + [49, 0])[:, perm]
    )
    # Boxes move along (they hold the moved landmarks); statuses and sources are kept.
    for j in range(len(X_res)):
        box, pts = X_res.get("boxes")[j], X_res.get("landmarks")[j]
        assert np.all(pts >= box[:, None, :2] - 1e-9)
        assert np.all(pts <= box[:, None, :2] + box[:, None, 2:] + 1e-9)
        src = aug.sample_indices_[j]
        np.testing.assert_array_equal(X_res.get("status")[j], X.get("status")[src])
        assert X_res.get("source")[j] == X.get("source")[src]
    np.testing.assert_allclose(X_res.get("boxes")[1][:, 2:], X.get("boxes")[0][:, 2:])


def test_paired_rotation_is_about_the_frame_centre_by_the_same_angle():
    X, y = _dotted_clipset(height=41, width=51)
    X_res, _ = ImageSequenceAugmenter(flip=False, angles=(90,)).fit_resample(X, y)
    before, after = X.get("landmarks")[0], X_res.get("landmarks")[1]
    # 90 degrees counter-clockwise as displayed about (25, 20): (x, y) -> (25 + (y - 20),
    # 20 - (x - 25)).
    expected = np.stack([25 + before[..., 1] - 20, 20 - (before[..., 0] - 25)], axis=-1)
    np.testing.assert_allclose(after, expected, atol=1e-9)


def test_paired_augmentation_edge_cases():
    X, y = _dotted_clipset()
    # NaN landmarks (no face) stay NaN; a clip without landmarks keeps None.
    lms = [X.get("landmarks")[0].copy(), None]
    lms[0][2] = np.nan
    X_res, _ = ImageSequenceAugmenter(angles=(5,)).fit_resample(
        X.replace(landmarks=lms, boxes=None), y
    )
    assert "boxes" not in X_res.companions
    assert all(np.isnan(p[2]).all() and np.isfinite(p[[0, 1, 3]]).all()
               for p in X_res.get("landmarks")[:4])
    assert X_res.get("landmarks")[4:] == [None] * 4
    # Without landmarks, a ClipSet still comes back as a ClipSet.
    plain, _ = ImageSequenceAugmenter(angles=()).fit_resample(X.replace(landmarks=None), y)
    assert isinstance(plain, ClipSet) and len(plain) == 4
    # A point scheme with no known flip permutation cannot be flipped.
    odd = X.replace(landmarks=[p[:, :10] for p in X.get("landmarks")])
    with pytest.raises(ValueError, match="clip 0: cannot flip its landmarks"):
        ImageSequenceAugmenter().fit_resample(odd, y)
    assert len(ImageSequenceAugmenter(flip=False, angles=(5,)).fit_resample(odd, y)[0]) == 4
    with pytest.raises(ValueError, match="'angles' parameter"):
        ImageSequenceAugmenter(angles=5).fit_resample(X, y)
    with pytest.raises(ValueError, match="angles must be finite"):
        ImageSequenceAugmenter(angles=(np.nan,)).fit_resample(X, y)


def _balance_by_index(X, y):
    """RandomOverSampler on clip indices (it validates X as a matrix, clips are not one)."""
    idx, y_res = RandomOverSampler(random_state=0).fit_resample(np.arange(len(y))[:, None], y)
    return X[idx.ravel()], y_res


def test_paired_augmentation_after_class_balancing_in_a_pipeline():
    X, _ = _dotted_clipset(n_clips=4)
    y = np.array([0, 0, 0, 1])
    pipe = Pipeline([
        ("balance", FunctionSampler(func=_balance_by_index, validate=False)),
        ("augment", ImageSequenceAugmenter(angles=(-5, 5))),
        ("clf", _RecordingClassifier()),
    ]).fit(X, y)
    clf = pipe.named_steps["clf"]
    assert clf.class_counts_ == {0: 3 * 6, 1: 3 * 6} and clf.n_train_ == 36
    assert isinstance(clf.X_, ClipSet) and len(clf.X_.get("landmarks")) == 36
    assert len(pipe.predict(X)) == 4  # no augmentation at predict time


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
        self.X_ = X
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
