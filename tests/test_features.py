import cv2
import numpy as np
import pytest

from skfer.features import HOGFeatures, PixelFeatures


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
