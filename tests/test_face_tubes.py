"""FaceTubeExtractor (EmoNets section 3.1.3): logic with a scripted detector, real videos."""

from __future__ import annotations

import importlib.util
import pickle
import threading
import time
import warnings

import cv2
import numpy as np
import pytest
from sklearn.base import clone

from skfer import ClipSet
from skfer.io import read_video
from skfer.io._prefetch import prefetch
from skfer.preprocessing.box_smoothing import box_iou
from skfer.preprocessing.face_detection import HaarFaceDetector, as_detector
from skfer.preprocessing.face_tubes import FaceTubeExtractor, histogram_search
from skfer.utils.estimator_checks import parametrize_with_clip_checks

H, W, SIDE = 120, 160, 40


class ScriptedDetector:
    """Fake detector: the frame index is written in pixel (0, 0); boxes come from a script."""

    def __init__(self, script):
        self.script = script
        self.calls = []

    def detect(self, frame):
        t = int(frame[0, 0] if frame.ndim == 2 else frame[0, 0, 0])
        self.calls.append(t)
        boxes = np.asarray(self.script.get(t, np.empty((0, 4))), dtype=float).reshape(-1, 4)
        return boxes, np.ones(len(boxes))


def bright_patch(frame, threshold=150):
    """Fake detector: the bounding box of the pixels brighter than ``threshold``, if any."""
    ys, xs = np.nonzero(frame > threshold)
    if ys.size == 0:
        return np.empty((0, 4))
    return np.array([[xs.min(), ys.min(), np.ptp(xs) + 1, np.ptp(ys) + 1]], dtype=float)


def _face_patch(seed: int = 0) -> np.ndarray:
    """A textured patch whose histogram differs clearly from the flat background."""
    return np.random.RandomState(seed).randint(150, 250, (SIDE, SIDE)).astype(np.uint8)


def _video(positions, n_frames, color=False):
    """Frames of flat grey 30 with face patches at ``positions[t]`` (a list of (x, y))."""
    clip = np.full((n_frames, H, W), 30, np.uint8)
    for t in range(n_frames):
        for k, (x, y) in enumerate(positions.get(t, [])):
            clip[t, y : y + SIDE, x : x + SIDE] = _face_patch(k)
        clip[t, 0, 0] = t
    if color:
        clip = np.repeat(clip[..., None], 3, axis=-1)
    return clip


def _script(positions):
    return {t: [[x, y, SIDE, SIDE] for x, y in ps] for t, ps in positions.items()}


def test_every_frame_detected_gives_square_tube():
    pos = {t: [(20 + t, 30)] for t in range(30)}
    clip = _video(pos, 30)
    ext = FaceTubeExtractor(detector=ScriptedDetector(_script(pos)), detect_every=1).fit()
    out, (rec,) = ext.transform_with_info([clip])
    assert out[0].shape == (30, 48, 48) and out[0].dtype == np.uint8
    assert (rec.status == "detected").all()
    np.testing.assert_allclose(rec.boxes, [[20 + t, 30, SIDE, SIDE] for t in range(30)])
    # A linear motion survives the two symmetric moving averages (corners, then centres)
    # where both windows are complete (frames 10..19).
    np.testing.assert_allclose(rec.smoothed_boxes[10:20, 0], 20 + np.arange(10, 20))
    np.testing.assert_allclose(rec.smoothed_boxes[:, 1:], np.tile([30, SIDE, SIDE], (30, 1)))
    assert rec.n_detector_calls == 30 and rec.missing_frames.size == 0


def test_stride_tracks_between_detections():
    pos = {t: [(30 + 2 * t, 30)] for t in range(17)}
    det = ScriptedDetector(_script(pos))
    ext = FaceTubeExtractor(detector=det, detect_every=4).fit()
    _, (rec,) = ext.transform_with_info([_video(pos, 17)])
    assert sorted(set(det.calls)) == [0, 4, 8, 12, 16]
    expected = np.array(["tracked"] * 17, dtype=object)
    expected[[0, 4, 8, 12, 16]] = "detected"
    assert rec.status.tolist() == expected.tolist()
    np.testing.assert_allclose(rec.boxes[:, 0], 30 + 2 * np.arange(17), atol=1)


