"""Tests of the data set loaders on tiny fixtures written here, and on ../shared/data."""

from __future__ import annotations

import collections
import shutil

import cv2
import numpy as np
import pytest

from skfer.datasets.ckplus import load_ckplus, load_ckplus48, read_ckplus_landmarks
from skfer.datasets.fer2013 import load_fer2013
from skfer.datasets.folder import load_folder
from skfer.datasets.jaffe import load_jaffe
from skfer.datasets.samples import load_sample_videos


def write_png(path, value, shape=(48, 48)):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full(shape, value, np.uint8))


# --- CK+48 --------------------------------------------------------------------------------

# (class folder, subject, sequence number, frame); rows deliberately out of frame order.
CK48_ROWS = [
    ("anger", "S010", "004", 19), ("anger", "S010", "004", 17), ("anger", "S010", "004", 18),
    ("happy", "S011", "001", 6), ("happy", "S011", "001", 5),
    ("happy", "S010", "002", 9),
]


@pytest.fixture
def ck48(tmp_path):
    root = tmp_path / "ck48"
    lines = ["path,subject,sequence,frame,label"]
    for label, subject, seq, frame in CK48_ROWS:
        rel = f"{label}/{subject}_{seq}_{frame:08d}.png"
        write_png(root / rel, frame)  # pixel value = frame number, to check the order
        lines.append(f"{rel},{subject},{subject}_{seq},{frame},{label}")
    (root / "index.csv").write_text("\n".join(lines) + "\n")
    return root


def test_ckplus48_with_index(ck48):
    b = load_ckplus48(ck48)
    assert [c.shape for c in b.data] == [(3, 48, 48), (2, 48, 48), (1, 48, 48)]
    assert [c[:, 0, 0].tolist() for c in b.data] == [[17, 18, 19], [5, 6], [9]]
    assert b.target.tolist() == ["anger", "happiness", "happiness"]
    assert b.groups.tolist() == ["S010", "S011", "S010"]
    assert b.filenames.tolist() == ["S010_004", "S011_001", "S010_002"]
    assert b.target_names.tolist() == ["anger", "happiness"]
    assert b.source_target_names.tolist() == ["anger", "happy"]
    assert [f.tolist() for f in b.frame_ids] == [[17, 18, 19], [5, 6], [9]]
    assert b.frame_files[1][0].endswith("happy/S011_001_00000005.png")
    assert "S010" not in b.DESCR and "2 subjects" in b.DESCR


def test_ckplus48_without_index_parses_names(ck48):
    (ck48 / "index.csv").unlink()
    b = load_ckplus48(ck48)
    # Sorted by class folder, then file name.
    assert b.filenames.tolist() == ["S010_004", "S010_002", "S011_001"]
    assert b.groups.tolist() == ["S010", "S010", "S011"]
    assert b.data[0][:, 0, 0].tolist() == [17, 18, 19]
    write_png(ck48 / "anger" / "face.png", 1)
    with pytest.raises(ValueError, match="face.png"):
        load_ckplus48(ck48)


