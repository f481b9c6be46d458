"""Pixel conversions: to grey, to floats on the 0..255 scale, to ``uint8``.

The one place skfer converts pixels, so that every step reads a clip the same way
(``docs/data_model.md``, *Clips*):

* **grey** (:func:`to_grey`, :func:`to_grey_frame`): ITU-R BT.601 luma, :data:`LUMA`.
  ``uint8`` RGB stays ``uint8``, through OpenCV's ``COLOR_RGB2GRAY`` (its fixed-point
  weights, rounded to the nearest level: what the readers, the face detector and the face
  tracker use); other pixels give the weighted sum in float64, or in the ``dtype`` asked for
  (float32 for the feature steps). Grey input is returned as it is.
* **scale** (:func:`pixel_unit`, the rule of :mod:`skfer.utils.validation`): float pixels
  are on the [0, 1] scale when the clip's maximum is at most 1, else on the [0, 255] scale;
  integer pixels are 8-bit values.
* **float** (:func:`to_float`): float32 pixels on the 0..255 scale by that rule.
* **uint8** (:func:`to_uint8`): rounded to the nearest level by that rule, for the steps
  that need 8-bit pixels (face and landmark detection, HOG).
* :func:`to_grey_float`: grey float32 frames on the 0..255 scale at a given size, what the
  per-frame feature steps (HOG, LBP, pixels, bag of mouths, motion words, the sparse
  autoencoder) take.

Torch code takes :data:`LUMA` for the same weights on tensors
(:func:`skfer.neural.teacher.to_face_net_input`).

>>> import numpy as np
>>> rgb = np.array([[[[255, 0, 0], [0, 255, 0]]]], dtype=np.uint8)   # one frame, 1 x 2
>>> to_grey(rgb).tolist(), to_grey(rgb, dtype=np.float32).tolist()
([[[76, 150]]], [[[76.2449951171875, 149.68499755859375]]])
>>> to_float(np.array([[[0.0, 0.5, 1.0]]])).tolist()
[[[0.0, 127.5, 255.0]]]
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import DTypeLike

# pixel_unit and to_uint8 are defined beside check_clip, which applies the same dtype rules
# to every clip; they are part of this module's vocabulary and imported from here.
from .validation import pixel_unit, to_uint8

__all__ = [
    "LUMA",
    "pixel_unit",
    "to_float",
    "to_grey",
    "to_grey_float",
    "to_grey_frame",
    "to_uint8",
]

#: ITU-R BT.601 luma weights of R, G and B: the grey value of an RGB pixel.
LUMA = (0.299, 0.587, 0.114)


def to_grey(clip: np.ndarray, *, dtype: DTypeLike | None = None) -> np.ndarray:
    """Grey frames ``(T, H, W)`` of a clip ``(T, H, W, 3)`` (RGB) or ``(T, H, W)`` (grey).

    Parameters
    ----------
    clip : ndarray of shape (T, H, W, 3) or (T, H, W)
        A colour clip is one with four axes: a grey clip whose frames are 3 pixels wide is
        not mistaken for colour.
    dtype : float dtype or None, default=None
        ``None``: ``uint8`` RGB becomes ``uint8`` grey by OpenCV (BT.601 in fixed point,
        rounded), other RGB the :data:`LUMA` sum in float64, and grey clips are returned as
        they are (no copy). A float dtype: the :data:`LUMA` sum computed in that dtype
        (never rounded), and grey clips cast to it.

    Returns
    -------
    grey : ndarray of shape (T, H, W)

    Notes
    -----
    OpenCV's ``uint8`` weights (4899, 9617, 1868) / 16384 differ from :data:`LUMA` in the
    fifth decimal, so ``uint8`` grey can differ by one level from the rounded float sum;
    each step keeps the one it always used (see ``docs/data_model.md``).
    """
    clip = np.asarray(clip)
    if clip.ndim != 4:
        return clip if dtype is None else clip.astype(dtype, copy=False)
    if clip.shape[-1] != 3:
        raise ValueError(f"colour frames must have 3 channels (RGB), got shape {clip.shape}")
    if dtype is None and clip.dtype == np.uint8:
        # One OpenCV call for the whole clip: the conversion is per pixel, so the frames
        # stacked as one tall image give the same values as frame by frame.
        t, h, w = clip.shape[:3]
        return cv2.cvtColor(clip.reshape(t * h, w, 3), cv2.COLOR_RGB2GRAY).reshape(t, h, w)
    if dtype is None:
        return clip @ np.asarray(LUMA)  # float64, whatever the input's dtype
    return clip.astype(dtype, copy=False) @ np.asarray(LUMA, dtype=dtype)


def to_grey_frame(frame: np.ndarray, *, dtype: DTypeLike | None = None) -> np.ndarray:
    """Grey version ``(H, W)`` of one frame ``(H, W, 3)`` (RGB) or ``(H, W)`` (grey).

    The rules of :func:`to_grey`, for a single frame.
    """
    return to_grey(np.asarray(frame)[np.newaxis], dtype=dtype)[0]


def to_float(
    clip: np.ndarray,
    unit: float | None = None,
    *,
    index: int | None = None,
    source: str | None = None,
) -> np.ndarray:
    """Float32 pixels on the 0..255 scale: integers as they are, floats by :func:`pixel_unit`.

    Parameters
    ----------
    clip : ndarray
        A clip or frame, grey or colour.
    unit : float or None, default=None
        The factor :func:`pixel_unit` gave for the clip these pixels come from; ``None``
        computes it from ``clip``. Give it when ``clip`` is derived from the clip (its grey
        version, a frame of it): the scale is a property of the whole clip, and a derived
        array can fall on the other side of the rule (a dark frame of a 0..255 clip can
        have its maximum below 1; a rounded sum can land just above 1).
    index, source : optional
        Name the clip in the error of :func:`pixel_unit`.

    Returns
    -------
    pixels : ndarray of float32
        A view of ``clip`` when it is float32 on the 0..255 scale already.

    Raises
    ------
    ValueError
        Float pixels outside both scales (see :func:`pixel_unit`).
    """
    if unit is None:
        unit = pixel_unit(clip, index=index, source=source)
    pixels = np.asarray(clip).astype(np.float32, copy=False)
    return pixels * np.float32(unit) if unit != 1.0 else pixels


def to_grey_float(
    clip: np.ndarray, size: tuple[int, int] | None = None, *, index: int | None = None
) -> np.ndarray:
    """Grey float32 frames ``(T, H, W)`` of a clip on the 0..255 scale, resized to ``size``.

    Float clips follow the data model's scale rule (:func:`pixel_unit`): [0, 1] when their
    maximum is at most 1, else [0, 255]; a float clip outside both (e.g. [-1, 1] after
    ``MinMaxImageScaler(feature_range=(-1, 1))``) is an error naming clip ``index``, never
    clipped. Colour is the float32 :data:`LUMA` sum (not rounded); frames are resized with
    area interpolation when shrinking, bilinear otherwise.

    Parameters
    ----------
    clip : ndarray of shape (T, H, W) or (T, H, W, 3)
    size : (int, int) or None, default=None
        ``(height, width)``; ``None`` keeps the frames' size.
    index : int, optional
        The clip's position in its data set, for errors.

    Returns
    -------
    frames : ndarray of shape (T, H, W), float32
    """
    unit = pixel_unit(clip, index=index)  # of the clip itself, before the grey sum
    frames = to_float(to_grey(clip, dtype=np.float32), unit)
    if size is not None and frames.shape[1:3] != tuple(size):
        interp = cv2.INTER_AREA if frames.shape[1] > size[0] else cv2.INTER_LINEAR
        frames = np.stack(
            [cv2.resize(f, (size[1], size[0]), interpolation=interp) for f in frames]
        )
    return frames
