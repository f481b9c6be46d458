"""Bad clips and bad detectors: pixel dtypes, shapes, NaN, detectors' output, pickling
(issue 16)."""

from __future__ import annotations

import copy
import pickle

import joblib
import numpy as np
import pytest

from skfer import ClipSet
from skfer.features import HOGFeatures
from skfer.preprocessing import FaceTubeExtractor, HaarFaceDetector
from skfer.utils.validation import check_clip, check_clips, check_sequences, pixel_unit, to_uint8

GREY = np.zeros((2, 8, 8), np.uint8)


def one_face(frame):
    """A module-level detector: one fixed box (picklable)."""
    return np.array([[4.0, 4.0, 20.0, 20.0]])


# ------------------------------------------------------------------------------ dtypes


def test_bool_clip_is_refused():
    """bool clip -> clear error: TypeError naming the clip; a mask is not an image."""
    with pytest.raises(TypeError, match=r"clip 1: pixels are boolean .*astype\(np.uint8\)"):
        check_clips([GREY, GREY.astype(bool)])


def test_complex_clip_is_refused():
    """complex clip -> clear error: TypeError naming the clip, never the real part silently."""
    with pytest.raises(TypeError, match=r"clip 0: values are complex \(complex128\)"):
        check_clips([GREY.astype(complex)])


def test_complex_sequence_is_refused():
    """complex per-frame sequence -> clear error: TypeError naming the sequence."""
    with pytest.raises(TypeError, match="sequence 0: values are complex"):
        check_sequences([np.ones((2, 3), complex)])


def test_uint16_beyond_255_is_refused_with_the_conversion():
    """uint16 clip with values above 255 -> clear error: names range and conversion to do."""
    clip = np.full((2, 8, 8), 4000, np.uint16)
    with pytest.raises(ValueError, match=r"clip 0: uint16 pixels range from 4000 to 4000, "
                                         r"outside 0\.\.255.*// 257"):
        check_clips([clip])


def test_negative_int_clip_is_refused():
    """int64 clip with negative values -> clear error: the range is named, no clipping."""
    with pytest.raises(ValueError, match=r"int64 pixels range from -3 to 7"):
        check_clip(np.arange(-3, 8).reshape(1, 1, 11).repeat(2, axis=1))


def test_int_clip_within_0_255_becomes_exact_uint8():
    """int64 / uint16 clip within 0..255 -> OK: converted exactly to uint8."""
    for dtype in (np.int64, np.uint16, np.int32):
        clip = np.arange(256, dtype=dtype).reshape(1, 16, 16)
        out = check_clip(clip)
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, clip)


def test_float16_becomes_float32():
    """float16 clip -> OK: widened exactly to float32."""
    clip = np.linspace(0, 1, 64, dtype=np.float16).reshape(1, 8, 8)
    out = check_clip(clip)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, clip.astype(np.float32))


def test_nan_and_inf_pixels_are_refused():
    """float clip with NaN or inf -> clear error: clip, frame and position named."""
    clip = np.zeros((3, 4, 4))
    clip[2, 1, 3] = np.inf
    with pytest.raises(ValueError, match=r"clip 1: NaN or infinite pixel value at frame 2, "
                                         r"position \(1, 3\)"):
        check_clips([np.zeros((1, 4, 4)), clip])


def test_source_file_is_named():
    """bad clip in a ClipSet with sources -> clear error: the file is named."""
    X = ClipSet([GREY, GREY.astype(bool)], source=["a.mp4", "b.mp4"])
    with pytest.raises(TypeError, match=r"clip 1 \(b\.mp4\): pixels are boolean"):
        check_clips(X)


