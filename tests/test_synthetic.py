"""Tests of the embedded synthetic expression data set (skfer.datasets.synthetic)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skfer.datasets._face_template import FLIP_PERMUTATION, TEMPLATE_SIZE, load_face_template
from skfer.datasets._labels import EXPRESSIONS
from skfer.datasets.synthetic import DEFAULT_EXPRESSIONS, landmarks_to_box, make_expressions


@pytest.fixture(scope="module")
def default_set():
    """The default data set (8 subjects x 6 expressions x 2 clips), generated once."""
    return make_expressions(random_state=0)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _face_crop(frame: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Grey crop of the ground-truth box resized to size x size."""
    x, y, w, h = box
    warp = np.float32([[size / w, 0, -x * size / w], [0, size / h, -y * size / h]])
    return cv2.warpAffine(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), warp, (size, size))


def _aligned(landmarks: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Landmarks mapped onto the reference frame by a similarity fitted on rigid points."""
    rigid = [27, 28, 29, 30, 36, 39, 42, 45]  # nose bridge and eye corners: no expression motion
    matrix, _ = cv2.estimateAffinePartial2D(
        landmarks[rigid].astype(np.float32), reference[rigid].astype(np.float32)
    )
    return landmarks @ matrix[:, :2].T + matrix[:, 2]


def test_template_files():
    image, points = load_face_template()
    assert image.shape == (TEMPLATE_SIZE, TEMPLATE_SIZE, 3) and image.dtype == np.uint8
    assert points.shape == (68, 2)
    assert (points >= 0).all() and (points < TEMPLATE_SIZE).all()
    # iBUG order: jaw from the image's left to right, chin lowest, eyes above the mouth.
    assert points[0, 0] < points[8, 0] < points[16, 0]
    assert points[8, 1] == points[:, 1].max()
    assert points[36:48, 1].mean() < points[30, 1] < points[48:68, 1].mean()


def test_flip_permutation_mirrors_ibug_order():
    _, points = load_face_template()
    assert (FLIP_PERMUTATION[FLIP_PERMUTATION] == np.arange(68)).all()
    mirrored = np.column_stack([TEMPLATE_SIZE - 1 - points[:, 0], points[:, 1]])[FLIP_PERMUTATION]
    # After mirroring and re-indexing the order is still iBUG: point 36 (outer corner of the
    # subject's right eye) on the image's left, jaw running left to right.
    assert mirrored[36, 0] < mirrored[39, 0] < mirrored[42, 0] < mirrored[45, 0]
    assert (np.diff(mirrored[0:9, 0]) > 0).all()
    assert np.abs(mirrored - points).max() < 8  # the portrait is nearly symmetric


def test_shapes_dtypes_and_metadata(default_set):
    ds = default_set
    n = 8 * 6 * 2
    for key in ("data", "target", "groups", "landmarks", "boxes", "intensity", "apex_intensity"):
        assert len(ds[key]) == n, key
    assert list(ds.target_names) == list(DEFAULT_EXPRESSIONS)
    assert ds.groups.dtype.kind == "i" and set(ds.groups) == set(range(8))
    for clip, lms, boxes, inten in zip(ds.data, ds.landmarks, ds.boxes, ds.intensity):
        t = len(clip)
        assert 8 <= t <= 16
        assert clip.shape == (t, 120, 160, 3) and clip.dtype == np.uint8
        assert lms.shape == (t, 68, 2) and lms.dtype == np.float64
        assert boxes.shape == (t, 4)
        assert inten.shape == (t,)
    assert "piecewise-affine" in ds.DESCR
    lengths = {len(c) for c in ds.data}
    assert len(lengths) > 3  # clip lengths vary


def test_labels_canonical_and_balanced(default_set):
    ds = default_set
    assert set(ds.target) <= set(EXPRESSIONS)
    for s in range(8):
        names, counts = np.unique(ds.target[ds.groups == s], return_counts=True)
        assert list(names) == sorted(DEFAULT_EXPRESSIONS) and (counts == 2).all()


def test_aliases_neutral_and_contempt():
    ds = make_expressions(
        n_subjects=1,
        n_clips_per_expression=1,
        n_frames=4,
        frame_size=(96, 96),
        expressions=("Happy", "neutral", "contempt"),
        random_state=3,
    )
    assert list(ds.target) == ["happiness", "neutral", "contempt"]
    assert list(ds.target_names) == ["happiness", "neutral", "contempt"]
    assert ds.data[0].shape == (4, 96, 96, 3)
    assert np.all(ds.intensity[1] == 0) and ds.apex_intensity[1] == 0
    # Neutral clip: only the head moves, the pose-normalised shape does not.
    lms = ds.landmarks[1]
    assert np.abs(_aligned(lms[-1], lms[0]) - lms[0]).max() < 0.5


def test_reproducible_and_seed_dependent():
    kwargs = dict(n_subjects=2, n_clips_per_expression=1, n_frames=(3, 5), frame_size=(80, 96))
    a = make_expressions(random_state=7, **kwargs)
    b = make_expressions(random_state=np.random.RandomState(7), **kwargs)
    c = make_expressions(random_state=8, **kwargs)
    for x, y in zip(a.data, b.data):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(a.landmarks, b.landmarks):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.target, b.target)
    assert any(x.shape != y.shape or not np.array_equal(x, y) for x, y in zip(a.data, c.data))


def test_grey_clips_match_colour_clips():
    kwargs = dict(
        n_subjects=1, n_clips_per_expression=1, n_frames=3, expressions=("fear",), random_state=2
    )
    colour = make_expressions(color=True, **kwargs).data[0]
    grey = make_expressions(color=False, **kwargs).data[0]
    assert grey.shape == colour.shape[:3] and grey.dtype == np.uint8
    np.testing.assert_array_equal(
        grey, np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in colour])
    )


def test_landmarks_inside_frames(default_set):
    for lms in default_set.landmarks:
        assert (lms >= 0).all()
        assert (lms[..., 0] <= 159).all() and (lms[..., 1] <= 119).all()


def test_boxes_follow_the_documented_rule(default_set):
    for lms, boxes in zip(default_set.landmarks, default_set.boxes):
        np.testing.assert_allclose(boxes, landmarks_to_box(lms))
        eyes = lms[:, 36:48].mean(axis=1)
        centre = eyes + 0.45 * (lms[:, 30] - eyes)
        np.testing.assert_allclose(boxes[:, :2] + boxes[:, 2:] / 2, centre)
        np.testing.assert_allclose(
            boxes[:, 2], 1.08 * np.linalg.norm(lms[:, 16] - lms[:, 0], axis=1)
        )
        # Eyes, nose and mouth corners lie inside the box (cheek to cheek, brows to chin region).
        for idx in (36, 45, 30, 48, 54):
            assert (lms[:, idx] > boxes[:, :2]).all() and (
                lms[:, idx] < boxes[:, :2] + boxes[:, 2:]
            ).all()


def test_landmarks_to_box_single_face_and_bad_shape():
    pts = np.zeros((68, 2))
    pts[36:42] = [10.0, 20.0]
    pts[42:48] = [30.0, 20.0]
    pts[30] = [20.0, 40.0]
    pts[0], pts[16] = [0.0, 30.0], [40.0, 30.0]
    side = 1.08 * 40
    np.testing.assert_allclose(landmarks_to_box(pts), [20 - side / 2, 29 - side / 2, side, side])
    with pytest.raises(ValueError, match="68, 2"):
        landmarks_to_box(np.zeros((5, 2)))


def test_intensity_ramp(default_set):
    ds = default_set
    for inten, apex in zip(ds.intensity, ds.apex_intensity):
        assert inten[0] == 0.0  # every clip starts neutral
        assert np.isclose(inten[-1], apex)  # and ends at its apex
        assert (np.diff(inten) >= -1e-12).all()
    assert ((ds.apex_intensity >= 0.35) & (ds.apex_intensity <= 1.0)).all()
    low = (ds.apex_intensity < 0.7).mean()
    assert 0.1 < low < 0.5  # some clips only reach a weak apex


def test_expression_motions_at_apex(default_set):
    """Pose-normalised apex shapes move the way each expression's action units say."""
    ds = default_set
    strong = ds.apex_intensity > 0.7

    def change(name, measure):
        values = []
        for i in np.where((ds.target == name) & strong)[0]:
            lms = ds.landmarks[i]
            apex = _aligned(lms[-1], lms[0])
            unit = np.linalg.norm(lms[0, 42:48].mean(0) - lms[0, 36:42].mean(0))
            values.append((measure(apex) - measure(lms[0])) / unit)
        return np.mean(values)

    brow_height = lambda p: p[36:48, 1].mean() - p[17:27, 1].mean()  # noqa: E731
    inner_brow_height = lambda p: p[36:48, 1].mean() - p[[20, 21, 22, 23], 1].mean()  # noqa: E731
    corner_lift = lambda p: p[48:68, 1].mean() - p[[48, 54], 1].mean()  # noqa: E731
    mouth_open = lambda p: p[66, 1] - p[62, 1]  # noqa: E731
    assert change("surprise", brow_height) > 0.12 and change("surprise", mouth_open) > 0.15
    assert change("anger", inner_brow_height) < -0.07
    assert change("sadness", inner_brow_height) > 0.05 and change("sadness", corner_lift) < -0.05
    assert change("happiness", corner_lift) > 0.05
    assert change("fear", brow_height) > 0.07
    assert change("disgust", lambda p: p[51, 1] - p[33, 1]) < -0.05  # upper lip raised to the nose


def test_haar_cascade_detects_the_faces(default_set):
    """OpenCV's default frontal Haar cascade finds the ground-truth face (IoU >= 0.5).

    Measured on the default set (random_state=0): 1128/1128 frames (100 %).
    """
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    assert not cascade.empty()
    hits = total = 0
    for clip, boxes in zip(default_set.data[::2], default_set.boxes[::2]):
        for frame, box in zip(clip, boxes):
            found = cascade.detectMultiScale(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
            hits += max((_iou(box, f) for f in found), default=0.0) >= 0.5
            total += 1
    assert hits / total >= 0.9, f"detection rate {hits / total:.3f}"


def test_not_trivially_separable(default_set):
    """Neutral frames carry no label; apex frames do, but not perfectly (subject-wise CV).

    Measured (random_state=0, 4-fold GroupKFold by subject, chance 1/6): logistic regression on
    the first frame's pixels 0.14; HOG + linear SVM on the apex face crop 0.91 (0.875 with
    random_state=1).
    """
    ds = default_set
    cv = GroupKFold(n_splits=4)
    first = np.array(
        [
            cv2.resize(cv2.cvtColor(c[0], cv2.COLOR_RGB2GRAY), (40, 30)).ravel() / 255.0
            for c in ds.data
        ]
    )
    logistic = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    neutral_acc = cross_val_score(logistic, first, ds.target, groups=ds.groups, cv=cv).mean()
    assert neutral_acc < 0.3, neutral_acc

    hog = cv2.HOGDescriptor((64, 64), (16, 16), (8, 8), (8, 8), 9)
    apex = np.array(
        [hog.compute(_face_crop(c[-1], b[-1], 64)).ravel() for c, b in zip(ds.data, ds.boxes)]
    )
    svm = make_pipeline(StandardScaler(), LinearSVC(C=0.01, max_iter=5000))
    apex_acc = cross_val_score(svm, apex, ds.target, groups=ds.groups, cv=cv).mean()
    assert 0.6 < apex_acc < 0.98, apex_acc


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(expressions=("joy", "rage")), "unknown expression label 'rage'"),
        (dict(expressions=("happy", "happiness")), "distinct"),
        (dict(expressions=()), "non-empty"),
        (dict(n_frames=1), "n_frames"),
        (dict(n_frames=(6, 4)), "n_frames"),
        (dict(frame_size=(32, 160)), "frame_size"),
        (dict(n_subjects=0), "n_subjects"),
        (dict(low_intensity_fraction=1.5), "low_intensity_fraction"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_expressions(**kwargs)


def test_subject_variation_comparable_to_expression_variation(default_set):
    """Subjects' neutral shapes differ about as much as an expression moves the landmarks.

    Measured (random_state=0), RMS over the 68 points in inter-ocular units: spread of the
    subjects' mean neutral shapes 0.043, neutral-to-apex displacement 0.052.
    """

    def normalised(points):
        eyes = points[42:48].mean(0) - points[36:42].mean(0)
        angle = -np.arctan2(eyes[1], eyes[0])
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return (points - points.mean(0)) @ rotation.T / np.linalg.norm(eyes)

    ds = default_set
    neutral = np.array([normalised(lms[0]) for lms in ds.landmarks])
    means = np.array([neutral[ds.groups == s].mean(0) for s in range(8)])
    subject_spread = np.sqrt(((means - means.mean(0)) ** 2).sum(-1).mean())
    motion = np.mean(
        [
            np.sqrt(((normalised(lms[-1]) - normalised(lms[0])) ** 2).sum(-1).mean())
            for lms in ds.landmarks
        ]
    )
    assert 0.4 < subject_spread / motion < 2.5, (subject_spread, motion)
