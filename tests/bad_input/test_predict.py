"""Bad inputs to skfer.prediction: frames not decoded, cut videos, frames without a face or
with a suspect one, empty files, interrupted outputs (issue 16)."""

from __future__ import annotations

import csv
import json
import types
import warnings
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from sklearn.base import clone

import skfer.evaluation
import skfer.prediction
from skfer.datasets import make_expressions
from skfer.evaluation import EvaluationReport
from skfer.io import iter_frames
from skfer.models import make_model
from skfer.prediction import FrameModel, plot_timeline, predict_files
from skfer.utils.frame_policy import SkippedFrames, SkippedFramesError, SkippedFramesWarning

FPS = 25


@pytest.fixture(scope="module")
def model():
    data = make_expressions(n_subjects=2, random_state=0)
    return make_model("hog-svm", faces="detect", probability=True).fit(data.data, data.target)


@pytest.fixture(scope="module")
def clip():
    """A synthetic face clip, RGB (T, 120, 160, 3)."""
    return make_expressions(n_subjects=1, n_clips_per_expression=1, n_frames=12,
                            random_state=1).data[0]


def write_mjpg(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS,
                             (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(frame[..., ::-1])
    writer.release()
    return path


@pytest.fixture
def corrupt_video(tmp_path, clip):
    """The clip as an MJPG AVI whose frame 5 is zeroed (the decoder fails on it)."""
    good = write_mjpg(tmp_path / "good.avi", clip)
    with av.open(str(good)) as container:
        pos, size = [(p.pos, p.size) for p in container.demux(video=0) if p.size][5]
    data = bytearray(good.read_bytes())
    soi = data.index(b"\xff\xd8", pos)
    data[soi:soi + size - 10] = bytes(size - 10)
    bad = tmp_path / "in" / "bad.avi"
    bad.parent.mkdir()
    bad.write_bytes(bytes(data))
    return bad


def frames_in(folder):
    return sorted(p.name for p in Path(folder).rglob("*") if p.is_file())


class StatusEdit:
    """Wraps a face-tube extractor and overwrites frame statuses (a detector's bad day)."""

    faces = "primary"

    def __init__(self, extractor, edits):
        self.extractor, self.edits = extractor, edits

    def iter_windows(self, frames, chunk_frames=300):
        for window, tubes in self.extractor.iter_windows(frames, chunk_frames):
            yield window, self.edit(tubes)

    def edit(self, tubes):
        status = np.asarray(tubes.get("status")[0]).astype("U8")
        for index, value in self.edits.items():
            status[index] = value
        return tubes.replace(status=[status])


# -- frames the reader could not decode --------------------------------------------------------


def test_undecodable_frame_is_recorded_and_warned(model, corrupt_video, tmp_path):
    """MJPG video whose frame 5 cannot be decoded -> recorded policy: SkippedFramesWarning naming
    the file, record "undecodable" [5], a "missing" row 5 and the other frames with their own
    numbers and times.
    """
    with pytest.warns(SkippedFramesWarning, match=r"bad\.avi: 1 frames \[5\]: undecodable"):
        table, (res,) = predict_files(model, [corrupt_video], output_dir=tmp_path / "o",
                                                as_frame=False, details=True)
    assert res.ok and res.n_frames == 12
    assert res.frame.tolist() == list(range(12))
    np.testing.assert_allclose(res.time_s, np.arange(12) / FPS)
    (record,) = res.skipped
    assert (record.reason, record.indices.tolist()) == ("undecodable", [5])
    assert res.status[5] == "missing" and np.isnan(res.proba[5]).all()
    assert np.isnan(res.boxes[5]).all() and not np.isnan(np.delete(res.proba, 5, 0)).any()
    assert table["skipped"].tolist() == [""] * 5 + ["undecodable"] + [""] * 6
    report = json.loads((tmp_path / "o" / "bad.json").read_text())
    assert report["skipped"] == [{"reason": "undecodable", "count": 1, "indices": [5],
                                  "detail": record.detail}]
    assert report["frames"][5]["skipped"] == "undecodable"
    assert report["frames"][4]["skipped"] is None
    with open(tmp_path / "o" / "bad.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["skipped"] for r in rows][4:7] == ["", "undecodable", ""]


def test_undecodable_frame_raise_policy(model, corrupt_video, tmp_path):
    """Same video, on_missing="raise" -> clear error: SkippedFramesError naming the file and frame
    5, before any output is written.
    """
    with pytest.raises(SkippedFramesError, match=r"bad\.avi: 1 frames \[5\]: undecodable") as err:
        predict_files(model, [corrupt_video], output_dir=tmp_path / "o", on_missing="raise")
    assert [r.reason for r in err.value.records] == ["undecodable"]
    assert not (tmp_path / "o").exists()


def test_undecodable_frame_ignore_policy(model, corrupt_video):
    """Same video, on_missing="ignore" -> recorded policy: no warning, the record in
    FilePrediction.skipped.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedFramesWarning)
        _, (res,) = predict_files(model, [corrupt_video], on_missing="ignore",
                                            as_frame=False, details=True)
    assert [(r.reason, r.indices.tolist()) for r in res.skipped] == [("undecodable", [5])]
    assert res.skipped_summary() == "1 frames left out of the prediction: 1 undecodable"


def test_cut_video(model, clip, tmp_path):
    """MJPG AVI cut after about 60% of its bytes -> recorded policy: "truncated" record of the
    declared frames not in the file, no rows for them, the frames decoded predicted.
    """
    whole = write_mjpg(tmp_path / "whole.avi", clip)
    data = whole.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.warns(SkippedFramesWarning, match=r"cut\.avi: .*truncated"):
        _, (res,) = predict_files(model, [cut], as_frame=False, details=True)
    (record,) = res.skipped
    assert record.reason == "truncated" and 0 < res.n_frames < 12
    assert record.indices.tolist() == list(range(res.n_frames, 12))
    assert res.frame.tolist() == list(range(res.n_frames)) and res.label in res.classes


def test_empty_video_file(model, tmp_path):
    """0-byte .mp4 among good files -> clear error: the file fails alone, named with the reader's
    message; on_error="raise" raises it.
    """
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"1 of 1 files failed: .*empty\.mp4: .*empty"):
        _, (res,) = predict_files(model, [tmp_path / "empty.mp4"], as_frame=False, details=True)
    assert not res.ok and res.skipped == [] and res.n_frames == 0
    with pytest.raises(ValueError, match=r"empty\.mp4"):
        predict_files(model, [tmp_path / "empty.mp4"], on_error="raise")


# -- frames without a usable face ---------------------------------------------------------------


def _edited_head(model, edits):
    head = FrameModel(model)
    head.extractor = StatusEdit(head.extractor, edits)
    return head


def test_no_face_and_suspect_frames(model, clip, tmp_path):
    """Video whose frames 2-3 have no face and frame 7 a suspect one -> recorded policy: records
    "no_face" [2, 3] and "inconsistent" [7], NaN probabilities there, the suspect box kept, the
    label from the other frames, one warning.
    """
    video = write_mjpg(tmp_path / "v.avi", clip)
    head = _edited_head(model, {2: "missing", 3: "missing", 7: "suspect"})
    with pytest.warns(SkippedFramesWarning, match=r"3 frames were left out of the files' "
                                                  r"predictions: .*v\.avi: 2 frames \[2, 3\]: "
                                                  r"no_face.*1 frames \[7\]: inconsistent"):
        table, (res,) = predict_files(head, [video], output_dir=tmp_path / "o",
                                                as_frame=False, details=True)
    assert [(r.reason, r.indices.tolist()) for r in res.skipped] == [
        ("no_face", [2, 3]), ("inconsistent", [7])]
    assert np.isnan(res.proba[[2, 3, 7]]).all() and not np.isnan(res.boxes[7]).any()
    assert np.isnan(res.boxes[[2, 3]]).all()
    assert res.status[7] == "suspect" and res.status_counts()["suspect"] == 1
    usable = ~np.isin(np.arange(12), [2, 3, 7])
    assert not np.isnan(res.proba[usable]).any()
    assert table["skipped"][[2, 3, 7]].tolist() == ["no_face", "no_face", "inconsistent"]
    assert res.skipped_summary() == (
        "3 frames left out of the prediction: 2 no_face, 1 inconsistent")
    # The file's probabilities are the model's own on a tube with these statuses.
    frames = np.stack(list(iter_frames(video, color=False)))
    tubes = model[0].transform([frames])
    tubes = tubes.replace(status=[res.status])
    with pytest.warns(SkippedFramesWarning, match="left out of the pooling"):
        expected = model[1:].predict_proba(tubes)[0]
    np.testing.assert_allclose(res.clip_proba, expected)
    report = json.loads((tmp_path / "o" / "v.json").read_text())
    assert [s["reason"] for s in report["skipped"]] == ["no_face", "inconsistent"]
    assert report["frames"][7]["status"] == "suspect" and report["frames"][7]["box"]


def test_every_frame_suspect(model, clip, tmp_path):
    """Video whose every face is suspect -> clear error: the file fails with "no trustworthy face in
    any of its 12 frames".
    """
    video = write_mjpg(tmp_path / "v.avi", clip)
    head = _edited_head(model, dict.fromkeys(range(12), "suspect"))
    with pytest.raises(ValueError, match=r"v\.avi: no trustworthy face in any of its 12 frames"):
        predict_files(head, [video], on_error="raise")


def test_resized_frames_are_kept_and_recorded(model, clip, tmp_path, monkeypatch):
    """Video whose frames 4-5 the reader letterboxed ("resized") -> recorded policy: recorded and
    warned, but the frames keep their probabilities and count ("altered but kept").
    """
    video = tmp_path / "v.mp4"
    video.write_bytes(b"stand-in")

    def iter_frames(path, *, color=True, on_missing="warn", skipped=None, **kwargs):
        yield from (f if color else cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in clip)
        skipped.append(SkippedFrames(indices=[4, 5], reason="resized", source=str(path),
                                     detail="sizes 120x160 from frame 0, 60x80 from frame 4"))

    monkeypatch.setattr("skfer.io.iter_frames", iter_frames)
    monkeypatch.setattr("skfer.io.video_fps", lambda path: float(FPS))
    with pytest.warns(SkippedFramesWarning, match=r"\[4, 5\]: resized"):
        _, (res,) = predict_files(model, [video], as_frame=False, details=True)
    assert res.n_frames == 12 and not np.isnan(res.proba).any()
    assert res.skip_reasons()[4:6].tolist() == ["resized", "resized"]
    assert res.skipped_summary() == "2 frames altered but kept: 2 resized"


# -- outputs are whole or absent ----------------------------------------------------------------


def test_interrupted_timeline_leaves_nothing(model, clip, tmp_path, monkeypatch):
    """KeyboardInterrupt inside plot_timeline's savefig -> clear error: the interrupt propagates, no
    PNG and no temporary file.
    """
    video = write_mjpg(tmp_path / "v.avi", clip)
    _, (res,) = predict_files(model, [video], as_frame=False, details=True)

    def savefig(self, fname, *args, **kwargs):
        Path(fname).write_bytes(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr("matplotlib.figure.Figure.savefig", savefig)
    out = tmp_path / "o"
    out.mkdir()
    with pytest.raises(KeyboardInterrupt):
        plot_timeline(res, out / "t.png")
    assert frames_in(out) == []


def test_interrupted_report_json_keeps_the_old_one(tmp_path, monkeypatch):
    """KeyboardInterrupt while EvaluationReport.save_json serialises -> clear error: the previous
    report stays whole, no temporary file.
    """
    report = EvaluationReport(model="m", protocol="p", labels=["a"], fold_accuracy=[1.0],
                              recall={"a": 1.0}, confusion=[[1]], n_samples=1, n_groups=None,
                              wall_time_s=0.0)
    path = report.save_json(tmp_path / "r.json")
    before = path.read_text()

    def dump(obj, fh, **kwargs):
        fh.write('{"model": ')
        raise KeyboardInterrupt

    monkeypatch.setattr(skfer.evaluation, "json", types.SimpleNamespace(dump=dump))
    with pytest.raises(KeyboardInterrupt):
        report.save_json(path)
    assert frames_in(tmp_path) == ["r.json"] and path.read_text() == before
    assert json.loads(before)["accuracy_mean"] == 1.0


def test_failed_annotated_video_leaves_no_file(model, corrupt_video, tmp_path, monkeypatch):
    """A file failing after its annotated video was started -> recorded policy: the file's error is
    reported, no video and no temporary file are left.
    """
    monkeypatch.setattr(skfer.prediction.FrameModel, "clip_predict",
                        lambda self, v, s: (_ for _ in ()).throw(ValueError("model broke")))
    with pytest.warns(UserWarning, match="1 of 1 files failed: .*bad.avi: model broke"):
        _, (res,) = predict_files(model, [corrupt_video], output_dir=tmp_path / "o",
                                            annotate=True, on_missing="ignore", as_frame=False,
                                            details=True)
    assert res.error == "model broke" and frames_in(tmp_path / "o") == []


# -- issue 25: the file's own times and orientation ------------------------------------------


def _write_mp4(path, frames, pts_ms=None, fmt="mp4"):
    """``frames`` (RGB) as H.264 in MP4 (or ``fmt``); ``pts_ms`` sets each frame's time."""
    from fractions import Fraction

    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "10"})
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for k, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[k], Fraction(1, 1000)
            for packet in [*stream.encode(frame)]:
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_variable_frame_rate_time_s(model, clip, tmp_path):
    """MP4 whose 12 frames are 40 ms apart but for a 1 s pause (variable frame rate) -> OK:
    time_s are the frames' own times (CSV and JSON too), not frame / fps.
    """
    pts = [0, 40, 80, 120, 160, 1160, 1200, 1240, 1280, 1320, 1360, 1400]
    video = _write_mp4(tmp_path / "vfr.mp4", clip, pts)
    _, (res,) = predict_files(model, [video], output_dir=tmp_path / "o",
                                        as_frame=False, details=True)
    np.testing.assert_allclose(res.time_s, np.array(pts) / 1000, atol=1e-3)
    report = json.loads((tmp_path / "o" / "vfr.json").read_text())
    assert report["frames"][5]["time_s"] == pytest.approx(1.16, abs=1e-3)
    with open(tmp_path / "o" / "vfr.csv", newline="") as fh:
        assert float(list(csv.DictReader(fh))[5]["time_s"]) == pytest.approx(1.16, abs=1e-3)


def test_phone_video_is_predicted_upright(model, clip, tmp_path):
    """Phone MP4 stored sideways with a "rotate 90" flag in its track header -> OK: the faces are
    found in the upright frames, and the file's notes say it was turned.
    """
    sideways = np.rot90(clip, k=1, axes=(1, 2))  # what the phone's sensor stored
    video = _write_mp4(tmp_path / "phone.mp4", sideways)
    data = bytearray(video.read_bytes())
    at = data.index(b"tkhd") + 4 + 40  # the track header's display matrix (version 0)
    height = sideways.shape[1]
    data[at:at + 36] = np.array([0, 1 << 16, 0, -(1 << 16), 0, 0, height << 16, 0, 1 << 30],
                                ">i4").tobytes()
    video.write_bytes(bytes(data))
    upright = _write_mp4(tmp_path / "upright.mp4", clip)
    _, (res, ref) = predict_files(model, [video, upright], as_frame=False,
                                            on_missing="ignore", details=True)
    assert res.notes == ["frames turned upright as the file's display matrix says (rotated 270 "
                         "degrees counter-clockwise)"]
    assert np.isin(res.status, ["detected", "tracked"]).all() and res.label == ref.label
    np.testing.assert_allclose(res.boxes, ref.boxes, atol=2)


def test_still_image_follows_read_image(model, tmp_path):
    """JPEG stored sideways with EXIF orientation 6, and an RGBA PNG -> OK: predict reads stills
    as skfer.io.read_image does (turned upright, alpha composited), saying so in the notes.
    """
    from PIL import Image

    from skfer.io import read_image

    face = make_expressions(n_subjects=1, n_clips_per_expression=1, n_frames=2,
                            random_state=1).data[0][-1]
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    Image.fromarray(np.rot90(face, k=1).copy()).save(tmp_path / "photo.jpg",
                                                     exif=exif.tobytes(), quality=95)
    Image.fromarray(np.dstack([face, np.full(face.shape[:2], 255, np.uint8)]),
                    "RGBA").save(tmp_path / "alpha.png")
    _, results = predict_files(model, [tmp_path / "photo.jpg", tmp_path / "alpha.png"],
                                         as_frame=False, details=True)
    by_name = {Path(r.path).name: r for r in results}
    photo = by_name["photo.jpg"]
    assert photo.status.tolist() == ["detected"]
    upright = read_image(tmp_path / "photo.jpg")
    assert upright.shape == face.shape and photo.boxes[0, 2] < upright.shape[1]
    assert by_name["alpha.png"].notes == ["alpha channel composited onto black"]


def test_cut_mpegts_counts_at_least(model, clip, tmp_path):
    """MPEG-TS of 12 frames cut two thirds in, inside a transport packet -> recorded policy: the
    summary and the JSON say "at least" (open-ended), never a count the file cannot give.
    """
    whole = _write_mp4(tmp_path / "whole.ts", clip, fmt="mpegts").read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(whole[: (len(whole) * 2 // 3 // 188) * 188 + 100])
    with pytest.warns(SkippedFramesWarning, match="at least"):
        _, (res,) = predict_files(model, [cut], output_dir=tmp_path / "o",
                                            as_frame=False, details=True)
    assert res.skipped_summary().startswith("at least ")
    assert "frames left out of the prediction: " in res.skipped_summary()
    report = json.loads((tmp_path / "o" / "cut.json").read_text())
    assert [r.get("open_ended") for r in report["skipped"] if r["reason"] == "truncated"] == [
        True]


@pytest.mark.parametrize("case", ["exif", "alpha", "16-bit"])
def test_predict_sees_the_pixels_the_loaders_see(model, tmp_path, case):
    """A still through `skfer predict` and the data loaders (skfer.io.read_image) -> OK: the
    same pixels; the reader predict uses gives read_image's array, and the face found in it
    is the one the model's extractor finds in read_image's array.
    """
    from PIL import Image

    from skfer.io import read_image
    from skfer.io.images import read_image_noting

    face = make_expressions(n_subjects=1, n_clips_per_expression=1, n_frames=2,
                            random_state=1).data[0][-1]
    path = tmp_path / {"exif": "p.jpg", "alpha": "p.png", "16-bit": "p.tif"}[case]
    if case == "exif":
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.fromarray(np.rot90(face, k=1).copy()).save(path, exif=exif.tobytes(), quality=95)
    elif case == "alpha":
        alpha = np.full(face.shape[:2], 200, np.uint8)  # half see-through: composited
        Image.fromarray(np.dstack([face, alpha]), "RGBA").save(path)
    else:
        cv2.imwrite(str(path), cv2.cvtColor(face, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    loaded = read_image(path)
    np.testing.assert_array_equal(read_image_noting(path)[0], loaded)
    _, (res,) = predict_files(model, [path], as_frame=False, details=True, on_missing="ignore")
    ref = clone(model[0]).set_params(on_missing="ignore").fit().transform([loaded[None]])
    np.testing.assert_allclose(res.boxes[0], ref.get("source_boxes")[0][0])