def test_ckplus48_errors(ck48, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_ckplus48(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        load_ckplus48(tmp_path / "empty")
    text = (ck48 / "index.csv").read_text()
    (ck48 / "index.csv").write_text(text.replace("S010,S010_002,9,happy", "S010,S010_002,9,bored"))
    with pytest.raises(ValueError, match=r"'bored' in .*S010_002_00000009.png"):
        load_ckplus48(ck48)
    (ck48 / "index.csv").write_text(text)
    (ck48 / "anger" / "S010_004_00000018.png").write_bytes(b"broken")
    with pytest.raises(ValueError, match="S010_004_00000018.png"):
        load_ckplus48(ck48)
    (ck48 / "anger" / "S010_004_00000018.png").unlink()
    with pytest.raises(FileNotFoundError, match="S010_004_00000018.png"):
        load_ckplus48(ck48)


# --- full CK+ -----------------------------------------------------------------------------

def lmk_text(offset):
    return "".join(f"   {offset + i:.7e}   {2 * i:.7e}\n" for i in range(68))


@pytest.fixture
def ckfull(tmp_path):
    root = tmp_path / "CK+"
    # S005/001: disgust (3) with landmarks; S010/002: no emotion file; S011/001: happy (5).
    for subject, seq, n in (("S005", "001", 3), ("S010", "002", 2), ("S011", "001", 4)):
        for f in range(1, n + 1):
            write_png(root / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{f:08d}.png",
                      10 * f, shape=(10, 12))
    for subject, seq, code, last in (("S005", "001", 3, 3), ("S011", "001", 5, 4)):
        emo = root / "Emotion" / subject / seq / f"{subject}_{seq}_{last:08d}_emotion.txt"
        emo.parent.mkdir(parents=True)
        emo.write_text(f"   {code:.7e}\n")
    for f in range(1, 4):
        lmk = root / "Landmarks" / "S005" / "001" / f"S005_001_{f:08d}_landmarks.txt"
        lmk.parent.mkdir(parents=True, exist_ok=True)
        lmk.write_text(lmk_text(100 * f))
    return root


def test_ckplus_labelled_sequences(ckfull):
    b = load_ckplus(ckfull)
    assert [c.shape for c in b.data] == [(3, 10, 12), (4, 10, 12)]
    assert b.data[1][:, 0, 0].tolist() == [10, 20, 30, 40]
    assert b.target.tolist() == ["disgust", "happiness"]
    assert b.groups.tolist() == ["S005", "S011"]
    assert b.unlabelled_sequences == ["S010_002"]
    assert b.source_target_names.tolist()[:2] == ["neutral", "anger"]
    assert b.target_names.tolist() == ["neutral", "anger", "contempt", "disgust", "fear",
                                       "happiness", "sadness", "surprise"]
    assert b.landmarks[0].shape == (3, 68, 2) and b.landmarks[1] is None
    np.testing.assert_allclose(b.landmarks[0][2, 5], [305.0, 10.0])
    assert b.frame_ids[0].tolist() == [1, 2, 3]


def test_ckplus_options(ckfull):
    b = load_ckplus(ckfull, include_unlabelled=True, last_frames=2, color=True)
    assert b.target.tolist() == ["disgust", "unlabelled", "happiness"]
    assert b.target_names[-1] == "unlabelled"
    assert [c.shape for c in b.data] == [(2, 10, 12, 3)] * 3
    assert b.frame_ids[2].tolist() == [3, 4]
    assert b.landmarks[0].shape == (2, 68, 2)


def test_ckplus_errors(ckfull, tmp_path):
    emo = next((ckfull / "Emotion" / "S011").rglob("*.txt"))
    emo.write_text("   9.0000000e+00\n")
    with pytest.raises(ValueError, match=r"_emotion.txt holds code 9"):
        load_ckplus(ckfull)
    emo.write_text("happy\n")
    with pytest.raises(ValueError, match="does not hold a number"):
        load_ckplus(ckfull)
    shutil.rmtree(ckfull / "Emotion")
    with pytest.raises(FileNotFoundError, match="Emotion"):
        load_ckplus(ckfull)


def test_ckplus_landmark_file_errors(tmp_path):
    (tmp_path / "short_landmarks.txt").write_text("1 2\n3 4\n")
    with pytest.raises(ValueError, match=r"short_landmarks.txt holds \(2, 2\)"):
        read_ckplus_landmarks(tmp_path / "short_landmarks.txt")


# --- FER2013 ------------------------------------------------------------------------------

FER_ROWS = [(0, "Training"), (3, "Training"), (6, "Training"), (3, "PublicTest"),
            (2, "PrivateTest")]


@pytest.fixture
def fer_csv(tmp_path):
    lines = ["emotion,pixels,Usage"]
    for k, (code, usage) in enumerate(FER_ROWS):
        pixels = (np.arange(48 * 48) + k) % 256  # row k starts at value k
        lines.append(f"{code},{' '.join(map(str, pixels))},{usage}")
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fer2013_csv(fer_csv):
    b = load_fer2013(fer_csv)
    assert len(b.data) == 5 and all(c.shape == (1, 48, 48) for c in b.data)
    assert b.data[0].dtype == np.uint8
    assert [int(c[0, 0, 0]) for c in b.data] == [0, 1, 2, 3, 4]
    assert int(b.data[2][0, 1, 0]) == 48 + 2  # row-major 48x48
    assert b.target.tolist() == ["anger", "happiness", "neutral", "happiness", "fear"]
    assert b.groups is None and "no subject ids" in b.DESCR
    assert b.source_target_names.tolist() == ["angry", "disgust", "fear", "happy", "sad",
                                              "surprise", "neutral"]
    assert b.filenames.tolist()[3] == "fer2013.csv:row3"
    assert b.usage.tolist() == [u for _, u in FER_ROWS]
    assert b.images.shape == (5, 48, 48)


def test_fer2013_csv_subset_and_max_per_class(fer_csv):
    b = load_fer2013(fer_csv.parent, subset="Training", max_per_class=1)
    assert b.target.tolist() == ["anger", "happiness", "neutral"]
    b = load_fer2013(fer_csv, max_per_class=1)
    assert b.filenames.tolist() == ["fer2013.csv:row0", "fer2013.csv:row1",
                                    "fer2013.csv:row2", "fer2013.csv:row4"]
    assert load_fer2013(fer_csv, subset="PrivateTest").target.tolist() == ["fear"]
    with pytest.raises(ValueError, match="subset must be one of"):
        load_fer2013(fer_csv, subset="Test")


@pytest.mark.parametrize("bad, message", [
    (" ".join(["1"] * 2303), "data row 2 .*2303 values"),
    (" ".join(["1"] * 2303 + ["x"]), "data row 2 .*not an integer"),
    (" ".join(["1"] * 2303 + ["256"]), "data row 2 .*outside 0-255"),
])
def test_fer2013_malformed_row(fer_csv, bad, message):
    lines = fer_csv.read_text().splitlines()
    lines[3] = f"6,{bad},Training"
    fer_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=message):
        load_fer2013(fer_csv)


def test_fer2013_unknown_code(fer_csv):
    lines = fer_csv.read_text().splitlines()
    lines[5] = "7" + lines[5][1:]
    fer_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="data row 4 .*unknown emotion code '7'"):
        load_fer2013(fer_csv)


