"""Safe model files (issue 26): the card's hash is checked before a model file is read, and
``.skops`` files hold only the types skfer trusts.

A joblib model file is a pickle: reading one runs code from it. These tests prove that a
changed file, a swapped one and one without a card are refused before joblib runs anything
(``joblib.load`` is replaced by a function that fails the test, and a pickle that would make
a folder is shown to make it only when ``trusted=True`` says so), and that the skops format
round-trips skfer's classical pipelines and refuses any other type, naming it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys

import joblib
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier

from skfer import load_model, save_model
from skfer._model_card import SKOPS_TRUSTED, card_path, check_model_path, file_sha256
from skfer.datasets import make_expressions
from skfer.exceptions import ModelCardMismatchError, UntrustedTypesError, UnverifiedModelError
from skfer.models import make_model

CLASSES = ["happiness", "surprise"]


def _dummy():
    return DummyClassifier().fit([[0], [1]], CLASSES)


class _MakesAFolder:
    """Unpickling it makes a folder: the visible trace of a pickle running its code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail the test if joblib is asked to read a model file."""

    def refuse(*args, **kwargs):
        pytest.fail("joblib.load ran on a file that should have been refused before reading")

    monkeypatch.setattr(joblib, "load", refuse)


@pytest.fixture
def sio():
    return pytest.importorskip(
        "skops.io", reason="skops (the optional extra skfer[safe]) is not installed"
    )


# -- the hash in the card ----------------------------------------------------------------------


def test_the_card_beside_the_model_records_its_sha256(tmp_path):
    path, cpath = save_model(_dummy(), tmp_path / "m.joblib")
    card = json.loads(cpath.read_text())
    assert card["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() == file_sha256(path)
    assert card["model"] == "DummyClassifier"
    model, loaded = load_model(path)
    assert model.predict([[0]]).tolist() == ["happiness"] and loaded.classes == CLASSES
    # Written atomically: no temporary file is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.card.json", "m.joblib"]


def test_a_tampered_model_file_is_refused_before_its_code_runs(tmp_path, monkeypatch):
    path, _ = save_model(_dummy(), tmp_path / "m.joblib")
    marker = tmp_path / "the pickle ran"
    joblib.dump(_MakesAFolder(marker), path)  # the card still describes the saved model
    with monkeypatch.context() as m:
        m.setattr(joblib, "load", lambda *a, **k: pytest.fail("joblib.load ran"))
        with pytest.raises(ModelCardMismatchError) as err:
            load_model(path)
    message = str(err.value)
    assert str(path) in message and "m.card.json" in message
    assert "changed after it was saved" in message and "not the model the card describes" in message
    assert "trusted=True" in message
    assert not marker.exists()
    # The same file, trusted: its code runs (the marker shows the refusal above mattered).
    with pytest.raises(ValueError, match="it holds a NoneType"):
        load_model(path, trusted=True)
    assert marker.is_dir()


def test_one_changed_byte_is_refused(tmp_path, no_unpickling):
    path, _ = save_model(_dummy(), tmp_path / "m.joblib")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelCardMismatchError, match="does not match its card m.card.json"):
        load_model(path)


def test_a_card_of_another_model_is_refused(tmp_path, no_unpickling):
    a, card_a = save_model(_dummy(), tmp_path / "a" / "m.joblib")
    b, card_b = save_model(DummyClassifier(strategy="uniform").fit([[0], [1]], CLASSES),
                           tmp_path / "b" / "m.joblib")
    card_b.write_bytes(card_a.read_bytes())
    with pytest.raises(ModelCardMismatchError, match="not the model the card describes"):
        load_model(b)


# -- models that cannot be checked ---------------------------------------------------------------


def test_a_model_without_its_card_is_refused_unless_trusted(tmp_path, monkeypatch):
    """No card: an error naming the way out (trusted=True, which runs the file's code)."""
    path, cpath = save_model(_dummy(), tmp_path / "m.joblib")
    cpath.unlink()
    with monkeypatch.context() as m:
        m.setattr(joblib, "load", lambda *a, **k: pytest.fail("joblib.load ran"))
        with pytest.raises(UnverifiedModelError) as err:
            load_model(path)
    message = str(err.value)
    assert f"model file {path} has no card beside it (m.card.json)" in message
    assert "load_model(path, trusted=True), which runs the code it holds" in message
    assert "save it again with skfer.save_model" in message
    model, card = load_model(path, trusted=True)
    assert card.classes == CLASSES and model.predict([[1]]).tolist() == ["happiness"]
    # The way out the message gives: saved again, it has a card and loads as any other.
    save_model(model, path, card)
    assert load_model(path)[1].model == "DummyClassifier"


def test_a_card_without_a_hash_is_refused_unless_trusted(tmp_path, no_unpickling):
    """A model saved by an older skfer: its card has no "sha256"."""
    path, cpath = save_model(_dummy(), tmp_path / "m.joblib")
    card = json.loads(cpath.read_text())
    del card["sha256"]
    cpath.write_text(json.dumps(card))
    with pytest.raises(UnverifiedModelError, match="records no SHA-256 .*trusted=True"):
        load_model(path)


def test_an_unreadable_card_is_refused(tmp_path, no_unpickling):
    path, cpath = save_model(_dummy(), tmp_path / "m.joblib")
    cpath.write_text('{"model": "DummyCl')
    with pytest.raises(UnverifiedModelError, match="m.card.json of model file .* cannot be read"):
        load_model(path)


def test_a_text_file_is_not_called_a_model_without_a_card(tmp_path, no_unpickling):
    """Told by its first bytes: trusted=True would not make it a model."""
    path = tmp_path / "m.joblib"
    path.write_text("hello, not a pickle")
    for trusted in (False, True):
        with pytest.raises(ValueError, match="is not a skfer model file \\(joblib cannot load "
                           "it: it is neither a pickle nor a compressed joblib file") as err:
            load_model(path, trusted=trusted)
        assert not isinstance(err.value, UnverifiedModelError)


def test_errors_are_value_errors():
    """The command line turns ValueError into one line and status 2; these are ones."""
    for cls in (ModelCardMismatchError, UnverifiedModelError, UntrustedTypesError):
        assert issubclass(cls, ValueError)
        assert cls.__name__ in importlib.import_module("skfer.exceptions").__all__


# -- the skops format ----------------------------------------------------------------------------


@pytest.fixture
def dummy_skops(tmp_path, sio):
    return save_model(_dummy(), tmp_path / "m.skops")[0]


def test_skops_round_trip_of_hog_svm_predicts_the_same(hog_svm_detect, synthetic_data, tmp_path,
                                                        sio):
    data = synthetic_data
    path, cpath = save_model(hog_svm_detect, tmp_path / "m.skops", name="hog-svm")
    assert cpath.name == "m.card.json"
    assert json.loads(cpath.read_text())["sha256"] == file_sha256(path)
    model, card = load_model(path)
    assert card.model == "hog-svm" and card.classes == sorted(set(data.target))
    assert model is not hog_svm_detect
    np.testing.assert_array_equal(model.predict(data.data), hog_svm_detect.predict(data.data))
    np.testing.assert_allclose(model.predict_proba(data.data),
                               hog_svm_detect.predict_proba(data.data))


def test_a_tampered_skops_file_is_refused(dummy_skops, no_unpickling):
    path = dummy_skops
    data = bytearray(path.read_bytes())
    data[-30] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelCardMismatchError, match="does not match its card"):
        load_model(path)