@pytest.mark.parametrize(
    ("clip", "fragment"),
    [
        (np.zeros((0, 8, 8)), "the clip has zero frames"),
        (np.zeros((2, 0, 8)), "frames are empty"),
        (np.zeros((2, 8, 8, 2)), r"expected a clip of shape \(T, H, W\) or \(T, H, W, 3\)"),
        (np.zeros((2, 8, 8, 4)), r"4 channels \(RGBA\?\).*composite the alpha channel"),
        (np.zeros((60, 80, 3)), "looks like one colour image"),
        ([np.zeros((8, 8)), np.zeros((8, 9))], "frame 0 is .* but frame 1 is"),
        (np.array(["a", "b"]), "frames must be numeric"),
    ],
)
def test_bad_shapes_name_the_clip(clip, fragment):
    """empty, 2- or 4-channel, (H, W, 3) or ragged clip -> clear error: naming the clip."""
    with pytest.raises((ValueError, TypeError), match="clip 0: .*" + fragment):
        check_clips([clip])


# ---------------------------------------------------------------- float pixel scale


def test_float_scale_rule():
    """float clips in [0, 1] or [0, 255] -> OK: read on that scale, rounded to uint8."""
    unit = pixel_unit(np.array([[[0.0, 0.5, 1.0]]]))
    assert unit == 255.0
    assert to_uint8(np.array([0.0, 0.5, 1.0]), unit).tolist() == [0, 128, 255]
    assert pixel_unit(np.array([[[0.0, 254.7]]])) == 1.0
    # Half a grey level of interpolation overshoot rounds onto the ends.
    assert to_uint8(np.array([-0.4, 255.4]), pixel_unit(np.array([[[-0.4, 255.4]]]))).tolist() == [
        0, 255
    ]


def test_float_clip_outside_scale_is_refused_by_detection():
    """float clip in [-1, 1] given to face detection -> clear error: no silent clipping."""
    clip = np.linspace(-1, 1, 3 * 40 * 40).reshape(3, 40, 40)
    ext = FaceTubeExtractor(detector=one_face, frame_size=(8, 8)).fit()
    with pytest.raises(ValueError, match=r"clip 0: float pixels range from -1 to 1, outside "
                                         r"the \[0, 1\] scale.*MinMaxImageScaler"):
        ext.transform([clip])


def test_float_frame_outside_scale_is_refused_by_haar():
    """float frame above 255 given to HaarFaceDetector.detect -> clear error: not clipped."""
    with pytest.raises(ValueError, match=r"float pixels range from 0 to 300"):
        HaarFaceDetector().detect(np.linspace(0, 300, 64 * 64).reshape(64, 64))


def test_float_01_clip_gives_the_uint8_tube():
    """float clip in [0, 1] -> OK: same detections and boxes as its uint8 version."""
    rng = np.random.RandomState(0)
    u8 = rng.randint(0, 256, (3, 40, 40)).astype(np.uint8)
    ext = FaceTubeExtractor(detector=one_face, frame_size=(8, 8)).fit()
    _, (a,) = ext.transform_with_info([u8])
    _, (b,) = ext.transform_with_info([u8 / 255.0])
    np.testing.assert_array_equal(a.smoothed_boxes, b.smoothed_boxes)
    assert a.status.tolist() == b.status.tolist()


def test_hog_of_float_01_clip_matches_uint8():
    """float [0, 1] clip into HOGFeatures -> OK: the features of its uint8 version."""
    rng = np.random.RandomState(0)
    u8 = rng.randint(0, 256, (2, 32, 32)).astype(np.uint8)
    hog = HOGFeatures(frame_size=(32, 32)).fit([u8])
    np.testing.assert_allclose(hog.transform([u8 / 255.0])[0], hog.transform([u8])[0], atol=1e-3)


def test_hog_of_float_clip_outside_scale_is_refused():
    """float clip in [-1, 1] into HOGFeatures -> clear error: names the clip, not clipped to 0."""
    good = np.full((2, 16, 16), 0.5)
    bad = np.linspace(-1, 1, 2 * 16 * 16).reshape(2, 16, 16)
    hog = HOGFeatures(frame_size=(16, 16)).fit([good])
    with pytest.raises(ValueError, match=r"clip 1: float pixels range from -1 to 1"):
        hog.transform([good, bad])


# ------------------------------------------------------------------- detectors' output


