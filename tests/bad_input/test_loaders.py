"""Bad inputs to the data-set loaders: index.csv out of step with the folders, max counts,
CSV line numbers, broken data-set folders (issue 16)."""

from __future__ import annotations

import warnings

import av
import cv2
import numpy as np
import pytest

from skfer.datasets import load_ckplus, load_ckplus48, load_fer2013, load_folder
from skfer.utils.frame_policy import SkippedFramesError, SkippedFramesWarning


def _png(path, value=0, size=(48, 48)):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full(size, value, np.uint8))
    return path


@pytest.fixture
def ck48(tmp_path):
    """CK+48 with index.csv: two anger frames of S010_004, one happy frame of S011_001."""
    root = tmp_path / "ck48"
    rows = [("anger/S010_004_00000017.png", "S010", "S010_004", 17, "anger"),
            ("anger/S010_004_00000018.png", "S010", "S010_004", 18, "anger"),
            ("happy/S011_001_00000005.png", "S011", "S011_001", 5, "happy")]
    for rel, *_ in rows:
        _png(root / rel)
    (root / "index.csv").write_text("path,subject,sequence,frame,label\n" + "".join(
        ",".join(map(str, r)) + "\n" for r in rows))
    return root


def test_ckplus48_unlisted_image(ck48):
    """CK+48 image in a class folder but not in index.csv -> clear error: names the image and
    index.csv.
    """
    _png(ck48 / "happy" / "S012_001_00000003.png")
    with pytest.raises(ValueError, match=r"1 image\(s\) .* not listed in .*index\.csv "
                                         r"\(happy/S012_001_00000003\.png\)"):
        load_ckplus48(ck48)


def test_ckplus48_listed_but_absent(ck48):
    """CK+48 index.csv listing a file that is absent -> clear error: FileNotFoundError naming the
    line and file.
    """
    (ck48 / "anger" / "S010_004_00000018.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"index\.csv line 3 lists "
                                                r"'anger/S010_004_00000018\.png'"):
        load_ckplus48(ck48)


def test_ckplus48_index_in_step(ck48):
    """CK+48 whose index.csv lists exactly its images -> OK: two clips, frames in order."""
    b = load_ckplus48(ck48)
    assert [c.shape for c in b.data] == [(2, 48, 48), (1, 48, 48)]
    assert b.groups.tolist() == ["S010", "S011"]


def test_ckplus48_empty_class_folder(tmp_path):
    """CK+48 (no index.csv) with an empty class folder -> clear error: names the folder."""
    _png(tmp_path / "anger" / "S010_004_00000017.png")
    (tmp_path / "fear").mkdir()
    with pytest.raises(ValueError, match=r"CK\+48 class folder .*fear holds no image"):
        load_ckplus48(tmp_path)


def test_ckplus48_image_where_folder_expected(tmp_path):
    """CK+48 with an image beside the class folders -> clear error: names the stray file."""
    _png(tmp_path / "anger" / "S010_004_00000017.png")
    _png(tmp_path / "S010_004_00000018.png")
    with pytest.raises(ValueError, match=r"image file\(s\) outside the class folders "
                                         r"\(S010_004_00000018\.png\)"):
        load_ckplus48(tmp_path)


def test_ckplus48_mixed_sizes(tmp_path):
    """CK+48 sequence whose frames differ in size -> clear error: names a file of each size."""
    _png(tmp_path / "anger" / "S010_004_00000017.png")
    _png(tmp_path / "anger" / "S010_004_00000018.png", size=(40, 48))
    with pytest.raises(ValueError, match=r"different sizes.*00000017\.png.*00000018\.png"):
        load_ckplus48(tmp_path)


def _fer_csv(path, rows, blank_after=()):
    lines = ["emotion,pixels,Usage"]
    for k, (code, pixels) in enumerate(rows):
        lines.append(f"{code},{pixels},Training")
        if k in blank_after:
            lines += ["", "   "]
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = " ".join(["7"] * 48 * 48)