class _Unknown(ClassifierMixin, BaseEstimator):
    """A type that is in no trusted list; building it would be visible."""

    built = 0

    def __setstate__(self, state):
        type(self).built += 1
        self.__dict__.update(state)


def test_an_unknown_type_in_a_skops_file_is_refused_and_named(tmp_path, sio):
    """A file with a matching card (as its author would ship it) and a type skfer does not
    trust: refused, the type named, nothing of it built."""
    path = tmp_path / "m.skops"
    payload = {"format": "skfer-model/1", "card": {"model": "x"}, "model": _Unknown()}
    sio.dump(payload, path)
    card_path(path).write_text(json.dumps({"model": "x", "sha256": file_sha256(path)}))
    _Unknown.built = 0
    with pytest.raises(UntrustedTypesError) as err:
        load_model(path)
    assert _Unknown.built == 0
    name = f"{_Unknown.__module__}._Unknown"
    assert err.value.types == (name,)
    assert name in str(err.value) and "was not loaded" in str(err.value)
    # trusted=True skips the hash check only: it never widens the types.
    with pytest.raises(UntrustedTypesError):
        load_model(path, trusted=True)
    assert _Unknown.built == 0


def test_saving_an_unknown_type_as_skops_is_refused_and_writes_nothing(tmp_path, sio):
    with pytest.raises(UntrustedTypesError, match=r"_Unknown; or save a \.joblib file"):
        save_model(_Unknown(), tmp_path / "m.skops")
    assert list(tmp_path.iterdir()) == []


