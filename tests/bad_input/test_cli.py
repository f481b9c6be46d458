"""Bad arguments, files and interrupts for the ``skfer`` command (issue 16).

Every anticipated error is exactly one line on stderr, ``skfer <command>: error: ...``, and
exit status 2, found before any long work; an interrupt is one line and status 130 and
leaves no partial output; a bug keeps its traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import cv2
import joblib
import numpy as np
import pytest
from test_cli import _write_ckplus48  # the tiny CK+48 layout of the CLI tests

import skfer
import skfer.cli.evaluate
import skfer.evaluation
import skfer.prediction
from skfer._model_card import MODEL_FORMAT, describe, save_model
from skfer.cli import main
from skfer.datasets import make_expressions
from skfer.models import make_model

ROOT = Path(__file__).resolve().parents[2]


# -- helpers and fixtures ------------------------------------------------------------------


def one_error(capsys, argv, fragment, status=2):
    """Run ``skfer argv``; assert the status and ONE stderr line holding ``fragment``."""
    assert main(argv) == status
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    command = next(a for a in argv if not a.startswith("-"))
    assert len(lines) == 1, err
    assert lines[0].startswith(f"skfer {command}: "), err
    assert fragment in lines[0], err
    assert "Traceback" not in err
    return lines[0]


def write_ckplus48(root, n_subjects=3, seed=0):
    """A tiny CK+48 layout: 2 classes of 2-frame sequences (stripes across or down)."""
    return _write_ckplus48(root, n_subjects, seed, sequences=1, frames=(1, 2))


def write_fer2013_csv(path, per_class=3, seed=0):
    rng = np.random.default_rng(seed)
    rows = ["emotion,pixels,Usage"]
    for code in range(7):
        for _ in range(per_class):
            pixels = " ".join(map(str, rng.integers(0, 256, 48 * 48)))
            rows.append(f"{code},{pixels},Training")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def ck48(tmp_path_factory):
    return write_ckplus48(tmp_path_factory.mktemp("ck48"))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A hog-svm model fitted on whole synthetic frames, saved as `skfer train` does."""
    data = make_expressions(n_subjects=2, random_state=0)
    model = make_model("hog-svm", faces="detect", probability=True).fit(data.data, data.target)
    path = tmp_path_factory.mktemp("model") / "m.joblib"
    save_model(model, path, describe(model, "hog-svm", faces="detect", data="synthetic"))
    return path


@pytest.fixture(scope="module")
def face_image(tmp_path_factory):
    clip = make_expressions(n_subjects=1, n_clips_per_expression=1, random_state=1).data[0]
    path = tmp_path_factory.mktemp("img") / "face.png"
    assert cv2.imwrite(str(path), clip[-1][..., ::-1])
    return path


def files_in(folder):
    """Every file under ``folder`` (temporary ones included), as names."""
    return sorted(p.name for p in Path(folder).rglob("*") if p.is_file())


# -- paths -----------------------------------------------------------------------------------


def test_output_dir_is_an_existing_file(tmp_path, capsys):
    """evaluate --output-dir FILE -> clear error: "--output-dir FILE is not a folder", status 2,
    before any work.
    """
    (tmp_path / "reports").write_text("")
    start = time.perf_counter()
    one_error(capsys, ["evaluate", "--output-dir", str(tmp_path / "reports")],
              "--output-dir " + str(tmp_path / "reports") + " is not a folder")
    assert time.perf_counter() - start < 5  # no face tubes were extracted first


def test_output_dir_inside_a_file(tmp_path, capsys):
    """predict --output-dir FILE/sub -> clear error: "not a folder (its parent FILE is a file)",
    status 2.
    """
    (tmp_path / "f").write_text("")
    one_error(capsys, ["predict", "--model", "m.joblib", "x.png", "--output-dir",
                       str(tmp_path / "f" / "o")],
              "is not a folder (its parent")


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_output_dir_not_writable(command, tmp_path, capsys, monkeypatch):
    """--output-dir in a read-only place -> clear error: "--output-dir X is not writable", status 2,
    nothing created.
    """
    # The tests run as root, who may write anywhere: the check asks os.access.
    monkeypatch.setattr("skfer.utils._atomic.os.access", lambda *a, **k: False)
    argv = {"evaluate": ["evaluate"],
            "predict": ["predict", "--model", "m.joblib", "x.png"]}[command]
    one_error(capsys, [*argv, "--output-dir", str(tmp_path / "out")],
              f"--output-dir {tmp_path / 'out'} is not writable")
    assert not (tmp_path / "out").exists()


