"""Common API checks over every public estimator skfer exports.

Estimators are discovered from the package (:func:`skfer.utils.discovery.all_estimators`),
so a new public estimator joins these tests without editing this file, unless it needs
constructor arguments (``REQUIRED_PARAMS``) or special check data.

* Estimators that take 2-D arrays run scikit-learn's full ``parametrize_with_checks``
  (imbalanced-learn's version for samplers), plus ``check_param_validation``, which
  scikit-learn runs only on its own estimators.
* Estimators that take clips (tag ``two_d_array=False``, see
  :class:`skfer.base.ClipTransformerMixin`) are skipped by scikit-learn's checks, which
  only feed tabular data; they run skfer's clip checks instead.

``EXPECTED_FAILED_CHECKS`` lists, with the reason, the checks whose input makes them
meaningless for an estimator; it is empty unless an entry says why. Clip checks take the
same table (marked ``xfail(strict=True)``, so a check that starts passing is reported).
"""

from __future__ import annotations

import importlib.util
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from skfer.ensemble import CoarseToFineSVC
from skfer.utils.discovery import all_estimators
from skfer.utils.estimator_checks import (
    SKLEARN_DATA_FREE_CHECKS,
    parametrize_with_clip_checks,
)

_SMALL_SVM_GRID = {
    "coarse_low": -1, "coarse_high": 1, "fine_step": 3.0, "inner_cv": 2, "random_state": 0
}

#: Constructor arguments for estimators that cannot be built with defaults alone.
REQUIRED_PARAMS: dict[str, dict] = {
    "WeightedAverageClassifier": {
        "estimators": [
            ("lr", LogisticRegression(max_iter=200)),
            ("lr_c", LogisticRegression(C=0.1, max_iter=200)),
        ],
        "cv": 2,
    },
    "SVMStackingClassifier": {
        "estimators": [
            ("lr", LogisticRegression(max_iter=200)),
            ("lr_c", LogisticRegression(C=0.1, max_iter=200)),
        ],
        "cv": 2,
        "final_estimator": CoarseToFineSVC(**_SMALL_SVM_GRID),
    },
    # Three C values and three gammas instead of the paper's grid keep the checks fast.
    "CoarseToFineSVC": _SMALL_SVM_GRID,
    # No clip has faces in the generic clip-check data; report, do not raise.
    "FaceTubeExtractor": {"on_missing": "ignore"},
    # scikit-learn's check data are points, not face landmarks: no flip permutation applies.
    "LandmarkAugmenter": {"flip": False, "n_points": 1, "random_state": 0},
    # Random lighting by design: seeded for the determinism, pickle and array-input checks.
    "LightingChange": {"random_state": 0},
    # A few L-BFGS steps of a 4-unit layer: the checks refit several times.
    "SparseAutoencoder": {"hidden_layer_sizes": (4,), "max_iter": 5, "random_state": 0},
    # The check clips are smaller than the paper's 14x20x20 super-blocks (rightly refused).
    "MotionBagOfWords": {
        "block_size": (2, 4, 4), "superblock_size": (3, 6, 6), "stride": (1, 2, 2),
        "n_components": 4, "n_hidden": 3, "n_descriptor_components": 2, "n_words": 2,
        "n_train_blocks": 50, "max_epochs": 1, "random_state": 0,
    },
    # The 32x32 check clips give about 54 patches per region, fewer than the paper's 400
    # centroids (rightly refused); seeded so that refits agree.
    "BagOfMouths": {"n_clusters": 8, "random_state": 0},
}

#: Tiny, seeded networks: the checks refit several times (determinism, idempotence), and the
#: papers' sizes would take minutes per check. Network estimators get these when discovered.
_TINY_DTAN = {
    "n_frames": 3, "max_epochs": 2, "module__stages": ((3, 4, 3, 2),), "module__hidden": (8,),
    "random_state": 0,
}
_TINY_DTGN = {"n_frames": 3, "max_epochs": 2, "random_state": 0}


def _toy_teacher():
    """A one-conv 'face network' whose feature map is 1x1 on the 32x32 check clips."""
    from torch import nn

    return nn.Sequential(nn.Conv2d(1, 3, 3, stride=32, padding=1), nn.ReLU(), nn.Flatten())


