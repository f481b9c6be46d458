"""Tests of skfer.preprocessing.illumination: CS229 min-max scaling and isotropic smoothing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from skfer import ClipSet
from skfer.preprocessing.illumination import (
    IsotropicSmoothing,
    MinMaxImageScaler,
    isotropic_luminance,
    neumann_laplacian_eigenvalues,
)
from skfer.utils.estimator_checks import parametrize_with_clip_checks


@parametrize_with_clip_checks([MinMaxImageScaler(), IsotropicSmoothing()])
def test_clip_api(estimator, check):
    check(type(estimator).__name__, estimator)


# ------------------------------------------------------------------------------ min-max


def test_minmax_scales_each_frame_to_range():
    rng = np.random.RandomState(0)
    clip = rng.randint(20, 200, size=(3, 6, 7)).astype(np.uint8)
    clip[1] //= 4  # a darker frame: still stretched to the full range on its own
    out = MinMaxImageScaler().fit_transform([clip])[0]
    assert out.dtype == np.float32 and out.shape == clip.shape
    for t in range(3):
        f = clip[t].astype(np.float64)
        expected = -1 + 2 * (f - f.min()) / (f.max() - f.min())
        np.testing.assert_allclose(out[t], expected, atol=1e-6)
        assert out[t].min() == -1.0 and out[t].max() == 1.0


def test_minmax_custom_range_constant_frame_and_container():
    clip = np.stack([np.full((4, 4), 7.0), np.arange(16.0).reshape(4, 4)])
    arr = np.stack([clip, clip])  # (n, T, H, W) ndarray stays an ndarray
    out = MinMaxImageScaler(feature_range=(0, 10)).fit_transform(arr)
    assert isinstance(out, np.ndarray) and out.shape == arr.shape
    np.testing.assert_array_equal(out[:, 0], 5.0)  # constant frame -> middle of the range
    np.testing.assert_allclose(out[0, 1].ravel(), np.arange(16) * 10 / 15, rtol=1e-6)
    # Colour frames: one min and max over all channels, so colours keep their ratios.
    colour = np.zeros((1, 2, 2, 3), np.uint8)
    colour[0, 0, 0] = [100, 50, 0]
    res = MinMaxImageScaler().fit_transform([colour])
    assert isinstance(res, list)
    np.testing.assert_allclose(res[0][0, 0, 0], [1.0, 0.0, -1.0])
    np.testing.assert_allclose(res[0][0, 1, 1], [-1.0, -1.0, -1.0])


def test_minmax_rejects_bad_range():
    with pytest.raises(ValueError, match="min < max"):
        MinMaxImageScaler(feature_range=(1, -1)).fit([np.zeros((1, 4, 4))])
    with pytest.raises(ValueError, match="pair"):
        MinMaxImageScaler(feature_range=3).fit([np.zeros((1, 4, 4))])


# -------------------------------------------------------------------- isotropic smoothing


def _neumann_system(h: int, w: int, lam: float) -> sp.csr_matrix:
    """Id + lam * (4-neighbour graph Laplacian of an h x w grid), built edge by edge."""
    idx = np.arange(h * w).reshape(h, w)
    pairs = np.concatenate(
        [
            np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1),  # horizontal edges
            np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1),  # vertical edges
        ]
    )
    a, b = pairs.T
    adj = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(h * w, h * w))
    adj = adj + adj.T
    lap = sp.diags(np.asarray(adj.sum(axis=1)).ravel()) - adj
    return (sp.identity(h * w) + lam * lap).tocsr()


def _face_like(h: int = 48, w: int = 40) -> np.ndarray:
    """A bright oval with two dark eyes and a mouth, on a mid-grey background."""
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    img = np.full((h, w), 90.0)
    img[((xx - w / 2) / (0.38 * w)) ** 2 + ((yy - h / 2) / (0.45 * h)) ** 2 < 1] = 170.0
    for cx in (0.35 * w, 0.65 * w):
        img[(xx - cx) ** 2 + (yy - 0.4 * h) ** 2 < (0.06 * w) ** 2] = 40.0
    img[(np.abs(yy - 0.72 * h) < 1.5) & (np.abs(xx - w / 2) < 0.15 * w)] = 60.0
    return img


def test_luminance_solves_the_linear_system():
    rng = np.random.RandomState(0)
    image = rng.rand(9, 13) * 255
    for lam in (0.5, 7.0):
        lum = isotropic_luminance(image, lam)
        system = _neumann_system(9, 13, lam)
        residual = system @ lum.ravel() - image.ravel()
        assert np.abs(residual).max() < 1e-9 * np.abs(image).max()
    np.testing.assert_allclose(isotropic_luminance(image, 0.0), image, atol=1e-10)


def test_laplacian_eigenvalues_match_the_sparse_operator():
    h, w = 5, 4
    lap = (_neumann_system(h, w, 1.0) - sp.identity(h * w)).toarray()
    np.testing.assert_allclose(
        np.sort(np.linalg.eigvalsh(lap)), np.sort(neumann_laplacian_eigenvalues(h, w).ravel()),
        atol=1e-10,
    )


def test_luminance_minimises_the_energy():
    rng = np.random.RandomState(1)
    image = rng.rand(8, 8)
    lam = 7.0

    def energy(lum):
        return ((lum - image) ** 2).sum() + lam * (
            (np.diff(lum, axis=0) ** 2).sum() + (np.diff(lum, axis=1) ** 2).sum()
        )

    lum = isotropic_luminance(image, lam)
    for _ in range(5):
        assert energy(lum) < energy(lum + 1e-3 * rng.randn(8, 8))


def test_reflectance_formula_inface():
    rng = np.random.RandomState(2)
    image = rng.rand(10, 12) * 100 + 20
    out = IsotropicSmoothing(smoothness=3.0).fit_transform([image[None]])[0][0]
    scaled = (image - image.min()) * 255 / (image.max() - image.min()) + 0.001
    expected = scaled / isotropic_luminance(scaled, 3.0)
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_constant_image_gives_constant_output():
    clips = np.full((2, 3, 16, 16), 123, np.uint8)
    out = IsotropicSmoothing().fit_transform(clips)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == clips.shape
    np.testing.assert_allclose(out, 1.0, rtol=1e-6)
    normed = IsotropicSmoothing(normalize=True).fit_transform(clips)
    np.testing.assert_array_equal(normed, 0.0)


def test_removes_a_smooth_illumination_ramp():
    face = _face_like()
    h, w = face.shape
    xx = np.mgrid[:h, :w][1] / (w - 1)
    lit = face * (0.5 + xx)  # light from the right: 3x brighter there
    out_face, out_lit = IsotropicSmoothing().fit_transform([face[None], lit[None]])

    def rel_diff(a, b):
        a = (a - a.mean()) / a.std()
        b = (b - b.mean()) / b.std()
        return np.sqrt(((a - b) ** 2).mean())

    before = rel_diff(face, lit)
    after = rel_diff(out_face[0], out_lit[0])
    # Measured (smoothness 7): before 0.64, after 0.30 (standardised RMS difference);
    # correlation with the unlit output 0.955 against 0.79 for the inputs.
    assert after < 0.5 * before, (before, after)
    assert np.corrcoef(out_face[0].ravel(), out_lit[0].ravel())[0, 1] > 0.93
    # The right/left brightness imbalance (log ratio of the halves' means) shrinks from
    # 0.50 to 0.09; the unlit face stays balanced (0.002).
    def imbalance(img):
        return abs(np.log(img[:, w // 2 :].mean() / img[:, : w // 2].mean()))

    assert imbalance(out_lit[0]) < 0.25 * imbalance(lit)
    assert imbalance(out_face[0]) < 0.01


def test_normalize_and_colour_and_params():
    rng = np.random.RandomState(3)
    colour = rng.randint(0, 256, size=(2, 12, 12, 3)).astype(np.uint8)
    out = IsotropicSmoothing(normalize=True).fit_transform([colour])[0]
    assert out.shape == colour.shape
    for c in range(3):  # each channel processed on its own, then scaled to [0, 255]
        assert out[0, ..., c].min() == 0.0 and out[0, ..., c].max() == pytest.approx(255.0)
    with pytest.raises(ValueError, match=r"'smoothness' parameter .* range \[0.0, inf\)"):
        IsotropicSmoothing(smoothness=-1).fit([colour])
    with pytest.raises(ValueError, match="'normalize' parameter .*'bool'"):
        IsotropicSmoothing(normalize="yes").fit([colour])
    fitted = IsotropicSmoothing().fit([colour])
    with pytest.raises(ValueError, match="'smoothness' parameter"):  # set after fit
        fitted.set_params(smoothness=np.inf).transform([colour])


def test_bad_clips_name_the_index():
    est = IsotropicSmoothing().fit([np.zeros((1, 8, 8))])
    bad = np.zeros((2, 8, 8))
    bad[1, 3, 4] = np.nan
    with pytest.raises(ValueError, match=r"clip 1: NaN or infinite pixel value at frame 1"):
        est.transform([np.zeros((1, 8, 8)), bad])
    with pytest.raises(ValueError, match="clip 0: the clip has zero frames"):
        MinMaxImageScaler().fit([np.zeros((0, 8, 8))])


def test_real_faces_ramp_is_removed(shared_data):
    """On real CK+ faces (48 x 48), IS makes a 3x side light nearly invisible."""
    import csv

    import cv2

    with open(shared_data / "ckplus48" / "index.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    paths, per_label = [], {}
    for row in rows:  # 2 faces of each of the 7 classes
        if per_label.setdefault(row["label"], 0) < 2:
            per_label[row["label"]] += 1
            paths.append(row["path"])
    faces = np.stack(
        [cv2.imread(str(shared_data / "ckplus48" / p), cv2.IMREAD_GRAYSCALE) for p in paths]
    ).astype(np.float64)
    ramp = 0.5 + np.linspace(0, 1, 48)[None, None, :]
    est = IsotropicSmoothing().fit(faces)
    out, out_lit = est.transform(faces), est.transform(faces * ramp)
    corr_in = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(faces, faces * ramp)]
    corr_out = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(out, out_lit)]
    # Measured: mean correlation 0.90 for the inputs, 0.998 after IS (minimum 0.997).
    assert np.mean(corr_out) > 0.98 and np.mean(corr_out) > np.mean(corr_in) + 0.05


@pytest.mark.parametrize("est", [MinMaxImageScaler(), IsotropicSmoothing()])
def test_clipset_keeps_every_companion(est):
    clips = [np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8), np.ones((3, 8, 8))]
    lms = [np.full((2, 68, 2), 3.0), np.full((3, 68, 2), 4.0)]
    X = ClipSet(clips, landmarks=lms, status=[["detected"] * 2, ["detected", "missing", "tracked"]],
                fps=[25.0, 30.0])
    out = est.fit(X).transform(X)
    assert isinstance(out, ClipSet) and out.companions.keys() == X.companions.keys()
    for name in X.companions:
        for a, b in zip(out.get(name), X.get(name)):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out[1], est.transform([clips[1]])[0])
