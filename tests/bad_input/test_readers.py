"""Bad inputs to the readers of skfer.io: cut and corrupt videos, resolution changes, odd images
and files that are not what they should be (issue 16)."""

from __future__ import annotations

import os
import warnings
import wave

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from skfer.io import iter_frames, read_audio, read_frame_folder, read_image, read_video
from skfer.io._prefetch import prefetch
from skfer.utils.frame_policy import SkippedFramesError, SkippedFramesWarning

N, H, W, FPS = 120, 48, 64, 25


def _frame(i, h=H, w=W):
    frame = np.full((h, w, 3), (2 * i) % 256, np.uint8)
    frame[:8, :8] = (255, 0, 0)
    return frame


def write_av(path, fmt, codec="libx264", n=N, size=(H, W), options=None):
    """A video written with PyAV: frame i is a flat grey 2*i with a red corner."""
    with av.open(str(path), "w", format=fmt, options=options or {}) as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.height, stream.width = size
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(_frame(i, *size), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_mjpg(path, n=30):
    """An MJPG AVI written with OpenCV."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    for i in range(n):
        writer.write(_frame(i)[..., ::-1])
    writer.release()
    return path


def cut(path, fraction, name=None):
    """A copy of ``path`` keeping the first ``fraction`` of its bytes."""
    data = path.read_bytes()
    out = path.with_name(name or f"cut_{path.name}")
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def read_quietly(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFramesWarning)
        return read_video(path, **kwargs)


# --- cut videos ----------------------------------------------------------------------------

def test_mp4_missing_last_8_percent(tmp_path):
    """MP4 (index first) missing its last 8% of bytes -> recorded policy: warned, the missing
    indices recorded "truncated" against the exact declared count.
    """
    mp4 = write_av(tmp_path / "a.mp4", "mp4", options={"movflags": "faststart"})
    short = cut(mp4, 0.92)
    with pytest.warns(SkippedFramesWarning, match=r"not decoded.*truncated.*declared 120 frames"):
        video = read_video(short)
    assert 0 < len(video) < N
    np.testing.assert_array_equal(video.frame_indices, np.arange(len(video)))
    (record,) = video.skipped
    assert record.reason == "truncated" and record.source == str(short)
    np.testing.assert_array_equal(record.indices, np.arange(len(video), N))
    assert record.detail.startswith(
        f"declared 120 frames (the container's frame index), decoded {len(video)}; decoding "
        "failed after frame")  # the packet the cut went through


def test_mp4_cut_raise_policy(tmp_path):
    """MP4 cut short, on_missing="raise" -> clear error: SkippedFramesError naming the file and the
    counts.
    """
    short = cut(write_av(tmp_path / "a.mp4", "mp4", options={"movflags": "faststart"}), 0.92)
    with pytest.raises(SkippedFramesError, match=r"cut_a\.mp4.*truncated.*declared 120") as err:
        read_video(short, on_missing="raise")
    assert err.value.records[0].reason == "truncated"


def test_mp4_cut_ignore_policy(tmp_path):
    """MP4 cut short, on_missing="ignore" -> recorded policy: no warning, the record is in
    Video.skipped.
    """
    short = cut(write_av(tmp_path / "a.mp4", "mp4", options={"movflags": "faststart"}), 0.92)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        video = read_video(short, on_missing="ignore")
    assert [r.reason for r in video.skipped] == ["truncated"]


def test_mp4_index_at_end_cut(tmp_path):
    """MP4 with its index (moov) at the end, cut -> clear error: cannot open, naming the file."""
    short = cut(write_av(tmp_path / "a.mp4", "mp4"), 0.5)
    with pytest.raises(ValueError, match=r"cannot open video .*cut_a\.mp4"):
        read_video(short)


def test_mpegts_cut_in_half(tmp_path):
    """MPEG-TS cut in half (inside a transport packet) -> recorded policy: the cut frame recorded
    "truncated", the unknowable rest said so.
    """
    ts = write_av(tmp_path / "a.ts", "mpegts")
    data = ts.read_bytes()
    half = tmp_path / "half.ts"
    half.write_bytes(data[: (len(data) // 2 // 188) * 188 + 77])
    with pytest.warns(SkippedFramesWarning, match="ends inside a transport packet"):
        video = read_video(half)
    (record,) = video.skipped
    assert record.reason == "truncated" and record.indices.tolist() == [len(video)]
    assert "cannot be known" in record.detail
    assert 50 < len(video) < 65


def test_avi_cut_in_half(tmp_path):
    """MJPG AVI cut in half -> recorded policy: "truncated" against the AVI index's exact count."""
    avi = write_mjpg(tmp_path / "a.avi", n=60)
    video = read_quietly(cut(avi, 0.5), on_missing="ignore")
    (record,) = [r for r in video.skipped if r.reason == "truncated"]
    assert "declared 60 frames" in record.detail
    assert record.indices[-1] == 59 and record.indices[0] >= len(video)


def test_mkv_cut_estimated_count(tmp_path):
    """MKV cut at 92% (no frame count, duration declared) -> recorded policy: "truncated" against
    duration x fps, marked as an estimate.
    """
    mkv = write_av(tmp_path / "a.mkv", "matroska")
    video = read_quietly(cut(mkv, 0.92))
    (record,) = video.skipped
    assert record.reason == "truncated"
    assert record.detail.startswith("declared about 120 frames (duration 4.800 s x 25.000 fps)")
    np.testing.assert_array_equal(record.indices, np.arange(len(video), N))


def test_complete_videos_record_nothing(tmp_path):
    """Complete MP4, MKV, MPEG-TS, AVI, FLV -> OK: every frame, no record, no warning."""
    files = [write_av(tmp_path / "a.mp4", "mp4"), write_av(tmp_path / "a.mkv", "matroska"),
             write_av(tmp_path / "a.ts", "mpegts"), write_av(tmp_path / "a.flv", "flv", "flv"),
             write_av(tmp_path / "b.avi", "avi", "mjpeg"), write_mjpg(tmp_path / "a.avi")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in files:
            video = read_video(f, on_missing="raise")
            assert video.skipped == () and len(video) == (30 if f.name == "a.avi" else N)


def test_corrupt_frame_in_the_middle(tmp_path):
    """MJPG AVI whose frame 10 is zeroed -> recorded policy: frame 10 recorded "undecodable", the 29
    others returned with their file indices.
    """
    avi = write_mjpg(tmp_path / "a.avi")
    with av.open(str(avi)) as container:
        pos, size = [(p.pos, p.size) for p in container.demux(video=0) if p.size][10]
    data = bytearray(avi.read_bytes())
    soi = data.index(b"\xff\xd8", pos)
    data[soi:soi + size - 10] = bytes(size - 10)
    (tmp_path / "bad.avi").write_bytes(bytes(data))
    with pytest.warns(SkippedFramesWarning, match=r"1 frames were not decoded.*\[10\]"):
        video = read_video(tmp_path / "bad.avi")
    assert len(video) == 29 and 10 not in video.frame_indices
    (record,) = video.skipped
    assert record.reason == "undecodable" and record.indices.tolist() == [10]
    assert record.detail.startswith("decoding failed after frame 9: ")
    with pytest.raises(SkippedFramesError, match="undecodable"):
        read_video(tmp_path / "bad.avi", on_missing="raise")
    # Not asked for (stride 2 from frame 1): not recorded.
    assert read_video(tmp_path / "bad.avi", start=1, stride=2).skipped == ()


# --- resolution changes --------------------------------------------------------------------

@pytest.fixture
def two_sizes(tmp_path):
    """30 frames 48x64 then 30 frames 96x64: two MPEG-TS segments concatenated."""
    a = write_av(tmp_path / "a.ts", "mpegts", n=30)
    b = write_av(tmp_path / "b.ts", "mpegts", n=30, size=(96, 64))
    out = tmp_path / "two.ts"
    out.write_bytes(a.read_bytes() + b.read_bytes())
    return out


def test_resolution_change_letterboxed(two_sizes):
    """Stream whose resolution changes mid-video -> recorded policy: later frames letterboxed
    (aspect kept, black bars), recorded "resized".
    """
    with pytest.warns(SkippedFramesWarning, match="letterboxed.*resized"):
        video = read_video(two_sizes)
    assert video.frames.shape == (60, H, W, 3)
    (record,) = video.skipped
    assert record.reason == "resized" and record.indices.tolist() == list(range(30, 60))
    assert "96x64 from frame 30" in record.detail
    # 96x64 scaled by 1/2 is 48x32, centred: 16 black columns each side (OpenCV stretches it).
    late = video.frames[45].astype(int)
    assert late[:, :16].max() == 0 and late[:, 48:].max() == 0
    assert late[:, 20:44].mean() > 20


def test_resolution_change_raise(two_sizes):
    """Stream whose resolution changes, on_missing="raise" -> clear error: SkippedFramesError at
    frame 30.
    """
    with pytest.raises(SkippedFramesError, match=r"two\.ts: 1 frames \[30\]: resized"):
        read_video(two_sizes, on_missing="raise")


# --- streaming -----------------------------------------------------------------------------

def test_iter_frames_skipped_list(tmp_path):
    """iter_frames on a cut MP4 with skipped=[] -> recorded policy: records appended to the list,
    one warning.
    """
    short = cut(write_av(tmp_path / "a.mp4", "mp4", options={"movflags": "faststart"}), 0.92)
    records = []
    with pytest.warns(SkippedFramesWarning, match="truncated"):
        frames = list(iter_frames(short, skipped=records))
    assert [r.reason for r in records] == ["truncated"]
    assert records[0].indices[0] == len(frames)


def test_iter_frames_closed_early_keeps_records(two_sizes):
    """iter_frames stopped by the caller after a resized frame -> recorded policy: the record so far
    is appended.
    """
    records = []
    with pytest.warns(SkippedFramesWarning, match="letterboxed"):
        for i, _ in enumerate(iter_frames(two_sizes, skipped=records)):
            if i == 31:
                break
    assert records[0].reason == "resized" and records[0].indices.tolist() == [30, 31]


def test_iter_frames_raise_through_prefetch(tmp_path):
    """Cut MP4 streamed on the prefetch thread with on_missing="raise" -> clear error:
    SkippedFramesError reaches the consumer.
    """
    short = cut(write_av(tmp_path / "a.mp4", "mp4", options={"movflags": "faststart"}), 0.92)
    with pytest.raises(SkippedFramesError, match="truncated"):
        for _ in prefetch(iter_frames(short, on_missing="raise")):
            pass


def test_bad_on_missing(tmp_path):
    """on_missing="skip" -> clear error: names the allowed values."""
    with pytest.raises(ValueError, match=r"on_missing must be one of \('raise', 'warn'"):
        read_video(write_mjpg(tmp_path / "a.avi"), on_missing="skip")


# --- files that are not what they should be ------------------------------------------------

def test_video_not_a_video(tmp_path):
    """Text file named .mp4, zero-byte video, WAV given as video, max_frames 0 -> clear error: each
    names the file or the parameter.
    """
    (tmp_path / "text.mp4").write_text("hello, not a video" * 20)
    with pytest.raises(ValueError, match=r"cannot open video .*text\.mp4"):
        read_video(tmp_path / "text.mp4")
    (tmp_path / "zero.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match=r"video file .*zero\.mp4 is empty \(0 bytes\)"):
        iter_frames(tmp_path / "zero.mp4").__next__()
    wav = tmp_path / "s.wav"
    with wave.open(str(wav), "wb") as fh:
        fh.setnchannels(1), fh.setsampwidth(2), fh.setframerate(8000)
        fh.writeframes(bytes(1600))
    with pytest.raises(ValueError, match=r"s\.wav has no video stream"):
        read_video(wav)
    with pytest.raises(ValueError, match="max_frames must be a positive integer or None"):
        read_video(wav, max_frames=0)
    with pytest.raises(TypeError, match="max_frames must be a positive integer"):
        read_video(wav, max_frames=2.5)


def test_permission_denied(tmp_path, monkeypatch):
    """Unreadable image, video and sound files -> clear error: PermissionError naming the file."""
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.zeros((4, 4), np.uint8))
    # The tests may run as root, for whom chmod 000 changes nothing: simulate the denial.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(PermissionError, match=r"image file .*a\.png is not readable"):
        read_image(img)
    with pytest.raises(PermissionError, match=r"video file .*a\.png is not readable"):
        read_video(img)
    with pytest.raises(PermissionError, match=r"audio/video file .*a\.png is not readable"):
        read_audio(img)


def test_read_image_directory(tmp_path):
    """read_image given a folder -> clear error: IsADirectoryError saying it is a folder."""
    with pytest.raises(IsADirectoryError, match=r"is a folder, not an image file.*read_frame"):
        read_image(tmp_path)
    with pytest.raises(IsADirectoryError, match="is a folder, not an audio/video file"):
        read_audio(tmp_path)


def test_read_image_empty_and_corrupt(tmp_path):
    """Zero-byte, truncated and non-image files named .png/.jpg -> clear error: naming the file."""
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"zero\.png is empty \(0 bytes\)"):
        read_image(tmp_path / "zero.png")
    rng = np.random.default_rng(0)
    for ext in ("png", "jpg"):
        cv2.imwrite(str(tmp_path / f"x.{ext}"), rng.integers(0, 255, (32, 32, 3), np.uint8))
        cut(tmp_path / f"x.{ext}", 0.5)
        with pytest.raises(ValueError, match=rf"cannot read image .*cut_x\.{ext}: .*corrupt"):
            read_image(tmp_path / f"cut_x.{ext}")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ValueError, match=r"text\.png"):
        read_image(tmp_path / "text.png")