def _network_params() -> dict[str, dict]:
    from skfer.neural import DTAN, DTGN

    fast = {"max_epochs": 2, "optimizer": "adam", "lr": 1e-2, "verbose": 0, "random_state": 0}
    return {
        "FaceNet2ExpNet": {
            "teacher": _toy_teacher(), "teacher_layer": "1", "channels": (4,) * 5,
            "fc_size": 8, "stage1_epochs": 1, "stage1_lr": 1e-2, **fast,
        },
        "TeacherClassifier": {"teacher": _toy_teacher(), "trainable_from": None, **fast},
        # dlib's network (the default) runs 150x150 frames: tested in test_face_net_features.
        "FaceNetFeatures": {"face_net": _toy_teacher(), "layers": ["1"]},
        "ConvNet": {
            "crop_size": (28, 28), "max_epochs": 2, "batch_size": 32,
            "module__n_filters": (4, 4, 8), "random_state": 0, "verbose": 0,
        },
        "AudioDBNClassifier": {
            "hidden_layer_sizes": (16, 16), "pretrain_epochs": 2, "max_epochs": 30, "lr": 0.01,
            "validation_fraction": None, "device": "cpu", "random_state": 0,
        },
        "DTAN": _TINY_DTAN,
        "DTGN": _TINY_DTGN,
        "DTAGN": {
            "dtan": DTAN(**_TINY_DTAN), "dtgn": DTGN(**_TINY_DTGN), "finetune_epochs": 2,
            "random_state": 0,
        },
    }


REQUIRED_PARAMS.update(_network_params())

#: check name -> reason, per estimator class name.
_ODD_FEATURES = (
    "scikit-learn's check data has an odd number of features, but a landmark frame is "
    "[x_1 y_1 ... x_P y_P]: odd widths are rightly rejected (tested in test_landmarks and "
    "test_augmentation)"
)
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "LandmarkNormalizer": {
        check: _ODD_FEATURES
        for check in (
            "check_fit_score_takes_y",
            "check_dont_overwrite_parameters",
            "check_estimators_dtypes",
            "check_pipeline_consistency",
            "check_estimators_nan_inf",
            "check_estimators_pickle",
            "check_f_contiguous_array_estimator",
            "check_transformer_data_not_an_array",
            "check_transformer_general",
            "check_transformer_preserve_dtypes",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_dict_unchanged",
            "check_fit2d_predict1d",
        )
    },
    "LandmarkAugmenter": {"check_sampler_get_feature_names_out": _ODD_FEATURES},
    **{
        name: dict.fromkeys(
            ("check_clip_dtypes", "check_clip_array_input"),
            f"the check rebuilds X as a plain list or array of clips, without the landmarks "
            f"companion {name} needs (refused with a clear error: {test})",
        )
        for name, test in (
            ("FaceRegistration", "test_registration"),
            ("DTGN", "test_dtagn"),
            ("DTAGN", "test_dtagn"),
        )
    },
    "AudioFeatures": {
        "check_clip_tags": "its clips are 1-D waveforms, not image stacks, so it does not "
        "declare three_d_array",
        "check_clip_bad_input": "the check's bad clips are image-shaped; bad sound tracks "
        "(missing, empty, too short, NaN) are tested in test_audio_features",
    },
    "OpenSmileFeatures": {
        "check_clip_tags": "its clips are 1-D waveforms, not image stacks, so it does not "
        "declare three_d_array",
        "check_clip_bad_input": "the check's bad clips are image-shaped; bad sound tracks "
        "(missing, empty, too short, NaN) are tested in test_opensmile_features",
    },
    "SpeakerNormalizer": {
        "check_clip_tags": "its input is feature vectors or (T, F) sequences with a speaker, "
        "not image stacks, so it does not declare three_d_array",
        "check_clip_bad_input": "the check's bad clips are image-shaped and carry no speaker; "
        "bad features (NaN, widths, mixed kinds, too few clips of a speaker) are tested in "
        "test_speaker_normalization",
        **dict.fromkeys(
            ("check_clip_dtypes", "check_clip_array_input"),
            "the check rebuilds X as a plain list or array, without the speaker companion "
            "the step needs (refused with a clear error: test_speaker_normalization)",
        ),
    },
}


def _expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


#: Estimators that need an optional extra: left out of the checks when it is not installed.
_NEEDS_MODULE = {"AudioFeatures": "librosa", "OpenSmileFeatures": "opensmile"}


def _instances():
    for name, cls in all_estimators():
        if name in _NEEDS_MODULE and importlib.util.find_spec(_NEEDS_MODULE[name]) is None:
            continue
        yield cls(**REQUIRED_PARAMS.get(name, {}))


def _is_clip_estimator(est) -> bool:
    return not get_tags(est).input_tags.two_d_array


def _is_sampler(est) -> bool:
    return hasattr(est, "fit_resample")


