"""``skfer evaluate`` and ``skfer train`` from Python: :mod:`skfer.experiment`, the data sets
by layout name, ``make_model(device=...)``, the face tubes extracted once, ``save_model``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_cli import _write_ckplus48  # the tiny CK+48 layout of the CLI tests

from skfer import load_model, save_model
from skfer.datasets import DATA_FORMATS, load_dataset
from skfer.experiment import evaluate_model, train_model
from skfer.models import MODELS, make_model, set_device


@pytest.fixture(scope="module")
def ck48(tmp_path_factory):
    return _write_ckplus48(tmp_path_factory.mktemp("data") / "ck")


def test_cross_validation_as_the_command(ck48):
    report = evaluate_model("hog-svm", "ckplus48", ck48, n_splits=2, protocol="ascending-id")
    assert "2-fold AscendingSubjectKFold" in report.protocol
    assert report.accuracy_mean == pytest.approx(1.0)
    assert report.extra == {"protocol": "ascending-id", "data": str(ck48),
                            "format": "ckplus48", "faces": "given"}


def test_default_folds_are_one_per_subject_below_ten(ck48, capsys):
    report = evaluate_model("hog-svm", "ckplus48", ck48, verbose=True)
    assert len(report.fold_accuracy) == 4
    out = capsys.readouterr().out
    assert "note: 4 subjects, so 4 folds" in out and "16 clips" in out


def test_held_out_data_set(ck48, tmp_path):
    test = _write_ckplus48(tmp_path / "b", n_subjects=2, seed=1)
    report = evaluate_model("hog-svm", "ckplus48", ck48, test_format="ckplus48",
                            test_path=test)
    assert "held-out data set" in report.protocol and report.n_samples == 8
    assert report.extra["format"] == "ckplus48_to_ckplus48"
    with pytest.raises(ValueError, match="n_splits and protocol are for cross-validation"):
        evaluate_model("hog-svm", "ckplus48", ck48, test_format="ckplus48", test_path=test,
                       n_splits=2)


def test_train_then_score_the_model_file_without_refitting(ck48, tmp_path):
    out = tmp_path / "m.joblib"
    model, card = train_model("hog-svm", "ckplus48", ck48, out=out, evaluate_first=True,
                              n_splits=2)
    assert card.score["accuracy_mean"] == pytest.approx(1.0)
    assert card.faces == "given" and card.frame_size == [48, 48] and card.n_clips == 16
    assert json.loads((tmp_path / "m.card.json").read_text())["model"] == "hog-svm"
    # The SVM is calibrated: the saved model gives probabilities (skfer predict).
    assert model.predict_proba(load_dataset("ckplus48", ck48).data).shape == (16, 2)
    report = evaluate_model(str(out), test_format="ckplus48", test_path=ck48)
    assert "nothing refitted" in report.protocol and report.accuracy_mean == pytest.approx(1.0)
    assert report.extra["format"] == "ckplus48"
    with pytest.raises(ValueError, match="is already fitted: give a test data set"):
        evaluate_model(str(out), "ckplus48", ck48)


def test_shipped_network_is_scored_as_it_is(ck48):
    from skfer import pretrained

    if "emonets-fer2013" not in pretrained.available():
        pytest.skip("the shipped network's weights are not in this checkout")
    report = evaluate_model("emonets-fer2013", test_format="ckplus48", test_path=ck48)
    # Its seven classes and the test set's two are all in the report.
    assert {"happiness", "surprise", "neutral"} <= set(report.labels)
    assert report.n_samples == 16 and "nothing refitted" in report.protocol


def test_arguments_are_checked_before_any_data_is_read(tmp_path):
    with pytest.raises(ValueError, match="n_splits is the number of folds of evaluate_first"):
        train_model("hog-svm", n_splits=3)
    with pytest.raises(IsADirectoryError, match=f"out {tmp_path} is a folder"):
        train_model("hog-svm", out=tmp_path)
    with pytest.raises(ValueError, match="max_per_class is for data_format fer2013 only"):
        evaluate_model("hog-svm", max_per_class=3)
    with pytest.raises(ValueError, match="faces must be one of auto, detect, given"):
        evaluate_model("hog-svm", faces="crop")
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        evaluate_model("nope")
    with pytest.raises(ValueError, match="device is for network models"):
        evaluate_model("hog-svm", device="cpu")


def test_data_sets_by_layout_name(ck48, tmp_path):
    assert set(DATA_FORMATS) == {"embedded", "ckplus48", "ckplus", "fer2013", "jaffe", "folder",
                                 "emodb"}
    assert len(load_dataset("ckplus48", ck48).data) == 16
    assert len(set(load_dataset().groups)) == 10  # the embedded data: one subject per fold
    with pytest.raises(ValueError, match="data_format ckplus48 needs path DIR"):
        load_dataset("ckplus48")
    with pytest.raises(ValueError, match="data_format embedded takes no path"):
        load_dataset("embedded", ck48)
    with pytest.raises(FileNotFoundError, match="path .*nope does not exist"):
        load_dataset("jaffe", tmp_path / "nope")
    with pytest.raises(NotADirectoryError, match="is a file; data_format ckplus48 reads a"):
        load_dataset("ckplus48", ck48 / "index.csv")
    with pytest.raises(ValueError, match="unknown data_format 'avi'"):
        load_dataset("avi")


def test_make_model_device():
    assert make_model("convnet", device="cpu").named_steps["convnet"].device == "cpu"
    assert set_device(make_model("hog-svm"), None) == []
    with pytest.raises(ValueError, match="--device is for network models"):
        set_device(make_model("hog-svm"), "cpu", name="--device")
    with pytest.raises(ValueError, match="is not a torch device"):
        make_model("convnet", device="tpu9")
    assert MODELS["emonets-fer2013"].fitted


def test_save_model_makes_a_card_when_given_none(tmp_path):
    from sklearn.dummy import DummyClassifier

    clf = DummyClassifier().fit(np.zeros((4, 1)), ["a", "b", "a", "b"])
    path, card_file = save_model(clf, tmp_path / "sub" / "d.joblib", name="dummy")
    model, card = load_model(path)
    assert card.model == "dummy" and card.classes == ["a", "b"] and card_file.is_file()
    assert model.predict(np.zeros((1, 1))).tolist() == ["a"]
    with pytest.raises(IsADirectoryError, match="is a folder; give the model file's name"):
        save_model(clf, tmp_path)
