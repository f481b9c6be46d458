"""Landmark detection, point schemes and DTAGN's normalisation (eq. 3-4)."""

from __future__ import annotations

import sys
import warnings
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from sklearn.base import clone

from skfer import ClipSet
from skfer.datasets import make_expressions
from skfer.preprocessing.landmarks import (
    IBUG68_TO_INTRAFACE49,
    NOSE_TIP_INDEX,
    LandmarkDetector,
    LandmarkNormalizer,
    flip_permutation,
    select_landmarks,
)
from skfer.utils.estimator_checks import parametrize_with_clip_checks

# ------------------------------------------------------------------------ point schemes


def test_intraface49_subset():
    idx = IBUG68_TO_INTRAFACE49
    assert len(idx) == 49 and len(set(idx.tolist())) == 49
    assert set(range(17)).isdisjoint(idx)  # no jaw
    assert 60 not in idx and 64 not in idx  # no inner mouth corners
    assert set(idx.tolist()) == set(range(17, 68)) - {60, 64}
    assert np.all(np.diff(idx) > 0)  # iBUG order kept
    # Brows 0-9, nose 10-18, eyes 19-30, outer lips 31-42, inner lips 43-48.
    assert idx[0] == 17 and idx[10] == 27 and idx[19] == 36 and idx[31] == 48 and idx[43] == 61
    assert NOSE_TIP_INDEX == {"68": 30, "49": 13} and idx[13] == 30


def test_select_landmarks():
    pts = np.arange(3 * 68 * 2, dtype=float).reshape(3, 68, 2)
    sel = select_landmarks(pts, "49")
    assert sel.shape == (3, 49, 2)
    np.testing.assert_array_equal(sel[:, 13], pts[:, 30])
    np.testing.assert_array_equal(select_landmarks(pts, "68"), pts)
    with pytest.raises(ValueError, match="68-point"):
        select_landmarks(pts[:, :49], "49")
    with pytest.raises(ValueError, match="scheme"):
        select_landmarks(pts, "51")


@pytest.mark.parametrize("scheme", ["68", "49"])
def test_flip_permutation_is_an_involution(scheme):
    perm = flip_permutation(scheme)
    n = int(scheme)
    assert sorted(perm.tolist()) == list(range(n))
    np.testing.assert_array_equal(perm[perm], np.arange(n))


def test_flip_permutation_maps_left_to_right():
    perm = flip_permutation("68")
    right_eye, left_eye = np.arange(36, 42), np.arange(42, 48)
    assert set(perm[right_eye]) == set(left_eye)
    assert perm[36] == 45 and perm[39] == 42  # outer and inner eye corners
    assert perm[17] == 26 and perm[0] == 16 and perm[48] == 54 and perm[31] == 35
    assert all(perm[k] == k for k in (8, 27, 28, 29, 30, 33, 51, 57, 62, 66))  # midline
    perm49 = flip_permutation("49")
    # 49-point outer eye corners: 68-index 36 -> 19, 45 -> 28.
    assert perm49[19] == 28 and perm49[13] == 13


def _read_faces(folder, n=3, file="2008_002506.jpg"):
    """The first ``n`` annotated faces of one photo (default: 3 faces of 90-109 px)."""
    root = ET.parse(folder / "testing_with_face_landmarks.xml").getroot()
    image = next(im for im in root.iter("image") if im.get("file") == file)
    faces = []
    for box in list(image.iter("box"))[:n]:
        parts = sorted(box.iter("part"), key=lambda p: int(p.get("name")))
        left, top = int(box.get("left")), int(box.get("top"))
        faces.append(
            (
                [left, top, int(box.get("width")), int(box.get("height"))],  # x, y, w, h
                np.array([[float(p.get("x")), float(p.get("y"))] for p in parts]),
            )
        )
    rgb = cv2.cvtColor(cv2.imread(str(folder / image.get("file"))), cv2.COLOR_BGR2RGB)
    return rgb, faces


def test_flip_of_a_real_face_matches_its_mirror(shared_data):
    _, faces = _read_faces(shared_data / "faces_68pt", n=3)
    perm = flip_permutation("68")
    for _, pts in faces:
        mirrored = pts * [-1, 1]
        flipped = mirrored[perm]
        # After relabelling, the subject's right eye (36-41) is again on the image's left.
        assert flipped[36:42, 0].mean() < flipped[42:48, 0].mean()
        assert flipped[17:22, 0].mean() < flipped[22:27, 0].mean()
        assert flipped[48, 0] < flipped[54, 0]
        # Handedness: for each mirror pair (k, perm[k]), the turn from the vector k ->
        # perm[k] to the face's downward axis (27 -> 8) keeps its sign after the flip with
        # relabelling, as a mirrored face must look like a face; the bare reflection (no
        # relabelling) reverses every one of them.
        paired = np.flatnonzero(perm != np.arange(68))

        def turns(p, paired=paired):
            across = p[perm[paired]] - p[paired]
            down = p[8] - p[27]
            return np.sign(across[:, 0] * down[1] - across[:, 1] * down[0])

        np.testing.assert_array_equal(turns(flipped), turns(pts))
        np.testing.assert_array_equal(turns(mirrored), -turns(pts))