@pytest.mark.parametrize(
    ("boxes", "fragment"),
    [
        (np.array([[np.nan, 4.0, 20.0, 20.0]]), r"a NaN or infinite box \[nan, 4.0, 20.0, 20.0\]"),
        (np.array([[4.0, 4.0, np.inf, 20.0]]), "a NaN or infinite box"),
        (np.array([[4.0, 4.0, -5.0, 20.0]]), "a box of non-positive width or height"),
        (np.array([[4.0, 4.0, 20.0, 0.0]]), "a box of non-positive width or height"),
        (np.array([[400.0, 4.0, 20.0, 20.0]]), r"a box \[400.0, 4.0, .*\] outside the 40x40"),
        (np.ones((2, 5)), r"boxes of shape \(2, 5\) instead of \(n, 4\)"),
        ((np.ones((1, 4)), np.ones(2)), "1 boxes but 2 scores"),
        ((np.ones((1, 4)), np.array([np.nan])), "a NaN or infinite score"),
        ("face", "boxes that are not an array of numbers"),
    ],
)
def test_bad_detector_output_names_detector_clip_and_frame(boxes, fragment):
    """detector returning NaN/inf/negative/outside boxes -> clear error: detector, clip, frame."""

    def bad(frame):
        return boxes

    ext = FaceTubeExtractor(detector=bad, frame_size=(8, 8)).fit()
    with pytest.raises(ValueError, match=r"clip 0, frame 0: the face detector "
                                         r".*test_clips\..*bad returned " + fragment):
        ext.transform([np.zeros((2, 40, 40), np.uint8)])


def test_detector_nan_only_on_one_frame_names_that_frame():
    """detector giving NaN on frame 5 only -> clear error: frame 5 is named."""

    def flaky(frame):
        return np.array([[np.nan] * 4]) if frame[0, 0] == 5 else np.array([[4.0, 4.0, 20, 20]])

    clip = np.zeros((9, 40, 40), np.uint8)
    clip[:, 0, 0] = np.arange(9)
    ext = FaceTubeExtractor(detector=flaky, detect_every=1, frame_size=(8, 8)).fit()
    with pytest.raises(ValueError, match="clip 0, frame 5: the face detector"):
        ext.transform([clip])


def test_landmark_detector_checks_its_face_detector_too():
    """LandmarkDetector with a detector returning NaN -> clear error: names clip and frame."""
    pytest.importorskip("dlib")
    from skfer.preprocessing import LandmarkDetector

    def bad(frame):
        return np.array([[np.nan, 0, 10, 10]])

    try:
        det = LandmarkDetector(detector=bad).fit([GREY])
    except ImportError as exc:  # the model of the landmarks extra is not installed
        pytest.skip(str(exc))
    with pytest.raises(ValueError, match="clip 0, frame 0: the face detector"):
        det.transform([np.zeros((1, 40, 40), np.uint8)])


# ---------------------------------------------------------------------------- pickling


def test_pickling_a_lambda_detector_says_what_to_do():
    """pickle.dumps of an extractor with a lambda detector -> clear error: define it at
    module level."""
    ext = FaceTubeExtractor(detector=lambda frame: None)
    with pytest.raises(pickle.PicklingError, match=r"FaceTubeExtractor: the detector "
                                                   r".*<lambda> cannot be pickled.*module level"):
        pickle.dumps(ext)


def test_joblib_dump_of_a_local_detector_says_what_to_do(tmp_path):
    """joblib.dump of a fitted extractor with a local function -> clear error: module level."""

    def local(frame):
        return None

    ext = FaceTubeExtractor(detector=local).fit()
    with pytest.raises(pickle.PicklingError, match=r"test_joblib_dump.*<locals>\.local "
                                                   "cannot be pickled"):
        joblib.dump(ext, tmp_path / "model.joblib")


