"""Bad face tubes and frame policies of the preprocessing steps: inconsistent detections,
no face, upside-down faces, suspect and missing frames down the pipeline (issue 16)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skfer import ClipSet
from skfer.datasets import sample_videos_path
from skfer.datasets.synthetic import make_expressions
from skfer.io import read_video
from skfer.preprocessing import (
    FaceRegistration,
    FaceTubeExtractor,
    FrameAggregator,
    FramePooling,
    HaarFaceDetector,
    MouthRegion,
)
from skfer.utils.frame_policy import SkippedFramesError, SkippedFramesWarning

H, W, SIDE = 120, 160, 40


class Scripted:
    """A detector that returns, for frame ``t`` (read from pixel (0, 0)), the boxes of
    ``script[t]`` (top-left corners of SIDE x SIDE boxes)."""

    def __init__(self, script):
        self.script = script

    def __call__(self, frame):
        corners = self.script.get(int(frame[0, 0]), [])
        return np.array([[x, y, SIDE, SIDE] for x, y in corners], dtype=float).reshape(-1, 4)


def _clip(n, face_at=(50, 30), seed=0):
    """Noise frames with a textured face patch at ``face_at``; frame t has pixel (0, 0) = t."""
    rng = np.random.RandomState(seed)
    clip = rng.randint(0, 60, (n, H, W)).astype(np.uint8)
    patch = rng.randint(120, 255, (SIDE, SIDE)).astype(np.uint8)
    x, y = face_at
    clip[:, y : y + SIDE, x : x + SIDE] = patch
    clip[:, 0, 0] = np.arange(n)
    return clip


@pytest.fixture(scope="module")
def faces():
    """Four synthetic grey clips of 24 frames (the fourth turned upside down fools Haar)."""
    data = make_expressions(
        n_subjects=4, n_clips_per_expression=1, expressions=("happiness",), n_frames=24,
        color=False, random_state=0,
    )
    return data.data


# ----------------------------------------------------------------- inconsistent tubes


def test_isolated_far_false_positive_stays_out_of_the_tube():
    """face tube plus one far-away false-positive box -> OK: the tube follows the face, full
    confidence."""
    script = {t: [(50, 30)] for t in range(24)}
    script[8] = [(50, 30), (110, 75)]  # a second box, far away, once
    ext = FaceTubeExtractor(detector=Scripted(script), frame_size=(8, 8)).fit()
    _, (rec,) = ext.transform_with_info([_clip(24)])
    assert rec.n_tubes == 2
    assert "suspect" not in rec.status and not rec.skipped
    np.testing.assert_allclose(rec.boxes[8], [50, 30, SIDE, SIDE])
    np.testing.assert_allclose(rec.confidence, 1.0)


def test_false_positive_that_never_repeats_is_no_face():
    """clip whose only detection is one false positive -> recorded policy: every frame
    suspect or missing, "inconsistent", clip treated as without a face."""
    ext = FaceTubeExtractor(detector=Scripted({8: [(110, 75)]}), frame_size=(8, 8)).fit()
    with pytest.raises(SkippedFramesError, match=r"clip 0: .*inconsistent .*confidence 0\.20"):
        ext.transform([_clip(24)])
    ext.set_params(on_missing="warn")
    with pytest.warns(SkippedFramesWarning, match="clip 0: .*: inconsistent") as caught:
        out, (rec,) = ext.transform_with_info([_clip(24)])
    assert len(caught) == 1
    assert not rec.face_found and rec.status[8] == "suspect"
    assert set(rec.status) <= {"suspect", "missing"}
    reasons = {r.reason: r.indices.tolist() for r in rec.skipped}
    assert reasons["inconsistent"] == rec.suspect_frames.tolist()
    assert 8 in reasons["inconsistent"]
    assert rec.confidence.max() == pytest.approx(0.2)
    # A clip without a trustworthy face is the centred square, as a clip without a face.
    np.testing.assert_allclose(rec.smoothed_boxes, np.tile([20, 0, 120, 120], (24, 1)))
    np.testing.assert_array_equal(out.get("confidence")[0], rec.confidence)


def test_box_jumping_across_the_frame_for_one_frame_is_left_out():
    """detections jumping across the frame on one frame -> OK: that frame is filled at the
    face, the jump never enters the tube."""
    script = {t: [(50, 30)] for t in range(24)}
    script[12] = [(110, 75)]
    ext = FaceTubeExtractor(detector=Scripted(script), detect_every=4, frame_size=(8, 8)).fit()
    _, (rec,) = ext.transform_with_info([_clip(24)])
    assert rec.status[12] == "filled"
    np.testing.assert_allclose(rec.boxes[12], [50, 30, SIDE, SIDE], atol=3)
    assert np.abs(rec.smoothed_boxes[:, 0] - 50).max() < 3


def test_box_wobbling_in_the_tube_lowers_its_frames_confidence():
    """a detection off its neighbours by 0.45 box sides -> recorded policy: lower confidence;
    suspect under a strict min_confidence."""
    script = {t: [(50, 30)] for t in range(12)}
    script[6] = [(68, 30)]  # still linked to the tube (0.45 sides), but off its neighbours
    ext = FaceTubeExtractor(detector=Scripted(script), detect_every=1, frame_size=(8, 8)).fit()
    _, (rec,) = ext.transform_with_info([_clip(12)])
    assert rec.confidence[6] == pytest.approx((1 - 18 / SIDE) / 0.75)
    assert rec.status[6] == "detected" and rec.confidence[5] == 1.0
    ext.set_params(min_confidence=0.9, on_missing="warn")
    with pytest.warns(SkippedFramesWarning, match=r"clip 0: 1 frames \[6\]: inconsistent"):
        out, (rec,) = ext.transform_with_info([_clip(12)])
    assert rec.suspect_frames.tolist() == [6] and rec.face_found
    assert out.get("status")[0][6] == "suspect" and out.usable_frames(0).sum() == 11


def test_upside_down_face_with_haar_is_not_a_good_tube(faces):
    """synthetic face rotated 180 degrees, Haar detector -> recorded policy: no face (default
    Haar) or every frame suspect (a permissive Haar)."""
    upright, down = faces[3], np.ascontiguousarray(faces[3][:, ::-1, ::-1])
    ext = FaceTubeExtractor(frame_size=(8, 8)).fit()
    _, (rec,) = ext.transform_with_info([upright])
    assert (rec.status == "detected").any() and rec.confidence.min() == 1.0
    with pytest.raises(SkippedFramesError, match=r"clip 0: 24 frames .*: no_face"):
        ext.transform([down])
    loose = FaceTubeExtractor(
        detector=HaarFaceDetector(min_neighbors=3), frame_size=(8, 8), on_missing="warn"
    ).fit()
    with pytest.warns(SkippedFramesWarning, match="inconsistent"):
        _, (rec,) = loose.transform_with_info([down])
    assert rec.n_detector_calls > 10 and (rec.scores > -np.inf).sum() == 2  # two false hits
    assert not rec.face_found and "suspect" in rec.status


def _cremad(emotion):
    """Grey frames of the shipped CREMA-D clip of actor 1001 with ``emotion`` (e.g. HAP)."""
    return read_video(sample_videos_path() / f"1001_DFA_{emotion}_XX.flv", color=False).frames


def test_upside_down_face_in_a_larger_frame_is_not_trusted():
    """shipped CREMA-D clip turned 180 degrees and padded into a larger frame, Haar detector
    -> recorded policy: the detector finds the face in the frames turned back, so every
    frame is suspect ("inconsistent", "upside down"), FaceTube.orientation 180."""
    up = _cremad("HAP")
    down = np.pad(np.ascontiguousarray(up[:, ::-1, ::-1]), ((0, 0), (120, 120), (120, 120)))
    ext = FaceTubeExtractor(frame_size=(8, 8)).fit()
    with pytest.raises(SkippedFramesError, match="clip 0: ") as err:
        ext.transform([down])
    assert [r.reason for r in err.value.records] == ["no_face", "inconsistent"]
    assert "upside down" in err.value.records[1].detail
    _, (rec,) = ext.transform_with_info([up])
    # Upright, the face is found on every run: no turned frame is tried.
    assert rec.orientation == 0 and rec.confidence.min() == 1.0
    assert rec.n_detector_calls == len(up) // 8 + 1
    ext.set_params(on_missing="warn")
    with pytest.warns(SkippedFramesWarning, match="inconsistent"):
        out, (rec,) = ext.transform_with_info([down])
    # Before: 40 detected/tracked/filled frames of confidence 1 on the upside-down face.
    assert rec.orientation == 180 and not rec.face_found
    assert set(rec.status) == {"suspect", "missing"} and rec.confidence.max() == 0.0
    (record,) = [r for r in rec.skipped if r.reason == "inconsistent"]
    assert "turned 180 degrees" in record.detail and "np.rot90(clip, 2" in record.detail
    assert out.usable_frames(0).sum() == 0


def test_face_on_its_side_is_not_trusted():
    """shipped CREMA-D clip turned 90 degrees (a phone video without a rotation flag), Haar
    -> recorded policy: a small false box was a tube of confidence 0.6; now every frame is
    suspect, the record names the turn that finds the face (270)."""
    side = np.ascontiguousarray(np.rot90(_cremad("NEU"), 1, axes=(1, 2)))
    ext = FaceTubeExtractor(frame_size=(8, 8), on_missing="ignore").fit()
    _, (rec,) = ext.transform_with_info([side])
    assert not rec.face_found and rec.orientation == 270
    (record,) = [r for r in rec.skipped if r.reason == "inconsistent"]
    assert "on its side" in record.detail and "np.rot90(clip, 3" in record.detail
    # Turned as the record says, the clip gives a trusted tube again.
    _, (rec,) = ext.transform_with_info([np.rot90(side, 3, axes=(1, 2))])
    assert rec.orientation == 0 and rec.face_found and rec.confidence.min() == 1.0


def test_min_confidence_is_validated():
    """min_confidence outside [0, 1] -> clear error: InvalidParameterError naming it."""
    with pytest.raises(InvalidParameterError, match="'min_confidence' parameter"):
        FaceTubeExtractor(min_confidence=1.5).fit()


def test_ignore_still_records_the_skipped_frames():
    """on_missing="ignore" on a clip without a face -> recorded policy: no warning, the
    record and statuses still say no_face."""
    ext = FaceTubeExtractor(detector=Scripted({}), on_missing="ignore", frame_size=(8, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, (rec,) = ext.fit().transform_with_info([_clip(5)])
    (record,) = rec.skipped
    assert (record.reason, record.indices.tolist(), record.clip_index) == (
        "no_face", [0, 1, 2, 3, 4], 0
    )
    assert out.get("status")[0].tolist() == ["missing"] * 5


def test_records_name_the_source_file():
    """clip without a face in a ClipSet with sources -> recorded policy: the file is named."""
    X = ClipSet([_clip(3)], source=["talk.mp4"])
    ext = FaceTubeExtractor(detector=Scripted({}), frame_size=(8, 8)).fit()
    with pytest.raises(SkippedFramesError, match=r"clip 0 \(talk\.mp4\): 3 frames"):
        ext.transform(X)


# ------------------------------------------------------------ companions and statuses


def test_confidence_companion_is_checked():
    """confidence companion outside [0, 1] or NaN -> clear error: names the clip."""
    clips = [np.zeros((2, 4, 4), np.uint8)] * 2
    with pytest.raises(ValueError, match=r"clip 1: companion 'confidence' must be .*\[0, 1\]"):
        ClipSet(clips, confidence=[[0.5, 1.0], [np.nan, 0.2]])
    with pytest.raises(ValueError, match="clip 0: companion 'confidence' has 3 frames"):
        ClipSet(clips, confidence=[[0.5, 1.0, 1.0], [0.1, 0.2]])


def test_aggregator_leaves_out_suspect_frames_and_records_them():
    """suspect and missing frames into FrameAggregator -> recorded policy: excluded, named."""
    seq = np.arange(10.0).reshape(5, 2)
    X = ClipSet([seq], status=[["detected", "suspect", "tracked", "missing", "filled"]])
    agg = FrameAggregator(n_frames=1).fit(X)
    with pytest.warns(SkippedFramesWarning, match=r"clip 0: 2 frames \[1, 3\]: excluded"):
        out, left_out = agg.transform_with_info(X)
    np.testing.assert_allclose(out[0], seq[[0, 2, 4]].mean(axis=0))
    assert left_out[0].tolist() == [1, 3]
    with pytest.raises(SkippedFramesError, match=r"clip 0: 2 frames \[1, 3\]: excluded"):
        agg.set_params(on_missing="raise").transform(X)


def test_pooling_records_the_frames_it_leaves_out():
    """suspect frames into FramePooling -> recorded policy: excluded frames warned and
    returned."""
    seq = np.arange(8.0).reshape(4, 2)
    X = ClipSet([seq], status=[["detected", "detected", "detected", "suspect"]])
    pool = FramePooling(method="last").fit(X)
    with pytest.warns(SkippedFramesWarning, match=r"clip 0: 1 frames \[3\]: excluded"):
        out, left_out = pool.transform_with_info(X)
    np.testing.assert_array_equal(out, [seq[2]])  # the last trustworthy frame
    assert left_out[0].tolist() == [3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FramePooling(on_missing="ignore").fit(X).transform(X)


def test_registration_policy_uses_the_shared_vocabulary():
    """frames without landmarks into FaceRegistration -> recorded policy: SkippedFramesError
    with the records."""
    clips = [np.zeros((3, 32, 32), np.uint8)]
    points = np.tile(np.random.RandomState(0).uniform(5, 27, (1, 68, 2)), (3, 1, 1))
    points[1] = np.nan
    X = ClipSet(clips, landmarks=[points])
    with pytest.raises(SkippedFramesError, match=r"clip 0: 1 frames \[1\]: no_landmarks") as err:
        FaceRegistration(on_missing="raise").fit(X)
    (record,) = err.value.records
    assert (record.reason, record.indices.tolist()) == ("no_landmarks", [1])


def test_mouth_policy_uses_the_shared_vocabulary():
    """NaN mouth landmarks into MouthRegion -> recorded policy: one SkippedFramesWarning;
    raise names clip and frames."""
    clips = [np.zeros((3, 48, 48), np.uint8)] * 2
    points = np.tile(np.random.RandomState(0).uniform(10, 38, (1, 68, 2)), (3, 1, 1))
    bad = points.copy()
    bad[[0, 2]] = np.nan
    X = ClipSet(clips, landmarks=[points, bad], source=["a.avi", "b.avi"])
    with pytest.warns(SkippedFramesWarning, match=r"clip 1 \(b\.avi\): 2 frames \[0, 2\]"):
        MouthRegion().fit(X).transform(X)
    with pytest.raises(SkippedFramesError, match=r"clip 1 \(b\.avi\): 2 frames \[0, 2\]"):
        MouthRegion(on_missing="raise").fit(X).transform(X)


def test_transform_files_on_a_cut_video_records_the_readers_frames(tmp_path):
    """cut MP4 into FaceTubeExtractor.transform_files -> recorded policy: the reader's
    "truncated" record joins the tube's, one warning per call; "raise" raises.
    """
    from bad_input.test_readers import cut, write_av

    short = cut(write_av(tmp_path / "a.mp4", "mp4", options={"movflags": "faststart"}), 0.92)
    ext = FaceTubeExtractor(detector=lambda frame: np.array([[8.0, 8.0, 24.0, 24.0]]),
                            frame_size=(8, 8), on_missing="warn").fit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tubes, (rec,) = ext.transform_files_with_info([short])
    lost = [r for r in rec.skipped if r.reason == "truncated"]
    assert len(lost) == 1 and lost[0].clip_index == 0 and lost[0].source == str(short)
    assert len(tubes[0]) + lost[0].count == 120
    ours = [w for w in caught if issubclass(w.category, SkippedFramesWarning)]
    assert len(ours) == 1 and "truncated" in str(ours[0].message)
    with pytest.raises(SkippedFramesError, match="truncated"):
        ext.set_params(on_missing="raise").transform_files([short])