def test_a_network_cannot_be_saved_as_skops(tmp_path, sio):
    """skorch restores a network by unpickling: networks go as tensors instead."""
    pytest.importorskip("torch", reason="the networks need torch")
    with pytest.raises(UntrustedTypesError) as err:
        save_model(make_model("convnet"), tmp_path / "net.skops")
    assert "skfer.neural.convnet.ConvNet" in err.value.types
    assert "skfer.pretrained.export" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_skops_file_that_is_not_one(tmp_path, sio):
    path = tmp_path / "m.skops"
    path.write_bytes(b"not a zip archive")
    card_path(path).write_text(json.dumps({"model": "x", "sha256": file_sha256(path)}))
    with pytest.raises(ValueError, match="is not a skfer model file \\(skops cannot load it: it "
                       "is not a zip archive"):
        load_model(path)


def test_skops_missing_is_a_clear_error_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "skops", None)  # `import skops.io` raises ImportError
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(ModuleNotFoundError, match=r'pip install "skfer\[safe\]"'):
        check_model_path(tmp_path / "m.skops", "--out")
    assert check_model_path(tmp_path / "m.joblib") == tmp_path / "m.joblib"


def test_the_trusted_list_names_existing_non_network_types():
    for name in SKOPS_TRUSTED:
        module, _, attr = name.rpartition(".")
        assert not module.startswith("skfer.neural"), name
        try:
            obj = getattr(importlib.import_module(module), attr)
        except ImportError as exc:  # an optional dependency of that module
            if (exc.name or "skfer").startswith(("skfer", "sklearn")):
                raise
            continue
        assert callable(obj), name


@pytest.mark.parametrize("name", ["hog-svm", "pixels-svm"])
@pytest.mark.parametrize("faces", ["given", "detect"])
@pytest.mark.parametrize("probability", [False, True])
def test_the_classical_models_need_only_trusted_types(name, faces, probability, synthetic_data,
                                                     sio):
    data = synthetic_data
    model = make_model(name, faces=faces, probability=probability).fit(data.data, data.target)
    untrusted = sio.get_untrusted_types(data=sio.dumps(model))
    assert set(untrusted) <= set(SKOPS_TRUSTED), sorted(set(untrusted) - set(SKOPS_TRUSTED))


def test_the_ensembles_of_classical_models_need_only_trusted_types(sio):
    from skfer.ensemble import SVMStackingClassifier, WeightedAverageClassifier

    data = make_expressions(n_subjects=4, random_state=0)
    members = [("hog", make_model("hog-svm", probability=True)),
               ("pixels", make_model("pixels-svm", probability=True))]
    for ensemble in (WeightedAverageClassifier(members, cv=2),
                     SVMStackingClassifier(members, cv=2)):
        ensemble.fit(data.data, data.target)
        untrusted = sio.get_untrusted_types(data=sio.dumps(ensemble))
        assert set(untrusted) <= set(SKOPS_TRUSTED), sorted(set(untrusted) - set(SKOPS_TRUSTED))
