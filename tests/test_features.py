import cv2
import numpy as np
import pytest

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
        HOGFeatures(image_size=(50, 48)).fit([np.zeros((1, 8, 8))])


def test_pixels_scale_and_shape():
    clip = np.full((3, 10, 10), 255, np.uint8)
    out = PixelFeatures(image_size=(5, 5)).fit_transform([clip])[0]
    assert out.shape == (3, 25)
    np.testing.assert_allclose(out, 1.0)
    floats = PixelFeatures(image_size=(5, 5)).fit_transform([clip / 255.0])[0]
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
        LBPFeatures(image_size=(4, 4), grid=3).fit([np.zeros((1, 4, 4))])