def test_fer2013_folders(tmp_path):
    for split, counts in (("train", {"angry": 3, "happy": 2}), ("publictest", {"sad": 1})):
        for label, n in counts.items():
            for i in range(n):
                write_png(tmp_path / split / label / f"im{i}.png", 40 * i + 1)
    b = load_fer2013(tmp_path, subset="Training", max_per_class=2, n_jobs=2)
    assert b.target.tolist() == ["anger", "anger", "happiness", "happiness"]
    assert [int(c[0, 0, 0]) for c in b.data] == [1, 41, 1, 41]
    assert b.usage.tolist() == ["Training"] * 4 and b.groups is None
    b = load_fer2013(tmp_path / "publictest")
    assert b.target.tolist() == ["sadness"] and b.usage.tolist() == ["publictest"]
    with pytest.raises(FileNotFoundError, match="PrivateTest"):
        load_fer2013(tmp_path, subset="PrivateTest")
    write_png(tmp_path / "publictest" / "bored" / "x.png", 1)
    with pytest.raises(ValueError, match=r"'bored' in .*bored.x\.png"):
        load_fer2013(tmp_path / "publictest")
    shutil.rmtree(tmp_path / "publictest" / "bored")
    write_png(tmp_path / "publictest" / "sad" / "big.png", 1, shape=(50, 48))
    with pytest.raises(ValueError, match="big.png is"):
        load_fer2013(tmp_path / "publictest")


