"""load_emodb on a tiny folder of WAV files written here (and on the real set when present)."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from scipy.io import wavfile

from skfer import ClipSet
from skfer.datasets import EMODB_CODES, EXPRESSIONS, load_emodb


def _write_wav(path, rate=22050, seconds=0.2, freq=440.0):
    t = np.arange(int(rate * seconds)) / rate
    wavfile.write(path, rate, (8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16))


@pytest.fixture
def emodb_tree(tmp_path):
    root = tmp_path / "emodb"
    (root / "wav").mkdir(parents=True)
    for name in ("03a01Fa", "03a01Wa", "08b02Lb", "10a05Tc", "16b10Nd", "09a04Ea", "12a02Ac"):
        _write_wav(root / "wav" / f"{name}.wav")
    (root / "erklaerung.txt").write_text("not a wav")
    return root


def test_load_emodb(emodb_tree):
    b = load_emodb(emodb_tree)
    names = [f.rsplit("/", 1)[-1] for f in b.filenames]
    assert names == ["03a01Fa.wav", "03a01Wa.wav", "08b02Lb.wav", "09a04Ea.wav", "10a05Tc.wav",
                     "12a02Ac.wav", "16b10Nd.wav"]
    assert b.target.tolist() == ["happiness", "anger", "boredom", "disgust", "sadness", "fear",
                                 "neutral"]
    assert b.groups.tolist() == ["03", "03", "08", "09", "10", "12", "16"]
    assert b.texts.tolist() == ["a01", "a01", "b02", "a04", "a05", "a02", "b10"]
    assert b.target_names.tolist() == ["anger", "boredom", "disgust", "fear", "happiness",
                                       "sadness", "neutral"]
    assert b.source_target_names.tolist() == list(EMODB_CODES) == list("WLEAFTN")
    assert b.sample_rate == 16000
    assert all(a.dtype == np.float32 and a.shape == (3200,) for a in b.audio)
    assert b.data is b.audio
    assert 0.2 < np.abs(b.audio[0]).max() < 0.3  # 8000 / 32768
    assert "Burkhardt" in b.DESCR and "7 acted German utterances by 6 speakers" in b.DESCR
    X = ClipSet.from_bunch(b)
    assert X.get("sample_rate") == [16000] * 7 and X.get("source")[0].endswith("03a01Fa.wav")
    assert X.get("speaker") == b.groups.tolist()  # for SpeakerNormalizer
    native = load_emodb(emodb_tree, sample_rate=None)
    assert native.sample_rate == 22050 and native.audio[0].shape == (4410,)


def test_boredom_in_the_vocabulary():
    assert "boredom" in EXPRESSIONS and list(EXPRESSIONS) == sorted(EXPRESSIONS)


def test_load_emodb_errors(emodb_tree, tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        load_emodb(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="no .wav file"):
        load_emodb(empty)
    _write_wav(emodb_tree / "wav" / "11a01Xa.wav")
    with pytest.raises(ValueError, match=r"unknown Emo-DB emotion letter 'X' in .*11a01Xa"):
        load_emodb(emodb_tree)
    (emodb_tree / "wav" / "11a01Xa.wav").unlink()
    _write_wav(emodb_tree / "wav" / "speech.wav")
    with pytest.raises(ValueError, match="cannot parse Emo-DB file name .*speech.wav"):
        load_emodb(emodb_tree)
    (emodb_tree / "wav" / "speech.wav").unlink()
    _write_wav(emodb_tree / "wav" / "13a01Na.wav", rate=16000)
    # Files at other rates: resampled to one rate, or refused when the rate is kept.
    assert load_emodb(emodb_tree).audio[-2].shape == (3200,)
    with pytest.raises(ValueError, match="13a01Na.wav is sampled at 16000 Hz but .* 22050"):
        load_emodb(emodb_tree, sample_rate=None)
    (emodb_tree / "wav" / "14a01Na.wav").write_bytes(b"RIFF\x00\x00")
    with pytest.raises(ValueError, match="14a01Na.wav"):
        load_emodb(emodb_tree)


def test_emodb_real(shared_data):
    b = load_emodb(shared_data / "emodb")
    assert len(b.audio) == 535 and len(set(b.groups)) == 10
    assert collections.Counter(b.target) == {
        "anger": 127, "boredom": 81, "disgust": 46, "fear": 69, "happiness": 71,
        "sadness": 62, "neutral": 79}


@pytest.fixture
def emodb_speakers(tmp_path):
    """6 speakers x 4 utterances: anger a high tone, sadness a low one, voices offset."""
    root = tmp_path / "emodb6"
    root.mkdir()
    for k, speaker in enumerate(("03", "08", "09", "10", "11", "12")):
        for v, (letter, freq) in enumerate([("W", 600), ("T", 250)] * 2):
            _write_wav(root / f"{speaker}a0{v + 1}{letter}a.wav", rate=16000, seconds=0.3,
                       freq=freq * (1 + 0.1 * k))
    return root


def test_emodb_format_and_the_audio_models(emodb_speakers):
    pytest.importorskip("librosa")
    from skfer.datasets import DATA_FORMATS, load_dataset
    from skfer.experiment import evaluate_model
    from skfer.models import MODELS, make_model

    assert DATA_FORMATS["emodb"] == "given"
    bunch = load_dataset("emodb", emodb_speakers)
    assert isinstance(bunch.data, ClipSet) and bunch.data.get("speaker")[:5] == ["03"] * 4 + ["08"]
    assert {"audio-svm", "audio-svm-plain", "audio-dbn"} <= set(MODELS)
    report = evaluate_model("audio-svm", "emodb", emodb_speakers)
    assert report.n_groups == 6 and len(report.fold_accuracy) == 6  # one speaker a fold
    assert report.extra["format"] == "emodb" and report.accuracy_pooled == 1.0
    d = report.to_dict()
    assert d["uar"] == 1.0 and d["accuracy_pooled"] == 1.0 and "unweighted average recall" in (
        report.summary())
    plain = evaluate_model("audio-svm-plain", "emodb", emodb_speakers)
    assert len(plain.fold_accuracy) == 6
    # the network, made tiny: its pipeline takes the same ClipSet
    dbn = make_model("audio-dbn", random_state=0).set_params(
        dbn__hidden_layer_sizes=(8, 8), dbn__pretrain_epochs=1, dbn__max_epochs=2,
        dbn__device="cpu")
    assert dbn.fit(bunch.data, bunch.target).predict(bunch.data[:4]).shape == (4,)


def test_emodb_format_with_the_compare_model(emodb_speakers):
    pytest.importorskip("opensmile", reason="the optional 'opensmile' extra is not installed")
    from skfer.experiment import evaluate_model

    report = evaluate_model("audio-compare", "emodb", emodb_speakers)
    assert len(report.fold_accuracy) == 6 and report.extra["format"] == "emodb"
    assert 0 <= report.uar <= 1  # pure tones: no score worth asserting
