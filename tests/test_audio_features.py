import numpy as np
import pytest
from scipy.fft import dct

from skfer import ClipSet
from skfer.features.audio import AudioFeatures, audio_feature_names, audio_frame_features

pytest.importorskip("librosa")  # the optional ``audio`` extra

SR = 16000


def _tone(freqs=(440.0, 1250.0, 3100.0), amps=(0.5, 0.3, 0.2), seconds=1.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return sum(a * np.sin(2 * np.pi * f * t) for f, a in zip(freqs, amps)).astype(np.float32)


def _hand_mfcc(y, sr=SR, n_mfcc=13, n_mels=26, win=400, hop=160, n_fft=512):
    """MFCC from first principles: centred Hann frames, power FFT, HTK mel, dB, DCT-II."""
    padded = np.pad(y.astype(np.float64), n_fft // 2)
    window = np.zeros(n_fft)
    start = (n_fft - win) // 2
    window[start : start + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    n_frames = 1 + len(y) // hop
    frames = np.stack([padded[t * hop : t * hop + n_fft] for t in range(n_frames)])
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2

    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    edges = 700.0 * (10 ** (np.linspace(0, mel(sr / 2), n_mels + 2) / 2595.0) - 1.0)
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    bank = np.stack([
        np.maximum(0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
        for lo, mid, hi in zip(edges[:-2], edges[1:-1], edges[2:])
    ])
    db = 10 * np.log10(np.maximum(power @ bank.T, 1e-10))
    return dct(db, type=2, norm="ortho", axis=1)[:, :n_mfcc]


# ----------------------------------------------------------------------------- MFCC
def test_mfcc_of_a_tone_matches_a_hand_computation():
    y = _tone()
    ours = audio_frame_features(y, SR, n_mfcc=13, n_mels=26)
    assert ours.shape == (101, 3 * 13 + 7)
    np.testing.assert_allclose(ours[:, :13], _hand_mfcc(y), rtol=1e-3, atol=1e-2)


def test_mfcc_agrees_with_python_speech_features_on_a_tone():
    psf = pytest.importorskip("python_speech_features")
    y = _tone()
    ours = audio_frame_features(y, SR, n_mfcc=13, n_mels=26)[:, :13]
    ref = psf.mfcc(
        y, SR, winlen=0.025, winstep=0.01, numcep=13, nfilt=26, nfft=512, preemph=0,
        ceplifter=0, appendEnergy=False, winfunc=lambda n: np.hanning(n + 1)[:-1],
    )
    # Steady tone: average the frames away from the edges (the two frame grids differ by
    # a fraction of a hop). python_speech_features uses natural logs of power / NFFT; skfer
    # decibels of power: same cepstrum up to 10 / ln 10, and c0 up to a constant offset.
    o, r = ours[20:80].mean(0)[1:], ref[20:80].mean(0)[1:] * 10 / np.log(10)
    # Remaining gap: python_speech_features snaps the mel filters' edges to FFT bins.
    assert np.abs(o - r).max() < 0.1 * np.abs(r).max()
    assert np.corrcoef(o, r)[0, 1] > 0.99


def test_deltas_of_a_rising_sound_are_its_slope_by_hand():
    # White noise (power in every mel band) with amplitude exp(a t): every band's power rises
    # by 20 a log10(e) dB per second.
    a = 3.0
    t = np.arange(2 * SR) / SR
    noise = np.random.RandomState(0).normal(0, 0.01, len(t))
    y = (noise * np.exp(a * t)).astype(np.float32)
    feats = audio_frame_features(y, SR, n_mfcc=13, n_mels=40)
    # c0 = sqrt(n_mels) * mean band dB (orthonormal DCT): its slope per 10 ms frame
    slope = np.sqrt(40) * 20 * a * np.log10(np.e) * 0.01
    interior = slice(20, 180)
    assert feats[interior, 13].mean() == pytest.approx(slope, rel=0.03)  # delta of c0
    assert abs(feats[interior, 26].mean()) < 0.03 * slope  # second delta of c0
    # 1000 Hz repeats every 16 samples, so every 160-sample hop sees the same frame.
    steady = audio_frame_features(_tone((1000.0,), (0.8,)), SR, n_mfcc=13)[10:-10, 13:39]
    np.testing.assert_allclose(steady, 0.0, atol=1e-3)  # a steady tone: no change


def test_spectral_descriptors_of_a_pure_tone_by_hand():
    # 1000 Hz falls on FFT bin 32 (16000 / 512 = 31.25 Hz per bin)
    y = _tone(freqs=(1000.0,), amps=(0.8,))
    names = audio_feature_names(13)
    f = dict(zip(names, audio_frame_features(y, SR, n_mfcc=13)[10:-10].T))
    # The magnitude spectrum of frame 50 by hand (centred 400-sample Hann window in 512).
    frame = y[50 * 160 - 256 : 50 * 160 + 256].astype(np.float64)
    window = np.zeros(512)
    window[56:456] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    mag = np.abs(np.fft.rfft(frame * window))
    freqs = np.arange(257) * SR / 512
    centroid = (freqs * mag).sum() / mag.sum()
    bandwidth = np.sqrt((mag * (freqs - centroid) ** 2).sum() / mag.sum())
    rolloff = freqs[np.argmax(np.cumsum(mag) >= 0.85 * mag.sum())]
    assert centroid == pytest.approx(1000.0, rel=1e-3)  # symmetric leakage around the tone
    np.testing.assert_allclose(f["centroid"], centroid, rtol=1e-4)
    np.testing.assert_allclose(f["bandwidth"], bandwidth, rtol=1e-3)
    np.testing.assert_allclose(f["rolloff"], rolloff)
    np.testing.assert_allclose(f["zcr"], 2 * 1000 / SR, atol=1 / 400)  # one crossing per frame
    np.testing.assert_allclose(f["rms"], 0.8 / np.sqrt(2), rtol=1e-3)
    np.testing.assert_allclose(f["flux"], 0.0, atol=1e-3)  # a steady spectrum
    assert (f["flatness"] < 1e-3).all()
    # silence then the tone: the flux jumps where the tone starts
    steps = audio_frame_features(
        np.concatenate([np.zeros(SR // 2, np.float32), y]), SR, n_mfcc=13
    )
    flux = steps[:, names.index("flux")]
    assert flux.argmax() in (49, 50, 51) and flux.max() > 0.5


# ----------------------------------------------------------------------- transformer
def test_sample_clips_sequences_pooled_and_files():
    from skfer.datasets import load_sample_videos

    bunch = load_sample_videos(color=False)
    X = ClipSet.from_bunch(bunch)
    est = AudioFeatures().fit(X)
    out = est.transform(X)
    assert isinstance(out, ClipSet) and len(out) == 6
    assert set(out.companions) == {"audio", "sample_rate", "fps", "source"}
    for seq, audio in zip(out.data, bunch.audio):
        assert seq.shape == (1 + len(audio) // 160, 73) and np.isfinite(seq).all()
    assert est.feature_names_[:2] == ["mfcc_0", "mfcc_1"] and est.n_features_out_ == 73
    for a, b in zip(out.data, est.transform(X).data):  # deterministic
        np.testing.assert_array_equal(a, b)
    pooled = AudioFeatures(pooling=["mean", "std"]).fit(X)
    P = pooled.transform(X)
    assert P.shape == (6, 146) and pooled.feature_names_[73] == "std_mfcc_0"
    np.testing.assert_allclose(P[2, :73], out.data[2].mean(0))
    np.testing.assert_allclose(P[2, 73:], out.data[2].std(0))
    from_files = est.transform(list(bunch.filenames[:2]))  # decoded with skfer.io
    np.testing.assert_allclose(from_files[1], out.data[1], atol=1e-4)


def test_tracks_at_other_rates_are_resampled():
    y = _tone(seconds=0.5)
    import librosa

    y44 = librosa.resample(y, orig_sr=SR, target_sr=44100)
    X = ClipSet([np.zeros((2, 4, 4))] * 2, audio=[y, y44], sample_rate=[SR, 44100])
    a, b = AudioFeatures(spectral=False).fit_transform(X).data
    assert abs(len(a) - len(b)) <= 1
    n = min(len(a), len(b))
    np.testing.assert_allclose(b[5 : n - 5, :13], a[5 : n - 5, :13], atol=1.0)
    # plain waveforms are taken to be at ``sample_rate``
    assert AudioFeatures(sample_rate=8000).fit_transform([y])[0].shape[0] == 1 + len(y) // 80


def test_missing_short_silent_and_bad_tracks(tmp_path):
    est = AudioFeatures().fit(None)
    clips = [np.zeros((2, 4, 4))] * 3
    with pytest.raises(ValueError, match="without an 'audio' companion"):
        est.transform(ClipSet(clips))
    X = ClipSet(clips, audio=[_tone(), None, _tone()], sample_rate=[SR] * 3,
                source=["a.flv", "b.flv", "c.flv"])
    with pytest.raises(ValueError, match=r"clip 1 \(b.flv\): no audio track"):
        est.transform(X)
    with pytest.raises(ValueError, match=r"clip 1: the audio track has 100 samples .* 25 ms"):
        est.transform([_tone(), np.ones(100, np.float32)])
    with pytest.raises(ValueError, match=r"clip 0: the audio track is empty"):
        est.transform([np.zeros(0)])
    nan = _tone()
    nan[7] = np.nan
    with pytest.raises(ValueError, match=r"clip 1: NaN or infinite audio sample at index 7"):
        est.transform([_tone(), nan])
    with pytest.raises(ValueError, match="empty"):
        est.transform([])
    with pytest.warns(UserWarning, match=r"clips \[1\] have a silent sound track"):
        out = est.transform([_tone(), np.zeros(SR // 2, np.float32)])
    assert np.isfinite(out[1]).all()

    import av

    path = tmp_path / "mute.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(ValueError, match=r"clip 0: .*mute.mp4 has no audio track"):
        est.transform([str(path)])


def test_parameter_relations():
    with pytest.raises(ValueError, match="delta_width must be odd"):
        AudioFeatures(delta_width=4).fit(None)
    with pytest.raises(ValueError, match="n_mfcc=30 cannot exceed n_mels=20"):
        AudioFeatures(n_mfcc=30, n_mels=20).fit(None)
    with pytest.raises(ValueError, match="pooling must be None or distinct"):
        AudioFeatures(pooling=["mean", "median"]).fit(None)