# --- JAFFE --------------------------------------------------------------------------------

def test_jaffe(tmp_path):
    names = ["KM.SU1.16.tiff", "KA.HA2.45.tiff", "KA.AN1.39.tiff", "KA.AN10.40.tiff"]
    for k, name in enumerate(names):
        write_png(tmp_path / name, k, shape=(8, 8))  # cv2 writes TIFF by the suffix
    (tmp_path / "README_FIRST.txt").write_text("not an image")
    b = load_jaffe(tmp_path)
    assert [f.split("/")[-1] for f in b.filenames] == [
        "KA.AN1.39.tiff", "KA.AN10.40.tiff", "KA.HA2.45.tiff", "KM.SU1.16.tiff"]
    assert b.target.tolist() == ["anger", "anger", "happiness", "surprise"]
    assert b.groups.tolist() == ["KA", "KA", "KA", "KM"]
    assert [c.shape for c in b.data] == [(1, 8, 8)] * 4
    assert b.source_target_names.tolist() == ["AN", "DI", "FE", "HA", "NE", "SA", "SU"]
    assert b.target_names.tolist() == ["anger", "disgust", "fear", "happiness", "neutral",
                                       "sadness", "surprise"]
    write_png(tmp_path / "KA.XX1.41.tiff", 1, shape=(8, 8))
    with pytest.raises(ValueError, match="'XX' in .*KA.XX1.41.tiff"):
        load_jaffe(tmp_path)
    (tmp_path / "KA.XX1.41.tiff").rename(tmp_path / "face.tiff")
    with pytest.raises(ValueError, match="face.tiff"):
        load_jaffe(tmp_path)


# --- generic folder -----------------------------------------------------------------------

@pytest.fixture
def class_tree(tmp_path):
    root = tmp_path / "clips"
    (root / "happy").mkdir(parents=True)
    writer = cv2.VideoWriter(str(root / "happy" / "p01_take1.avi"),
                             cv2.VideoWriter_fourcc(*"MJPG"), 12, (16, 16))
    for i in range(5):
        writer.write(np.full((16, 16, 3), 50 * i, np.uint8))
    writer.release()
    for f in range(3):
        write_png(root / "happy" / "p02_seq" / f"frame{f}.png", f, shape=(16, 16))
    write_png(root / "sad" / "p01_still.png", 7, shape=(20, 10))
    return root


def test_folder_mixed_entries(class_tree):
    b = load_folder(class_tree, color=False)
    assert [c.shape for c in b.data] == [(5, 16, 16), (3, 16, 16), (1, 20, 10)]
    assert b.kinds.tolist() == ["video", "frames", "image"]
    assert b.target.tolist() == ["happiness", "happiness", "sadness"]
    assert b.source_target_names.tolist() == ["happy", "sad"]
    assert b.groups is None and "groups is None" in b.DESCR
    assert b.fps[0] == pytest.approx(12.0) and np.isnan(b.fps[1:]).all()
    np.testing.assert_allclose(b.data[0][:, 8, 8], 50 * np.arange(5), atol=3)
    assert load_folder(class_tree, max_frames=2).data[0].shape == (2, 16, 16, 3)


def test_folder_groups(class_tree):
    b = load_folder(class_tree, group_from=r"^(p\d+)_")
    assert b.groups.tolist() == ["p01", "p02", "p01"]
    assert load_folder(class_tree, group_from=lambda n: n[:3].upper()).groups.tolist() == [
        "P01", "P02", "P01"]
    with pytest.raises(ValueError, match="p02_seq"):
        load_folder(class_tree, group_from=r"take")
    (class_tree / "groups.csv").write_text(
        "path,group\nhappy/p01_take1.avi,A\np02_seq,B\nsad/p01_still.png,A\n")
    assert load_folder(class_tree).groups.tolist() == ["A", "B", "A"]
    (class_tree / "groups.csv").write_text("path,group\nhappy/p01_take1.avi,A\n")
    with pytest.raises(ValueError, match="p02_seq is not listed in .*groups.csv"):
        load_folder(class_tree)


