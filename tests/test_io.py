"""Tests of skfer.io: images, frame folders, videos (OpenCV and PyAV paths) and sound."""

from __future__ import annotations

import wave

import cv2
import numpy as np
import pytest

from skfer.io import (
    Video,
    iter_frames,
    read_audio,
    read_frame_folder,
    read_image,
    read_video,
    video_fps,
)
from skfer.utils.frame_policy import SkippedFramesWarning

N_FRAMES, H, W = 30, 32, 40


def write_video(path, n_frames=N_FRAMES, fps=10):
    """MJPG AVI whose frame i is a flat grey of value 8*i, with a red square top-left."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    for i in range(n_frames):
        frame = np.full((H, W, 3), 8 * i, np.uint8)
        frame[:8, :8] = (0, 0, 255)  # BGR red
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def avi(tmp_path):
    return write_video(tmp_path / "clip.avi")


def write_wav(path, rate=8000, seconds=1.0, freq=440.0, channels=2):
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.5 * np.sin(2 * np.pi * freq * t)
    pcm = (np.repeat(tone[:, None], channels, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(channels)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(pcm.tobytes())
    return path


# --- images -------------------------------------------------------------------------------

def test_read_image_rgb_order_and_grey(tmp_path):
    img = np.zeros((6, 5, 3), np.uint8)
    img[..., 2] = 200  # BGR red
    cv2.imwrite(str(tmp_path / "a.png"), img)
    rgb = read_image(tmp_path / "a.png")
    assert rgb.shape == (6, 5, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [200, 0, 0]
    grey = read_image(tmp_path / "a.png", color=False)
    # OpenCV's BT.601 luma 0.299 R, computed in fixed point (off by one at most).
    assert grey.shape == (6, 5) and abs(int(grey[0, 0]) - 0.299 * 200) <= 1


def test_read_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.png"):
        read_image(tmp_path / "bad.png")


def test_read_frame_folder_natural_order(tmp_path):
    for i in (10, 2, 1):  # frame10 must come after frame2
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), np.full((4, 4), i, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored: not an image")
    clip = read_frame_folder(tmp_path, color=False)
    assert clip.shape == (3, 4, 4)
    assert clip[:, 0, 0].tolist() == [1, 2, 10]
    assert read_frame_folder(tmp_path, max_frames=2).shape == (2, 4, 4, 3)


def test_read_frame_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        read_frame_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no image"):
        read_frame_folder(tmp_path)
    cv2.imwrite(str(tmp_path / "f1.png"), np.zeros((4, 4), np.uint8))
    cv2.imwrite(str(tmp_path / "f2.png"), np.zeros((5, 4), np.uint8))
    with pytest.raises(ValueError, match=r"different sizes.*f1\.png.*f2\.png"):
        read_frame_folder(tmp_path)


# --- video --------------------------------------------------------------------------------

def test_read_video_opencv(avi):
    video = read_video(avi)
    assert isinstance(video, Video) and len(video) == N_FRAMES
    assert video.frames.shape == (N_FRAMES, H, W, 3) and video.frames.dtype == np.uint8
    assert video.fps == pytest.approx(10.0)
    np.testing.assert_array_equal(video.frame_indices, np.arange(N_FRAMES))
    # Flat grey 8*i, within MJPEG's loss; the red square comes back as RGB red.
    np.testing.assert_allclose(video.frames[:, 20, 20].mean(axis=1), 8 * np.arange(N_FRAMES),
                               atol=3)
    r, g, b = video.frames[0, 2, 2].astype(int)
    assert r > 200 and g < 40 and b < 40
    assert video.audio is None


def test_read_video_start_stride_max_frames_grey(avi):
    video = read_video(avi, start=2, stride=3, max_frames=4, color=False)
    assert video.frames.shape == (4, H, W)
    np.testing.assert_array_equal(video.frame_indices, [2, 5, 8, 11])
    np.testing.assert_allclose(video.frames[:, 20, 20], 8 * np.array([2, 5, 8, 11]), atol=3)


def test_iter_frames_matches_read_video(avi):
    frames = list(iter_frames(avi, stride=7))
    assert len(frames) == 5  # 0, 7, 14, 21, 28
    np.testing.assert_array_equal(np.stack(frames), read_video(avi, stride=7).frames)


def test_pyav_decode_matches_opencv(avi):
    # skfer decodes with PyAV (issue 16: OpenCV hides corrupt frames and resolution changes);
    # OpenCV's own decode of the same MJPEG bitstream is the reference.
    video = read_video(avi, start=1, stride=2)
    cap = cv2.VideoCapture(str(avi))
    reference = []
    while (grabbed := cap.read())[0]:
        reference.append(cv2.cvtColor(grabbed[1], cv2.COLOR_BGR2RGB))
    cap.release()
    np.testing.assert_array_equal(video.frame_indices, np.arange(1, N_FRAMES, 2))
    assert video.fps == pytest.approx(10.0) and video.skipped == ()
    # The YUV->RGB conversions differ by rounding only.
    assert np.abs(video.frames.astype(int) - np.stack(reference)[1::2]).mean() < 3


def test_video_errors(tmp_path, avi):
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        read_video(tmp_path / "missing.mp4")
    with pytest.raises(IsADirectoryError, match="read_frame_folder"):
        read_video(tmp_path)
    (tmp_path / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(ValueError, match="corrupt.mp4"):
        read_video(tmp_path / "corrupt.mp4")
    data = avi.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) * 2 // 5])
    # issue 16: the loss is warned about (declared 30, decoded 0), then no frame is an error.
    with pytest.warns(SkippedFramesWarning, match="declared 30 frames"), \
            pytest.raises(ValueError, match="cut.avi.*no frame.*truncated"):
        read_video(tmp_path / "cut.avi")
    empty = write_video(tmp_path / "empty.avi", n_frames=0)
    with pytest.raises(ValueError, match="empty.avi.*no frame"):
        read_video(empty)
    with pytest.raises(ValueError, match="clip.avi.*no frame"):
        read_video(avi, start=N_FRAMES)
    with pytest.raises(ValueError, match="stride"):
        read_video(avi, stride=0)
    with pytest.raises(ValueError, match="clip.avi has no audio track"):
        read_video(avi, audio=True)


def test_video_fps(avi):
    assert video_fps(avi) == pytest.approx(10.0)


# --- audio --------------------------------------------------------------------------------

def test_read_audio_resamples_and_mixes(tmp_path):
    wav = write_wav(tmp_path / "tone.wav", rate=8000, seconds=1.0, freq=440.0)
    samples, rate = read_audio(wav, sample_rate=16000)
    assert rate == 16000 and samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - 16000) <= 64  # resampler latency
    spectrum = np.abs(np.fft.rfft(samples[2000:14000]))
    peak_hz = np.argmax(spectrum) * rate / 12000
    assert peak_hz == pytest.approx(440.0, abs=2)
    assert np.abs(samples).max() == pytest.approx(0.5, abs=0.02)
    stereo, native = read_audio(wav, sample_rate=None, mono=False)
    assert native == 8000 and stereo.shape == (8000, 2)
    np.testing.assert_allclose(stereo[:, 0], stereo[:, 1])


def test_read_audio_errors(tmp_path, avi):
    with pytest.raises(FileNotFoundError, match="gone.wav"):
        read_audio(tmp_path / "gone.wav")
    with pytest.raises(ValueError, match="clip.avi has no audio track"):
        read_audio(avi)
    (tmp_path / "junk.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(ValueError, match="junk.wav"):
        read_audio(tmp_path / "junk.wav")
    with pytest.raises(ValueError, match="sample_rate"):
        read_audio(avi, sample_rate=0)


# --- real data ----------------------------------------------------------------------------

def test_cremad_flv_with_audio(shared_data):
    path = shared_data / "cremad_sample" / "1001_DFA_ANG_XX.flv"
    video = read_video(path, audio=True)
    assert video.frames.shape == (67, 360, 480, 3)
    assert video.fps == pytest.approx(30000 / 1001, rel=1e-3)
    assert video.sample_rate == 16000
    # Sound and picture last as long as each other (about 2.2 s).
    assert len(video.audio) / 16000 == pytest.approx(67 / video.fps, abs=0.15)
