"""Readers for images, frame folders, videos and sound tracks.

Video decoding uses OpenCV (``cv2.VideoCapture``) and falls back to PyAV (FFmpeg) for files
OpenCV cannot open; sound uses PyAV. Frames are RGB ``uint8`` (or grey with ``color=False``).
"""

from .audio import read_audio
from .images import IMAGE_EXTENSIONS, list_images, natural_key, read_frame_folder, read_image
from .video import Video, iter_frames, read_video, video_fps

__all__ = [
    "IMAGE_EXTENSIONS",
    "Video",
    "iter_frames",
    "list_images",
    "natural_key",
    "read_audio",
    "read_frame_folder",
    "read_image",
    "read_video",
    "video_fps",
]