def test_folder_errors(class_tree, tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        load_folder(tmp_path / "absent")
    (class_tree / "neutral").mkdir()
    with pytest.raises(ValueError, match="class folder .*neutral is empty"):
        load_folder(class_tree)
    (class_tree / "neutral" / "broken.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="broken.mp4"):
        load_folder(class_tree)
    shutil.rmtree(class_tree / "neutral")
    write_png(class_tree / "sleepy" / "a.png", 1)
    with pytest.raises(ValueError, match=r"'sleepy' in .*sleepy.a\.png"):
        load_folder(class_tree)


# --- shipped CREMA-D sample ---------------------------------------------------------------

def test_load_sample_videos():
    b = load_sample_videos()
    assert [c.shape for c in b.data] == [(n, 360, 480, 3) for n in (67, 70, 65, 56, 61, 60)]
    assert b.target.tolist() == ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
    assert b.source_target_names.tolist() == ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
    assert b.groups.tolist() == [1001] * 6
    np.testing.assert_allclose(b.fps, 30000 / 1001, rtol=1e-3)
    assert b.sample_rate == 16000
    for clip, sound, fps in zip(b.data, b.audio, b.fps):
        assert sound.dtype == np.float32 and 0.05 < np.abs(sound).max() <= 1.0
        assert len(sound) / 16000 == pytest.approx(len(clip) / fps, abs=0.15)
    assert "Cao" in b.DESCR and "ODbL" in b.DESCR
    grey = load_sample_videos(color=False, audio=False)
    assert grey.data[0].shape == (67, 360, 480) and grey.audio is None


# --- real data ----------------------------------------------------------------------------

def test_ckplus48_real(shared_data):
    b = load_ckplus48(shared_data / "ckplus48")
    assert len(b.data) == 327 and all(c.shape == (3, 48, 48) for c in b.data)
    assert len(set(b.groups)) == 118
    assert collections.Counter(b.target) == {
        "anger": 45, "contempt": 18, "disgust": 59, "fear": 25, "happiness": 69,
        "sadness": 28, "surprise": 83}
    assert all(np.all(np.diff(f) == 1) for f in b.frame_ids)  # 3 consecutive frames


def test_fer2013_real_folders(shared_data):
    b = load_fer2013(shared_data / "fer2013", subset="Training", max_per_class=20)
    assert len(b.data) == 140 and b.data[0].shape == (1, 48, 48)
    assert collections.Counter(b.target) == dict.fromkeys(
        ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"], 20)
    b = load_fer2013(shared_data / "fer2013", subset="PublicTest", max_per_class=5)
    assert len(b.data) == 35 and set(b.usage) == {"PublicTest"}


def test_ckplus_landmark_sample(shared_data):
    files = sorted((shared_data / "ckplus_landmarks_sample").rglob("*_landmarks.txt"))
    assert len(files) == 2
    pts = read_ckplus_landmarks(files[0])
    assert pts.shape == (68, 2) and pts.dtype == np.float32
    np.testing.assert_allclose(pts[0], [217.79878, 217.08728], rtol=1e-6)


def test_fer2013_csv_quoted_fields(fer_csv):
    # Writers that quote every field (and a header with blanks, as in icml_face_data.csv).
    lines = fer_csv.read_text().splitlines()
    quoted = ["emotion, pixels, Usage"] + [
        ",".join(f'"{v}"' for v in line.split(",")) for line in lines[1:]]
    fer_csv.write_text("\r\n".join(quoted) + "\r\n")
    b = load_fer2013(fer_csv)
    assert b.target.tolist() == ["anger", "happiness", "neutral", "happiness", "fear"]
    assert [int(c[0, 0, 0]) for c in b.data] == [0, 1, 2, 3, 4]