def test_data_is_a_file(tmp_path, capsys):
    """--data FILE with a folder format -> clear error: "--data FILE is a file; --format ckplus48
    reads a folder".
    """
    (tmp_path / "index.csv").write_text("path\n")
    one_error(capsys, ["evaluate", "--data", str(tmp_path / "index.csv"), "--format", "ckplus48"],
              "is a file; --format ckplus48 reads a folder")


@pytest.mark.parametrize("command", ["evaluate", "train"])
def test_data_does_not_exist(command, tmp_path, capsys):
    """--data MISSING -> clear error: "--data MISSING does not exist", status 2."""
    one_error(capsys, [command, "--data", str(tmp_path / "nope"), "--format", "folder"],
              f"--data {tmp_path / 'nope'} does not exist")


def test_test_data_is_a_file(ck48, tmp_path, capsys):
    """--test-data FILE -> clear error: names --test-data and --test-format."""
    (tmp_path / "x").write_text("")
    one_error(capsys, ["evaluate", "--data", str(ck48), "--format", "ckplus48", "--test-data",
                       str(tmp_path / "x"), "--test-format", "jaffe"],
              "--test-data " + str(tmp_path / "x") + " is a file; --test-format jaffe")


def test_empty_data_folder(tmp_path, capsys):
    """--data EMPTY_FOLDER --format ckplus48 -> clear error: the loader's message, status 2."""
    (tmp_path / "ck").mkdir()
    one_error(capsys, ["evaluate", "--data", str(tmp_path / "ck"), "--format", "ckplus48",
                       "--output-dir", str(tmp_path / "out")], str(tmp_path / "ck"))
    assert not (tmp_path / "out").exists()


def test_train_out_is_a_folder(tmp_path, capsys):
    """train --out FOLDER -> clear error: "--out FOLDER is a folder", before fitting."""
    one_error(capsys, ["train", "--out", str(tmp_path)], f"--out {tmp_path} is a folder")


def test_train_out_inside_a_file(tmp_path, capsys):
    """train --out FILE/model.joblib -> clear error: "folder FILE is not a folder", before fitting.
    """
    (tmp_path / "f").write_text("")
    one_error(capsys, ["train", "--out", str(tmp_path / "f" / "m.joblib")],
              f"folder {tmp_path / 'f'} is not a folder")


# -- numbers and option combinations ---------------------------------------------------------


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["evaluate", "--folds", "1"], "argument --folds: must be an integer >= 2"),
        (["evaluate", "--folds", "0"], "argument --folds: must be an integer >= 2"),
        (["evaluate", "--folds", "-3"], "argument --folds: must be an integer >= 2"),
        (["evaluate", "--folds", "two"], "argument --folds: must be an integer, got 'two'"),
        (["train", "--evaluate", "--folds", "1"], "argument --folds: must be an integer >= 2"),
        (["evaluate", "--max-per-class", "-1"],
         "argument --max-per-class: must be an integer >= 1, got -1"),
        (["evaluate", "--max-per-class", "0"],
         "argument --max-per-class: must be an integer >= 1, got 0"),
        (["train", "--max-per-class", "-1"], "argument --max-per-class: must be an integer >= 1"),
        (["evaluate", "--n-jobs", "0"], "argument --n-jobs: must be a positive number"),
        (["train", "--n-jobs", "0"], "argument --n-jobs: must be a positive number"),
        (["predict", "--model", "m", "x", "--n-jobs", "0"],
         "argument --n-jobs: must be a positive number"),
        (["predict", "--model", "m", "x", "--chunk-frames", "0"],
         "argument --chunk-frames: must be an integer >= 1"),
        (["evaluate", "--random-state", "-1"], "argument --random-state: must be an integer >= 0"),
        (["evaluate", "--protocol", "loso"], "argument --protocol: invalid choice: 'loso'"),
        (["evaluate", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_numbers_and_options(argv, fragment, capsys):
    """--folds 1/0/-3/two, --max-per-class -1/0, --n-jobs 0, --chunk-frames 0, --random-state -1,
    unknown option -> clear error: argparse's one line, status 2, shared by every command.
    """
    line = one_error(capsys, argv, fragment)
    assert line.endswith("--help`)")  # the usage block is not printed; --help is named


def test_no_command(capsys):
    """skfer with no command -> clear error: one line naming the missing command, status 2."""
    assert main([]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "skfer: error: " in err


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["evaluate", "--max-per-class", "3"], "--max-per-class is for --format fer2013 only"),
        (["evaluate", "--subset", "PublicTest", "--format", "embedded"],
         "--subset is for --format fer2013 only (here: embedded)"),
        (["train", "--folds", "3"], "--folds is the number of folds of --evaluate"),
        (["evaluate", "--folds", "3", "--test-format", "embedded"],
         "--folds and --protocol are for cross-validation"),
        (["evaluate", "--data", "somewhere"], "--data needs --format"),
        (["evaluate", "--format", "ckplus48"], "--format ckplus48 needs --data DIR"),
        (["evaluate", "--test-format", "jaffe"], "--test-format jaffe needs --test-data DIR"),
        (["evaluate", "--model", "nope"], "unknown model 'nope'"),
        (["train", "--model", "nope"], "unknown model 'nope'"),
        (["evaluate", "--device", "cpu"], "--device is for network models"),
        (["evaluate", "--model", "convnet", "--device", "tpu9"], "is not a torch device"),
    ],
)
def test_options_that_would_be_ignored_or_are_unknown(argv, fragment, capsys):
    """--max-per-class/--subset off fer2013, --folds without cross-validation, unknown model or
    device -> clear error: one line, status 2, nothing ignored silently.
    """
    one_error(capsys, argv, fragment)