# ------------------------------------------------------------------------ normalisation


def test_normaliser_formula_on_hand_made_points():
    # One frame, 3 points; nose (index 1) at (2, 5).
    frame = np.array([[0.0, 1.0], [2.0, 5.0], [4.0, 9.0]])
    seq = np.stack([frame, frame * 2 + [1, -3]])  # second frame scaled and shifted
    norm = LandmarkNormalizer(nose_index=1, flatten=False).fit([seq])
    out = norm.transform([seq])[0].reshape(2, 3, 2)
    for t in range(2):
        assert np.allclose(out[t, 1], 0)  # nose at the origin
        sx = seq[t, :, 0].std()
        sy = seq[t, :, 1].std()
        np.testing.assert_allclose(out[t, :, 0], (seq[t, :, 0] - seq[t, 1, 0]) / sx)
        np.testing.assert_allclose(out[t, :, 1], (seq[t, :, 1] - seq[t, 1, 1]) / sy)
        np.testing.assert_allclose(out[t].std(axis=0), [1.0, 1.0])  # unit per-frame std
    # Scale and shift per frame do not change the normalised shape.
    np.testing.assert_allclose(out[0], out[1])


def test_normaliser_flattens_over_time_eq4():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(4, 5, 68, 2)) * 30 + 100
    flat = LandmarkNormalizer().fit_transform(X)
    seqs = LandmarkNormalizer(flatten=False).fit_transform(list(X))
    assert flat.shape == (4, 5 * 68 * 2)
    np.testing.assert_allclose(flat, np.stack([s.reshape(-1) for s in seqs]))
    # [x_1(1) y_1(1) x_2(1) ...]: the nose tip (30) of frame 2 sits at 2*(68*2) + 2*30.
    np.testing.assert_allclose(flat[:, 2 * 136 + 60 : 2 * 136 + 62], 0, atol=1e-12)
    assert seqs[0].shape == (5, 136)


def test_normaliser_nose_choice():
    rng = np.random.RandomState(1)
    pts68 = rng.normal(size=(2, 68, 2))
    assert LandmarkNormalizer().fit([pts68]).nose_index_ == 30
    assert LandmarkNormalizer().fit([select_landmarks(pts68)]).nose_index_ == 13
    out = LandmarkNormalizer(flatten=False).fit_transform([select_landmarks(pts68)])[0]
    np.testing.assert_allclose(out.reshape(2, 49, 2)[:, 13], 0, atol=1e-12)
    # No known scheme: the centroid is the origin.
    out5 = LandmarkNormalizer(flatten=False).fit_transform([pts68[:, :5]])[0].reshape(2, 5, 2)
    np.testing.assert_allclose(out5.mean(axis=1), 0, atol=1e-12)
    with pytest.raises(ValueError, match="nose_index=70"):
        LandmarkNormalizer(nose_index=70).fit([pts68])


def test_normaliser_flat_2d_input_is_one_frame_sequences():
    rng = np.random.RandomState(2)
    frames = rng.normal(size=(6, 68, 2))
    np.testing.assert_allclose(
        LandmarkNormalizer().fit_transform(frames.reshape(6, -1)),
        LandmarkNormalizer().fit_transform(frames),
    )


def test_normaliser_errors():
    rng = np.random.RandomState(3)
    seqs = [rng.normal(size=(4, 68, 2)) for _ in range(3)]
    seqs[2][1, 7, 0] = np.nan
    with pytest.raises(ValueError, match=r"sequence 2: NaN .* frame 1, point 7"):
        LandmarkNormalizer().fit(seqs)
    ragged = [rng.normal(size=(4, 68, 2)), rng.normal(size=(5, 68, 2))]
    with pytest.raises(ValueError, match="same number of frames"):
        LandmarkNormalizer().fit_transform(ragged)
    assert [s.shape for s in LandmarkNormalizer(flatten=False).fit_transform(ragged)] == [
        (4, 136),
        (5, 136),
    ]
    with pytest.raises(ValueError, match="even number"):
        LandmarkNormalizer().fit(rng.normal(size=(3, 5)))
    with pytest.raises(ValueError, match="49 points per frame.*fitted with 68"):
        LandmarkNormalizer().fit(seqs[:1]).transform([rng.normal(size=(4, 49, 2))])