def test_fer2013_line_number_with_blank_lines(tmp_path):
    """FER2013 CSV with blank lines before a bad row -> clear error: the file's real line number."""
    csv_file = _fer_csv(tmp_path / "fer2013.csv", [(0, GOOD), (1, GOOD), (9, GOOD)],
                        blank_after=(0, 1))
    # Lines: 1 header, 2 row0, 3-4 blank, 5 row1, 6-7 blank, 8 row2 (code 9).
    with pytest.raises(ValueError, match=r"data row 2 \(line 8\): unknown emotion code '9'"):
        load_fer2013(csv_file)
    csv_file = _fer_csv(tmp_path / "fer2013.csv", [(0, GOOD), (1, "1 2 3")], blank_after=(0,))
    with pytest.raises(ValueError, match=r"data row 1 \(line 5\): pixels holds 3 values"):
        load_fer2013(csv_file)


@pytest.mark.parametrize("value, error, message", [
    (-1, ValueError, "max_per_class must be a positive integer or None.*got -1: a negative"),
    (0, ValueError, "max_per_class must be a positive integer or None.*got 0: 0 would keep"),
    (1.5, TypeError, "max_per_class must be a positive integer or None.*float 1.5"),
    (True, TypeError, "max_per_class must be a positive integer or None.*bool True"),
])
def test_fer2013_max_per_class_invalid(tmp_path, value, error, message):
    """FER2013 max_per_class -1, 0, 1.5 or True (CSV and folders) -> clear error: the same message
    from one shared check.
    """
    csv_file = _fer_csv(tmp_path / "fer2013.csv", [(0, GOOD), (0, GOOD)])
    with pytest.raises(error, match=message):
        load_fer2013(csv_file, max_per_class=value)
    _png(tmp_path / "folders" / "angry" / "a.png")
    with pytest.raises(error, match=message):
        load_fer2013(tmp_path / "folders", max_per_class=value)


def test_max_counts_validated_alike(tmp_path):
    """load_folder max_frames -1 and load_ckplus last_frames 0 -> clear error: the shared check's
    message.
    """
    _png(tmp_path / "set" / "angry" / "a.png")
    with pytest.raises(ValueError, match="max_frames must be a positive integer.*got -1"):
        load_folder(tmp_path / "set", max_frames=-1)
    ck = tmp_path / "ck"
    _png(ck / "cohn-kanade-images" / "S005" / "001" / "S005_001_00000001.png")
    (ck / "Emotion" / "S005" / "001").mkdir(parents=True)
    (ck / "Emotion" / "S005" / "001" / "S005_001_00000001_emotion.txt").write_text("3.0\n")
    with pytest.raises(ValueError, match="last_frames must be a positive integer.*got 0"):
        load_ckplus(ck, last_frames=0)


def test_fer2013_folder_problems(tmp_path):
    """FER2013 folders: empty class folder, image outside the class folders, non-48x48 image ->
    clear error: each names the file or folder.
    """
    root = tmp_path / "fer"
    _png(root / "angry" / "a.png")
    (root / "happy").mkdir()
    with pytest.raises(ValueError, match=r"FER2013 class folder .*happy holds no image"):
        load_fer2013(root)
    _png(root / "happy" / "b.png", size=(40, 40))
    with pytest.raises(ValueError, match=r"FER2013 image .*b\.png is \(40, 40\), expected 48x48"):
        load_fer2013(root)
    _png(root / "happy" / "b.png")
    _png(root / "stray.png")
    with pytest.raises(ValueError, match=r"outside the class folders \(stray\.png\)"):
        load_fer2013(root)


def test_data_set_path_problems(tmp_path):
    """Data-set path that is a file, an empty folder, a folder without class folders -> clear error:
    each says which.
    """
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"file\.txt is not a folder"):
        load_folder(tmp_path / "file.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty is empty"):
        load_folder(tmp_path / "empty")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="holds no class subfolder"):
        load_folder(tmp_path / "flat")