def test_two_faces_make_two_tubes_and_the_longest_is_primary():
    # Face A (left) throughout; face B (right) only in frames 0..7.
    pos = {t: [(10, 30)] + ([(100, 40)] if t < 8 else []) for t in range(16)}
    ext = FaceTubeExtractor(detector=ScriptedDetector(_script(pos)), detect_every=1).fit()
    _, (rec,) = ext.transform_with_info([_video(pos, 16)])
    assert rec.n_tubes == 2
    np.testing.assert_allclose(rec.boxes[:, 0], 10)


def test_equal_length_tubes_pick_the_larger_face():
    script = {t: [[10, 30, 30, 30], [100, 40, 50, 50]] for t in range(8)}
    pos = {t: [(10, 30)] for t in range(8)}
    ext = FaceTubeExtractor(detector=ScriptedDetector(script), detect_every=1).fit()
    _, (rec,) = ext.transform_with_info([_video(pos, 8)])
    assert rec.n_tubes == 2
    np.testing.assert_allclose(rec.boxes, np.tile([100, 40, 50, 50], (8, 1)))


def test_blanked_detection_is_filled_by_histogram_search():
    # The face moves 5 px per frame (the search grid step is side / 8 = 5 px).
    pos = {t: [(30 + 5 * t, 30)] for t in range(12)}
    script = _script(pos)
    del script[6]
    ext = FaceTubeExtractor(detector=ScriptedDetector(script), detect_every=1).fit()
    _, (rec,) = ext.transform_with_info([_video(pos, 12)])
    assert rec.status[6] == "filled"
    assert (np.delete(rec.status, 6) == "detected").all()
    np.testing.assert_allclose(rec.boxes[6], [60, 30, SIDE, SIDE])


def test_histogram_search_finds_the_shifted_patch():
    img = np.full((H, W), 30, np.uint8)
    img[40 : 40 + SIDE, 50 : 50 + SIDE] = _face_patch()
    ref = cv2.calcHist([_face_patch()], [0], None, [32], [0, 256])
    ref = cv2.normalize(ref, ref, 1.0, 0.0, cv2.NORM_L1)
    box, dist = histogram_search(img, np.array([40.0, 30.0, SIDE, SIDE]), ref, 0.25)
    np.testing.assert_allclose(box, [50, 40, SIDE, SIDE])
    assert dist == pytest.approx(0.0, abs=1e-6)


def test_face_that_leaves_is_reported_missing():
    pos = {t: [(50, 30)] for t in range(10)}
    ext = FaceTubeExtractor(detector=ScriptedDetector(_script(pos)), detect_every=3).fit()
    out, (rec,) = ext.transform_with_info([_video(pos, 20)])
    np.testing.assert_array_equal(rec.missing_frames, np.arange(10, 20))
    assert np.isnan(rec.boxes[10:]).all()
    # Missing frames are still cropped (at the last located box): nothing is dropped.
    assert out[0].shape == (20, 48, 48)
    np.testing.assert_allclose(rec.smoothed_boxes[-1], [50, 30, SIDE, SIDE])


