"""The ``skfer`` command: the README's main job and its errors."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from skfer.cli import main
from skfer.models import MODELS


def _write_ckplus48(root, n_subjects=4, seed=0):
    """A tiny CK+48 layout: 2 classes told apart by horizontal or vertical stripes."""
    rng = np.random.default_rng(seed)
    lines = ["path,subject,sequence,frame,label"]
    for s in range(n_subjects):
        for label, axis in (("happy", 0), ("surprise", 1)):
            for k in range(2):
                seq = f"S{s:03d}_{k + (label == 'happy') * 10:03d}"
                for frame in (1, 2, 3):
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
    """The README's main job (fewer folds to stay quick): detects faces, reports, saves."""
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
    from skfer.cli.evaluate import _extract_face_tubes
    from skfer.datasets import make_expressions

    faces = make_expressions(n_subjects=1, n_clips_per_expression=1, random_state=0).data
    clips = [faces[0], faces[1], np.zeros((4, 120, 160), np.uint8)]
    with pytest.raises(ValueError, match="clip 2: no face was found in any of its 4 frames"):
        _extract_face_tubes(clips, progress=False)
