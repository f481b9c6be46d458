"""Readers for images, frame folders, videos and sound tracks.

Videos and sound are decoded with PyAV (FFmpeg), images with OpenCV. Frames are RGB
``uint8`` (or grey with ``color=False``). Video frames that are cut off, undecodable or of
another size are recorded as :class:`~skfer.utils.frame_policy.SkippedFrames` under an
``on_missing`` policy (see :mod:`skfer.io.video`); nothing is dropped silently.
"""

# The one sort key lives in skfer.utils; importable from here as it was.
from ..utils.sorting import natural_key as natural_key
from .audio import read_audio
from .images import (
    IMAGE_EXTENSIONS,
    MAX_IMAGE_PIXELS,
    list_images,
    read_frame_folder,
    read_image,
)
from .video import Video, iter_frames, read_video, video_fps

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "Video",
    "iter_frames",
    "list_images",
    "read_audio",
    "read_frame_folder",
    "read_image",
    "read_video",
    "video_fps",
]