def test_read_image_16_bit_scaled(tmp_path):
    """16-bit grey PNG -> OK: scaled over the full range, round(v * 255 / 65535), never clipped."""
    values = np.array([[0, 257, 32896, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), values)
    assert read_image(tmp_path / "deep.png", color=False).tolist() == [[0, 1, 128, 255]]
    assert read_image(tmp_path / "deep.png")[0, 3].tolist() == [255, 255, 255]


def test_read_image_alpha_composited(tmp_path):
    """RGBA and grey+alpha PNGs -> OK: composited onto black (transparent reads black)."""
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[..., 3] = [[255, 0], [128, 255]]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out[0, 0].tolist() == [200, 100, 50] and out[0, 1].tolist() == [0, 0, 0]
    assert out[1, 0].tolist() == [100, 50, 25]
    la = np.stack([np.full((2, 2), 200, np.uint8), np.array([[255, 0], [0, 255]], np.uint8)], -1)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    assert read_image(tmp_path / "la.png", color=False).tolist() == [[200, 0], [0, 200]]


def test_read_image_exif_orientation(tmp_path):
    """JPEG with EXIF orientation 6 (rotate 90) -> OK: returned upright, as viewers show it."""
    stored = np.tile((np.arange(6, dtype=np.uint8) * 40)[None, :], (4, 1))
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=100)
    upright = read_image(tmp_path / "o.jpg", color=False)
    assert upright.shape == (6, 4)
    np.testing.assert_allclose(upright[:, 0], stored[0], atol=8)


