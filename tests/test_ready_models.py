"""The named models of issue 22 (face network, shipped ConvNet frozen and fine-tuned) fit and
predict on the embedded synthetic data in seconds; pretrained parts load from the package."""

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


@pytest.mark.parametrize("name, params", [
    pytest.param("face-net-lr", {}, marks=pytest.mark.skipif(
        not _DLIB, reason="dlib's face network comes with the skfer[landmarks] extra")),
    ("convnet-fer2013-lr", {}),
    # Fewer epochs than the model's: the test is that the recipe runs, not how well.
    ("convnet-fer2013-finetune", {"convnet__max_epochs": 2, "convnet__head_epochs": 1}),
])
def test_ready_model_fits_and_predicts(data, name, params):
    model = make_model(name, faces="detect").set_params(**params)
    model.fit(data.data, data.target)
    proba = model.predict_proba(data.data[:3])
    assert proba.shape == (3, len(np.unique(data.target)))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert set(model.predict(data.data[:3])) <= set(data.target)
    assert not MODELS[name].fitted  # trained on the user's data, unlike emonets-fer2013
