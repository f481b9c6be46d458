"""Tests of skfer.preprocessing.temporal: EmoNets aggregation, resampling, frame pooling."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfer import ClipSet
from skfer.preprocessing.temporal import (
    FrameAggregator,
    FramePooling,
    TemporalResampler,
    aggregation_indices,
    resample_positions,
)
from skfer.utils.frame_policy import SkippedFramesWarning


@parametrize_with_checks(
    [
        FrameAggregator(n_frames=3),
        TemporalResampler(n_frames=3),
        TemporalResampler(n_frames=2, kind="nearest", flatten=True),
        FramePooling(),
        FramePooling(method="mean"),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ------------------------------------------------------------------- aggregation rules


def test_aggregation_indices_contraction_groups():
    # floor(k T / n) edges: T=10, n=4 -> 0, 2, 5, 7, 10.
    groups = aggregation_indices(10, 4)
    assert [g.tolist() for g in groups] == [[0, 1], [2, 3, 4], [5, 6], [7, 8, 9]]
    # Every frame is used exactly once.
    assert np.array_equal(np.concatenate(groups), np.arange(10))


def test_aggregation_indices_expansion_and_identity():
    assert [g.tolist() for g in aggregation_indices(3, 7)] == [
        [0], [0], [0], [1], [1], [2], [2]
    ]
    assert [g.tolist() for g in aggregation_indices(4, 4)] == [[0], [1], [2], [3]]


def test_frame_aggregator_contraction_is_group_means():
    seq = np.arange(12.0).reshape(6, 2)  # frame t = [2t, 2t + 1]
    out = FrameAggregator(n_frames=3).fit_transform([seq])
    # Groups {0,1}, {2,3}, {4,5}: means [1, 2], [5, 6], [9, 10].
    np.testing.assert_array_equal(out, [[1, 2, 5, 6, 9, 10]])
    # Uneven groups: T=5, n=2 -> {0,1} and {2,3,4}.
    seq5 = np.array([[1.0], [3.0], [10.0], [20.0], [30.0]])
    np.testing.assert_allclose(FrameAggregator(n_frames=2).fit_transform([seq5]), [[2.0, 20.0]])


def test_frame_aggregator_expansion_repeats_frames():
    seq = np.array([[0.1, 0.9], [0.7, 0.3]])
    out = FrameAggregator(n_frames=5).fit_transform([seq])
    # Frame k <- floor(2 k / 5): 0, 0, 0, 1, 1.
    expected = np.concatenate([seq[0], seq[0], seq[0], seq[1], seq[1]])
    np.testing.assert_array_equal(out[0], expected)


def test_frame_aggregator_emonets_shape_and_probabilities():
    rng = np.random.RandomState(0)
    probs = []
    for t in (3, 10, 37):
        p = rng.rand(t, 7)
        probs.append(p / p.sum(axis=1, keepdims=True))
    out = FrameAggregator().fit_transform(probs)
    assert out.shape == (3, 70)  # 10 frames x 7 classes, as in EmoNets
    # Averages and repetitions of probability vectors are probability vectors.
    np.testing.assert_allclose(out.reshape(3, 10, 7).sum(axis=2), 1.0)


def test_frame_aggregator_leaves_out_nan_rows_and_masked_frames():
    seq = np.array([[1.0, 1.0], [np.nan, np.nan], [3.0, 5.0], [7.0, 9.0]])
    agg = FrameAggregator(n_frames=1).fit([seq])
    # The messages are skfer.utils.frame_policy's SkippedFramesWarning (issue 16).
    with pytest.warns(SkippedFramesWarning, match=r"clip 0: 1 frames \[1\]: no_landmarks"):
        out = agg.transform([seq])
    np.testing.assert_allclose(out, [[11 / 3, 5.0]])
    clean = np.array([[1.0], [2.0], [6.0]])
    with pytest.warns(UserWarning, match=r"1 frames were left out .*: clip 1: 1 frames \[1\]"):
        mask = [np.ones(3, bool), np.array([True, False, True])]
        out = agg.fit([clean]).transform([clean, clean], mask=mask)
    np.testing.assert_allclose(out, [[3.0], [3.5]])


def test_frame_aggregator_errors_name_the_sequence():
    agg = FrameAggregator(n_frames=2).fit([np.ones((3, 2))])
    good = np.ones((3, 2))
    with pytest.raises(ValueError, match="mask has 1 entries for 2 sequences"):
        agg.transform([good, good], mask=[np.ones(3, bool)])
    with pytest.raises(ValueError, match=r"sequence 1: mask has shape \(2,\), expected \(3,\)"):
        agg.transform([good, good], mask=[np.ones(3, bool), np.ones(2, bool)])
    partial = good.copy()
    partial[2, 0] = np.nan
    with pytest.raises(ValueError, match="sequence 1: NaN in only some values of frame 2"):
        agg.transform([good, partial])
    with pytest.raises(ValueError, match="sequence 0: no frame to aggregate"):
        agg.transform([np.full((3, 2), np.nan)])
    with pytest.raises(ValueError, match="sequence 1: the sequence has 0 frames"):
        agg.transform([good, np.ones((0, 2))])
    with pytest.raises(ValueError, match="X is empty"):
        agg.transform([])
    with pytest.raises(ValueError, match="sequence 0: expected per-frame vectors"):
        agg.transform([np.ones((2, 2, 2))])
    with pytest.raises(ValueError, match="X has 3 features, but FrameAggregator is expecting 2"):
        agg.transform([np.ones((3, 3))])
    with pytest.raises(
        ValueError, match=r"'n_frames' parameter of FrameAggregator must be an int in the range"
    ):
        FrameAggregator(n_frames=0).fit([good])


# ------------------------------------------------------------------------- resampling


def test_resample_positions_endpoints_and_spacing():
    np.testing.assert_allclose(resample_positions(5, 3), [0.0, 2.0, 4.0])
    np.testing.assert_allclose(resample_positions(4, 7), [0, 0.5, 1, 1.5, 2, 2.5, 3])
    np.testing.assert_allclose(resample_positions(5, 1), [2.0])


def test_temporal_resampler_linear_midpoints_and_endpoints():
    seq = np.array([[0.0, 10.0], [2.0, 30.0], [8.0, 20.0]])
    out = TemporalResampler(n_frames=5, flatten=False).fit_transform([seq])[0]
    np.testing.assert_allclose(out[0], seq[0])
    np.testing.assert_allclose(out[-1], seq[-1])
    np.testing.assert_allclose(out[1], (seq[0] + seq[1]) / 2)  # t = 0.5
    np.testing.assert_allclose(out[2], seq[1])  # t = 1
    np.testing.assert_allclose(out[3], (seq[1] + seq[2]) / 2)  # t = 1.5
    # Downsampling 5 -> 3 keeps frames 0, 2, 4; flatten is frame-major.
    five = np.arange(10.0).reshape(5, 2)
    flat = TemporalResampler(n_frames=3).fit_transform([five])
    np.testing.assert_allclose(flat, [[0, 1, 4, 5, 8, 9]])
    # 4 -> 3 frames: positions 0, 1.5, 3.
    four = np.array([[0.0], [1.0], [5.0], [9.0]])
    np.testing.assert_allclose(TemporalResampler(n_frames=3).fit_transform([four]), [[0, 3, 9]])


def test_temporal_resampler_nearest_and_single_frame():
    four = np.array([[0.0], [1.0], [5.0], [9.0]])
    # Positions 0, 1.5, 3 -> frames 0, floor(2.0) = 2, 3.
    out = TemporalResampler(n_frames=3, kind="nearest").fit_transform([four])
    np.testing.assert_allclose(out, [[0, 5, 9]])
    one = np.array([[4.0, 2.0]])
    np.testing.assert_allclose(TemporalResampler(n_frames=3).fit_transform([one]), [[4, 2] * 3])


def test_temporal_resampler_clips():
    clips = [np.stack([np.full((4, 5), 0.0), np.full((4, 5), 100.0)]).astype(np.uint8),
             np.zeros((7, 6, 6, 3), np.uint8)]
    rs = TemporalResampler(n_frames=5).fit(clips)
    assert rs.input_kind_ == "clips"
    out = rs.transform(clips)
    assert isinstance(out, list) and out[0].dtype == np.float32
    assert out[0].shape == (5, 4, 5) and out[1].shape == (5, 6, 6, 3)
    np.testing.assert_allclose(out[0][:, 0, 0], [0, 25, 50, 75, 100])
    arr = np.zeros((3, 4, 8, 8), np.uint8)
    assert TemporalResampler(n_frames=6).fit_transform(arr).shape == (3, 6, 8, 8)
    with pytest.raises(ValueError, match="fitted on clips but X holds sequences"):
        rs.transform([np.ones((3, 2))])
    with pytest.raises(ValueError, match="clip 1: the clip has zero frames"):
        rs.transform([clips[0], np.zeros((0, 4, 5))])
    nan_clip = np.zeros((2, 4, 5))
    nan_clip[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="clip 0: NaN or infinite pixel value at frame 1"):
        rs.transform([nan_clip])


def test_temporal_resampler_sequence_errors():
    rs = TemporalResampler(n_frames=3).fit([np.ones((4, 2))])
    bad = np.ones((4, 2))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="sequence 1: NaN or infinite value at frame 3"):
        rs.transform([np.ones((2, 2)), bad])
    with pytest.raises(
        ValueError, match=r"'kind' parameter of TemporalResampler must be a str among"
    ):
        TemporalResampler(kind="cubic").fit([bad])


# ---------------------------------------------------------------------------- pooling


def test_frame_pooling_methods():
    seqs = [np.array([[0.0, 1.0], [2.0, 5.0], [4.0, 3.0], [6.0, -1.0]]), np.array([[9.0, 8.0]])]
    expected = {
        "last": [[6, -1], [9, 8]],
        "first": [[0, 1], [9, 8]],
        "middle": [[2, 5], [9, 8]],  # frame (T - 1) // 2 = 1
        "mean": [[3, 2], [9, 8]],
        "max": [[6, 5], [9, 8]],
        "delta": [[6, -2], [0, 0]],  # last minus first; one frame: no change
    }
    for method, want in expected.items():
        np.testing.assert_allclose(FramePooling(method=method).fit_transform(seqs), want)
    with pytest.raises(ValueError, match=r"'method' parameter of FramePooling must be a str among"):
        FramePooling(method="apex").fit(seqs)


def test_aggregator_in_a_pipeline():
    rng = np.random.RandomState(0)
    X = [rng.rand(rng.randint(2, 15), 3) + (i % 2) for i in range(20)]
    y = np.array([i % 2 for i in range(20)])
    pipe = make_pipeline(FrameAggregator(n_frames=4), SVC()).fit(X, y)
    assert (pipe.predict(X) == y).mean() == 1.0


def test_mask_routed_through_a_pipeline():
    import sklearn

    seqs = [np.array([[1.0], [5.0], [3.0]]), np.array([[2.0], [4.0]])]
    mask = [np.array([True, False, True]), np.array([True, True])]
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            FrameAggregator(n_frames=1).set_transform_request(mask=True),
            FramePooling(method="first"),
        )
        with pytest.warns(UserWarning, match=r"clip 0: 1 frames \[1\]: excluded"):
            out = pipe.fit(seqs).transform(seqs, mask=mask)
    np.testing.assert_allclose(out, [[2.0], [3.0]])  # mean of frames 0 and 2; of both


# ------------------------------------------------------------ frame statuses (ClipSet)


def test_frame_aggregator_leaves_out_frames_by_status():
    seq = np.arange(10.0).reshape(5, 2)
    status = np.array(["detected", "missing", "tracked", "filled", "missing"])
    X = ClipSet([seq, seq], status=[status, np.array(["detected"] * 5)])
    agg = FrameAggregator(n_frames=1).fit(X)
    with pytest.warns(UserWarning, match=r"clip 0: 2 frames \[1, 4\]: excluded .*'missing'"):
        out, left_out = agg.transform_with_info(X)
    np.testing.assert_allclose(out[0], seq[[0, 2, 3]].mean(axis=0))
    np.testing.assert_allclose(out[1], seq.mean(axis=0))
    assert [idx.tolist() for idx in left_out] == [[1, 4], []]
    with pytest.warns(UserWarning):
        np.testing.assert_array_equal(agg.transform(X), out)  # transform = the same, bare
    # skip_statuses=None: every frame counts; more statuses can be skipped.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        every = FrameAggregator(n_frames=1, skip_statuses=None).fit(X).transform(X)
    np.testing.assert_allclose(every[0], seq.mean(axis=0))
    with pytest.warns(UserWarning):
        strict = FrameAggregator(n_frames=1, skip_statuses=("missing", "filled")).fit(X)
        np.testing.assert_allclose(strict.transform(X)[0], seq[[0, 2]].mean(axis=0))
    with pytest.raises(ValueError, match=r"unknown frame statuses \['lost'\]"):
        FrameAggregator(skip_statuses=("lost",)).fit(X)
    # The mask still applies on top of the statuses.
    with pytest.warns(UserWarning):
        masked = agg.transform(X, mask=[np.array([True, True, False, True, True])] * 2)
    np.testing.assert_allclose(masked[0], seq[[0, 3]].mean(axis=0))


def test_frame_aggregator_keeps_a_clip_with_no_face_whole():
    # FaceTubeExtractor(on_missing="warn"/"ignore") keeps clips without any face (centre
    # crops, every frame "missing"): the descriptor then uses all their frames, with a warning.
    seq = np.arange(6.0).reshape(3, 2)
    X = ClipSet([seq], status=[np.array(["missing"] * 3)])
    with pytest.warns(UserWarning, match="no frame with a face .* sequence 0"):
        out, left_out = FrameAggregator(n_frames=1).fit(X).transform_with_info(X)
    np.testing.assert_allclose(out[0], seq.mean(axis=0))
    assert left_out[0].size == 0


def test_temporal_resampler_resamples_per_frame_companions():
    clips = [np.arange(3, dtype=float)[:, None, None] * np.ones((3, 4, 4))]
    boxes = [np.array([[0.0, 0, 4, 4], [2, 0, 4, 4], [4, 0, 4, 4]])]
    status = [np.array(["detected", "missing", "tracked"])]
    X = ClipSet(clips, boxes=boxes, status=status, fps=[25.0])
    out = TemporalResampler(n_frames=5).fit(X).transform(X)
    assert isinstance(out, ClipSet) and out[0].shape == (5, 4, 4)
    np.testing.assert_allclose(out.get("boxes")[0][:, 0], [0, 1, 2, 3, 4])
    # Statuses from the nearest frame (positions 0, 0.5, 1, 1.5, 2; halves go later).
    assert out.get("status")[0].tolist() == ["detected", "missing", "missing", "tracked", "tracked"]
    assert out.get("fps") == [25.0]


def test_frame_pooling_pools_frames_with_a_face():
    seq = np.arange(8.0).reshape(4, 2)
    X = ClipSet([seq], status=[np.array(["detected", "tracked", "filled", "missing"])])
    np.testing.assert_allclose(FramePooling().fit(X).transform(X), [seq[2]])  # last with a face
    np.testing.assert_allclose(FramePooling(skip_statuses=None).fit(X).transform(X), [seq[3]])
    np.testing.assert_allclose(
        FramePooling(method="mean").fit(X).transform(X), [seq[:3].mean(axis=0)]
    )
    lost = ClipSet([seq], status=[np.array(["missing"] * 4)])
    with pytest.warns(UserWarning, match="no frame with a face"):
        np.testing.assert_allclose(FramePooling().fit(lost).transform(lost), [seq[3]])
    with pytest.raises(ValueError, match="unknown frame statuses"):
        FramePooling(skip_statuses=("gone",)).fit(X)
