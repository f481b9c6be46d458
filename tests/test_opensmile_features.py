"""OpenSmileFeatures: openSMILE's eGeMAPS and ComParE on the shipped clips, as AudioFeatures."""

from __future__ import annotations

import numpy as np
import pytest

from skfer import ClipSet
from skfer.features import OpenSmileFeatures

pytest.importorskip(
    "opensmile", reason="the optional 'opensmile' extra is not installed "
    "(pip install 'skfer[opensmile]')"
)

SR = 16000


def _tone(seconds=0.5, freq=220.0):
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_shipped_clips_egemaps_compare_and_low_level_descriptors():
    from skfer.datasets import load_sample_videos

    bunch = load_sample_videos(color=False)
    X = ClipSet.from_bunch(bunch)
    est = OpenSmileFeatures().fit(X)
    E = est.transform(X)
    assert E.shape == (6, 88) and E.dtype == np.float64 and np.isfinite(E).all()
    assert est.n_features_out_ == 88
    assert est.get_feature_names_out()[0] == "F0semitoneFrom27.5Hz_sma3nz_amean"
    np.testing.assert_array_equal(est.transform(X), E)  # deterministic
    # the clips differ: six expressions give six distinct vectors
    assert len({tuple(np.round(row, 6)) for row in E}) == 6
    C = OpenSmileFeatures("ComParE_2016").fit_transform(X)
    assert C.shape == (6, 6373) and np.isfinite(C).all()
    lld = OpenSmileFeatures(feature_level="lld").fit(X)
    seqs = lld.transform(X)
    assert isinstance(seqs, ClipSet) and set(seqs.companions) == {
        "audio", "sample_rate", "fps", "source"}
    for seq, audio in zip(seqs, bunch.audio):  # 10 ms frames
        assert seq.shape[1] == lld.n_features_out_ == 25
        assert abs(len(seq) - len(audio) / 160) < 10
    # files are decoded as AudioFeatures decodes them; waveforms as plain lists
    np.testing.assert_allclose(est.transform(list(bunch.filenames[:2])), E[:2], rtol=1e-3,
                               atol=1e-3)
    np.testing.assert_allclose(est.transform(list(bunch.audio[:2])), E[:2])


def test_same_bad_input_errors_as_audio_features():
    est = OpenSmileFeatures().fit(None)
    clips = [np.zeros((2, 4, 4))] * 2
    with pytest.raises(ValueError, match="without an 'audio' companion"):
        est.transform(ClipSet(clips))
    X = ClipSet(clips, audio=[_tone(), None], sample_rate=[SR] * 2, source=["a.flv", "b.flv"])
    with pytest.raises(ValueError, match=r"clip 1 \(b.flv\): no audio track"):
        est.transform(X)
    with pytest.raises(ValueError, match=r"clip 1: the audio track has 100 samples"):
        est.transform([_tone(), np.ones(100, np.float32)])
    nan = _tone()
    nan[3] = np.nan
    with pytest.raises(ValueError, match=r"clip 0: NaN or infinite audio sample at index 3"):
        est.transform([nan])
    with pytest.raises(ValueError, match="peaks at"):
        est.transform([_tone() * 30000])
    with pytest.warns(UserWarning, match=r"clips \[1\] have a silent sound track"):
        out = est.transform([_tone(), np.zeros(SR // 2, np.float32)])
    assert np.isfinite(out).all()
    with pytest.raises(ValueError, match="feature_set"):
        OpenSmileFeatures("nope").fit(None)


def test_int16_pcm_and_other_rates():
    y = _tone()
    est = OpenSmileFeatures().fit(None)
    ref = est.transform([y])
    pcm = np.round(y * 32768).astype(np.int16)
    # int16 PCM is read as v / 32768 (jitter and shimmer of a pure tone are too sensitive
    # to the 16-bit rounding to compare with the float track itself)
    np.testing.assert_array_equal(est.transform([pcm]),
                                  est.transform([(pcm / 32768).astype(np.float32)]))
    X = ClipSet([np.zeros((1, 4, 4))], audio=[y], sample_rate=[SR])
    np.testing.assert_allclose(est.transform(X), ref)


def test_missing_package_gives_a_clear_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_opensmile(name, *args, **kwargs):
        if name == "opensmile":
            raise ImportError("No module named 'opensmile'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_opensmile)
    with pytest.raises(ImportError, match=r"pip install 'skfer\[opensmile\]'"):
        OpenSmileFeatures().fit(None)