def test_on_missing_policies():
    empty = ScriptedDetector({})
    clips = [_video({t: [(50, 30)] for t in range(4)}, 4), _video({}, 4)]
    # The messages are skfer.utils.frame_policy's (SkippedFramesError/Warning; issue 16).
    with pytest.raises(ValueError, match=r"clip 1: 4 frames \[0, 1, 2, 3\]: no_face"):
        FaceTubeExtractor(detector=bright_patch).fit().transform(clips)
    with pytest.warns(UserWarning, match=r"clip 0: 4 frames \[0, 1, 2, 3\]: no_face"):
        ext = FaceTubeExtractor(detector=empty, on_missing="warn", frame_size=(30, 30)).fit()
        out, (rec,) = ext.transform_with_info([clips[1]])
    assert rec.status.tolist() == ["missing"] * 4 and not rec.face_found
    # Centre crop: the largest centred square of the 120x160 frame.
    np.testing.assert_allclose(rec.smoothed_boxes, np.tile([20, 0, 120, 120], (4, 1)))
    assert out[0].shape == (4, 30, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FaceTubeExtractor(detector=empty, on_missing="ignore").fit().transform([clips[1]])


def test_colour_and_float_outputs():
    pos = {t: [(50, 30)] for t in range(5)}
    det = ScriptedDetector(_script(pos))
    clip = _video(pos, 5, color=True)
    out = FaceTubeExtractor(detector=det, color=True, frame_size=(20, 24)).fit().transform([clip])
    assert out[0].shape == (5, 20, 24, 3)
    fclip = clip.astype(np.float64)
    # An ndarray of clips gives a ClipSet (the tubes carry their statuses) of tubes in the
    # clips' dtype.
    out = FaceTubeExtractor(detector=det).fit().transform(np.stack([fclip]))
    assert isinstance(out, ClipSet) and np.stack(out.data).shape == (1, 5, 48, 48)
    assert out[0].dtype == np.float64


def test_crop_pads_outside_the_frame_with_zeros():
    script = {t: [[-20, -20, SIDE, SIDE]] for t in range(3)}
    clip = np.full((3, H, W), 200, np.uint8)
    clip[:, 0, 0] = np.arange(3)
    ext = FaceTubeExtractor(detector=ScriptedDetector(script), frame_size=(40, 40)).fit()
    out = ext.transform([clip])[0]
    assert (out[:, :18, :18] == 0).all() and (out[:, 22:, 22:] == 200).all()


def test_bad_input_and_parameters():
    ext = FaceTubeExtractor(detector=ScriptedDetector({})).fit()
    with pytest.raises(ValueError, match="empty"):
        ext.transform([])
    with pytest.raises(ValueError, match="clip 1"):
        ext.transform([np.zeros((2, 20, 20), np.uint8), np.zeros((0, 20, 20), np.uint8)])
    with pytest.raises(ValueError):
        ext.transform([[np.zeros((20, 20), np.uint8), np.zeros((21, 20), np.uint8)]])
    with pytest.raises(ValueError, match="colour"):
        FaceTubeExtractor(color=True).fit().transform([np.zeros((2, 20, 20), np.uint8)])
    for bad in ({"smoothing_window": 10}, {"on_missing": "drop"}, {"detect_every": 0}):
        with pytest.raises(ValueError):
            FaceTubeExtractor(**bad).fit()
    with pytest.raises(TypeError, match="detector"):
        FaceTubeExtractor(detector=42).fit()


def test_clone_pickle_and_callable_detector():
    def fake(frame):
        return np.array([[50.0, 30.0, SIDE, SIDE]])

    ext = FaceTubeExtractor(detector=fake, detect_every=2).fit()
    clip = _video({t: [(50, 30)] for t in range(6)}, 6)
    out = ext.transform([clip])[0]
    np.testing.assert_array_equal(clone(ext).fit().transform([clip])[0], out)
    haar = FaceTubeExtractor().fit()
    again = pickle.loads(pickle.dumps(haar))
    assert isinstance(again.detector_, HaarFaceDetector)
    boxes, scores = as_detector(again.detector_)(np.zeros((60, 80), np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,)


@parametrize_with_clip_checks(
    [
        FaceTubeExtractor(detector=bright_patch, frame_size=(16, 16)),
        FaceTubeExtractor(on_missing="ignore", frame_size=(16, 16)),
    ]
)
def test_clip_api(estimator, check):
    check(type(estimator).__name__, estimator)


# -- video files (transform_files) -----------------------------------------------------------


def _grey_patch(frame):
    """bright_patch on the first channel of RGB frames (the synthetic videos are grey)."""
    return bright_patch(frame if frame.ndim == 2 else frame[..., 0])


def _write_avi(path, clip, fps=10):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    for frame in clip:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def _same_record(a, b):
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.smoothed_boxes, b.smoothed_boxes)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.status.tolist() == b.status.tolist()
    assert (a.clip_index, a.n_tubes, a.n_detector_calls, a.linear_sides) == (
        b.clip_index, b.n_tubes, b.n_detector_calls, b.linear_sides
    )


@pytest.mark.parametrize("color", [False, True])
def test_transform_files_matches_transform_on_decoded_clips(tmp_path, color):
    # The face appears at frame 6 (scheduled detections 4 and 8 disagree, so 5..7 are
    # detected while decoding), moves (tracked frames), and the last frame (29) is off the
    # stride of 4.
    pos = {t: [(20 + 3 * t, 30)] for t in range(6, 30)}
    paths = [
        _write_avi(tmp_path / "a.avi", _video(pos, 30)),
        _write_avi(tmp_path / "b.avi", _video({t: [(60, 40)] for t in range(9)}, 9)),
    ]
    ext = FaceTubeExtractor(detector=_grey_patch, detect_every=4, color=color).fit()
    before = dict(vars(ext))
    expected, expected_records = ext.transform_with_info([read_video(p).frames for p in paths])
    got, records = ext.transform_files_with_info(paths)
    assert vars(ext) == before  # neither changes the extractor
    assert len(got) == 2 and len(records) == 2
    for tube, want, rec, want_rec in zip(got, expected, records, expected_records):
        assert tube.dtype == np.uint8
        np.testing.assert_array_equal(tube, want)
        _same_record(rec, want_rec)
    status = records[0].status
    # The statuses and boxes travel with the tubes, and the files are named.
    assert got.get("status")[0].tolist() == status.tolist()
    np.testing.assert_array_equal(got.get("source_boxes")[0], records[0].smoothed_boxes)
    assert got.get("boxes") is None
    assert got.get("source") == [str(p) for p in paths]
    assert ext.transform_files(paths)[1].shape == got[1].shape
    assert (status[:6] == "missing").all() and (status[5:8] != "tracked").all()
    assert {"detected", "tracked"} <= set(status.tolist())
    assert got[0].shape == ((30, 48, 48, 3) if color else (30, 48, 48))


def test_transform_files_errors_stop_the_decoding_thread(tmp_path):
    path = _write_avi(tmp_path / "a.avi", _video({t: [(50, 30)] for t in range(8)}, 8))
    ext = FaceTubeExtractor(detector=bright_patch).fit()
    with pytest.raises(FileNotFoundError):
        ext.transform_files([tmp_path / "missing.avi"])
    with pytest.raises(TypeError, match="list"):
        ext.transform_files(str(path))
    with pytest.raises(ValueError, match="empty"):
        ext.transform_files([])

    def broken(frame):
        raise RuntimeError("detector failed")

    with pytest.raises(RuntimeError, match="detector failed"):
        FaceTubeExtractor(detector=broken).fit().transform_files([path])
    assert not any(t.name == "skfer-decode" for t in threading.enumerate())


def test_prefetch_forwards_errors_and_stops_when_closed():
    def failing():
        yield 1
        yield 2
        raise OSError("cannot decode")

    it = prefetch(failing())
    assert [next(it), next(it)] == [1, 2]
    with pytest.raises(OSError, match="cannot decode"):
        next(it)

    produced = []

    def endless():
        while True:
            produced.append(len(produced))
            time.sleep(0.001)
            yield produced[-1]

    it = prefetch(endless())
    assert next(it) == 0
    it.close()  # joins the producer, which stops at its next item
    n = len(produced)
    time.sleep(0.02)
    assert len(produced) == n


# -- real videos ------------------------------------------------------------------------------


def _read(path) -> np.ndarray:
    return read_video(path).frames


@pytest.mark.shared_data
def test_single_face_is_followed(shared_data):
    clip = _read(shared_data / "face_videos" / "single_face.mp4")
    ext = FaceTubeExtractor().fit()
    (out,), (rec,) = ext.transform_with_info([clip])
    assert out.shape == (72, 48, 48) and rec.missing_frames.size == 0
    # The strided tube agrees with detection on every frame.
    every = FaceTubeExtractor(detect_every=1).fit()
    _, (every_rec,) = every.transform_with_info([clip])
    iou = box_iou(rec.boxes, every_rec.boxes)
    assert iou.mean() > 0.8 and iou.min() > 0.6


@pytest.mark.shared_data
def test_transform_files_gives_the_in_memory_tube(shared_data):
    # Grey frames decoded from the file equal the grey of the RGB clip, so the streamed
    # tube is the one transform() makes from the decoded RGB clip, to the bit.
    path = shared_data / "face_videos" / "single_face.mp4"
    ext = FaceTubeExtractor().fit()
    (want,), (want_rec,) = ext.transform_with_info([_read(path)])
    (got,), (rec,) = ext.transform_files_with_info([path])
    np.testing.assert_array_equal(got, want)
    _same_record(rec, want_rec)


@pytest.mark.shared_data
def test_face_leaving_and_arriving_frames(shared_data):
    # Inspected by eye: face_noface.mov shows the face in frames 0-71, then a black
    # frame (72) and a cartoon (73-168); noface_face.mov is the reverse order: cartoon
    # (0-95), face (96-167), black (168).
    ext = FaceTubeExtractor().fit()
    _, (rec,) = ext.transform_with_info([_read(shared_data / "face_videos" / "face_noface.mov")])
    np.testing.assert_array_equal(rec.missing_frames, np.arange(72, 169))
    _, (rec,) = ext.transform_with_info([_read(shared_data / "face_videos" / "noface_face.mov")])
    np.testing.assert_array_equal(rec.missing_frames, np.r_[np.arange(0, 96), 168])


@pytest.mark.shared_data
def test_no_face_video_follows_on_missing(shared_data):
    clip = _read(shared_data / "face_videos" / "no_face.mp4")
    with pytest.raises(ValueError, match="clip 0: .* frames .*: no_face"):
        FaceTubeExtractor().fit().transform([clip])
    ext = FaceTubeExtractor(on_missing="warn").fit()
    with pytest.warns(UserWarning, match="clip 0"):
        (out,), (rec,) = ext.transform_with_info([clip])
    assert out.shape == (clip.shape[0], 48, 48)
    assert rec.missing_frames.size == clip.shape[0]


@pytest.mark.shared_data
def test_every_cremad_frame_gets_a_face(shared_data):
    paths = sorted((shared_data / "cremad_sample").glob("*.flv"))
    assert len(paths) == 6
    ext = FaceTubeExtractor().fit()
    out, records = ext.transform_with_info([_read(p) for p in paths])
    for rec, tube in zip(records, out):
        assert rec.missing_frames.size == 0, rec.clip_index
        assert not np.isnan(rec.boxes).any() and tube.shape[1:] == (48, 48)


@pytest.mark.skipif(
    importlib.util.find_spec("skfer.datasets.synthetic") is None,
    reason="skfer.datasets.synthetic (make_expressions with ground-truth boxes) is not there yet",
)
def test_detections_match_synthetic_ground_truth():
    from skfer.datasets.synthetic import make_expressions

    data = make_expressions(n_subjects=2, n_clips_per_expression=1, random_state=0)
    ext = FaceTubeExtractor(detect_every=1).fit()
    _, records = ext.transform_with_info(data.data)
    ious = np.concatenate(
        [box_iou(rec.boxes, truth) for rec, truth in zip(records, data.boxes)]
    )
    assert (ious >= 0.7).mean() >= 0.95


# -- companions, parameters and the pipeline to a descriptor ---------------------------------


def test_transform_returns_clipset_with_status_source_boxes_and_mapped_landmarks():
    pos = {t: [(50, 30)] for t in range(6)}
    clip = _video(pos, 6)
    points = np.tile([[50.0, 30.0], [89.0, 69.0], [70.0, 50.0]], (6, 1, 1))  # box corners
    face_boxes = np.tile([50.0, 30.0, 40.0, 40.0], (6, 1))  # in the source's pixels
    X = ClipSet([clip], landmarks=[points], boxes=[face_boxes], fps=[25.0])
    ext = FaceTubeExtractor(detector=ScriptedDetector(_script(pos)), frame_size=(20, 20)).fit()
    out, (rec,) = ext.transform_with_info(X)
    # Source-frame boxes never pass as boxes of the tube's own pixels.
    assert out.get("boxes") is None
    assert out.get("status")[0].tolist() == rec.status.tolist()
    np.testing.assert_array_equal(out.get("source_boxes")[0], rec.smoothed_boxes)
    assert out.get("fps") == [25.0]
    # The 40-pixel square at (50, 30) becomes the 20x20 tube: pixel centres scale by 1/2.
    np.testing.assert_allclose(out.get("landmarks")[0][0], [[-0.25, -0.25], [19.25, 19.25],
                                                           [9.75, 9.75]])
    # A list in gives a ClipSet too; the plain tubes are its data.
    listed = ext.transform([clip])
    assert isinstance(listed, ClipSet) and set(listed.companions) == {
        "status", "confidence", "source_boxes"
    }
    np.testing.assert_array_equal(listed[0], out[0])


def test_transform_does_not_change_the_extractor():
    ext = FaceTubeExtractor(detector=bright_patch).fit()
    before = dict(vars(ext))
    ext.transform_with_info([_video({t: [(50, 30)] for t in range(4)}, 4)])
    assert vars(ext) == before and not hasattr(ext, "tubes_")


def test_detector_parameters_are_tunable_through_the_extractor():
    ext = FaceTubeExtractor(detector=HaarFaceDetector(scale_factor=1.2))
    params = ext.get_params(deep=True)
    assert params["detector__scale_factor"] == 1.2 and params["frame_size"] == (48, 48)
    ext.set_params(detector__min_neighbors=3).fit()
    # fit works on a clone: the parameter object stays as given.
    assert ext.detector_ is not ext.detector and ext.detector_.min_neighbors == 3
    assert FaceTubeExtractor().get_params()["detector"] is None
    for bad in ({"scale_factor": 1.0}, {"min_neighbors": -1}, {"detect_width": 0}):
        with pytest.raises(ValueError, match=f"'{next(iter(bad))}' parameter of HaarFaceDetector"):
            FaceTubeExtractor(detector=HaarFaceDetector(**bad)).fit()
    with pytest.raises(ValueError, match="min_size must be two non-negative integers"):
        HaarFaceDetector(min_size=(10,)).fit()
    with pytest.raises(ValueError, match="'frame_size' parameter of FaceTubeExtractor"):
        FaceTubeExtractor(frame_size=(48, 0)).fit()


def test_missing_frames_never_enter_the_descriptor():
    # EmoNets 3.1.4: only frames with a face are aggregated. Frames 5-8 of a synthetic clip
    # are blanked; the face tube marks them "missing", HOG keeps the statuses, and the
    # aggregator leaves them out, by default, inside one Pipeline.
    from sklearn.pipeline import make_pipeline

    from skfer.datasets import make_expressions
    from skfer.features import HOGFeatures
    from skfer.preprocessing import FrameAggregator

    clip = make_expressions(
        n_subjects=1, n_clips_per_expression=1, n_frames=16, random_state=0
    ).data[0].copy()
    clip[5:9] = 0
    steps = [FaceTubeExtractor(), HOGFeatures(frame_size=(48, 48)), FrameAggregator(n_frames=4)]
    pipe = make_pipeline(*steps)
    with pytest.warns(UserWarning, match=r"clip 0: 4 frames \[5, 6, 7, 8\]: excluded"):
        descriptor = pipe.fit_transform([clip])

    tubes, (record,) = FaceTubeExtractor().fit().transform_with_info([clip])
    np.testing.assert_array_equal(record.missing_frames, [5, 6, 7, 8])
    hog = HOGFeatures(frame_size=(48, 48)).fit(tubes.data).transform(tubes.data)[0]
    face = np.setdiff1d(np.arange(16), record.missing_frames)
    with_faces = FrameAggregator(n_frames=4).fit([hog]).transform([hog[face]])
    np.testing.assert_allclose(descriptor, with_faces)
    all_frames = FrameAggregator(n_frames=4).fit([hog]).transform([hog])
    assert not np.allclose(descriptor, all_frames)


# ------------------------------------------------------------------------- orientation


def _two_tone(n, turn=0):
    """Grey frames with a 40x40 "face", white above black, turned ``turn`` degrees
    counter-clockwise; every border pixel of frame t holds t + 1 (any turn keeps it)."""
    frames = np.full((n, H, W), 128, np.uint8)
    frames[:, 30:50, 50:90] = 255
    frames[:, 50:70, 50:90] = 0
    frames = np.ascontiguousarray(np.rot90(frames, turn // 90, axes=(1, 2)))
    for t in range(n):
        frame = frames[t]
        frame[0], frame[-1], frame[:, 0], frame[:, -1] = t + 1, t + 1, t + 1, t + 1
    return frames


def upright_only(frame):
    """Finds the two-tone face when white is above black, and also, as a frontal detector
    fooled by a turned face, on every frame whose index is a multiple of 4."""
    white, black = np.argwhere(frame == 255), np.argwhere(frame == 0)
    if not (len(white) and len(black)):
        return None
    (y0, x0), (y1, x1) = np.minimum(white.min(0), black.min(0)), np.maximum(
        white.max(0), black.max(0)
    )
    box = np.array([[x0, y0, x1 - x0 + 1, y1 - y0 + 1]], dtype=float)
    if white[:, 0].mean() < black[:, 0].mean() or (int(frame[0, 0]) - 1) % 4 == 0:
        return box
    return None


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_turn_box_back_maps_a_box_of_a_turned_frame(turn):
    from skfer.preprocessing._tracking import turn_box_back

    frame = np.zeros((H, W), np.uint8)
    frame[30:70, 50:80] = 1
    turned = np.rot90(frame, turn // 90)
    ys, xs = np.nonzero(turned)
    box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    np.testing.assert_array_equal(turn_box_back(box, turn, frame.shape), [50, 30, 30, 40])


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_a_turned_face_the_detector_fires_on_is_suspect(turn):
    clip = _two_tone(24, turn)
    ext = FaceTubeExtractor(
        detector=upright_only, detect_every=4, frame_size=(8, 8), on_missing="ignore"
    )
    _, (rec,) = ext.fit().transform_with_info([clip])
    # The false detections alone would make a tube of full confidence.
    assert (rec.status != "missing").sum() > 20
    assert rec.orientation == (360 - turn) % 360
    assert set(rec.status) <= {"suspect", "missing"} and not rec.face_found
    assert rec.n_detector_calls > len(set(range(0, 24, 4)) | {23})
    # min_confidence=0 trusts every located frame; the orientation is still recorded.
    _, (rec,) = ext.set_params(min_confidence=0).transform_with_info([clip])
    assert rec.orientation == (360 - turn) % 360 and rec.face_found


def test_an_upright_face_costs_no_turned_run():
    calls = []

    def counting(frame):
        calls.append(frame.shape)
        return upright_only(frame)

    ext = FaceTubeExtractor(detector=counting, detect_every=4, frame_size=(8, 8)).fit()
    _, (rec,) = ext.transform_with_info([_two_tone(24)])
    assert rec.orientation == 0 and rec.confidence.min() == 1.0
    assert rec.n_detector_calls == len(calls) == 7  # frames 0, 4, ..., 20, 23: none turned
    assert set(calls) == {(H, W)}


# -- every face (faces="all") ------------------------------------------------------------------


def test_every_face_gives_one_tube_per_person():
    """faces="all": a tube per person in order of first appearance, with face_id and
    source_clip; the primary default still gives one tube per clip."""
    # Face A (left) throughout; face B (right) only in frames 0..7; clip 1 holds A alone.
    pos = {t: [(10, 30)] + ([(100, 40)] if t < 8 else []) for t in range(16)}
    alone = _video({t: [(10, 30)] for t in range(16)}, 16)
    alone[:, 0, 0] += 100  # the scripted detector's frame numbers: 100.. for clip 1
    script = _script(pos) | {100 + t: [[10, 30, SIDE, SIDE]] for t in range(16)}
    clips = [_video(pos, 16), alone]
    ext = FaceTubeExtractor(detector=ScriptedDetector(script), detect_every=1, faces="all").fit()
    tubes, recs = ext.transform_with_info(clips)
    assert len(tubes) == 3
    assert tubes.get("face_id") == [0, 1, 0] and tubes.get("source_clip") == [0, 0, 1]
    assert [r.face_id for r in recs] == [0, 1, 0] and [r.clip_index for r in recs] == [0, 0, 1]
    np.testing.assert_allclose(recs[0].boxes[:, 0], 10)
    np.testing.assert_allclose(recs[1].boxes[:8, 0], 100)
    assert (recs[1].status[8:] == "missing").all() and recs[1].n_tubes == 2
    primary = FaceTubeExtractor(detector=ScriptedDetector(script), detect_every=1).fit()
    assert len(primary.transform(clips)) == 2


def test_every_face_of_a_still_image():
    """A still with two faces gives two one-frame tubes, left to right as first seen."""
    pos = {0: [(10, 30), (100, 40)]}
    ext = FaceTubeExtractor(detector=ScriptedDetector(_script(pos)), faces="all").fit()
    tubes, recs = ext.transform_with_info([_video(pos, 1)])
    assert [t.shape for t in tubes] == [(1, 48, 48)] * 2
    assert sorted(r.boxes[0, 0] for r in recs) == [10, 100]
    assert all(r.status[0] == "detected" for r in recs)


def test_a_face_that_leaves_and_returns_keeps_its_id():
    """Gone for longer than tracking bridges (30 frames), back where it was: the same
    person (its frames in between missing); a face elsewhere stays another person."""
    pos = {t: ([(10, 70)] if t < 10 or t >= 40 else []) + [(100, 40)] for t in range(50)}
    clip = _video(pos, 50)
    # Frame numbers in every corner: the scripted detector reads the same frame when the
    # orientation check turns it (and its boxes, turned back, then miss the face).
    clip[:, -1, -1] = clip[:, 0, -1] = clip[:, -1, 0] = clip[:, 0, 0]
    ext = FaceTubeExtractor(detector=ScriptedDetector(_script(pos)), detect_every=1,
                            faces="all").fit()
    _, recs = ext.transform_with_info([clip])
    assert len(recs) == 2
    back = next(r for r in recs if r.boxes[0, 0] == 10)
    assert (back.status[10:40] == "missing").all()
    assert (back.status[40:] != "missing").all() and (back.status[:10] != "missing").all()


def test_n_jobs_gives_the_same_tubes():
    pos = {t: [(10 + t, 30)] for t in range(12)}
    clips = [_video(pos, 12), _video(pos, 12)]
    det = ScriptedDetector(_script(pos))
    one = FaceTubeExtractor(detector=det, detect_every=1).fit().transform_with_info(clips)
    two = FaceTubeExtractor(detector=det, detect_every=1, n_jobs=2).fit().transform_with_info(clips)
    for a, b in zip(one[0], two[0]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(one[1], two[1]):
        _same_record(a, b)


def test_iter_windows_carries_face_ids_across_windows():
    """Windows of 10 frames: A throughout keeps id 0, B arriving in the second window gets 1,
    a window with nobody gets one centre-crop tube of id -1; the primary mode gives one tube
    per window."""
    pos = {t: ([(10 + t // 5, 30)] + ([(100, 40)] if t >= 14 else [])) if t < 30 else []
           for t in range(40)}
    clip = _video(pos, 40)
    ext = FaceTubeExtractor(detector=ScriptedDetector(_script(pos)), detect_every=1,
                            faces="all").fit()
    windows = list(ext.set_params(on_missing="ignore").iter_windows(iter(clip), chunk_frames=10))
    assert [len(w) for w, _ in windows] == [10, 10, 10, 10]
    assert [t.get("face_id") for _, t in windows] == [[0], [0, 1], [0, 1], [-1]]
    assert (windows[3][1].get("status")[0] == "missing").all()
    primary = FaceTubeExtractor(detector=ScriptedDetector(_script(pos)), detect_every=1).fit()
    primary.set_params(on_missing="ignore")
    assert [len(t) for _, t in primary.iter_windows(iter(clip), chunk_frames=10)] == [1] * 4
