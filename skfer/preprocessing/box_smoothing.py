"""Face-tube bounding-box smoothing (EmoNets, Kahou et al. 2016, section 3.1.3).

Pure functions on arrays of boxes. A box array has shape ``(T, 4)``: one ``x, y, w, h`` row
per frame (top-left corner, width, height, in pixels, floats allowed). The paper's
"Facetube smoothing" paragraph is implemented by :func:`smooth_tube_boxes`, which chains:

1. :func:`moving_average` (two-sided, window 11) on the opposite corners ``(x1, y1, x2, y2)``;
2. :func:`largest_centered_square` inside each smoothed box;
3. :func:`polynomial_side_lengths`: degree-0 or degree-1 fit of the square side lengths,
   the linear one when ``|slope| * T > scale_threshold`` (1.5 in the paper);
4. :func:`moving_average` of the square centres.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "moving_average",
    "boxes_to_corners",
    "corners_to_boxes",
    "largest_centered_square",
    "polynomial_side_lengths",
    "smooth_tube_boxes",
    "box_intersection",
    "box_iou",
]


def moving_average(values: np.ndarray, window: int = 11) -> np.ndarray:
    """Two-sided (centred) moving average along the first axis.

    Frame ``t`` gets the mean of frames ``t - h .. t + h`` with ``h = window // 2``. At the
    ends of the sequence the window is *truncated* to the frames that exist (frame 0 averages
    frames ``0 .. h``), so the output has the input's length and no value is extrapolated.

    Parameters
    ----------
    values : array-like of shape (T,) or (T, k)
        The sequence (e.g. box corners, one column per coordinate).
    window : int, default=11
        Odd window length (EmoNets section 3.1.3 uses 11 frames). ``1`` returns a copy.

    Returns
    -------
    smoothed : ndarray of float, same shape as ``values``
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd integer, got {window}")
    x = np.asarray(values, dtype=float)
    if x.ndim not in (1, 2):
        raise ValueError(f"values must be of shape (T,) or (T, k), got {x.shape}")
    n = x.shape[0]
    if n == 0:
        return x.copy()
    h = window // 2
    # Cumulative sums give every truncated-window mean in O(T).
    csum = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)])
    t = np.arange(n)
    lo = np.clip(t - h, 0, n)
    hi = np.clip(t + h + 1, 0, n)
    count = (hi - lo).reshape((n,) + (1,) * (x.ndim - 1))
    return (csum[hi] - csum[lo]) / count


def boxes_to_corners(boxes: np.ndarray) -> np.ndarray:
    """``(T, 4)`` ``x, y, w, h`` boxes -> ``(T, 4)`` opposite corners ``x1, y1, x2, y2``."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    return np.column_stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]])


def corners_to_boxes(corners: np.ndarray) -> np.ndarray:
    """``(T, 4)`` corners ``x1, y1, x2, y2`` -> ``(T, 4)`` ``x, y, w, h`` boxes."""
    c = np.asarray(corners, dtype=float).reshape(-1, 4)
    return np.column_stack([c[:, 0], c[:, 1], c[:, 2] - c[:, 0], c[:, 3] - c[:, 1]])


def largest_centered_square(boxes: np.ndarray) -> np.ndarray:
    """Largest square centred in each box (side ``min(w, h)``, same centre).

    Parameters
    ----------
    boxes : array-like of shape (T, 4)
        ``x, y, w, h`` boxes.

    Returns
    -------
    squares : ndarray of shape (T, 4)
        ``x, y, s, s`` with ``s = min(w, h)``.
    """
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    side = np.minimum(b[:, 2], b[:, 3])
    cx = b[:, 0] + b[:, 2] / 2
    cy = b[:, 1] + b[:, 3] / 2
    return np.column_stack([cx - side / 2, cy - side / 2, side, side])


def polynomial_side_lengths(
    sides: np.ndarray, scale_threshold: float = 1.5
) -> tuple[np.ndarray, bool]:
    """Constant or linear fit of the side lengths over time (EmoNets section 3.1.3).

    Least-squares polynomials of degree 0 and 1 are fit to ``sides`` against the frame
    index ``t = 0 .. T-1``. The linear fit is used when ``|slope| * T > scale_threshold``
    (the paper's "slope times facetube length"; 1.5 there), i.e. when the face size drifts
    by more than ``scale_threshold`` pixels over the tube, else the constant (the mean).

    Parameters
    ----------
    sides : array-like of shape (T,)
        Side lengths per frame.
    scale_threshold : float, default=1.5
        Threshold on ``|slope| * T``.

    Returns
    -------
    fitted : ndarray of shape (T,)
        Side lengths from the chosen polynomial.
    linear : bool
        Whether the linear polynomial was chosen.
    """
    s = np.asarray(sides, dtype=float).ravel()
    n = s.size
    if n < 2:  # no slope to fit: the sides as they are
        return s.copy(), False
    t = np.arange(n, dtype=float)
    slope, intercept = np.polyfit(t, s, 1)
    if abs(slope) * n > scale_threshold:
        return intercept + slope * t, True
    return np.full(n, s.mean()), False


def smooth_tube_boxes(
    boxes: np.ndarray, window: int = 11, scale_threshold: float = 1.5
) -> tuple[np.ndarray, bool]:
    """The full EmoNets face-tube smoothing of one tube's boxes (section 3.1.3).

    Corners are smoothed with :func:`moving_average`, the largest centred square is taken
    in each smoothed box, its side lengths are replaced by :func:`polynomial_side_lengths`
    and its centres are smoothed with :func:`moving_average` again.

    Parameters
    ----------
    boxes : array-like of shape (T, 4)
        ``x, y, w, h`` boxes, one per frame.
    window : int, default=11
        Moving-average window (odd).
    scale_threshold : float, default=1.5
        See :func:`polynomial_side_lengths`.

    Returns
    -------
    squares : ndarray of shape (T, 4)
        Smoothed square boxes ``x, y, s, s``.
    linear : bool
        Whether the side lengths follow the linear polynomial.
    """
    corners = moving_average(boxes_to_corners(boxes), window)
    squares = largest_centered_square(corners_to_boxes(corners))
    side, linear = polynomial_side_lengths(squares[:, 2], scale_threshold)
    centres = moving_average(squares[:, :2] + squares[:, 2:] / 2, window)
    out = np.column_stack([centres - side[:, None] / 2, side, side])
    return out, linear


def box_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Area shared by ``x, y, w, h`` boxes, row by row (broadcasting).

    Parameters
    ----------
    a, b : array-like of shape (..., 4)

    Returns
    -------
    area : ndarray of shape (...)
        0 where the boxes do not overlap.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    ix = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    iy = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return np.clip(ix, 0, None) * np.clip(iy, 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of ``x, y, w, h`` boxes, row by row (broadcasting).

    Parameters
    ----------
    a, b : array-like of shape (..., 4)

    Returns
    -------
    iou : ndarray of shape (...)
        0 where the union is empty.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    inter = box_intersection(a, b)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