def test_max_per_class_reaches_the_loader(tmp_path, capsys):
    """train --format fer2013 --max-per-class 3 on 4 images per class -> OK: 3 images of each of the
    7 classes are fitted (the card says 21).
    """
    csv_file = write_fer2013_csv(tmp_path / "fer.csv", per_class=4)
    out = tmp_path / "m.joblib"
    assert main(["train", "--data", str(csv_file), "--format", "fer2013", "--max-per-class",
                 "3", "--out", str(out), "--no-progress"]) == 0
    card = json.loads((tmp_path / "m.card.json").read_text())
    assert card["n_clips"] == 21
    assert "21 clips" in capsys.readouterr().out
    assert files_in(tmp_path) == ["fer.csv", "m.card.json", "m.joblib"]  # no temporary file


def test_a_failing_fold_gives_its_own_error(tmp_path, capsys):
    """evaluate on data whose folds hold one class -> clear error: the classifier's own message, not
    "not fitted yet".
    """
    root = tmp_path / "ck"
    write_ckplus48(root)
    lines = (root / "index.csv").read_text().splitlines()
    # Subject S000 is the only one with "surprise": the other folds train on one class.
    keep = [lines[0]] + [row for row in lines[1:] if "surprise" not in row or "S000" in row]
    (root / "index.csv").write_text("\n".join(keep) + "\n")
    line = one_error(capsys, ["evaluate", "--data", str(root), "--format", "ckplus48", "--folds",
                              "3", "--output-dir", str(tmp_path / "out"), "--no-progress"],
                     "class")
    assert "not fitted" not in line
    assert not (tmp_path / "out").exists()


# -- model files for predict -------------------------------------------------------------------


def test_model_file_missing(face_image, tmp_path, capsys):
    """predict MISSING.joblib -> clear error: "model file MISSING.joblib does not exist"."""
    one_error(capsys, ["predict", "--model", str(tmp_path / "none.joblib"), str(face_image),
                       "--output-dir", str(tmp_path / "o")], "none.joblib does not exist")


def test_model_file_is_a_folder(face_image, tmp_path, capsys):
    """predict FOLDER (as the model) -> clear error: "is a folder, not a model file"."""
    one_error(capsys, ["predict", "--model", str(tmp_path), str(face_image), "--output-dir",
                       str(tmp_path / "o")], "is a folder, not a model file")


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "is an empty file, not a skfer model file"),
        (b"hello, not a pickle", "is not a skfer model file (joblib cannot load it"),
        ("truncated", "is not a skfer model file (joblib cannot load it"),
    ],
)
def test_model_file_corrupt(content, fragment, model_file, face_image, tmp_path, capsys):
    """predict with an empty, corrupt or truncated model file -> clear error: "is not a skfer model
    file", status 2.
    """
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(model_file.read_bytes()[:2000] if content == "truncated" else content)
    if content == "truncated":
        _card_for(bad)  # the card of these very bytes: the damage is found by loading them
    one_error(capsys, ["predict", "--model", str(bad), str(face_image), "--output-dir",
                       str(tmp_path / "o")], fragment)
    assert not (tmp_path / "o").exists()


