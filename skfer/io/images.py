"""Read still images and folders of frame images as skfer clips.

A clip is ``(T, H, W)`` grey or ``(T, H, W, 3)`` RGB ``uint8`` (see
:mod:`skfer.utils.validation`). OpenCV decodes the images; colour is returned in RGB order, not
OpenCV's BGR.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

__all__ = ["IMAGE_EXTENSIONS", "natural_key", "read_image", "list_images", "read_frame_folder"]

#: File extensions (lower case) treated as images.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".webp"}
)

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str | os.PathLike) -> tuple:
    """Sort key that orders embedded numbers numerically (``frame2`` before ``frame10``)."""
    parts = _DIGITS.split(Path(name).name)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts)


def read_image(path: str | os.PathLike, *, color: bool = True) -> np.ndarray:
    """Read one image file.

    Parameters
    ----------
    path : str or path-like
        Image file in any format OpenCV decodes (PNG, JPEG, TIFF, BMP, ...).
    color : bool, default=True
        ``True`` returns ``(H, W, 3)`` RGB, ``False`` returns ``(H, W)`` grey.

    Returns
    -------
    image : ndarray of uint8

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file cannot be decoded as an image (corrupt, truncated or not an image).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    # np.fromfile + imdecode instead of imread: works for non-ASCII paths on every platform.
    buf = np.fromfile(path, dtype=np.uint8)
    flag = cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE
    img = cv2.imdecode(buf, flag) if buf.size else None
    if img is None:
        raise ValueError(f"cannot read image {path}: the file is empty, corrupt or not an image")
    if color:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder`` in natural (frame-number) order."""
    folder = Path(folder)
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
        key=natural_key,
    )


def read_frame_folder(
    folder: str | os.PathLike,
    *,
    color: bool = True,
    max_frames: int | None = None,
) -> np.ndarray:
    """Read the frame images of one folder, sorted by frame number, as one clip.

    Parameters
    ----------
    folder : str or path-like
        Folder whose image files are the frames of one clip (``img_001.png``, ...). Files are
        ordered naturally, so ``frame10`` comes after ``frame9``; non-image files are ignored.
    color : bool, default=True
        ``True`` returns ``(T, H, W, 3)`` RGB, ``False`` returns ``(T, H, W)`` grey.
    max_frames : int, optional
        Read only the first ``max_frames`` frames.

    Returns
    -------
    clip : ndarray of uint8

    Raises
    ------
    FileNotFoundError
        If the folder does not exist.
    ValueError
        If it holds no image, if an image cannot be read (naming it), or if frames differ in
        size (naming the first file of each size).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"frame folder {folder} does not exist or is not a folder")
    files = list_images(folder)
    if not files:
        raise ValueError(
            f"frame folder {folder} holds no image file (extensions {sorted(IMAGE_EXTENSIONS)})"
        )
    if max_frames is not None:
        files = files[:max_frames]
    frames = [read_image(f, color=color) for f in files]
    return stack_frames(frames, files)


def stack_frames(frames: list[np.ndarray], files: list[Path]) -> np.ndarray:
    """Stack same-size frames into a clip; different sizes raise naming the files."""
    first = {}
    for f, img in zip(files, frames):
        first.setdefault(img.shape, f)
    if len(first) > 1:
        sizes = "; ".join(f"{shape} first in {f}" for shape, f in first.items())
        raise ValueError(f"frames of one clip have different sizes: {sizes}")
    return np.stack(frames)