def _cut_mp4(path, n=60):
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width, stream.pix_fmt = 48, 64, "yuv420p"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 3 * i, np.uint8), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.85)])
    return path


def test_load_folder_truncated_video(tmp_path):
    """load_folder with a cut video among images -> recorded policy: one warning naming clip 1,
    records in bunch.skipped.
    """
    _png(tmp_path / "angry" / "a.png")
    _cut_mp4(tmp_path / "angry" / "b.mp4")
    with pytest.warns(SkippedFramesWarning, match=r"clip 1 \(.*b\.mp4\).*truncated"):
        bunch = load_folder(tmp_path, color=False)
    assert bunch.skipped[0] == ()
    (record,) = bunch.skipped[1]
    assert record.reason == "truncated" and record.clip_index == 1
    assert record.indices[-1] == 59
    with pytest.raises(SkippedFramesError, match=r"b\.mp4.*truncated"):
        load_folder(tmp_path, on_missing="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_folder(tmp_path, on_missing="ignore").skipped[1][0].reason == "truncated"


def test_emodb_wav_shorter_than_its_header(tmp_path):
    """Emo-DB folder with one WAV whose header declares 2 s but holds 1 s -> clear error: names
    that file and both lengths, instead of a data set with 1 s of it.
    """
    import wave

    from skfer.datasets import load_emodb

    for name, seconds in (("03a01Fa", 1.0), ("03a01Wa", 1.0)):
        with wave.open(str(tmp_path / f"{name}.wav"), "wb") as fh:
            fh.setnchannels(1), fh.setsampwidth(2), fh.setframerate(16000)
            fh.writeframes(np.zeros(int(seconds * 16000), "<i2").tobytes())
    assert len(load_emodb(tmp_path).audio[0]) == 16000
    data = bytearray((tmp_path / "03a01Wa.wav").read_bytes())
    at = data.index(b"data")
    data[at + 4:at + 8] = np.array([2 * 32000], "<u4").tobytes()  # the header says 2 s
    (tmp_path / "03a01Wa.wav").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"03a01Wa\.wav is cut short: it declares 32000 "
                                         r"samples \(2\.000 s at 16000 Hz"):
        load_emodb(tmp_path)


def test_embedded_data_every_seed_passes_the_front_end(capsys):
    """make_expressions for seeds 0 to 20 (seed 8 drew a clip without a trustworthy face) ->
    OK: `skfer train`'s face-tube front end accepts every clip, nothing raises.
    """
    from skfer.datasets import DATA_FORMATS, make_expressions
    from skfer.models import prepare_clips

    for seed in range(21):
        bunch = make_expressions(n_subjects=1, random_state=seed)
        tubes, counts = prepare_clips(bunch.data, DATA_FORMATS["embedded"])
        assert len(tubes) == len(bunch.data) and counts["suspect"] == 0, seed


def test_embedded_data_redraws_only_a_refused_clip(monkeypatch):
    """make_expressions whose front end refuses clip 2's first render, or every render -> OK:
    only clip 2 is drawn again (the others are the seed's own); a clip never accepted is a
    ValueError naming it and face_check=False.
    """
    import skfer.datasets.synthetic as synthetic
    from skfer.datasets import make_expressions

    kwargs = {"n_subjects": 1, "n_clips_per_expression": 1, "n_frames": 3, "random_state": 0}
    plain = make_expressions(face_check=False, **kwargs)
    calls = []
    monkeypatch.setattr(synthetic, "_front_end_check",
                        lambda: lambda clip: calls.append(1) or len(calls) != 3)
    checked = make_expressions(**kwargs)
    assert len(calls) == 7  # six clips, clip 2 twice
    same = [np.array_equal(a, b) for a, b in zip(plain.data, checked.data)]
    assert same == [True, True, False, True, True, True]
    monkeypatch.setattr(synthetic, "_front_end_check", lambda: lambda clip: False)
    with pytest.raises(ValueError, match=r"no render of clip 0 \(subject 0, anger\) out of 10 "
                                         r".*face_check=False"):
        make_expressions(**kwargs)
