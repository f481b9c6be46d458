"""Tests of skfer.preprocessing.mouth: EmoNets' fixed mouth box and landmark mouth crops."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from sklearn.pipeline import make_pipeline

from skfer import ClipSet
from skfer.datasets import _face_template as ft
from skfer.datasets._face_template import load_face_template
from skfer.preprocessing.illumination import MinMaxImageScaler
from skfer.preprocessing.mouth import MOUTH_BOX, MOUTH_INDICES_68, MouthRegion
from skfer.utils.estimator_checks import parametrize_with_clip_checks


@parametrize_with_clip_checks([MouthRegion(), MouthRegion(frame_size=(16, 24))])
def test_clip_api(estimator, check):
    check(type(estimator).__name__, estimator)


def test_fixed_box_on_96x96_tubes():
    tubes = np.arange(2 * 3 * 96 * 96, dtype=np.float64).reshape(2, 3, 96, 96) % 251
    out = MouthRegion().fit_transform(tubes)
    # Rows round(0.6 * 96) = 58 .. 96, columns round(0.2 * 96) = 19 .. round(0.8 * 96) = 77.
    assert isinstance(out, np.ndarray) and out.shape == (2, 3, 38, 58)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, tubes[:, :, 58:96, 19:77].astype(np.float32))
    u8 = tubes.astype(np.uint8)
    np.testing.assert_array_equal(MouthRegion().fit_transform(u8), u8[:, :, 58:96, 19:77])


def test_fixed_box_custom_box_size_and_colour():
    clip = np.zeros((2, 40, 50, 3), np.uint8)
    clip[:, 20:, 10:40] = 200  # the whole box (0.2, 0.5, 0.8, 1.0) is bright
    out = MouthRegion(box=(0.2, 0.5, 0.8, 1.0), frame_size=(8, 12)).fit_transform([clip])
    assert isinstance(out, list) and out[0].shape == (2, 8, 12, 3)
    np.testing.assert_array_equal(out[0], 200)


def test_default_box_holds_the_template_mouth():
    # The mouth points of skfer's face template, as fractions of dlib's face box (the crop
    # a face detector gives): x 0.29-0.79, y 0.70-0.89, inside MOUTH_BOX with room to spare.
    _, points = load_face_template()
    scale = ft.TEMPLATE_SIZE / ft._CROP_SIDE
    x, y, w, h = ft._DLIB_FACE_BOX
    left, top, right, bottom = x, y, x + w - 1, y + h - 1  # dlib's inclusive corners
    box = np.array([left - ft._CROP_X0, top - ft._CROP_Y0, right - ft._CROP_X0,
                    bottom - ft._CROP_Y0]) * scale
    mouth = points[MOUTH_INDICES_68]
    fx = (mouth[:, 0] - box[0]) / (box[2] - box[0])
    fy = (mouth[:, 1] - box[1]) / (box[3] - box[1])
    np.testing.assert_allclose([fx.min(), fx.max(), fy.min(), fy.max()],
                               [0.29, 0.79, 0.70, 0.89], atol=0.01)
    bl, bt, br, bb = MOUTH_BOX
    assert bl + 0.05 < fx.min() and fx.max() < br and bt + 0.05 < fy.min() and fy.max() < bb - 0.05


def _landmarks_with_mouth(n_frames: int, x0: float, y0: float, x1: float, y1: float):
    pts = np.full((n_frames, 68, 2), 5.0)
    mouth = np.stack(np.meshgrid(np.linspace(x0, x1, 5), np.linspace(y0, y1, 4)), -1)
    pts[:, 48:68] = mouth.reshape(20, 2)
    return pts


def test_landmark_crop_is_the_mouth_box_with_margin():
    h, w = 60, 80
    yy, xx = np.mgrid[:h, :w]
    frame = (xx + 100 * yy).astype(np.float32)  # a linear ramp: crops are easy to predict
    clip = np.stack([frame, frame])
    # Mouth points span x 30-50 (20 px), y 40-45 (5 px); margin 0.25 gives 30 x 7.5 px,
    # widened to the 3:2 aspect of size (10, 15): 30 x 20 px centred on (40, 42.5).
    pts = _landmarks_with_mouth(2, 30, 40, 50, 45)
    est = MouthRegion(frame_size=(10, 15), margin=0.25).fit([clip])
    out = est.transform([clip], landmarks=[pts])[0]
    assert out.shape == (2, 10, 15)
    # The box x 25-55, y 32.5-52.5 (pixel-centre coordinates) is split into 15 x 10 output
    # pixels of 2 x 2 input pixels; output pixel (i, j) samples its centre,
    # x = 25 + 2 (j + 0.5), y = 32.5 + 2 (i + 0.5).
    jj, ii = np.meshgrid(np.arange(15), np.arange(10))
    x = 25 + 2 * (jj + 0.5)
    y = 32.5 + 2 * (ii + 0.5)
    np.testing.assert_allclose(out[0], x + 100 * y, atol=0.05)
    # Only the 20 mouth points matter: moving the others changes nothing.
    pts2 = pts.copy()
    pts2[:, :48] = 55.0
    np.testing.assert_array_equal(est.transform([clip], landmarks=[pts2])[0], out)
    mouth_only = pts[:, 48:68]
    np.testing.assert_array_equal(est.transform([clip], landmarks=[mouth_only])[0], out)


def test_landmark_crop_default_size_matches_fixed_box_and_falls_back():
    clip = np.random.RandomState(0).randint(0, 255, (3, 96, 96)).astype(np.uint8)
    pts = _landmarks_with_mouth(3, 30, 65, 66, 80)
    pts[1] = np.nan  # no face in frame 1
    est = MouthRegion().fit([clip])
    with pytest.warns(UserWarning, match=r"clip 0: 1 frames \[1\]: no_landmarks .*NaN mouth"):
        out = est.transform([clip], landmarks=[pts])[0]
    assert out.shape == (3, 38, 58) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[1], clip[1, 58:96, 19:77])


def test_landmark_errors_name_the_clip():
    clip = np.zeros((3, 20, 20))
    est = MouthRegion().fit([clip])
    with pytest.raises(ValueError, match="1 landmark arrays for 2 clips"):
        est.transform([clip, clip], landmarks=[np.zeros((3, 68, 2))])
    with pytest.raises(ValueError, match=r"clip 1: landmarks must have shape \(3, 68, 2\)"):
        est.transform([clip, clip], landmarks=[np.zeros((3, 68, 2)), np.zeros((2, 68, 2))])
    with pytest.raises(ValueError, match="box must satisfy"):
        MouthRegion(box=(0.5, 0.6, 0.4, 1.0)).fit([clip])
    with pytest.raises(ValueError, match="'frame_size' parameter of MouthRegion"):
        MouthRegion(frame_size=(0, 3)).fit([clip])
    with pytest.raises(ValueError, match="'margin' parameter of MouthRegion"):
        MouthRegion(margin=-0.1).fit([clip])
    # Parameters set after fit are checked by transform too.
    with pytest.raises(ValueError, match="box must satisfy"):
        est.set_params(box=(0.5, 0.6, 0.4, 1.0)).transform([clip])
    nan = np.full((3, 68, 2), np.nan)
    with pytest.raises(ValueError, match=r"clip 0: 3 frames \[0, 1, 2\]: no_landmarks .*NaN mouth"):
        MouthRegion(on_missing="raise").fit([clip]).transform([clip], landmarks=[nan])


def test_clipset_landmarks_are_read_and_mapped_into_the_crops():
    h, w = 60, 80
    clip = np.zeros((2, h, w), np.float32)
    pts = _landmarks_with_mouth(2, 30, 40, 50, 45)
    boxes = np.tile([20.0, 10.0, 40.0, 45.0], (2, 1))
    X = ClipSet([clip], landmarks=[pts], boxes=[boxes], source=["a.mp4"])
    est = MouthRegion(frame_size=(10, 15)).fit(X)
    out = est.transform(X)
    assert isinstance(out, ClipSet) and out.get("source") == ["a.mp4"]
    np.testing.assert_array_equal(out[0], est.transform([clip], landmarks=[pts])[0])
    # The crop box x 25-55, y 32.5-52.5 becomes the 15 x 10 output: 2 px per output pixel.
    mapped = out.get("landmarks")[0]
    expected = (pts - [25.0, 32.5]) / 2.0 - 0.5
    np.testing.assert_allclose(mapped, expected, atol=1e-9)
    np.testing.assert_allclose(out.get("boxes")[0][0], [-3.0, -11.75, 20.0, 22.5])
    # Fixed box (no landmarks): points move by the crop offset (and the resize, if any).
    tubes = ClipSet(np.zeros((1, 2, 96, 96), np.uint8), landmarks=[np.full((2, 68, 2), 60.0)])
    moved = MouthRegion().fit(tubes).transform(tubes.replace(landmarks=None))
    assert "landmarks" not in moved.companions
    fixed = MouthRegion(on_missing="ignore").fit(tubes)
    nan_marks = np.full((2, 68, 2), np.nan)
    nan_marks[:, :48] = 60.0  # mouth points missing: fixed box, rows 58-96, cols 19-77
    out = fixed.transform(tubes.replace(landmarks=[nan_marks]))
    np.testing.assert_allclose(out.get("landmarks")[0][:, 0], [[41.0, 2.0]] * 2)


def test_landmarks_routed_through_a_pipeline():
    clip = np.tile(np.arange(40.0), (2, 30, 1))  # (2, 30, 40), brightness = x
    pts = _landmarks_with_mouth(2, 10, 20, 20, 24)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            MouthRegion(frame_size=(6, 6)).set_transform_request(landmarks=True),
            MinMaxImageScaler(),
        )
        out = pipe.fit([clip]).transform([clip], landmarks=[pts])
        direct = MinMaxImageScaler().fit_transform(
            MouthRegion(frame_size=(6, 6)).fit([clip]).transform([clip], landmarks=[pts])
        )
    np.testing.assert_allclose(out[0], direct[0])
