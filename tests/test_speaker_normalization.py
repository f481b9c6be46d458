"""SpeakerNormalizer (per-speaker standardisation, transductive) and SpeakerKFold."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from skfer import ClipSet
from skfer.features import SpeakerKFold, SpeakerNormalizer


def _speech(n_speakers=4, per_speaker=6, width=5, seed=0):
    """Vectors whose speakers differ by an offset and a scale, with labels and speakers."""
    rng = np.random.RandomState(seed)
    rows, speakers, labels = [], [], []
    for s in range(n_speakers):
        offset, scale = rng.normal(0, 5, width), rng.uniform(0.5, 3, width)
        for k in range(per_speaker):
            label = k % 2
            rows.append(offset + scale * (rng.normal(size=width) + 2 * label))
            speakers.append(f"s{s}")
            labels.append("anger" if label else "neutral")
    return np.array(rows), np.array(speakers), np.array(labels)


def test_each_speaker_is_standardised_by_its_own_statistics():
    V, spk, _ = _speech()
    out = SpeakerNormalizer().fit_transform(ClipSet(list(V), speaker=list(spk)))
    assert out.shape == V.shape
    for s in np.unique(spk):
        np.testing.assert_allclose(out[spk == s].mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(out[spk == s].std(0), 1)
        expected = (V[spk == s] - V[spk == s].mean(0)) / V[spk == s].std(0)
        np.testing.assert_allclose(out[spk == s], expected)
    centred = SpeakerNormalizer(with_std=False).fit_transform(ClipSet(list(V), speaker=list(spk)))
    np.testing.assert_allclose(centred[spk == "s1"], V[spk == "s1"] - V[spk == "s1"].mean(0))


class _SpyFeatures(TransformerMixin, BaseEstimator):
    """A feature step that records the labels it is given (there must be none)."""

    def fit(self, X, y=None):
        self.saw_labels_ = y is not None
        return self

    def transform(self, X):
        return np.asarray([np.atleast_1d(x) for x in X], dtype=float)


def test_labels_are_never_used():
    V, spk, y = _speech()
    X = ClipSet(list(V), speaker=list(spk))
    ref = SpeakerNormalizer().fit_transform(X)
    rng = np.random.RandomState(1)
    for labels in (y, rng.permutation(y), np.array(["x"] * len(y))):
        np.testing.assert_array_equal(SpeakerNormalizer().fit(X, labels).transform(X), ref)
        np.testing.assert_array_equal(SpeakerNormalizer().fit_transform(X, labels), ref)
    # nor passed to the feature step it wraps, in fit, fit_transform or a pipeline
    norm = SpeakerNormalizer(_SpyFeatures()).fit(X, y)
    assert norm.features_.saw_labels_ is False
    norm = SpeakerNormalizer(_SpyFeatures())
    norm.fit_transform(X, y)
    assert norm.features_.saw_labels_ is False
    pipe = make_pipeline(SpeakerNormalizer(_SpyFeatures()), SVC()).fit(X, y)
    assert pipe[0].features_.saw_labels_ is False


def test_a_speakers_output_does_not_depend_on_the_other_speakers_in_the_batch():
    V, spk, _ = _speech(n_speakers=5)
    norm = SpeakerNormalizer().fit(ClipSet(list(V[spk != "s0"]), speaker=list(spk[spk != "s0"])))
    alone = norm.transform(ClipSet(list(V[spk == "s0"]), speaker=["s0"] * 6))
    rng = np.random.RandomState(0)
    for others in (["s1"], ["s2", "s3"], ["s1", "s2", "s3", "s4"]):
        keep = np.isin(spk, ["s0", *others])
        order = rng.permutation(np.flatnonzero(keep))  # shuffled, interleaved speakers
        out = norm.transform(ClipSet(list(V[order]), speaker=list(spk[order])))
        mine = spk[order] == "s0"
        # the same utterances of s0, in the order they appear in the batch
        expected = alone[np.argsort(np.argsort(order[mine]))]
        np.testing.assert_allclose(out[mine], expected, atol=1e-12)
    # and not on the speakers seen in fit
    other = SpeakerNormalizer().fit(ClipSet(list(V[:12]), speaker=list(spk[:12])))
    np.testing.assert_array_equal(
        other.transform(ClipSet(list(V[spk == "s0"]), speaker=["s0"] * 6)), alone)


def test_sequences_are_standardised_over_the_speakers_frames():
    rng = np.random.RandomState(0)
    seqs = [rng.normal(3, 2, (t, 4)) for t in (5, 7, 6)] + [rng.normal(-1, 0.5, (4, 4))] * 2
    X = ClipSet(seqs, speaker=["a", "a", "a", "b", "b"], sample_rate=[16000] * 5)
    out = SpeakerNormalizer().fit_transform(X)
    assert isinstance(out, ClipSet) and out.get("sample_rate") == [16000] * 5
    assert [len(s) for s in out] == [5, 7, 6, 4, 4]
    frames = np.concatenate(out.data[:3])
    np.testing.assert_allclose(frames.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(frames.std(0), 1)
    # a feature constant within a speaker is centred, not divided by 0
    const = [np.ones((3, 2)), np.ones((2, 2))]
    np.testing.assert_array_equal(
        SpeakerNormalizer().fit_transform(ClipSet(const, speaker=[1, 1]))[0], np.zeros((3, 2)))


def test_bad_input_is_refused_naming_what_is_wrong():
    V, spk, _ = _speech()
    with pytest.raises(ValueError, match="must carry each clip's speaker"):
        SpeakerNormalizer().fit(V)
    with pytest.raises(ValueError, match="must carry each clip's speaker"):
        SpeakerNormalizer().fit(ClipSet(list(V)))
    with pytest.raises(TypeError, match="clip 1: companion 'speaker' must be a str or int"):
        ClipSet([V[0], V[1]], speaker=["a", 1.5])
    with pytest.raises(ValueError, match=r"speaker 'b' has 1 clip\(s\) in X \(clips \[2\]\)"):
        SpeakerNormalizer().fit_transform(ClipSet(list(V[:3]), speaker=["a", "a", "b"]))
    norm = SpeakerNormalizer().fit(ClipSet(list(V), speaker=list(spk)))
    with pytest.raises(ValueError, match="X has 3 features per clip, but .* fitted with 5"):
        norm.transform(ClipSet(list(V[:4, :3]), speaker=["a"] * 4))
    bad = V[:4].copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="clip 2: NaN or infinite"):
        norm.transform(ClipSet(list(bad), speaker=["a"] * 4))
    with pytest.raises(ValueError, match="mix vectors"):
        norm.transform(ClipSet([V[0], V[:2]], speaker=["a"] * 2))
    with pytest.raises(ValueError, match="min_clips"):
        SpeakerNormalizer(min_clips=0).fit(ClipSet(list(V), speaker=list(spk)))


def test_speaker_kfold_holds_out_whole_speakers_and_nests_in_cross_validation():
    V, spk, y = _speech(n_speakers=6)
    X = ClipSet(list(V), speaker=list(spk))
    folds = list(SpeakerKFold(3).split(X))
    assert len(folds) == 3
    for train, test in folds:
        assert not set(spk[train]) & set(spk[test])
    assert [t.tolist() for _, t in SpeakerKFold(3).split(X, groups=spk)] == [
        t.tolist() for _, t in folds]
    with pytest.raises(ValueError, match="speaker"):
        next(SpeakerKFold(3).split(V))
    # nested: the inner search reads the speakers of the outer training clips only
    search = GridSearchCV(make_pipeline(SpeakerNormalizer(), SVC()), {"svc__C": [0.1, 10]},
                          cv=SpeakerKFold(3))
    scores = cross_val_score(search, X, y, groups=spk, cv=LeaveOneGroupOut())
    assert len(scores) == 6 and scores.mean() > 0.8
    assert clone(search).get_params()["cv"].n_splits == 3


def test_with_audio_features_on_sound_tracks():
    pytest.importorskip("librosa")
    from skfer.features import AudioFeatures

    t = np.arange(8000) / 16000
    tracks = [(0.1 + 0.05 * k) * np.sin(2 * np.pi * f * t).astype(np.float32)
              for f in (200, 300) for k in range(3)]
    X = ClipSet([np.zeros((1, 4, 4))] * 6, audio=tracks, sample_rate=[16000] * 6,
                speaker=["a"] * 3 + ["b"] * 3)
    norm = SpeakerNormalizer(AudioFeatures(pooling=["mean", "std"])).fit(X)
    out = norm.transform(X)
    assert out.shape == (6, 146) and np.isfinite(out).all()
    assert norm.get_feature_names_out()[0] == "mean_mfcc_0"
    np.testing.assert_allclose(out[:3].mean(0), 0, atol=1e-9)
    seqs = SpeakerNormalizer(AudioFeatures()).fit_transform(X)
    assert isinstance(seqs, ClipSet) and seqs.get("speaker") == ["a"] * 3 + ["b"] * 3


class _CountingFeatures(TransformerMixin, BaseEstimator):
    """Pooled 'features' of waveforms that count the clips they compute."""

    calls: list = []

    def __init__(self, scale=1.0):
        self.scale = scale

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        _CountingFeatures.calls.append(len(X))
        return np.array([[np.mean(x) * self.scale, np.std(x)] for x in X])


def test_cached_features_compute_each_clip_once_across_clones():
    import pickle

    from skfer.features._feature_cache import _CachedFeatures

    _CountingFeatures.calls.clear()
    rng = np.random.RandomState(0)
    waves = [rng.normal(k, 1, 50) for k in range(8)]
    spk = [f"s{k % 4}" for k in range(8)]
    X = ClipSet(waves, speaker=spk)
    cached = _CachedFeatures(_CountingFeatures())
    first = cached.fit_transform(X)
    np.testing.assert_array_equal(first, _CountingFeatures().transform(waves))
    _CountingFeatures.calls.clear()
    for est in (clone(cached), clone(clone(cached))):  # clones share the store
        np.testing.assert_array_equal(est.fit(X[[3, 1]]).transform(X[[3, 1]]), first[[3, 1]])
    assert _CountingFeatures.calls == []
    # a clip never seen, or other parameters, are computed
    other = clone(cached).set_params(features__scale=2.0).fit(X)
    assert other.transform(X)[2, 0] == 2 * first[2, 0] and _CountingFeatures.calls == [8]
    new = ClipSet([waves[0] + 1, waves[0]], speaker=["s9", "s9"])
    np.testing.assert_array_equal(clone(cached).fit(new).transform(new)[1], first[0])
    assert _CountingFeatures.calls == [8, 1]
    # a saved model carries no cached features
    assert "_store" not in pickle.loads(pickle.dumps(cached)).__dict__
    # inside a speaker-normalised search, as the named audio models use it
    search = GridSearchCV(make_pipeline(SpeakerNormalizer(cached), SVC()), {"svc__C": [1, 10]},
                          cv=SpeakerKFold(2))
    _CountingFeatures.calls.clear()
    search.fit(X, ["a"] * 4 + ["b"] * 4)  # each speaker says both
    assert _CountingFeatures.calls == []