# ------------------------------------------------------------------------ detection


# Whole frames as boxes: the clip checks' blob clips need no face detector.
@parametrize_with_clip_checks([LandmarkDetector(detector="frame")])
def test_detector_clip_api(estimator, check):
    check(type(estimator).__name__, estimator)


def test_detector_on_real_faces(shared_data):
    image, faces = _read_faces(shared_data / "faces_68pt", n=3)
    boxes = np.array([b for b, _ in faces], dtype=float)
    clip = np.repeat(image[None], len(faces), axis=0)
    det = LandmarkDetector(detector="frame").fit([clip])
    pred = det.transform([clip], boxes=[boxes])[0]
    assert pred.shape == (len(faces), 68, 2)
    for p, (_, true) in zip(pred, faces):
        iod = np.linalg.norm(true[36] - true[45])
        # The annotations are dlib's model output, hand-checked, in whole pixels.
        assert np.linalg.norm(p - true, axis=1).mean() / iod < 0.05
    # A face crop (as a face tube gives) with the whole frame as the box.
    left, top, width, height = boxes[0].astype(int)
    crop = image[top : top + height, left : left + width]
    crop_pts = det.transform([crop[None]])[0][0] + [left, top]
    true = faces[0][1]
    iod = np.linalg.norm(true[36] - true[45])
    assert np.linalg.norm(crop_pts - true, axis=1).mean() / iod < 0.05
    # dlib's own HOG detector on the whole photo finds a face (the largest is kept).
    hog = LandmarkDetector(upsample=1).fit([image[None]])
    (found,), (detected,) = hog.transform_with_info([image[None]])
    assert detected.all() and np.isfinite(found[0]).all()


def test_detector_missing_face_policy():
    blank = np.full((2, 64, 64), 128, dtype=np.uint8)
    det = LandmarkDetector().fit([blank])
    with pytest.warns(UserWarning, match=r"clip 0: 2 frames \[0, 1\]: no_face"):
        out, (detected,) = det.transform_with_info([blank])
    assert out[0].shape == (2, 68, 2) and np.isnan(out[0]).all()
    assert not detected.any()
    with pytest.raises(ValueError, match=r"clip 0: 1 frames \[0\]: no_face"):
        LandmarkDetector(on_missing="raise").fit([blank]).transform([blank])
    with pytest.warns(UserWarning):
        out = det.transform([blank], boxes=[np.full((2, 4), np.nan)])
    assert np.isnan(out[0]).all()


def test_detector_import_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # makes "import dlib" raise ImportError
    with pytest.raises(ImportError, match=r'pip install "skfer\[landmarks\]"'):
        LandmarkDetector().fit([np.zeros((1, 8, 8), np.uint8)])


def test_detector_missing_model_names_the_extra(tmp_path):
    det = LandmarkDetector(predictor_path=tmp_path / "absent.dat")
    with pytest.raises(ImportError, match=r"absent\.dat.*skfer\[landmarks\]"):
        det.fit([np.zeros((1, 8, 8), np.uint8)])
    with pytest.raises(ValueError, match="on_missing"):
        clone(det).set_params(on_missing="drop").fit([np.zeros((1, 8, 8), np.uint8)])


# ------------------------------------------------------ boxes, ClipSets and companions


@pytest.fixture(scope="module")
def synthetic_faces():
    """Two synthetic clips with ground-truth landmarks and (x, y, w, h) boxes."""
    bunch = make_expressions(n_subjects=1, n_clips_per_expression=1, n_frames=3, random_state=0)
    return ClipSet.from_bunch(bunch)[:2]


def _nme(pred, true):
    iod = np.linalg.norm(true[:, 36] - true[:, 45], axis=1)
    return np.linalg.norm(pred - true, axis=2).mean(axis=1) / iod


def test_loader_boxes_go_straight_in(synthetic_faces):
    # The loaders' boxes are (x, y, w, h), as LandmarkDetector's: from the ClipSet companion
    # (detector="boxes") or passed to transform, they give the same, accurate landmarks.
    X = synthetic_faces
    det = LandmarkDetector(detector="boxes").fit(X)
    out = det.transform(X)
    assert isinstance(out, ClipSet) and set(out.companions) >= {"landmarks", "boxes"}
    given = LandmarkDetector(detector="frame").fit(X).transform(X.data, boxes=X.get("boxes"))
    for pred, same, true in zip(out.data, given, X.get("landmarks")):
        np.testing.assert_array_equal(pred, same)
        assert (_nme(pred, true) < 0.05).all()
    with pytest.raises(ValueError, match='detector="boxes"'):
        det.transform(X.data)


