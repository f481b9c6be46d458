"""Read still images and folders of frame images as skfer clips.

A clip is ``(T, H, W)`` grey or ``(T, H, W, 3)`` RGB ``uint8`` (see
:mod:`skfer.utils.validation`). OpenCV decodes the images; colour is returned in RGB order, not
OpenCV's BGR.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import cv2
import numpy as np

from ..utils.pixels import to_grey_frame
from ..utils.sorting import natural_key  # the one sort key; importable from here as well
from ._files import check_count, check_file

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "read_image",
    "list_images",
    "read_frame_folder",
]

#: File extensions (lower case) treated as images.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".webp"}
)

#: Default pixel budget of :func:`read_image`: Pillow's ``MAX_IMAGE_PIXELS`` (about 89.5
#: million pixels, 256 MiB of RGB). A few hundred bytes of PNG can declare 16,000 x 16,000
#: pixels (768 MB decoded, a "decompression bomb"); no face image comes near the budget.
MAX_IMAGE_PIXELS = 1024 * 1024 * 1024 // 4 // 3

def read_image(
    path: str | os.PathLike, *, color: bool = True, max_pixels: int | None = MAX_IMAGE_PIXELS
) -> np.ndarray:
    """Read one image file.

    Parameters
    ----------
    path : str or path-like
        Image file in any format OpenCV decodes (PNG, JPEG, TIFF, BMP, WebP, ...).
    color : bool, default=True
        ``True`` returns ``(H, W, 3)`` RGB, ``False`` returns ``(H, W)`` grey.
    max_pixels : int or None, default=MAX_IMAGE_PIXELS
        Refuse, before decoding, an image whose header declares more pixels (width x
        height) than this: the default is Pillow's budget, about 89.5 million pixels.
        ``None`` reads any size.

    Returns
    -------
    image : ndarray of uint8

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    IsADirectoryError
        If ``path`` is a folder (use :func:`read_frame_folder`).
    PermissionError
        If the file is not readable.
    ValueError
        If the file is empty, cannot be decoded as an image (corrupt, truncated or not an
        image), holds samples other than 8- or 16-bit integers (float TIFF, 32-bit), or
        declares more pixels than ``max_pixels``.

    Notes
    -----
    Rules for the images that are not plain 8-bit grey or colour (issue 16: no silent change
    of the data):

    * **16-bit** samples are scaled to 8 bits over the full range, ``round(v * 255 / 65535)``
      (never clipped). A 16-bit file holding 12-bit data therefore comes out dark: the rule
      does not depend on the image's own maximum, so every image of a set is scaled alike.
    * **Alpha** (grey+alpha, RGBA in PNG, WebP, TIFF) is composited onto black, so that
      transparent pixels read as black rather than as whatever colour the file stores under
      them (OpenCV's own readers just drop the alpha channel).
    * **EXIF orientation** is applied (the image is returned upright, as viewers show it),
      except for images with an alpha channel, which are read as stored (OpenCV ignores the
      orientation tag when it keeps alpha).
    * Grey files read with ``color=True`` are repeated on the 3 channels; colour files read
      with ``color=False`` are converted with OpenCV's BT.601 luma
      (:func:`skfer.utils.pixels.to_grey_frame`).
    * The image size is read from the header (with Pillow, which matplotlib brings) and
      checked against ``max_pixels`` before anything is decoded; a format Pillow does not
      parse is decoded by OpenCV under its own limit (2^30 pixels).
    """
    return read_image_noting(path, color=color, max_pixels=max_pixels)[0]


def read_image_noting(
    path: str | os.PathLike, *, color: bool = True, max_pixels: int | None = MAX_IMAGE_PIXELS
) -> tuple[np.ndarray, list[str]]:
    """:func:`read_image`, and what its rules changed in the file's pixels (for reports).

    The one image reader of skfer: ``skfer predict`` notes these changes per file.

    Returns
    -------
    image : ndarray of uint8
    notes : list of str
        ``"16-bit image scaled to 8 bits ..."``, ``"alpha channel composited onto black"``.
    """
    path = check_file(path, "image", folder_hint="; use skfer.io.read_frame_folder for a "
                      "folder of frames")
    max_pixels = check_count(max_pixels, "max_pixels")
    _check_pixel_budget(path, max_pixels)
    # np.fromfile + imdecode instead of imread: works for non-ASCII paths on every platform.
    buf = np.fromfile(path, dtype=np.uint8)
    flags = cv2.IMREAD_UNCHANGED if _may_have_alpha(buf) else cv2.IMREAD_ANYDEPTH | \
        cv2.IMREAD_ANYCOLOR  # the latter applies the EXIF orientation
    try:
        img = cv2.imdecode(buf, flags)
    except cv2.error as exc:  # some decoders raise instead of returning None
        raise ValueError(f"cannot read image {path}: {exc}") from None
    if img is None:
        raise ValueError(f"cannot read image {path}: the file is corrupt, truncated or not an "
                         "image")
    notes = []
    if img.dtype == np.uint16:
        notes.append("16-bit image scaled to 8 bits (round(v * 255 / 65535))")
    img = _to_uint8(img, path)
    if img.ndim == 3 and img.shape[2] in (2, 4):  # grey+alpha / BGRA: composite onto black
        notes.append("alpha channel composited onto black")
        alpha = img[..., -1:].astype(np.float32) / 255.0
        img = np.rint(img[..., :-1] * alpha).astype(np.uint8)
        img = img[..., 0] if img.shape[2] == 1 else img
    if img.ndim == 2:
        return (cv2.cvtColor(img, cv2.COLOR_GRAY2RGB) if color else img), notes
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)  # OpenCV decodes to BGR
    return (rgb if color else to_grey_frame(rgb)), notes


def _check_pixel_budget(path: Path, max_pixels: int | None) -> None:
    """Refuse an image whose header declares more than ``max_pixels`` pixels (not decoded)."""
    if max_pixels is None:
        return
    from PIL import Image, UnidentifiedImageError  # Pillow comes with matplotlib

    try:
        with warnings.catch_warnings():  # Pillow's own bomb warning: the check is ours
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as header:  # parses the header, decodes nothing
                width, height = header.size
        pixels, size = width * height, f"{width} x {height} = {width * height:,} pixels"
    except Image.DecompressionBombError as exc:
        # Pillow refuses to open an image above twice its own budget; its message has the
        # pixel count ("Image size (256000000 pixels) exceeds limit of ...").
        found = re.search(r"\((\d+) pixels\)", str(exc))
        if found is None:
            return  # cannot tell: OpenCV's own limit applies
        pixels = int(found[1])
        size = f"{pixels:,} pixels"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return  # a format Pillow does not parse, or corrupt: OpenCV decodes or refuses it
    if pixels > max_pixels:
        raise ValueError(
            f"image {path} declares {size}, above the budget of max_pixels={max_pixels:,} "
            "(a decompression bomb, or an image far larger than a face needs); pass a larger "
            "max_pixels, or None, to read it"
        )


def _may_have_alpha(buf: np.ndarray) -> bool:
    """Whether the encoded image may carry alpha (PNG colour types 4, 6; WebP; TIFF)."""
    head = buf[:32].tobytes()
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return len(head) > 25 and head[25] in (4, 6)  # IHDR colour type
    return head[:4] in (b"II*\x00", b"MM\x00*") or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _to_uint8(img: np.ndarray, path: Path) -> np.ndarray:
    """8-bit as is, 16-bit scaled over the full range (read_image Notes); others raise."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return np.rint(img.astype(np.float32) * (255.0 / 65535.0)).astype(np.uint8)
    raise ValueError(f"image {path} holds {img.dtype} samples; skfer reads 8- and 16-bit "
                     "integer images only (convert it to 8 bits, choosing the value range)")


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
    NotADirectoryError
        If ``folder`` is a file.
    ValueError
        If it holds no image, if an image cannot be read (naming it), if frames differ in
        size (naming the first file of each size), or if ``max_frames`` < 1.
    TypeError
        If ``max_frames`` is not an integer.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"frame folder {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file, not a frame folder; use "
                                 "skfer.io.read_video or read_image for one file")
    max_frames = check_count(max_frames, "max_frames")
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
