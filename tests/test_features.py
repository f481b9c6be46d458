import cv2
import numpy as np
import pytest

from skfer import ClipSet
from skfer.features import HOGFeatures, LBPFeatures, PixelFeatures
from skfer.features.frame_features import lbp_codes


def test_hog_matches_opencv_descriptor():
    rng = np.random.RandomState(0)
    frame = rng.randint(0, 255, (48, 48), dtype=np.uint8)
    ours = HOGFeatures().fit_transform([frame[None]])[0][0]
    ref = cv2.HOGDescriptor((48, 48), (16, 16), (8, 8), (8, 8), 9).compute(frame).ravel()
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    # 5x5 blocks of 2x2 cells with 9 bins
    assert ours.shape == (5 * 5 * 4 * 9,)


def test_hog_resizes_and_converts_colour():
    rgb = np.zeros((2, 96, 96, 3), np.uint8)
    rgb[:, 20:70, 30:60] = (200, 100, 50)
    grey = (rgb.astype(np.float32) @ np.float32([0.299, 0.587, 0.114]))
    a = HOGFeatures().fit_transform([rgb])[0]
    b = HOGFeatures().fit_transform([np.clip(grey, 0, 255).astype(np.uint8)])[0]
    assert a.shape == (2, 900)
    np.testing.assert_allclose(a, b, atol=0.05)


def test_hog_rejects_bad_geometry():
    with pytest.raises(ValueError, match="multiple of cell_size"):
        HOGFeatures(frame_size=(50, 48)).fit([np.zeros((1, 8, 8))])


def test_pixels_scale_and_shape():
    clip = np.full((3, 10, 10), 255, np.uint8)
    out = PixelFeatures(frame_size=(5, 5)).fit_transform([clip])[0]
    assert out.shape == (3, 25)
    np.testing.assert_allclose(out, 1.0)
    floats = PixelFeatures(frame_size=(5, 5)).fit_transform([clip / 255.0])[0]
    np.testing.assert_allclose(floats, 1.0)  # [0, 1] floats read as such


def test_lbp_codes_follow_the_neighbour_bits():
    # centre 5; neighbours clockwise from top-left: 9 1 9 / 1 . 9 / 9 1 1 -> bits 0,2,3,6 set
    frame = np.array([[9, 1, 9], [1, 5, 9], [9, 1, 1]], np.float32)
    assert lbp_codes(frame).tolist() == [[1 + 4 + 8 + 64]]
    flat = np.full((6, 6), 7.0)
    assert (lbp_codes(flat) == 255).all()  # ties count as "at least as bright"


def test_lbp_histograms_are_hellinger_normalised_per_cell_grid():
    rng = np.random.RandomState(0)
    clip = rng.randint(0, 255, (2, 48, 48), dtype=np.uint8)
    out = LBPFeatures(grid=3).fit_transform([clip])[0]
    assert out.shape == (2, 256 * 9)
    np.testing.assert_allclose((out**2).sum(axis=1), 1.0)
    # a flat frame puts every code of every cell into bin 255
    flat = LBPFeatures(grid=2).fit_transform([np.full((1, 48, 48), 100, np.uint8)])[0][0]
    assert np.count_nonzero(flat) == 4 and np.allclose(flat[255::256], 0.5)
    with pytest.raises(ValueError, match="too small"):
        LBPFeatures(frame_size=(4, 4), grid=3).fit([np.zeros((1, 4, 4))])


@pytest.mark.parametrize(
    "est", [HOGFeatures(), LBPFeatures(grid=2), PixelFeatures()], ids=lambda e: type(e).__name__
)
def test_clipset_gives_per_frame_sequences_with_companions(est):
    rng = np.random.RandomState(1)
    clips = [rng.randint(0, 255, (3, 48, 48), dtype=np.uint8),
             rng.randint(0, 255, (2, 60, 50), dtype=np.uint8)]
    status = [np.array(["detected", "missing", "tracked"]), np.array(["detected"] * 2)]
    X = ClipSet(clips, status=status, source=["a.avi", "b.avi"])
    out = est.fit(X).transform(X)
    assert isinstance(out, ClipSet) and out.get("source") == ["a.avi", "b.avi"]
    assert [s.shape for s in out] == [(3, est.n_features_out_), (2, est.n_features_out_)]
    for a, b in zip(out, est.transform(clips)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out.usable_frames(0), [True, False, True])
    assert isinstance(est.transform(clips), list)  # a list stays a list


def test_frame_size_is_height_then_width():
    out = PixelFeatures(frame_size=(4, 6)).fit_transform([np.zeros((1, 40, 60))])[0]
    assert out.shape == (1, 24)
    ramp = np.tile(np.arange(60, dtype=np.float64), (1, 40, 1)) / 59  # brightness = x
    row = PixelFeatures(frame_size=(4, 6)).fit_transform([ramp])[0][0].reshape(4, 6)[0]
    assert np.all(np.diff(row) > 0)  # 6 columns across the width
    assert HOGFeatures(frame_size=(64, 32)).fit([ramp]).n_features_out_ == 7 * 3 * 36
    with pytest.raises(ValueError, match="'frame_size' parameter of HOGFeatures"):
        HOGFeatures(frame_size=(48,)).fit([ramp])
