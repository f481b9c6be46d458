"""The named models of issue 22 (face network, shipped ConvNet frozen and fine-tuned, DTAGN
with the shipped ConvNet as its appearance member, their EmoNets combination) fit and predict
on the embedded synthetic data in seconds; pretrained parts load from the package."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from skfer.datasets import make_expressions
from skfer.models import MODELS, make_model

_DLIB = importlib.util.find_spec("face_recognition_models") is not None


@pytest.fixture(scope="module")
def data():
    return make_expressions(n_subjects=1, random_state=0)


@pytest.fixture(scope="module")
def data3():
    return make_expressions(n_subjects=3, random_state=0)


@pytest.mark.parametrize("name, params", [
    pytest.param("face-net-lr", {}, marks=pytest.mark.skipif(
        not _DLIB, reason="dlib's face network comes with the skfer[landmarks] extra")),
    ("convnet-fer2013-lr", {}),
    # Fewer epochs than the model's: the test is that the recipe runs, not how well.
    ("convnet-fer2013-finetune", {"convnet__max_epochs": 2, "convnet__head_epochs": 1}),
    ("facenet2expnet", {"facenet2expnet__max_epochs": 2}),
    pytest.param("dtagn", {"dtagn__dtan__max_epochs": 2, "dtagn__dtan__head_epochs": 1,
                           "dtagn__dtgn__max_epochs": 5, "dtagn__finetune_epochs": 2},
                 marks=pytest.mark.skipif(
                     not _DLIB, reason="its landmarks need skfer[landmarks]")),
])
def test_ready_model_fits_and_predicts(data, name, params):
    model = make_model(name, faces="detect").set_params(**params)
    model.fit(data.data, data.target)
    proba = model.predict_proba(data.data[:3])
    assert proba.shape == (3, len(np.unique(data.target)))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert set(model.predict(data.data[:3])) <= set(data.target)
    assert not MODELS[name].fitted  # trained on the user's data, unlike emonets-fer2013


@pytest.mark.skipif(not _DLIB, reason="its face-network member needs skfer[landmarks]")
def test_emonets_ensemble_fits_and_computes_each_clip_once(data3):
    """The EmoNets combination fits and predicts; it refits every member on each
    cross-fitting fold and on all the data, but the members' feature steps learn nothing,
    so each clip's features are computed once (3 subjects: the calibrated SVM member needs
    3 clips of a class in each cross-fitting fold; the first 3 frames of each clip, for
    speed)."""
    model = make_model("emonets-ensemble", faces="detect").set_params(
        ensemble__n_iter=10, ensemble__n_local_iter=10)
    clips = [c[:3] for c in data3.data]
    model.fit(clips, data3.target)
    for member in model[-1].estimators_:
        assert len(member.named_steps["features"]._shared_store()) == len(clips)
    proba = model.predict_proba(clips[:2])
    assert proba.shape == (2, len(np.unique(data3.target)))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert not MODELS["emonets-ensemble"].fitted
