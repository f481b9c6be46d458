"""Face registration onto a mean shape by similarity transforms (EmoNets 3.1.1)."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from skfer import ClipSet
from skfer.datasets import make_expressions
from skfer.features import HOGFeatures
from skfer.preprocessing import FaceRegistration, FrameAggregator, IsotropicSmoothing
from skfer.preprocessing.registration import REGISTRATION_INDICES_68
from skfer.utils._geometry import affine_points, similarity_to
from skfer.utils.estimator_checks import parametrize_with_clip_checks
from skfer.utils.landmark_scheme import IBUG68_GROUPS

_LOST_COMPANION = (
    "the check rebuilds X as a plain list or array of clips, which has no landmarks "
    "companion; FaceRegistration rightly refuses clips without landmarks (tested in "
    "test_no_landmarks_is_a_clear_error)"
)


def _bunch(n_subjects=2, **kwargs):
    return make_expressions(
        n_subjects=n_subjects, n_clips_per_expression=1, random_state=0, **kwargs
    )


def _check_data(_):
    data = _bunch()
    X = ClipSet.from_bunch(data)[np.arange(12)]
    X = ClipSet([c[:4] for c in X.data], landmarks=[p[:4] for p in X.get("landmarks")])
    return X, np.asarray(data.target[:12])


@parametrize_with_clip_checks(
    [FaceRegistration(), FaceRegistration(frame_size=(40, 32), on_missing="ignore")],
    data_for=_check_data,
    expected_failed_checks=lambda est: {
        "check_clip_dtypes": _LOST_COMPANION,
        "check_clip_array_input": _LOST_COMPANION,
    },
)
def test_clip_api(estimator, check):
    check(type(estimator).__name__, estimator)


def _similar_copies_clip():
    """One synthetic face seen under five known similarity transforms, with its landmarks."""
    data = _bunch(n_subjects=1, n_frames=2, color=False)
    frame, points = data.data[0][0], data.landmarks[0][0]
    h, w = frame.shape
    centre = ((w - 1) / 2, (h - 1) / 2)
    frames, lms = [], []
    for angle, scale, shift in [(0, 1.0, (0, 0)), (20, 0.8, (5, -3)), (-15, 1.15, (-6, 4)),
                                (30, 0.9, (3, 6)), (-5, 1.05, (0, -5))]:
        m = cv2.getRotationMatrix2D(centre, angle, scale)
        m[:, 2] += shift
        frames.append(cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE))
        lms.append(affine_points(points, m))
    return ClipSet([np.stack(frames)], landmarks=[np.stack(lms)])


def test_rotated_scaled_face_lands_on_the_mean_shape():
    X = _similar_copies_clip()
    reg = FaceRegistration().fit(X)
    Xt, info = reg.transform_with_info(X)
    assert Xt[0].shape == (5, 48, 48) and Xt[0].dtype == np.uint8
    registered = Xt.get("landmarks")[0][:, REGISTRATION_INDICES_68]
    # The five shapes are similar copies: every registered point is on the mean shape.
    assert np.abs(registered - reg.mean_shape_).max() < 1e-6
    assert np.nanmax(info[0]["rms"]) < 1e-6 and not info[0]["missing"].any()
    np.testing.assert_array_equal(info[0]["source_frame"], np.arange(5))
    # The transform found undoes each copy's rotation and scale: frame k is mapped to the
    # output as frame 0 is, so the registered images agree (up to resampling).
    faces = Xt[0].astype(float)
    inner = (slice(8, 40), slice(8, 40))
    for k in range(1, 5):
        assert np.abs(faces[k][inner] - faces[0][inner]).mean() < 6.0
    raw = [cv2.resize(f, (48, 48), interpolation=cv2.INTER_AREA).astype(float) for f in X[0]]
    assert np.abs(raw[1][inner] - raw[0][inner]).mean() > 15.0  # unregistered: far apart


def test_mean_shape_is_upright_and_fills_the_frame_with_the_margin():
    X = _similar_copies_clip()
    for frame_size, margin in [((48, 48), 0.1), ((40, 32), 0.2), ((30, 60), 0.0)]:
        reg = FaceRegistration(frame_size=frame_size, margin=margin).fit(X)
        shape = reg.mean_shape_
        right = shape[np.searchsorted(REGISTRATION_INDICES_68, IBUG68_GROUPS["right_eye"])]
        left = shape[np.searchsorted(REGISTRATION_INDICES_68, IBUG68_GROUPS["left_eye"])]
        eye_line = left.mean(axis=0) - right.mean(axis=0)
        assert eye_line[0] > 0 and abs(eye_line[1]) < 1e-9  # horizontal, right eye on the left
        h, w = frame_size
        lo, hi = shape.min(axis=0), shape.max(axis=0)
        # Centred, and the tighter axis spans exactly (1 - 2 margin) of the frame.
        np.testing.assert_allclose((lo + hi) / 2, [(w - 1) / 2, (h - 1) / 2], atol=1e-9)
        fill = (hi - lo) / [w, h]
        assert np.isclose(fill.max(), 1 - 2 * margin) and np.all(fill <= 1 - 2 * margin + 1e-9)
        assert reg.transform(X)[0].shape == (5, h, w)
    # frame_size set after fit: the mean shape is placed in the new frame, no refit needed.
    reg = FaceRegistration().fit(X).set_params(frame_size=(64, 64))
    assert reg.transform(X)[0].shape == (5, 64, 64) and reg.mean_shape_.max() < 64


def test_synthetic_expressions_register_near_the_mean_shape():
    X = ClipSet.from_bunch(_bunch())
    reg = FaceRegistration().fit(X)
    assert reg.n_frames_fit_ == sum(len(c) for c in X) and reg.n_frames_missing_ == 0
    Xt, info = reg.transform_with_info(X)
    registered = np.concatenate(Xt.get("landmarks"))[:, REGISTRATION_INDICES_68]
    # Pose (in-plane rotation up to ~10 degrees, scale +-12 %) is gone; what is left is
    # the expression's own motion: about 1 px RMS on a 48 x 48 face (measured 0.83).
    rms = np.concatenate([i["rms"] for i in info])
    assert rms.mean() < 1.2 and rms.max() < 3.0
    np.testing.assert_allclose(
        np.sqrt(((registered - reg.mean_shape_) ** 2).sum(-1).mean(-1)), rms, atol=1e-9
    )
    # The eyes (which barely move with expression) sit within ~1 px of the mean shape.
    eyes = np.concatenate([IBUG68_GROUPS["right_eye"], IBUG68_GROUPS["left_eye"]])
    eye_51 = np.searchsorted(REGISTRATION_INDICES_68, eyes)
    eye_error = np.linalg.norm(registered[:, eye_51] - reg.mean_shape_[eye_51], axis=-1)
    assert np.median(eye_error) < 1.0
    # Landmarks and pixels move together: the matrix maps the input points to the output.
    for p_in, p_out, rec in zip(X.get("landmarks"), Xt.get("landmarks"), info):
        np.testing.assert_allclose(affine_points(p_in, rec["matrix"]), p_out)
    # Boxes are mapped as the box around their moved corners; every frame is "detected".
    assert all(b.shape == (len(c), 4) for b, c in zip(Xt.get("boxes"), Xt))
    assert all((s == "detected").all() for s in Xt.get("status"))
    assert Xt[0].shape[1:] == (48, 48, 3)


def test_registered_clips_compose_in_a_cross_validated_pipeline():
    data = _bunch(n_subjects=4, n_frames=(4, 6))
    X = ClipSet.from_bunch(data)
    pipe = make_pipeline(
        FaceRegistration(), IsotropicSmoothing(), HOGFeatures(),
        FrameAggregator(n_frames=4), LinearSVC(),
    )
    scores = cross_val_score(pipe, X, data.target, groups=data.groups, cv=GroupKFold(2))
    assert scores.shape == (2,) and np.all(np.isfinite(scores))


def test_registration_is_deterministic():
    X = ClipSet.from_bunch(_bunch())
    a, b = FaceRegistration().fit(X), FaceRegistration().fit(X)
    np.testing.assert_array_equal(a.shape_, b.shape_)
    for u, v in zip(a.transform(X), b.transform(X)):
        np.testing.assert_array_equal(u, v)
    # The mean shape does not depend on the order of the clips.
    c = FaceRegistration().fit(X[np.arange(len(X))[::-1]])
    np.testing.assert_allclose(c.shape_, a.shape_, atol=1e-9)


def test_frames_without_landmarks_follow_on_missing():
    X = ClipSet.from_bunch(_bunch())[np.arange(3)]
    lms = [p.copy() for p in X.get("landmarks")]
    lms[0][[0, 2]] = np.nan  # clip 0: frames 0 and 2 have no face
    lms[1][:] = np.nan  # clip 1: no frame has one
    status = [np.full(len(c), "tracked") for c in X]
    Xm = X.replace(landmarks=lms, status=status)
    with pytest.raises(ValueError, match=r"clip 0: 2 frames \[0, 2\]: no_landmarks"):
        FaceRegistration(on_missing="raise").fit(Xm)
    reg = FaceRegistration().fit(X)
    with pytest.raises(ValueError, match=r"clip 0: 2 frames \[0, 2\]: no_landmarks"):
        reg.set_params(on_missing="raise").transform(Xm)
    # The messages are skfer.utils.frame_policy's (SkippedFramesError/Warning; issue 16).
    with pytest.warns(UserWarning, match=r"clip 0: 2 frames \[0, 2\]: no_landmarks .*; clip 1"):
        fitted = FaceRegistration(on_missing="warn").fit(Xm)
    assert fitted.n_frames_missing_ == 2 + len(X[1])
    reg.set_params(on_missing="ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Xt, info = reg.transform_with_info(Xm)
    # Missing frames borrow the nearest frame with landmarks: the previous one, else the next.
    np.testing.assert_array_equal(info[0]["source_frame"][:4], [1, 1, 1, 3])
    np.testing.assert_array_equal(info[0]["matrix"][2], info[0]["matrix"][1])
    assert np.isnan(info[0]["rms"][[0, 2]]).all() and np.isfinite(info[0]["rms"][1])
    # ... and are marked missing, so that a FrameAggregator leaves them out.
    assert Xt.get("status")[0][:4].tolist() == ["missing", "tracked", "missing", "tracked"]
    np.testing.assert_array_equal(Xt.usable_frames(0)[:3], [False, True, False])
    assert np.isnan(Xt.get("landmarks")[0][[0, 2]]).all()
    # A clip with no landmarks at all gets a centre crop of the output's aspect.
    assert (info[1]["source_frame"] == -1).all() and (Xt.get("status")[1] == "missing").all()
    h, w = X[1].shape[1:3]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    centre = cv2.resize(X[1][0, top : top + side, left : left + side], (48, 48),
                        interpolation=cv2.INTER_AREA)
    assert np.abs(Xt[1][0].astype(float) - centre).mean() < 3.0
    # A None landmarks entry is a clip without landmarks too.
    none_entry = Xm.replace(landmarks=[lms[0], None, lms[2]])
    _, info_none = reg.transform_with_info(none_entry)
    assert info_none[1]["missing"].all()
    with pytest.raises(ValueError, match="no frame has finite landmarks"):
        FaceRegistration(on_missing="ignore").fit(X.replace(landmarks=[None, None, None]))


def test_no_landmarks_is_a_clear_error():
    data = _bunch()
    with pytest.raises(ValueError, match="needs the landmarks .* got list"):
        FaceRegistration().fit(list(data.data))
    X = ClipSet.from_bunch(data)
    with pytest.raises(ValueError, match="got a ClipSet without landmarks"):
        FaceRegistration().fit(X.replace(landmarks=None))
    reg = FaceRegistration().fit(X)
    with pytest.raises(ValueError, match="needs the landmarks"):
        reg.transform(np.stack([c[:3] for c in data.data]))
    # ClipSet itself catches landmarks whose frames do not match the clip's.
    with pytest.raises(ValueError, match="clip 1: companion 'landmarks' has"):
        ClipSet(data.data[:2], landmarks=[data.landmarks[0], data.landmarks[1][:-1]])
    # ...and landmarks of two schemes (the message names the clip and both).
    with pytest.raises(ValueError, match=r"clip 1: companion 'landmarks' has shape "
                                         r"\(\d+, 49, 2\), but earlier clips have \(T, 68, 2\)"):
        X[[0, 1]].replace(landmarks=[data.landmarks[0], data.landmarks[1][:, 17:66]])
    with pytest.raises(ValueError, match=r"clip 0: landmarks of shape \(\d+, 49, 2\)"):
        reg.transform(X[[0, 1]].replace(
            landmarks=[data.landmarks[0][:, 17:66], data.landmarks[1][:, 17:66]]))
    # 51 non-jaw points are as good as 68.
    X51 = X.replace(landmarks=[p[:, REGISTRATION_INDICES_68] for p in X.get("landmarks")])
    for u, v in zip(reg.transform(X51), reg.transform(X)):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(ValueError, match="'margin' parameter of FaceRegistration"):
        FaceRegistration(margin=0.5).fit(X)
    with pytest.raises(ValueError, match="'frame_size' parameter of FaceRegistration"):
        FaceRegistration(frame_size=48).fit(X)
    with pytest.raises(ValueError, match="'on_missing' parameter"):
        reg.set_params(on_missing="skip").transform(X)


def test_similarity_is_least_squares():
    rng = np.random.RandomState(0)
    src = rng.normal(size=(4, 51, 2)) * 10
    dst = rng.normal(size=(51, 2)) * 10
    matrices, rms = similarity_to(src, dst)
    for m, r, s in zip(matrices, rms, src):
        assert np.isclose(m[0, 0], m[1, 1]) and np.isclose(m[0, 1], -m[1, 0])  # similarity
        base = np.sqrt(((affine_points(s, m) - dst) ** 2).sum(-1).mean())
        assert np.isclose(base, r)
        for _ in range(20):  # no nearby similarity does better
            a, b = rng.normal(scale=1e-3, size=2)
            t = rng.normal(scale=1e-2, size=2)
            other = m + np.array([[a, -b, t[0]], [b, a, t[1]]])
            assert np.sqrt(((affine_points(s, other) - dst) ** 2).sum(-1).mean()) >= r - 1e-12


def test_real_hand_annotated_faces_register_consistently(shared_data):
    """The 43 real faces of faces_68pt (iBUG 68 points by hand), in their photos."""
    import xml.etree.ElementTree as ET

    folder = shared_data / "faces_68pt"
    clips, landmarks = [], []
    for xml in sorted(folder.glob("*.xml")):
        for image in ET.parse(xml).getroot().iter("image"):
            grey = cv2.imread(str(folder / image.get("file")), cv2.IMREAD_GRAYSCALE)
            for box in image.iter("box"):
                parts = sorted(box.iter("part"), key=lambda p: int(p.get("name")))
                landmarks.append([[[float(p.get("x")), float(p.get("y"))] for p in parts]])
                clips.append(grey[None])
    X = ClipSet(clips, landmarks=landmarks)
    assert len(X) == 43
    reg = FaceRegistration().fit(X)
    Xt, info = reg.transform_with_info(X)
    # Measured: RMS to the mean shape 1.66 px on average (max 3.3) on 48 x 48 faces of
    # every pose and expression; the eye centres' spread is below 1 px.
    rms = np.array([rec["rms"][0] for rec in info])
    assert rms.mean() < 2.2 and rms.max() < 4.5
    eyes = np.array([p[0, 36:48].mean(axis=0) for p in Xt.get("landmarks")])
    assert np.all(eyes.std(axis=0) < 1.2)
    # In the photos, the faces lie anywhere (face boxes 37-109 px wide).
    raw_eyes = np.array([p[0, 36:48].mean(axis=0) for p in X.get("landmarks")])
    assert np.all(raw_eyes.std(axis=0) > 50)
