"""The ``skfer`` command: the README's main job and its errors."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from skfer import FRAME_STATUSES
from skfer.cli import main
from skfer.models import MODELS


def _write_ckplus48(root, n_subjects=4, seed=0, *, sequences=2, frames=(1, 2, 3)):
    """A tiny CK+48 layout: 2 classes told apart by horizontal or vertical stripes
    (``sequences`` per subject and class, of the given frame numbers)."""
    rng = np.random.default_rng(seed)
    lines = ["path,subject,sequence,frame,label"]
    for s in range(n_subjects):
        for label, axis in (("happy", 0), ("surprise", 1)):
            for k in range(sequences):
                seq = f"S{s:03d}_{k + (label == 'happy') * 10:03d}"
                for frame in frames:
                    img = rng.integers(80, 160, (48, 48), dtype=np.uint8)
                    stripes = (np.arange(48) // 4 % 2 * 90).astype(np.uint8)
                    img += stripes[:, None] if axis == 0 else stripes[None, :]
                    rel = f"{label}/{seq}_{frame:08d}.png"
                    (root / label).mkdir(parents=True, exist_ok=True)
                    assert cv2.imwrite(str(root / rel), img)
                    lines.append(f"{rel},S{s:03d},{seq},{frame},{label}")
    (root / "index.csv").write_text("\n".join(lines) + "\n")
    return root


def test_models_lists_every_named_model(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in MODELS)


def test_evaluate_ckplus48_layout_writes_reports(tmp_path, capsys):
    data = _write_ckplus48(tmp_path / "ck")
    out_dir = tmp_path / "reports"
    rc = main(["evaluate", "--data", str(data), "--format", "ckplus48", "--folds", "4",
               "--output-dir", str(out_dir), "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "4-fold GroupKFold by subject" in out
    report = json.loads((out_dir / "hog-svm_ckplus48.json").read_text())
    assert report["labels"] == ["happiness", "surprise"]
    assert len(report["fold_accuracy"]) == 4
    assert report["accuracy_mean"] == pytest.approx(1.0)
    assert np.asarray(report["confusion"]).sum() == 16  # every clip predicted once
    png = cv2.imread(str(out_dir / "hog-svm_ckplus48_confusion.png"))
    assert png is not None and png.shape[0] > 100


def test_evaluate_ascending_id_protocol(tmp_path, capsys):
    data = _write_ckplus48(tmp_path / "ck")
    rc = main(["evaluate", "--data", str(data), "--format", "ckplus48", "--folds", "2",
               "--protocol", "ascending-id", "--output-dir", str(tmp_path), "--no-progress"])
    assert rc == 0
    assert "2-fold AscendingSubjectKFold, subjects by ascending id" in capsys.readouterr().out
    report = json.loads((tmp_path / "hog-svm_ckplus48_ascending-id.json").read_text())
    assert report["extra"]["protocol"] == "ascending-id"
    assert len(report["fold_accuracy"]) == 2 and report["accuracy_mean"] == pytest.approx(1.0)


def test_evaluate_embedded_default_data(tmp_path, capsys):
    """The README's `skfer evaluate` (fewer folds to stay quick): detects faces, reports, saves."""
    rc = main(["evaluate", "--folds", "2", "--output-dir", str(tmp_path), "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "120 clips, 10 subjects" in out
    report = json.loads((tmp_path / "hog-svm_embedded.json").read_text())
    assert report["extra"]["faces"] == "detect"
    # every frame of the 120 clips has a status, and the synthetic faces are all found
    counts = report["extra"]["face_tube_frames"]
    assert sum(counts.values()) > 120 * 8 and counts["missing"] == 0
    assert "frames detected" in out
    # six expressions: chance is 1/6; the synthetic faces are learnable but not trivial
    assert 0.4 < report["accuracy_mean"] < 1.0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "--data", "somewhere"], "--data needs --format"),
        (["evaluate", "--format", "ckplus48"], "needs --data"),
        (["evaluate", "--data", "/no/such/dir", "--format", "jaffe"], "/no/such/dir"),
        (["evaluate", "--model", "nope", "--format", "embedded"], "nope"),
    ],
)
def test_evaluate_errors_name_the_problem(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_too_few_subjects_for_the_folds(tmp_path, capsys):
    data = _write_ckplus48(tmp_path / "ck", n_subjects=3)
    rc = main(["evaluate", "--data", str(data), "--format", "ckplus48", "--folds", "5",
               "--output-dir", str(tmp_path), "--no-progress"])
    assert rc == 2
    assert "3 subjects cannot be split into 5 folds" in capsys.readouterr().err


def test_default_folds_fall_back_to_one_per_subject(tmp_path, capsys):
    data = _write_ckplus48(tmp_path / "ck", n_subjects=3)
    rc = main(["evaluate", "--data", str(data), "--format", "ckplus48",
               "--output-dir", str(tmp_path), "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "3 subjects, so 3 folds" in out and "3-fold GroupKFold" in out


def test_a_clip_without_face_is_named_by_its_index():
    from skfer.datasets import make_expressions
    from skfer.models import prepare_clips

    faces = make_expressions(n_subjects=1, n_clips_per_expression=1, random_state=0).data
    clips = [faces[0], faces[1], np.zeros((4, 120, 160), np.uint8)]
    with pytest.raises(ValueError, match=r"clip 2: 4 frames \[0, 1, 2, 3\]: no_face"):
        prepare_clips(clips, "detect")


# -- skfer train / skfer predict (issue 15) ---------------------------------------------------

CREMAD = sorted(
    (Path(__file__).resolve().parents[1] / "skfer/datasets/data/cremad").glob("*.flv")
)
CREMAD_FRAMES = {"ANG": 67, "DIS": 70, "FEA": 65, "HAP": 56, "NEU": 61, "SAD": 60}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``skfer train`` on the embedded data, once for the tests below."""
    out = tmp_path_factory.mktemp("model") / "hog.joblib"
    assert main(["train", "--out", str(out), "--no-progress"]) == 0
    return out


def test_train_writes_model_and_card(trained):
    card = json.loads(trained.with_name("hog.card.json").read_text())
    assert card["model"] == "hog-svm" and card["faces"] == "detect"
    assert card["classes"] == ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]
    assert card["frame_size"] == [48, 48] and card["device"] == "cpu"
    assert card["n_clips"] == 120 and "embedded" in card["data"]
    assert card["skfer_version"] and card["libraries"]["scikit-learn"]
    assert card["params"]["svm"]["estimator__C"] == 10.0 and card["score"] is None


def test_predict_on_the_cremad_clips(trained, tmp_path, capsys):
    out = tmp_path / "pred"
    rc = main(["predict", "--model", str(trained), *map(str, CREMAD), "--output-dir", str(out),
               "--no-progress"])
    assert rc == 0
    assert "6 of 6 files predicted" in capsys.readouterr().out
    for clip in CREMAD:
        n = CREMAD_FRAMES[clip.stem.split("_")[2]]
        with open(out / f"{clip.stem}.csv") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == n and [int(r["frame"]) for r in rows] == list(range(n))
        assert {r["status"] for r in rows} <= set(FRAME_STATUSES)
        report = json.loads((out / f"{clip.stem}.json").read_text())
        assert report["n_frames"] == n == sum(report["status_counts"].values())
        assert len(report["frames"]) == n and report["prediction"] in report["classes"]
        assert sum(report["clip_proba"].values()) == pytest.approx(1, abs=1e-5)
        png = (out / f"{clip.stem}_timeline.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_annotate_writes_a_playable_video(trained, tmp_path):
    import av

    hap = next(c for c in CREMAD if "_HAP_" in c.stem)
    assert main(["predict", "--model", str(trained), str(hap), "--output-dir", str(tmp_path),
                 "--annotate", "--no-progress"]) == 0
    with av.open(str(tmp_path / f"{hap.stem}_annotated.mp4")) as video:
        frames = [f.to_ndarray(format="rgb24") for f in video.decode(video=0)]
    assert len(frames) == 56 and frames[0].shape == (360, 480, 3)


def test_a_corrupt_file_is_reported_and_the_others_done(trained, tmp_path, capsys):
    """A truncated video is predicted from the frames it holds, the cut recorded (issue 16:
    it failed before); a file that is no video fails alone."""
    data = tmp_path / "in"
    data.mkdir()
    for clip in CREMAD[:2]:
        shutil.copy(clip, data / clip.name)
    (data / "cut.flv").write_bytes(CREMAD[2].read_bytes()[:30000])  # truncated
    (data / "junk.mp4").write_bytes(b"not a video at all")
    rc = main(["predict", "--model", str(trained), str(data), "--output-dir", str(tmp_path / "out"),
               "--no-progress"])
    assert rc == 1
    captured = capsys.readouterr()
    assert "junk.mp4: cannot open video" in captured.err
    assert "cut.flv: 64 frames left out of the prediction: 64 truncated" in captured.err
    assert "3 of 4 files predicted, 1 failed" in captured.out
    assert all((tmp_path / "out" / f"{c.stem}.csv").exists() for c in CREMAD[:2])
    cut = json.loads((tmp_path / "out" / "cut.json").read_text())
    assert [(r["reason"], r["count"]) for r in cut["skipped"]] == [("truncated", 64)]
    assert not (tmp_path / "out" / "junk.csv").exists()


def test_predict_bad_inputs(trained, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    black = tmp_path / "black.png"
    cv2.imwrite(str(black), np.zeros((80, 80), np.uint8))
    rc = main(["predict", "--model", str(trained), str(tmp_path / "empty"), str(black),
               "--output-dir", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "empty: folder holds no video or image file" in err
    assert "black.png: no face was found in any of its 1 frames" in err
    # Problems with the whole run: one line on stderr and status 2.
    (tmp_path / "file").write_text("")
    not_a_model = tmp_path / "m.joblib"
    not_a_model.write_text("hello")
    for argv, message in [
        ([str(not_a_model), str(black)], "is not a skfer model file"),
        ([str(tmp_path / "none.joblib"), str(black)], "none.joblib does not exist"),
        ([str(trained), str(black), "--output-dir", str(tmp_path / "file" / "x")],
         "x is not a folder (its parent"),
    ]:
        assert main(["predict", "--model", *argv, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def test_another_versions_model_warns(trained, tmp_path, capsys):
    import joblib

    from skfer._model_card import card_path, file_sha256

    def dump(payload, path):  # a model file with its card and hash, as an old skfer saved
        joblib.dump(payload, path)
        card_path(path).write_text(json.dumps(payload["card"] | {"sha256": file_sha256(path)}))

    payload = joblib.load(trained)
    payload["card"]["skfer_version"] = "0.0.1"
    old = tmp_path / "old.joblib"
    dump(payload, old)
    hap = next(c for c in CREMAD if "_HAP_" in c.stem)
    assert main(["predict", "--model", str(old), str(hap), "--output-dir", str(tmp_path),
                 "--no-progress"]) == 0
    assert "saved with skfer 0.0.1" in capsys.readouterr().err
    payload["format"] = "skfer-model/0"
    dump(payload, old)
    assert main(["predict", "--model", str(old), str(hap), "--no-progress"]) == 2
    assert "format 'skfer-model/0'" in capsys.readouterr().err


def test_train_with_evaluate_records_the_score(tmp_path):
    data = _write_ckplus48(tmp_path / "ck")
    out = tmp_path / "m.joblib"
    assert main(["train", "--data", str(data), "--format", "ckplus48", "--evaluate",
                 "--folds", "2", "--out", str(out), "--no-progress"]) == 0
    card = json.loads((tmp_path / "m.card.json").read_text())
    assert card["faces"] == "given" and card["frame_size"] == [48, 48]
    assert card["score"]["accuracy_mean"] == pytest.approx(1.0)
    assert "2-fold GroupKFold" in card["score"]["protocol"]


def test_evaluate_on_a_test_data_set(tmp_path, capsys):
    train = _write_ckplus48(tmp_path / "a", seed=0)
    test = _write_ckplus48(tmp_path / "b", n_subjects=2, seed=1)
    rc = main(["evaluate", "--data", str(train), "--format", "ckplus48", "--test-data",
               str(test), "--test-format", "ckplus48", "--output-dir", str(tmp_path),
               "--no-progress"])
    assert rc == 0
    assert "held-out data set" in capsys.readouterr().out
    report = json.loads((tmp_path / "hog-svm_ckplus48_to_ckplus48.json").read_text())
    assert report["n_samples"] == 8 and report["accuracy_mean"] == pytest.approx(1.0)
    assert np.asarray(report["confusion"]).sum() == 8
    assert main(["evaluate", "--data", str(train), "--format", "ckplus48", "--test-data",
                 str(test)]) == 2
    assert "--test-data needs --test-format" in capsys.readouterr().err


def test_evaluate_scores_a_model_file_without_training(tmp_path, capsys):
    """A model written by `skfer train`, scored with --test-data and no --data: not refitted."""
    data = _write_ckplus48(tmp_path / "ck")
    model = tmp_path / "m.joblib"
    assert main(["train", "--data", str(data), "--format", "ckplus48", "--out", str(model),
                 "--no-progress"]) == 0
    rc = main(["evaluate", "--model", str(model), "--test-data", str(data), "--test-format",
               "ckplus48", "--output-dir", str(tmp_path / "r"), "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert f"model file {model}" in out and "nothing refitted" in out
    report = json.loads((tmp_path / "r" / "m_ckplus48.json").read_text())
    assert report["n_samples"] == 16 and report["accuracy_mean"] == pytest.approx(1.0)
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--format",
                 "ckplus48", "--test-data", str(data), "--test-format", "ckplus48"]) == 2
    assert "is already fitted" in capsys.readouterr().err


def test_evaluate_network_model_on_a_device(tmp_path, capsys):
    data = _write_ckplus48(tmp_path / "ck")
    rc = main(["evaluate", "--model", "convnet", "--device", "cpu", "--data", str(data),
               "--format", "ckplus48", "--folds", "2", "--output-dir", str(tmp_path),
               "--no-progress"])
    assert rc == 0
    report = json.loads((tmp_path / "convnet_ckplus48.json").read_text())
    assert report["extra"]["device"] == "cpu" and len(report["fold_accuracy"]) == 2
    assert main(["evaluate", "--device", "cpu", "--data", str(data), "--format",
                 "ckplus48"]) == 2
    assert "--device is for network models" in capsys.readouterr().err


def test_face_tubes_in_parallel_match_and_name_the_faceless_clip():
    from skfer.datasets import make_expressions
    from skfer.models import prepare_clips

    faces = make_expressions(n_subjects=1, n_clips_per_expression=1, random_state=0).data[:3]
    one, counts = prepare_clips(faces, "detect")
    two, counts2 = prepare_clips(faces, "detect", n_jobs=2)
    assert counts == counts2
    for a, b in zip(one.data, two.data):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(one.get("status"), two.get("status")):
        np.testing.assert_array_equal(a, b)
    clips = [faces[0], faces[1], np.zeros((4, 120, 160), np.uint8)]
    with pytest.raises(ValueError, match=r"clip 2: 4 frames \[0, 1, 2, 3\]: no_face"):
        prepare_clips(clips, "detect", n_jobs=2)
    assert prepare_clips(faces, "given") == (faces, None)


def test_predict_without_a_model_uses_the_shipped_network(tmp_path, capsys):
    """The README's main job: `skfer predict VIDEO` with no --model uses the network shipped
    inside skfer, framed as its card says; --faces all and --smooth reach the library."""
    hap = next(c for c in CREMAD if "_HAP_" in c.stem)
    assert main(["predict", str(hap), "--output-dir", str(tmp_path), "--no-progress"]) == 0
    assert "shipped network emonets-fer2013" in capsys.readouterr().out
    report = json.loads((tmp_path / f"{hap.stem}.json").read_text())
    assert report["model"] == "emonets-fer2013" and len(report["classes"]) == 7
    assert report["prediction"] == "happiness" and report["smooth_s"] == 1.0
    assert main(["predict", str(hap), "--output-dir", str(tmp_path), "--no-progress",
                 "--faces", "all", "--smooth", "0"]) == 0
    report = json.loads((tmp_path / f"{hap.stem}.json").read_text())
    assert report["faces"] == "all" and report["smooth_s"] == 0.0
    assert {row["face"] for row in report["frames"]} == {0}
    assert "face 0: happiness" in capsys.readouterr().out