_CARD = {"model": "hog-svm", "skfer_version": skfer.__version__}


def _card_for(path):
    """A card beside ``path`` holding its hash, as save_model writes one (the file passes the
    hash check; what is inside it is what the test is about)."""
    from skfer._model_card import card_path, file_sha256

    card_path(path).write_text(json.dumps({"sha256": file_sha256(path)}))


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({"some": "dict"}, "it holds a dict, not a model saved by `skfer train`"),
        ([1, 2, 3], "it holds a list"),
        ({"format": "skfer-model/0", "model": None}, "format 'skfer-model/0'"),
        ({"format": MODEL_FORMAT, "model": None}, "its model card is missing or malformed"),
        ({"format": MODEL_FORMAT, "model": "a string", "card": _CARD},
         "cannot score frames of the model str"),
        ({"format": MODEL_FORMAT, "model": make_model("hog-svm", faces="detect"),
          "card": _CARD}, "is not fitted"),
    ],
)
def test_model_file_not_a_skfer_model(payload, fragment, face_image, tmp_path, capsys):
    """predict with a joblib file of something else, another format, no card, a non-model, an
    unfitted model -> clear error: one line naming the problem.
    """
    path = tmp_path / "other.joblib"
    joblib.dump(payload, path)
    _card_for(path)
    one_error(capsys, ["predict", "--model", str(path), str(face_image), "--output-dir",
                       str(tmp_path / "o")], fragment)


def test_predict_nothing_to_predict(model_file, tmp_path, capsys):
    """predict on an empty folder and a missing path only -> clear error: "no video or image file to
    predict", status 2.
    """
    (tmp_path / "empty").mkdir()
    one_error(capsys, ["predict", "--model", str(model_file), str(tmp_path / "empty"),
                       str(tmp_path / "gone.mp4"), "--output-dir", str(tmp_path / "o")],
              "no video or image file to predict: " + str(tmp_path / "empty")
              + ": folder holds no video or image file; ")