def _is_detector(est) -> bool:
    """A face detector: ``detect(frame)`` on one image, no transform/predict over clips."""
    return hasattr(est, "detect") and not any(
        hasattr(est, m) for m in ("transform", "predict", "fit_resample")
    )


TABULAR = [e for e in _instances() if not _is_clip_estimator(e) and not _is_sampler(e)]
TABULAR_SAMPLERS = [e for e in _instances() if not _is_clip_estimator(e) and _is_sampler(e)]
DETECTORS = [e for e in _instances() if _is_detector(e)]
CLIP = [e for e in _instances() if _is_clip_estimator(e) and not _is_detector(e)]


def test_discovery_finds_estimators():
    names = {name for name, _ in all_estimators()}
    assert {"HOGFeatures", "PixelFeatures", "HaarFaceDetector"} <= names
    assert {type(e).__name__ for e in DETECTORS} == {"HaarFaceDetector"}


@parametrize_with_checks(
    TABULAR,
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "estimator", TABULAR + TABULAR_SAMPLERS, ids=lambda est: type(est).__name__
)
def test_param_validation(estimator):
    # scikit-learn yields check_param_validation for its own estimators only; the clip
    # estimators run the clip version among their clip checks.
    check_param_validation(type(estimator).__name__, estimator)


if TABULAR_SAMPLERS:
    from imblearn.utils.estimator_checks import (
        parametrize_with_checks as imblearn_parametrize_with_checks,
    )

    @imblearn_parametrize_with_checks(
        TABULAR_SAMPLERS, expected_failed_checks=_expected_failed_checks
    )
    def test_imblearn_compatible_sampler(estimator, check):
        check(estimator)


@pytest.mark.parametrize(
    "estimator, check",
    [(e, c) for e in DETECTORS for c in (*SKLEARN_DATA_FREE_CHECKS, check_param_validation)],
    ids=lambda obj: getattr(obj, "__name__", type(obj).__name__),
)
def test_detector_api(estimator, check):
    # A detector's input is one image, not clips or a feature matrix: it runs the data-free
    # API checks and parameter validation (its fit validates parameters).
    check(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", DETECTORS, ids=lambda est: type(est).__name__)
def test_detector_protocol(estimator):
    # detect(frame) -> (boxes (n, 4) as x, y, w, h; scores (n,)), unfitted or fitted, and it
    # leaves the detector unchanged (the clip version of check_dict_unchanged).
    frame = np.zeros((60, 80), np.uint8)
    for det in (clone(estimator), clone(estimator).fit()):
        before = pickle.dumps(det)
        boxes, scores = det.detect(frame)
        assert np.asarray(boxes).reshape(-1, 4).shape[0] == len(np.asarray(scores))
        assert pickle.dumps(det) == before, f"{type(det).__name__}.detect changed the detector"


#: Estimators that read the landmarks companion of a ClipSet.
_WITH_LANDMARKS = {"FaceRegistration", "DTGN", "DTAGN"}


def _clip_data_for(estimator):
    """Clip data for estimators that need something special (e.g. faces) or None."""
    name = type(estimator).__name__
    if name in {"FaceTubeExtractor", "LandmarkDetector"} | _WITH_LANDMARKS:
        from skfer.datasets import make_expressions

        bunch = make_expressions(n_subjects=2, n_clips_per_expression=1, random_state=0)
        clips = [c[:4] for c in bunch.data[:12]]
        if name in _WITH_LANDMARKS:
            from skfer import ClipSet

            return (ClipSet(clips, landmarks=[p[:4] for p in bunch.landmarks[:12]]),
                    np.asarray(bunch.target[:12]))
        return clips, np.asarray(bunch.target[:12])
    if name == "SpeakerNormalizer":  # feature sequences of 3 speakers, 4 clips each
        from skfer import ClipSet

        rng = np.random.RandomState(0)
        seqs = [rng.normal(k % 3, 1 + k % 3, (rng.randint(3, 7), 4)) for k in range(12)]
        return (ClipSet(seqs, speaker=[f"s{k % 3}" for k in range(12)]),
                np.array(["anger", "happiness"] * 6))
    if name in ("AudioFeatures", "OpenSmileFeatures"):  # sound tracks, not frames
        rng = np.random.RandomState(0)
        waves = [rng.normal(0, 0.1, rng.randint(4000, 8000)).astype(np.float32)
                 for _ in range(12)]
        return waves, np.array(["anger", "happiness"] * 6)
    return None


@parametrize_with_clip_checks(
    CLIP, data_for=_clip_data_for, expected_failed_checks=_expected_failed_checks
)
def test_clip_estimator(estimator, check):
    name = type(estimator).__name__
    check(name, estimator)
