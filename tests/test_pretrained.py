"""The network shipped inside skfer (``skfer.pretrained``): offline, checked, deterministic.

No shared data is needed: the weights and the card are package data, and the sample face is
the shipped astronaut photograph (public domain).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from skfer import pretrained
from skfer.neural import ConvNet

NAME = "emonets-fer2013"
FACES = Path(__file__).resolve().parents[1] / "skfer" / "datasets" / "data" / "faces"


def _astronaut() -> np.ndarray:
    """The shipped astronaut face (128x128 crop around the face) as one grey 48x48 frame.

    The same input as the card's ``self_test`` (written by ``export_self_test``), whose
    probabilities were stored when the weights were exported.
    """
    return pretrained.self_test_input(FACES / "astronaut_face.png")


def test_available_and_card():
    assert NAME in pretrained.available()
    card = pretrained.card(NAME)
    assert card["estimator"] == "skfer.neural.ConvNet"
    assert card["input"]["frame_size"] == [48, 48] and card["input"]["color"] is False
    assert "framing" in card["input"]
    training = card["training"]
    assert "FER2013" in training["data"] and "research" in training["terms"]
    assert "train_pretrained_convnet.py" in training["command"]
    assert {"seed", "epochs", "wall_time_minutes", "machine", "date"} <= set(training)
    assert 0 < card["scores"]["public_test_accuracy"][str(card["scores"]["test_views"])] < 1
    assert set(card["scores"]["public_test_recall"]) == set(card["classes"])


def test_load_is_a_fitted_convnet_offline():
    net = pretrained.load(NAME, device="cpu")
    assert isinstance(net, ConvNet)
    assert net.classes_.tolist() == pretrained.card(NAME)["classes"]
    assert net.frame_size_ == (48, 48) and not net.color_
    proba = net.predict_proba(_astronaut())
    assert proba.shape == (1, 7) and np.isclose(proba.sum(), 1.0)


def test_predictions_are_deterministic_and_match_the_stored_ones():
    card = pretrained.card(NAME)
    stored = np.asarray(card["self_test"]["proba"])
    first = pretrained.load(NAME, device="cpu").predict_proba(_astronaut())[0]
    second = pretrained.load(NAME, device="cpu").predict_proba(_astronaut())[0]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, stored, atol=2e-3)


def test_init_from_the_shipped_network_fine_tunes():
    rng = np.random.RandomState(0)
    faces = [rng.randint(0, 256, (2, 48, 48)).astype(np.uint8) for _ in range(8)]
    y = np.array(["happiness", "sadness"] * 4)
    net = ConvNet(init_from=NAME, max_epochs=1, batch_size=8, patience=None,
                  validation_fraction=None, random_state=0, verbose=0,
                  **{k: v for k, v in pretrained.card(NAME)["params"].items()
                     if k in ("batch_norm", "hidden_units", "dropout")}).fit(faces, y)
    assert net.init_report_["source"] == NAME
    assert net.init_report_["reinitialized"] == ["classifier.weight", "classifier.bias"]


@pytest.fixture
def copy_of_the_weights(tmp_path):
    for suffix in (".json", ".pt"):
        shutil.copy(pretrained.DATA_DIR / f"{NAME}{suffix}", tmp_path / f"{NAME}{suffix}")
    return tmp_path


def test_a_damaged_weights_file_is_a_clear_error(copy_of_the_weights):
    weights = copy_of_the_weights / f"{NAME}.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(pretrained.PretrainedWeightsError, match="damaged or replaced"):
        pretrained.load(NAME, directory=copy_of_the_weights)


def test_a_missing_weights_file_or_name_is_a_clear_error(copy_of_the_weights):
    (copy_of_the_weights / f"{NAME}.pt").unlink()
    with pytest.raises(pretrained.PretrainedWeightsError, match="are missing"):
        pretrained.load(NAME, directory=copy_of_the_weights)
    with pytest.raises(pretrained.PretrainedWeightsError, match="no shipped network 'nope'"):
        pretrained.load("nope")


def test_a_card_that_names_other_code_is_refused(copy_of_the_weights):
    card_path = copy_of_the_weights / f"{NAME}.json"
    card = json.loads(card_path.read_text())
    card["estimator"] = "os.system"
    card_path.write_text(json.dumps(card))
    with pytest.raises(pretrained.PretrainedWeightsError, match="unknown estimator"):
        pretrained.load(NAME, directory=copy_of_the_weights)


STUDENT = "facenet2expnet-fer2013-stage1"


def test_the_shipped_facenet2expnet_student_loads_and_starts_stage_2():
    """FaceNet2ExpNet's stage-1 student (label-free, on FER2013) ships like the ConvNet: a
    card naming its data, terms and command, deterministic stored outputs, and a stage 2
    that starts from its convolutions with new fully connected layers."""
    from skfer.neural import FaceNet2ExpNet

    card = pretrained.card(STUDENT)
    assert card["estimator"] == "skfer.neural.FaceNet2ExpNet"
    assert "FER2013" in card["training"]["data"] and "research" in card["training"]["terms"]
    assert "bench_facenet2expnet_fer2013.py" in card["training"]["command"]
    net = pretrained.load(STUDENT, device="cpu")
    assert net.teacher_map_shape_ == (128, 6, 6)
    first = net.predict_proba(_astronaut())[0]
    np.testing.assert_array_equal(first, pretrained.load(STUDENT, device="cpu")
                                  .predict_proba(_astronaut())[0])
    np.testing.assert_allclose(first, card["self_test"]["proba"], atol=2e-3)
    rng = np.random.RandomState(0)
    faces = [rng.randint(0, 256, (2, 48, 48)).astype(np.uint8) for _ in range(6)]
    y = np.array(["happiness", "sadness", "surprise"] * 2)
    student = FaceNet2ExpNet(init_from=STUDENT, channels=(32, 64, 128), max_epochs=1,
                             optimizer="adam", lr=1e-3, body_lr=1e-4, random_state=0,
                             verbose=0).fit(faces, y)
    assert student.init_report_["source"] == STUDENT
    assert student.init_report_["reinitialized"] == ["classifier.weight", "classifier.bias"]
    assert student.predict_proba(faces).shape == (6, 3)