def test_predict_one_bad_file_among_good(model_file, face_image, tmp_path, capsys):
    """predict on a good image and a corrupt one -> recorded policy: the bad file is one stderr
    line, the good one predicted, status 1.
    """
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    assert main(["predict", "--model", str(model_file), str(face_image), str(tmp_path / "bad.png"),
                 "--output-dir", str(tmp_path / "o"), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"skfer predict: {tmp_path / 'bad.png'}: cannot read the image: the file is corrupt, "
        "truncated or not an image"
    ]
    assert "1 of 2 files predicted, 1 failed" in captured.out
    assert files_in(tmp_path / "o") == ["face.csv", "face.json", "face_timeline.png"]


def test_predict_summarises_skipped_frames(model_file, tmp_path, capsys, monkeypatch):
    """predict on a video whose reader skips frames 3-4 -> recorded policy: one stderr line "2
    frames left out of the prediction: 2 undecodable", status 0.
    """
    clip = make_expressions(n_subjects=1, n_clips_per_expression=1, random_state=1).data[0]
    video = tmp_path / "v.mp4"
    video.write_bytes(b"stand-in")
    monkeypatch.setattr("skfer.io.video_fps", lambda path: 25.0)
    monkeypatch.setattr("skfer.io.iter_frames", _reader_skipping(clip, [3, 4]))
    assert main(["predict", "--model", str(model_file), str(video), "--output-dir",
                 str(tmp_path / "o"),
                 "--no-progress"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"skfer predict: {video}: 2 frames left out of the prediction: 2 undecodable"]
    report = json.loads((tmp_path / "o" / "v.json").read_text())
    assert report["skipped"][0]["indices"] == [3, 4]


def _reader_skipping(clip, gaps):
    """A stand-in for skfer.io.iter_frames: yields ``clip`` but ``gaps``, records them."""
    from skfer.utils.frame_policy import SkippedFrames

    def iter_frames(path, *, color=True, on_missing="warn", skipped=None, **kwargs):
        assert on_missing == "ignore"  # predict applies its own policy
        for i, frame in enumerate(clip):
            if i not in gaps:
                yield frame if color else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        skipped.append(SkippedFrames(indices=gaps, reason="undecodable", source=str(path),
                                     detail="stand-in"))

    return iter_frames


# -- interrupts and atomic outputs -----------------------------------------------------------


def _interrupting_dump(obj, fh, **kwargs):
    fh.write('{"model": "hog-svm", "protocol": ')  # half a report, then Ctrl-C
    raise KeyboardInterrupt


def _interrupting_savefig(self, fname, *args, **kwargs):
    if hasattr(fname, "write"):
        fname.write(b"\x89PNG\r\n\x1a\n half")
    else:
        Path(fname).write_bytes(b"\x89PNG\r\n\x1a\n half")
    raise KeyboardInterrupt


def test_interrupt_while_writing_the_json_report(ck48, tmp_path, capsys, monkeypatch):
    """Ctrl-C inside the report's JSON serialisation -> clear error: "skfer evaluate: interrupted",
    status 130, no report, no PNG, no temporary file.
    """
    monkeypatch.setattr(skfer.evaluation, "json", types.SimpleNamespace(dump=_interrupting_dump))
    out = tmp_path / "reports"
    assert main(["evaluate", "--data", str(ck48), "--format", "ckplus48", "--folds", "3",
                 "--output-dir", str(out), "--no-progress"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == ["skfer evaluate: interrupted"]
    # The PNG was written first, whole; the JSON, interrupted, is not there at all.
    assert files_in(out) == ["hog-svm_ckplus48_confusion.png"]


def test_interrupt_while_drawing_the_png(ck48, tmp_path, capsys, monkeypatch):
    """Ctrl-C inside the confusion matrix's savefig -> clear error: status 130, neither PNG nor JSON
    nor temporary file.
    """
    monkeypatch.setattr("matplotlib.figure.Figure.savefig", _interrupting_savefig)
    out = tmp_path / "reports"
    assert main(["evaluate", "--data", str(ck48), "--format", "ckplus48", "--folds", "3",
                 "--output-dir", str(out), "--no-progress"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == ["skfer evaluate: interrupted"]
    assert files_in(out) == []


def test_interrupt_while_saving_the_model(ck48, tmp_path, capsys, monkeypatch):
    """Ctrl-C inside joblib.dump of train -> clear error: status 130, no model, no card, no
    temporary file; an older model stays whole.
    """
    out = tmp_path / "m.joblib"
    out.write_bytes(b"old model")

    def dump(value, filename, **kwargs):
        Path(filename).write_bytes(b"half a pickle")
        raise KeyboardInterrupt

    monkeypatch.setattr(joblib, "dump", dump)
    assert main(["train", "--data", str(ck48), "--format", "ckplus48", "--out", str(out),
                 "--no-progress"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == ["skfer train: interrupted"]
    assert files_in(tmp_path) == ["m.joblib"] and out.read_bytes() == b"old model"


def test_interrupt_while_writing_predict_outputs(model_file, face_image, tmp_path, capsys,
                                                 monkeypatch):
    """Ctrl-C inside predict's JSON output -> clear error: status 130, none of the file's
    CSV/JSON/PNG, no temporary file.
    """
    monkeypatch.setattr(skfer.prediction.outputs, "json",
                        types.SimpleNamespace(dump=_interrupting_dump))
    out = tmp_path / "o"
    assert main(["predict", "--model", str(model_file), str(face_image), "--output-dir", str(out),
                 "--no-progress"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == ["skfer predict: interrupted"]
    assert files_in(out) == []


def test_interrupt_while_writing_the_annotated_video(model_file, tmp_path, capsys, monkeypatch):
    """Ctrl-C while the annotated video is encoded -> clear error: status 130, no partial video, no
    temporary file, an older video untouched.
    """
    clip = make_expressions(n_subjects=1, n_clips_per_expression=1, random_state=1).data[0]
    video = tmp_path / "in" / "v.mp4"
    video.parent.mkdir()
    video.write_bytes(b"stand-in")
    out = tmp_path / "o"
    out.mkdir()
    (out / "v_annotated.mp4").write_bytes(b"an earlier run's video")
    monkeypatch.setattr("skfer.io.video_fps", lambda path: 25.0)
    monkeypatch.setattr("skfer.io.iter_frames", _reader_skipping(clip, []))
    encode = skfer.prediction.outputs._Annotator._encode
    calls = []

    def interrupted_encode(self, img):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        encode(self, img)

    monkeypatch.setattr(skfer.prediction.outputs._Annotator, "_encode", interrupted_encode)
    assert main(["predict", "--model", str(model_file), str(video), "--output-dir", str(out),
                 "--annotate",
                 "--no-progress"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == ["skfer predict: interrupted"]
    assert files_in(out) == ["v_annotated.mp4"]
    assert (out / "v_annotated.mp4").read_bytes() == b"an earlier run's video"


# -- the error switch ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["--debug first", "--debug last", "SKFER_DEBUG=1"])
def test_debug_switch_reraises(how, capsys, monkeypatch):
    """--debug (before or after the command) or SKFER_DEBUG=1 -> clear error: the exception is
    raised with its traceback instead of the one line.
    """
    argv = ["evaluate", "--model", "nope"]
    if how == "--debug first":
        argv = ["--debug", *argv]
    elif how == "--debug last":
        argv = [*argv, "--debug"]
    else:
        monkeypatch.setenv("SKFER_DEBUG", "1")
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        main(argv)
    monkeypatch.setenv("SKFER_DEBUG", "0")
    one_error(capsys, ["evaluate", "--model", "nope"], "unknown model 'nope'")


def test_a_bug_keeps_its_traceback(monkeypatch):
    """A TypeError from a bug inside a command -> clear error: it propagates (traceback), not a
    quiet line.
    """

    def buggy(args):
        return len(None)

    monkeypatch.setattr(skfer.cli.evaluate, "run_evaluate", buggy)
    with pytest.raises(TypeError, match="NoneType"):
        main(["evaluate"])


def test_a_multi_line_message_is_one_line(monkeypatch, capsys):
    """An anticipated error whose message spans lines -> clear error: joined on one stderr line."""

    def fails(args):
        raise FileNotFoundError("first line\n\n   second line")

    monkeypatch.setattr(skfer.cli.evaluate, "run_evaluate", fails)
    assert one_error(capsys, ["evaluate"], "first line second line") == (
        "skfer evaluate: error: first line second line")


def test_warnings_are_one_line(monkeypatch, capsys):
    """A warning during a command -> OK: one stderr line "skfer <command>: warning: ...", the
    command goes on.
    """

    def warns(args):
        warnings.warn("careful\n  now", UserWarning, stacklevel=2)
        return 0

    monkeypatch.setattr(skfer.cli.evaluate, "run_evaluate", warns)
    assert main(["evaluate"]) == 0
    assert capsys.readouterr().err == "skfer evaluate: warning: careful now\n"


# -- real processes ------------------------------------------------------------------------------


def _skfer(*args, **kwargs):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("SKFER_DEBUG", None)
    return [sys.executable, "-m", "skfer.cli", *args], dict(env=env, cwd=ROOT, **kwargs)


def test_subprocess_bad_argument_and_bad_model(tmp_path):
    """`python -m skfer.cli evaluate --folds 1` and predict with a text file as model -> clear
    error: status 2, one stderr line, no traceback.
    """
    cmd, kw = _skfer("evaluate", "--folds", "1")
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [
        "skfer evaluate: error: argument --folds: must be an integer >= 2 (one test fold and one "
        "to train on), got 1 (see `skfer evaluate --help`)"
    ]
    (tmp_path / "m.joblib").write_text("not a model")
    cmd, kw = _skfer("predict", "--model", str(tmp_path / "m.joblib"), str(tmp_path))
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert len(run.stderr.splitlines()) == 1 and "is not a skfer model file" in run.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_subprocess_sigint(tmp_path):
    """SIGINT (Ctrl-C) to a running `skfer evaluate` -> clear error: status 130, one stderr line
    "interrupted", no report files.
    """
    out = tmp_path / "reports"
    cmd, kw = _skfer("evaluate", "--output-dir", str(out), "--no-progress")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    try:
        # Wait for a state, not a time: the child prints "data: ..." once the data are loaded
        # and goes straight on to the face tubes (seconds of work, the report after them), so
        # a SIGINT sent when the line arrives lands in the work however busy the machine is.
        # A fixed sleep after the line failed on a loaded 2-core machine.
        first = proc.stdout.readline()
        assert first.startswith("data: "), first
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert stderr.splitlines() == ["skfer evaluate: interrupted"]
    assert not out.exists() or files_in(out) == []
