"""skfer.prediction: per-frame probabilities, streaming, tables, bad input, Dask."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skfer import ClipSet
from skfer.datasets import sample_videos_path
from skfer.features import HOGFeatures
from skfer.io._prefetch import prefetch_windows
from skfer.prediction import (
    FrameModel,
    find_media,
    predict_files,
    predict_frames,
)
from skfer.preprocessing import FramePooling

ROOT = Path(__file__).resolve().parents[1]
CLIPS = sorted(sample_videos_path().glob("*.flv"))
HAP = sample_videos_path() / "1001_DFA_HAP_XX.flv"  # 56 frames


@pytest.fixture(scope="module")
def data(synthetic_data):
    return synthetic_data


@pytest.fixture(scope="module")
def model(hog_svm_detect):
    return hog_svm_detect


@pytest.fixture(scope="module")
def tubes(model, data):
    return model[0].transform(data.data[:3])


def test_pooled_frame_proba_is_the_classifier_on_each_frame(model, tubes):
    proba = predict_frames(model, tubes)
    feats = model["hog"].transform(tubes)
    for i, p in enumerate(proba):
        assert p.shape == (len(tubes[i]), 6)
        np.testing.assert_allclose(p, model["svm"].predict_proba(feats[i]))
        np.testing.assert_allclose(p.sum(axis=1), 1)


def test_clip_prediction_is_the_models(model, tubes):
    head = FrameModel(model)
    expected = model[1:].predict(tubes)
    for i in range(len(tubes)):
        vec = head.vectors(tubes[i : i + 1])[0]
        label, proba = head.clip_predict(vec, tubes.get("status")[i])
        assert label == expected[i]
        np.testing.assert_allclose(proba, model[1:].predict_proba(tubes[i : i + 1])[0])


def test_missing_frames_are_nan(model, tubes):
    status = np.array(tubes.get("status")[0], dtype=object)
    status[:3] = "missing"
    X = ClipSet([tubes[0]], status=[status])
    p = predict_frames(model, X)[0]
    assert np.isnan(p[:3]).all() and not np.isnan(p[3:]).any()


def test_frame_classifier_uses_its_per_frame_outputs(data, tubes):
    from skfer.neural import ConvNet

    net = ConvNet(crop_size=(40, 40), max_epochs=2, module__n_filters=(4, 4, 8),
                  random_state=0, verbose=0, validation_fraction=None, patience=None)
    net.fit(tubes, data.target[:3])
    pipe = Pipeline([("convnet", net)])
    proba = predict_frames(pipe, tubes)
    np.testing.assert_allclose(np.concatenate(proba), np.concatenate(net.transform(tubes)),
                               rtol=1e-5)
    head = FrameModel(pipe)
    _, clip = head.clip_predict(proba[0], tubes.get("status")[0])
    np.testing.assert_allclose(clip, net.predict_proba(tubes[:1])[0], rtol=1e-5)


def test_models_without_frame_outputs_are_refused(data):
    with pytest.raises(TypeError, match="no frame-pooling step"):
        FrameModel(Pipeline([("svm", SVC().fit([[0], [1]], [0, 1]))]))
    pipe = Pipeline([("hog", HOGFeatures()), ("pool", FramePooling(method="delta")),
                     ("svm", SVC())])
    with pytest.raises(TypeError, match="delta"):
        FrameModel(pipe)


def test_predict_files_table_one_row_per_frame(model, tmp_path):
    table, results = predict_files(model, [HAP], output_dir=tmp_path, as_frame=False,
                                   details=True)
    assert len(table) == 56 and results[0].n_frames == 56
    assert sum(results[0].status_counts().values()) == 56
    assert list(table.dtype.names[:9]) == ["file", "frame", "face", "time_s", "x", "y", "w",
                                           "h", "status"]
    assert (table["face"] == 0).all()
    # The frame's own timestamp: FLV stores whole milliseconds (0.033 s, not 1 / 29.97).
    np.testing.assert_allclose(table["time_s"][1], 1 / 29.97, atol=1e-3)
    assert set(table["prediction"]) == {results[0].label}
    assert {Path(v).name for v in results[0].outputs.values()} == {
        "1001_DFA_HAP_XX.csv", "1001_DFA_HAP_XX.json", "1001_DFA_HAP_XX_timeline.png"}


def test_one_window_gives_the_extractors_tube(model):
    """A video no longer than a window: the boxes of FaceTubeExtractor.transform_files."""
    _, (res,) = predict_files(model, [HAP], as_frame=False, details=True)
    tubes = model[0].transform_files([HAP])
    np.testing.assert_array_equal(res.status, tubes.get("status")[0])
    np.testing.assert_allclose(res.boxes, tubes.get("source_boxes")[0])


def test_windows_keep_every_frame_and_status(model):
    _, (whole,) = predict_files(model, [HAP], as_frame=False, details=True)
    _, (small,) = predict_files(model, [HAP], chunk_frames=20, as_frame=False, details=True)
    assert small.n_frames == whole.n_frames == 56
    assert (small.status != "missing").all()
    np.testing.assert_allclose(small.boxes, whole.boxes, atol=25)  # restarts per window


def test_windows_hold_at_most_two_windows():
    produced, consumed, ahead = [0], [0], []

    def frames():
        for _ in range(100):
            produced[0] += 1
            yield np.zeros(1)

    for window in prefetch_windows(frames(), 10):
        consumed[0] += len(window)
        ahead.append(produced[0] - consumed[0])
    assert consumed[0] == 100 and max(ahead) <= 10


def test_images_alpha_and_16_bit(model, tmp_path):
    frame = cv2.imread(str(ROOT / "skfer/datasets/data/faces/astronaut_face.png"))
    # Stills are read by skfer.io.read_image's rules: alpha composited onto black (an opaque
    # alpha here, so that the face stays visible), 16 bits scaled to 8.
    cv2.imwrite(str(tmp_path / "rgba.png"), np.dstack([frame, np.full(frame.shape[:2], 255,
                                                                       np.uint8)]))
    cv2.imwrite(str(tmp_path / "deep.png"), frame.astype(np.uint16) * 257)
    table, res = predict_files(model, [tmp_path], as_frame=False, on_error="raise", details=True)
    notes = {Path(r.path).name: r.notes for r in res}
    assert "alpha channel composited onto black" in notes["rgba.png"][0]
    assert "16-bit" in notes["deep.png"][0]
    assert len(table) == 2 and (table["status"] == "detected").all()


def test_bad_files_are_reported_and_the_others_done(model, tmp_path):
    shutil.copy(HAP, tmp_path / "good.flv")
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    (tmp_path / "empty").mkdir()
    black = np.zeros((1, 60, 80), np.uint8)
    cv2.imwrite(str(tmp_path / "black.png"), black[0])
    paths = [tmp_path / "good.flv", tmp_path / "broken.mp4", tmp_path / "black.png",
             tmp_path / "empty", tmp_path / "absent.mp4"]
    with pytest.warns(UserWarning, match="4 of 5 files failed") as rec:
        table, res = predict_files(model, paths, as_frame=False, details=True)
    message = str(rec[0].message)
    assert "broken.mp4: cannot open video" in message
    assert "black.png: no face was found in any of its 1 frames" in message
    assert "empty: folder holds no video or image file" in message
    assert "absent.mp4: no such file or folder" in message
    assert len(table) == 56 and sum(r.ok for r in res) == 1
    with pytest.raises(ValueError, match="4 of 5 files failed"):
        predict_files(model, paths, on_error="raise")


def test_unwritable_output_folder(model, tmp_path, monkeypatch):
    target = tmp_path / "file"
    target.write_text("")
    with pytest.raises(NotADirectoryError, match="output folder .*out is not a folder "
                                                 r"\(its parent .*file is a file\)"):
        predict_files(model, [HAP], output_dir=target / "out")
    # Root may write anywhere; os.access is what the check asks.
    monkeypatch.setattr("skfer.utils._atomic.os.access", lambda *a, **k: False)
    with pytest.raises(PermissionError, match="output folder .* is not writable"):
        predict_files(model, [HAP], output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_find_media_recursive(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.mp4", "a/b/y.PNG", "a/b/notes.txt"):
        (tmp_path / name).write_bytes(b"")
    files, problems = find_media([tmp_path])
    assert [f.name for f in files] == ["y.PNG", "x.mp4"] and not problems


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas not installed")
def test_pandas_table(model):
    table = predict_files(model, [HAP])
    assert len(table) == 56 and "p_happiness" in table.columns


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                    reason="dask.distributed not installed")
def test_dask_example_on_a_local_cluster(model):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import dask_predict
    finally:
        sys.path.pop(0)
    result = dask_predict.run(model, processes=False)
    assert result["dask"] and len(result["table"]) == 379  # the six clips' frames
    sequential = predict_files(model, CLIPS, as_frame=False)
    np.testing.assert_allclose(result["table"]["p_anger"], sequential["p_anger"])


# -- every face, and the smoothed track ---------------------------------------------------------


@pytest.fixture(scope="module")
def two_faces(data, tmp_path_factory):
    """Two synthetic people side by side: an MJPG video and its first frame as a PNG."""
    a, b = data.data[0], data.data[7]
    n = min(len(a), len(b))
    frames = np.concatenate([a[:n], b[:n]], axis=2)
    folder = tmp_path_factory.mktemp("two_faces")
    video = folder / "two.avi"
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    still = folder / "two.png"
    cv2.imwrite(str(still), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
    return video, still, n, w


def test_every_face_gives_a_track_per_person(model, two_faces):
    video, _, n, width = two_faces
    table, (res,) = predict_files(model, [video], faces="all", as_frame=False, details=True)
    assert res.n_frames == n and res.n_rows == 2 * n
    assert [p["face"] for p in res.people] == [0, 1]
    for person in res.people:
        mine = res.face == person["face"]
        assert mine.sum() == n and (res.status[mine] != "missing").all()
        # Each person's rows stay on their side of the frame.
        centres = res.boxes[mine, 0] + res.boxes[mine, 2] / 2
        assert (centres < width / 2).all() or (centres > width / 2).all()
        assert set(table["prediction"][table["face"] == person["face"]]) == {
            person["prediction"]}
    # The primary face only, by default: one row per frame.
    _, (one,) = predict_files(model, [video], as_frame=False, details=True)
    assert one.n_rows == n and (one.face == 0).all()


def test_every_face_of_a_still_gives_a_row_each(model, two_faces, tmp_path):
    _, still, _, _ = two_faces
    table, (res,) = predict_files(model, [still], faces="all", output_dir=tmp_path,
                                  as_frame=False, details=True)
    assert res.kind == "image" and res.n_frames == 1
    assert table["face"].tolist() == [0, 1] and (table["frame"] == 0).all()
    csv_rows = (tmp_path / "two.csv").read_text().splitlines()
    assert csv_rows[0].startswith("frame,face,time_s") and len(csv_rows) == 3


def test_smoothed_track_beside_the_raw_one(model):
    _, (raw,) = predict_files(model, [HAP], smooth_s=0, as_frame=False, details=True)
    np.testing.assert_array_equal(raw.smooth, raw.proba)
    _, (wide,) = predict_files(model, [HAP], smooth_s=1000, as_frame=False, details=True)
    np.testing.assert_array_equal(wide.proba, raw.proba)  # the raw track is kept as it was
    usable = np.isfinite(raw.proba).all(axis=1)
    np.testing.assert_allclose(wide.smooth[usable],
                               np.tile(raw.proba[usable].mean(axis=0), (usable.sum(), 1)))
    _, (short,) = predict_files(model, [HAP], smooth_s=0.5, as_frame=False, details=True)
    # Smoothing reduces how often the top class changes from frame to frame.
    flips = [np.count_nonzero(np.diff(np.argmax(p[usable], axis=1))) for p in
             (short.proba, short.smooth)]
    assert flips[1] <= flips[0]
    with pytest.raises(ValueError, match="smooth_s must be"):
        predict_files(model, [HAP], smooth_s=-1)


def test_a_model_file_path_is_refused_with_the_way_to_load_it(tmp_path):
    with pytest.raises(TypeError, match="skfer.load_model"):
        predict_files(tmp_path / "m.joblib", [HAP])