def test_read_image_float_tiff(tmp_path):
    """32-bit float TIFF -> clear error: names the dtype and the file."""
    cv2.imwrite(str(tmp_path / "f.tiff"), np.full((4, 4), 0.5, np.float32))
    with pytest.raises(ValueError, match=r"f\.tiff holds float32 samples"):
        read_image(tmp_path / "f.tiff")


def test_frame_folder_bad_inputs(tmp_path):
    """Frame folder given as a file, max_frames -1 or 0 -> clear error: naming the problem."""
    cv2.imwrite(str(tmp_path / "f1.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(NotADirectoryError, match=r"f1\.png is a file, not a frame folder"):
        read_frame_folder(tmp_path / "f1.png")
    with pytest.raises(ValueError, match="got -1: a negative count would drop items"):
        read_frame_folder(tmp_path, max_frames=-1)
    with pytest.raises(ValueError, match="got 0: 0 would keep nothing"):
        read_frame_folder(tmp_path, max_frames=0)


def test_frame_folder_grey_and_colour_frames(tmp_path):
    """Frame folder mixing grey and colour PNGs of one size -> OK: one RGB clip."""
    cv2.imwrite(str(tmp_path / "f1.png"), np.full((4, 4), 100, np.uint8))
    cv2.imwrite(str(tmp_path / "f2.png"), np.full((4, 4, 3), (10, 20, 30), np.uint8))
    clip = read_frame_folder(tmp_path)
    assert clip.shape == (2, 4, 4, 3)
    assert clip[0, 0, 0].tolist() == [100] * 3 and clip[1, 0, 0].tolist() == [30, 20, 10]


# --- issue 25: display matrices, frame times, cuts that hide their size, sound headers ------

def _coded_frame(i, h=H, w=W):
    """Frame ``i`` with its index in six black/white stripes (robust to compression)."""
    frame = np.zeros((h, w, 3), np.uint8)
    for bit in range(6):
        if (i >> bit) & 1:
            frame[:, bit * w // 6:(bit + 1) * w // 6] = 255
    frame[: h // 6, : w // 6] = (255, 0, 0)  # a red corner shows the orientation
    return frame


def _code(frame):
    """The index :func:`_coded_frame` wrote into ``frame`` (stored orientation)."""
    h, w = frame.shape[:2]
    return sum(1 << bit for bit in range(6) if frame[2 * h // 3, bit * w // 6 + w // 12, 1] > 128)


def write_coded(path, fmt, codec="libx264", n=30, size=(H, W), start=0, pts_ms=None,
                rotation=None, hflip=False):
    """A video of :func:`_coded_frame` frames; ``pts_ms`` gives each frame's time (VFR)."""
    from fractions import Fraction

    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation, hflip=hflip)
        for k in range(n):
            frame = av.VideoFrame.from_ndarray(_coded_frame(start + k, *size), format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[k], Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _set_tkhd_matrix(path, matrix):
    """Overwrite the MP4 track header's display matrix, as a phone writes its rotation."""
    data = bytearray(path.read_bytes())
    at = data.index(b"tkhd")
    assert data[at + 4] == 0, "tkhd version 0 expected"
    # after the box type: version+flags, 5 x 32-bit fields, 8 reserved, 4 x 16-bit fields
    data[at + 4 + 40:at + 4 + 76] = np.array(matrix, ">i4").tobytes()
    path.write_bytes(bytes(data))
    return path


def test_phone_video_rotation_flag(tmp_path):
    """MP4 whose track header says "rotate 90 degrees clockwise" (a phone held upright) ->
    OK: frames returned upright as players and OpenCV show them, recorded in Video.rotation.
    """
    mp4 = write_coded(tmp_path / "phone.mp4", "mp4", n=5)
    # The matrix an upright phone writes: (x, y) is shown at (-y, x), translated back.
    _set_tkhd_matrix(mp4, [0, 1 << 16, 0, -(1 << 16), 0, 0, H << 16, 0, 1 << 30])
    video = read_video(mp4)
    assert video.frames.shape == (5, W, H, 3)
    assert (video.rotation, video.mirrored) == (270, False)  # counter-clockwise degrees
    stored = read_video(mp4, autorotate=False).frames
    np.testing.assert_array_equal(video.frames, np.rot90(stored, k=-1, axes=(1, 2)))
    capture = cv2.VideoCapture(str(mp4))  # an independent reader that applies the flag
    ok, bgr = capture.read()
    capture.release()
    assert ok and bgr.shape == video.frames[0].shape
    assert np.abs(bgr[..., ::-1].astype(int) - video.frames[0]).mean() < 3
    turned, times = [], []
    streamed = list(iter_frames(mp4, orientation=turned, times=times))
    np.testing.assert_array_equal(np.stack(streamed), video.frames)
    assert turned == [(270, False)] and len(times) == 5


@pytest.mark.parametrize("fmt", ["mp4", "mov", "matroska"])
def test_display_matrix_every_orientation(tmp_path, fmt):
    """MP4, MOV and MKV declaring each of the 8 orientations (4 rotations, mirrored or not) ->
    OK: each returned upright, rotation and mirroring recorded.
    """
    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        pytest.skip("this PyAV cannot write a display matrix")
    stored = _coded_frame(0)
    for rotation in (0, 90, 180, 270):
        for hflip in (False, True):
            path = write_coded(tmp_path / f"o{rotation}{hflip}.{fmt}", fmt, n=2,
                               rotation=rotation, hflip=hflip)
            video = read_video(path)
            expected = np.rot90(stored, k=rotation // 90)
            expected = expected[:, ::-1] if hflip else expected
            assert (video.rotation, video.mirrored) == (rotation, hflip)
            red = video.frames[0][..., 0] > 128
            assert red.shape == expected.shape[:2]
            assert (red != (expected[..., 0] > 128)).mean() < 0.02


def test_display_matrix_odd_angle(tmp_path):
    """MP4 whose display matrix rotates by 30 degrees -> clear error: names the file and the
    angle, autorotate=False reads the frames as stored.
    """
    mp4 = write_coded(tmp_path / "odd.mp4", "mp4", n=2)
    c, s = (round(v * (1 << 16)) for v in (np.cos(np.pi / 6), np.sin(np.pi / 6)))
    _set_tkhd_matrix(mp4, [c, -s, 0, s, c, 0, 0, 0, 1 << 30])
    with pytest.raises(ValueError, match=r"odd\.mp4 declares a display matrix that rotates "
                                         r"by 30\.0 degrees.*autorotate=False"):
        read_video(mp4)
    assert read_video(mp4, autorotate=False).frames.shape == (2, H, W, 3)


def test_variable_frame_rate_times(tmp_path):
    """MP4 whose frames are 40 ms apart, then paused 0.5 s (variable frame rate) -> OK:
    Video.times and iter_frames' times are the frames' own timestamps, not index / fps.
    """
    pts = [0, 40, 80, 120, 620, 660, 700, 1200, 1240, 1280]
    mp4 = write_coded(tmp_path / "vfr.mp4", "mp4", n=len(pts), pts_ms=pts)
    video = read_video(mp4)
    assert [_code(f) for f in video.frames] == list(range(len(pts)))
    np.testing.assert_allclose(video.times, np.array(pts) / 1000, atol=1e-3)
    assert not np.allclose(video.frame_indices / video.fps, video.times, atol=0.05)
    times = []
    for _ in iter_frames(mp4, start=1, stride=3, times=times):
        pass
    np.testing.assert_allclose(times, np.array(pts[1::3]) / 1000, atol=1e-3)


def test_mpegts_cut_does_not_claim_a_count(tmp_path):
    """MPEG-TS cut in half inside a transport packet (it declares no frame count) -> recorded
    policy: the warning says "at least 1" frame and "an unknown number after", not "1 frames".
    """
    ts = write_av(tmp_path / "a.ts", "mpegts")
    data = ts.read_bytes()
    (tmp_path / "half.ts").write_bytes(data[: len(data) // 2 + 77])
    with pytest.warns(SkippedFramesWarning, match=r"^at least 1 frames were not decoded .*"
                                                  r"and an unknown number after them"):
        video = read_video(tmp_path / "half.ts")
    (record,) = video.skipped
    assert record.open_ended and record.indices.tolist() == [len(video)] and len(video) < N


@pytest.mark.parametrize("codec", ["mpeg2video", "mpeg1video", "libx264"])
def test_resolution_change_keeps_every_frame(tmp_path, codec):
    """MPEG-2, MPEG-1 or H.264 TS segments of 48x64 then 96x64 frames concatenated -> recorded
    policy: all 60 frames, each with its own index, the last one before the change included.
    """
    a = write_coded(tmp_path / "a.ts", "mpegts", codec, n=30)
    b = write_coded(tmp_path / "b.ts", "mpegts", codec, n=30, size=(96, W), start=30)
    (tmp_path / "two.ts").write_bytes(a.read_bytes() + b.read_bytes())
    video = read_quietly(tmp_path / "two.ts", on_missing="ignore")
    assert video.frame_indices.tolist() == list(range(60))
    assert [_code(f) for f in video.frames[:30]] == list(range(30))
    (record,) = video.skipped
    assert record.reason == "resized" and record.indices.tolist() == list(range(30, 60))


def _wav(path, seconds, rate=8000, header_seconds=None, data_size=None):
    """A 16-bit mono WAV; ``header_seconds`` or ``data_size`` make its header lie."""
    samples = (np.sin(np.arange(int(seconds * rate)) / 5) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1), fh.setsampwidth(2), fh.setframerate(rate)
        fh.writeframes(samples.tobytes())
    if header_seconds is not None or data_size is not None:
        data = bytearray(path.read_bytes())
        at = data.index(b"data")
        size = data_size if data_size is not None else int(header_seconds * rate) * 2
        data[at + 4:at + 8] = np.array([size], "<u4").tobytes()
        path.write_bytes(bytes(data))
    return path


def test_wav_header_declares_more_than_the_file_holds(tmp_path):
    """WAV whose header declares 2 s and holds 1 s (a cut copy) -> clear error: names the file,
    both lengths and the header, instead of returning 1 s.
    """
    wav = _wav(tmp_path / "cut.wav", 1.0, header_seconds=2.0)
    with pytest.raises(ValueError, match=r"cut\.wav is cut short: it declares 16000 samples "
                                         r"\(2\.000 s.*WAV header's data size\), the file "
                                         r"holds 8000 \(1\.000 s\)"):
        read_audio(wav)
    with pytest.raises(ValueError, match="cut short"):
        read_audio(wav, sample_rate=None, mono=False)


def test_aiff_cut_short(tmp_path):
    """AIFF (its header counts the sample frames) cut in half -> clear error: "cut short"
    against the declared duration.
    """
    with av.open(str(tmp_path / "a.aiff"), "w", format="aiff") as container:
        stream = container.add_stream("pcm_s16be", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.int16), format="s16",
                                           layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    whole = (tmp_path / "a.aiff").read_bytes()
    (tmp_path / "cut.aiff").write_bytes(whole[: len(whole) // 2])
    assert len(read_audio(tmp_path / "a.aiff", sample_rate=None)[0]) == 16000
    with pytest.raises(ValueError, match=r"cut\.aiff is cut short: it declares 16000 samples"):
        read_audio(tmp_path / "cut.aiff")


def test_streamed_wav_size_placeholder(tmp_path):
    """WAV whose header holds the streaming placeholder size 0xFFFFFFFF -> OK: every sample the
    file holds (a placeholder declares nothing).
    """
    wav = _wav(tmp_path / "live.wav", 0.5, data_size=0xFFFFFFFF)
    samples, rate = read_audio(wav, sample_rate=None)
    assert rate == 8000 and len(samples) == 4000


@pytest.mark.parametrize("rate, error", [
    ("x", TypeError), (16000.0, TypeError), (True, TypeError), (0, ValueError),
])
def test_read_audio_bad_sample_rate(tmp_path, rate, error):
    """read_audio(sample_rate='x'), 16000.0, True or 0 -> clear error: names sample_rate and the
    value, not int()'s "invalid literal".
    """
    wav = _wav(tmp_path / "a.wav", 0.1)
    with pytest.raises(error, match=r"sample_rate must be a positive integer|sample_rate must "
                                    "be positive"):
        read_audio(wav, sample_rate=rate)


def _png_bomb(path, width, height):
    """A grey PNG declaring ``width x height`` pixels, all zero: a few hundred KB on disk."""
    import struct
    import zlib

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    packer = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte + one zero byte per pixel
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def test_read_image_decompression_bomb(tmp_path):
    """PNG of a few hundred KB declaring 16,000 x 16,000 pixels -> clear error: refused before
    decoding, naming the file, the size and max_pixels; a smaller budget refuses a 300x300 image.
    """
    bomb = _png_bomb(tmp_path / "bomb.png", 16000, 16000)
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(ValueError, match=r"bomb\.png declares 256,000,000 pixels, above the "
                                         r"budget of max_pixels=89,478,485"):
        read_image(bomb)
    (tmp_path / "frames").mkdir()
    bomb.rename(tmp_path / "frames" / "f1.png")
    with pytest.raises(ValueError, match="decompression bomb"):
        read_frame_folder(tmp_path / "frames")
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((300, 300), np.uint8))
    with pytest.raises(ValueError, match=r"300 x 300 = 90,000 pixels, above the budget of "
                                         r"max_pixels=50,000"):
        read_image(small, max_pixels=50_000)
    assert read_image(small, max_pixels=None).shape == (300, 300, 3)