def test_module_level_detector_pickles_and_lambda_still_deepcopies():
    """module-level detector pickled; lambda detector deep-copied, cloudpickled -> OK: all work."""
    ext = FaceTubeExtractor(detector=one_face, frame_size=(8, 8)).fit()
    again = pickle.loads(pickle.dumps(ext))
    assert again.detector is one_face
    lam = FaceTubeExtractor(detector=lambda frame: None).fit()
    assert copy.deepcopy(lam).detector is lam.detector
    cloudpickle = pytest.importorskip("cloudpickle")  # joblib's process workers use it
    restored = pickle.loads(cloudpickle.dumps(lam))
    assert restored.detector(np.zeros((4, 4))) is None


# ------------------------------------------------------------------ ClipSet (issue 25)


THREE = [np.full((2, 8, 8), v, np.uint8) for v in (0, 1, 2)]


@pytest.mark.parametrize("key", [[-4], [3], np.array([-4]), -4, 3, [0, 5]])
def test_clipset_index_out_of_range(key):
    """ClipSet[[-4]], [3], np.array([-4]), -4, 3 or [0, 5] on 3 clips -> clear error:
    IndexError naming the index and the valid range, as a list or an array raises (not clip 2).
    """
    X = ClipSet(THREE, source=["a", "b", "c"])
    with pytest.raises(IndexError, match=r"ClipSet index (-4|3|5) is out of range for 3 clips "
                                         r"\(valid: -3 to 2\)"):
        X[key]
    assert X[[-3]].get("source") == ["a"] and X[-1] is THREE[2]


@pytest.mark.parametrize("companions, fragment", [
    ({"landmarks": [np.zeros((2, 5))] * 3},
     r"clip 0: companion 'landmarks' has shape \(2, 5\), expected \(T, P, 2\)"),
    ({"landmarks": [np.zeros((2, 68, 3))] * 3},
     r"clip 0: companion 'landmarks' has shape \(2, 68, 3\), expected \(T, P, 2\)"),
    ({"landmarks": [np.zeros((2, 68, 2)), None, np.zeros((2, 5, 2))]},
     r"clip 2: companion 'landmarks' has shape \(2, 5, 2\), but earlier clips have "
     r"\(T, 68, 2\)"),
    ({"boxes": [np.zeros((2, 3))] * 3},
     r"clip 0: companion 'boxes' has shape \(2, 3\), expected \(T, 4\)"),
    ({"source_boxes": [np.zeros(2)] * 3},
     r"clip 0: companion 'source_boxes' has shape \(2,\), expected \(T, 4\)"),
    ({"frame_ids": [np.zeros((2, 2))] * 3},
     r"clip 0: companion 'frame_ids' has shape \(2, 2\), expected \(T\)"),
    ({"status": [np.full((2, 1), "detected")] * 3},
     r"clip 0: companion 'status' has shape \(2, 1\), expected \(T\)"),
    ({"audio": [np.zeros(8), np.zeros((2, 2, 2)), None]},
     r"clip 1: companion 'audio' must be a numeric \(n_samples,\)"),
    ({"sample_rate": [16000, "16k", 16000]},
     r"clip 1: companion 'sample_rate' must be a positive int \(Hz\), got '16k'"),
    ({"fps": [25.0, -1.0, 25.0]}, r"clip 1: companion 'fps' must be a positive number"),
])
def test_clipset_malformed_companion(companions, fragment):
    """ClipSet built with landmarks (T, 5) or (T, P, 3), two landmark schemes, boxes (T, 3),
    frame_ids (T, 2), a (T, 1) status, 3-D audio, sample_rate "16k", fps -1 -> clear error: at
    construction, naming the clip, the companion and the expected shape.
    """
    with pytest.raises(ValueError, match=fragment):
        ClipSet(THREE, **companions)


def test_clipset_non_numeric_landmarks():
    """ClipSet with landmarks of strings -> clear error: TypeError naming the clip and dtype."""
    with pytest.raises(TypeError, match=r"clip 0: companion 'landmarks' must be numeric"):
        ClipSet(THREE, landmarks=[np.full((2, 68, 2), "x")] * 3)