def test_min_size_enlarges_small_frames_and_returns_their_own_pixels(synthetic_faces):
    """min_size: a small frame is enlarged (bicubic) before the box and points are found, and
    the points come back in the small frame's pixels: the same as detecting on the enlarged
    frame by hand and dividing; frames already that large are not touched."""
    import cv2

    X = synthetic_faces
    height, width = X[0].shape[1:3]
    scale = 48 / height  # frames 48 pixels high, enlarged 4 times by min_size=192

    def resized(clips, factor, interpolation):
        size = (round(width * scale * factor), round(height * scale * factor))
        return [np.stack([cv2.resize(f, size, interpolation=interpolation) for f in c])
                for c in clips]

    small = resized(X.data, 1, cv2.INTER_AREA)
    big = resized(small, 4, cv2.INTER_CUBIC)
    got = LandmarkDetector(detector="frame", min_size=192).fit(small).transform(small)
    want = LandmarkDetector(detector="frame").fit(big).transform(big)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w / 4)
    boxes = [b * scale for b in X.get("boxes")]
    given = LandmarkDetector(detector="boxes", min_size=192).fit(small).transform(
        small, boxes=boxes)
    for pred, true in zip(given, X.get("landmarks")):
        assert (_nme(pred, true * scale) < 0.08).all()
    unchanged = LandmarkDetector(detector="frame", min_size=48).fit(small).transform(small)
    plain = LandmarkDetector(detector="frame").fit(small).transform(small)
    for a, b in zip(unchanged, plain):
        np.testing.assert_array_equal(a, b)


def test_function_detector_returns_xywh_boxes(synthetic_faces):
    X = synthetic_faces
    truth = X.get("boxes")

    def detect(frame):  # the face detector protocol: (n, 4) boxes x, y, w, h
        t = next(t for t in range(3) if np.array_equal(frame, X[0][t]))
        return np.array([truth[0][t], [0.0, 0.0, 5.0, 5.0]])  # the largest is used

    det = LandmarkDetector(detector=detect).fit(X[[0]])
    want = LandmarkDetector(detector="boxes").fit(X[[0]]).transform(X[[0]])
    np.testing.assert_array_equal(det.transform(X[[0]].data)[0], want[0])


def test_boxes_outside_the_frame_are_reported():
    # A face tube's boxes locate it in the source video, not in the 48x48 tube.
    tubes = ClipSet(
        [np.zeros((2, 48, 48), np.uint8)], boxes=[np.tile([200.0, 100.0, 150.0, 150.0], (2, 1))]
    )
    det = LandmarkDetector(detector="boxes").fit(tubes)
    with pytest.raises(ValueError, match=r"clip 0: the box .* of frame 0 is not at least half"):
        det.transform(tubes)
    with pytest.raises(ValueError, match=r"clip 0: boxes must have shape \(2, 4\)"):
        det.transform(tubes.data, boxes=[np.zeros((3, 4))])


def test_output_clips_attaches_landmarks_and_keeps_companions(synthetic_faces):
    X = synthetic_faces.replace(status=[np.array(["detected"] * 3)] * 2)
    det = LandmarkDetector(detector="boxes", output="clips").fit(X)
    out, detected = det.transform_with_info(X)
    assert isinstance(out, ClipSet) and all(d.all() for d in detected)
    assert out[0] is X[0] and out.get("status") is not None
    assert out.get("landmarks")[0].shape == (3, 68, 2)
    assert not np.array_equal(out.get("landmarks")[0], X.get("landmarks")[0])  # replaced
    # output="landmarks": the sequences, still with the statuses.
    points = det.set_params(output="landmarks").transform(X)
    assert points[0].shape == (3, 68, 2) and points.get("status") is not None
    # A plain list in, a list of clips in a ClipSet out.
    listed = LandmarkDetector(detector="frame", output="clips").fit(X).transform(X.data)
    assert isinstance(listed, ClipSet) and listed.get("landmarks")[1].shape == (3, 68, 2)


def test_on_missing_ignore_is_silent():
    blank = np.full((2, 64, 64), 128, dtype=np.uint8)
    det = LandmarkDetector(on_missing="ignore").fit([blank])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, (detected,) = det.transform_with_info([blank])
    assert np.isnan(out[0]).all() and not detected.any()


def test_normalizer_keeps_clipset_companions():
    rng = np.random.RandomState(0)
    X = ClipSet([rng.normal(size=(3, 68, 2))], status=[np.array(["detected", "missing", "filled"])])
    out = LandmarkNormalizer(flatten=False).fit_transform(X)
    assert isinstance(out, ClipSet) and out[0].shape == (3, 136)
    assert out.get("status")[0].tolist() == ["detected", "missing", "filled"]
