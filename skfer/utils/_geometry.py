"""Plane geometry shared by the steps that move pixels: 2x3 affine maps of points and boxes,
least-squares similarity transforms and the generalised Procrustes mean of shapes.

Conventions: points are ``(x, y)`` pixel-centre coordinates (pixel ``(row, col)`` is at
``x = col, y = row``), ``x`` to the right and ``y`` down, as landmarks are everywhere in
skfer; a 2x3 matrix ``M`` maps a source point ``p`` to ``M[:, :2] @ p + M[:, 2]``, as
OpenCV's ``warpAffine`` does (without ``WARP_INVERSE_MAP``), so the matrix that moves the
pixels also moves the points. Boxes are ``(x, y, w, h)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "affine_boxes",
    "affine_points",
    "compose_affine",
    "map_geometry_companions",
    "mirror_matrix",
    "procrustes_mean",
    "similarity_to",
]


def affine_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map points ``(..., 2)`` by a 2x3 matrix, or by one matrix per leading item.

    Parameters
    ----------
    points : array-like of shape (..., 2)
    matrix : array-like of shape (2, 3), or (N, 2, 3) for ``points`` of shape (N, ..., 2)

    Returns
    -------
    mapped : ndarray of float64, like ``points`` (NaN stays NaN)

    Examples
    --------
    >>> affine_points([[1.0, 2.0]], [[2, 0, 1], [0, 2, 0]]).tolist()
    [[3.0, 4.0]]
    """
    pts = np.asarray(points, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim == 2:
        return pts @ m[:, :2].T + m[:, 2]
    # One matrix per leading item: broadcast it over the item's other axes.
    lin = m[:, :2, :2].reshape(len(m), *([1] * (pts.ndim - 2)), 2, 2)
    off = m[:, :, 2].reshape(len(m), *([1] * (pts.ndim - 2)), 2)
    return np.einsum("...ij,...j->...i", lin, pts) + off


def affine_boxes(boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map boxes ``(..., 4)`` ``(x, y, w, h)``: the axis-aligned box around the mapped corners.

    Exact for translations, scalings and flips; for a rotation the box grows to hold the
    turned one (the face it framed stays inside).

    Parameters
    ----------
    boxes : array-like of shape (..., 4)
    matrix : array-like of shape (2, 3), or (N, 2, 3) for ``boxes`` of shape (N, ..., 4)

    Returns
    -------
    mapped : ndarray of float64, like ``boxes``

    Examples
    --------
    >>> affine_boxes([[10.0, 20.0, 4.0, 6.0]], [[-1, 0, 99], [0, 1, 0]]).tolist()
    [[85.0, 20.0, 4.0, 6.0]]
    """
    b = np.asarray(boxes, dtype=np.float64)
    x, y, w, h = np.moveaxis(b, -1, 0)
    corners = np.stack(
        [np.stack([x, y], -1), np.stack([x + w, y], -1),
         np.stack([x, y + h], -1), np.stack([x + w, y + h], -1)],
        axis=-2,
    )  # (..., 4, 2)
    m = np.asarray(matrix, dtype=np.float64)
    mapped = affine_points(corners, m)
    lo, hi = mapped.min(axis=-2), mapped.max(axis=-2)
    return np.concatenate([lo, hi - lo], axis=-1)


def map_geometry_companions(X: Any, maps: Sequence[np.ndarray]) -> dict[str, list]:
    """The ``landmarks`` and ``boxes`` companions of a ClipSet moved with its pixels.

    Parameters
    ----------
    X : :class:`~skfer.ClipSet`
        The input of a step that moves pixels.
    maps : sequence of ndarray of shape (T_i, 2, 3)
        Per clip, the map of each frame's points into the output frame.

    Returns
    -------
    companions : dict
        ``{"landmarks": [...], "boxes": [...]}`` for those of the two that ``X`` has
        (mapped with :func:`affine_points` and :func:`affine_boxes`; a clip's ``None``
        entry stays ``None``), ready for ``same_container(X, out, **companions)``.
    """
    out = {}
    for name, mapper in (("landmarks", affine_points), ("boxes", affine_boxes)):
        values = X.get(name)
        if values is not None:
            out[name] = [None if v is None else mapper(v, m) for v, m in zip(values, maps)]
    return out


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 matrix of ``outer`` applied after ``inner``."""
    o = np.asarray(outer, dtype=np.float64)
    i = np.asarray(inner, dtype=np.float64)
    return np.concatenate([o[:, :2] @ i[:, :2], (o[:, :2] @ i[:, 2] + o[:, 2])[:, None]], axis=1)


def mirror_matrix(width: int) -> np.ndarray:
    """2x3 matrix of a horizontal flip of a ``width``-pixel frame (``frame[:, ::-1]``).

    Column ``x`` goes to column ``width - 1 - x`` (pixel centres), so points move exactly
    as the pixels of ``np.flip(frame, axis=1)`` do.
    """
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])


def _as_complex(shapes: np.ndarray) -> np.ndarray:
    return shapes[..., 0] + 1j * shapes[..., 1]


def similarity_to(
    source: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares similarity transforms (rotation, uniform scale, translation) of shapes.

    For each source shape, the map ``p -> s R p + t`` minimising ``sum_k |s R p_k + t -
    q_k|^2`` over the target points ``q``: Umeyama's (1991) solution, which in the plane
    has the closed form of a complex least-squares fit ``z -> a z + b`` (``a = s e^{i
    theta}``) and never reflects.

    Parameters
    ----------
    source : array-like of shape (N, P, 2) or (P, 2)
        Finite points.
    target : array-like of shape (P, 2), or (N, P, 2) for one target per source shape

    Returns
    -------
    matrices : ndarray of shape (N, 2, 3) or (2, 3)
    rms : ndarray of shape (N,) or float
        Root mean square distance between the mapped source points and the target.

    Examples
    --------
    >>> import numpy as np
    >>> src = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> m, rms = similarity_to(src, 2 * src + 5)
    >>> (np.round(m, 6) + 0.0).tolist(), round(float(rms), 9)
    ([[2.0, 0.0, 5.0], [0.0, 2.0, 5.0]], 0.0)
    """
    src = np.asarray(source, dtype=np.float64)
    single = src.ndim == 2
    src = src[None] if single else src
    dst = np.broadcast_to(np.asarray(target, dtype=np.float64), src.shape)
    zs, zd = _as_complex(src), _as_complex(dst)
    ms, md = zs.mean(axis=1, keepdims=True), zd.mean(axis=1, keepdims=True)
    cs, cd = zs - ms, zd - md
    denom = (np.abs(cs) ** 2).sum(axis=1)
    # A degenerate source (all points equal) has no scale or rotation: keep it unscaled.
    a = np.where(
        denom > 0, (np.conj(cs) * cd).sum(axis=1) / np.where(denom > 0, denom, 1.0), 1.0
    )
    b = md[:, 0] - a * ms[:, 0]
    matrices = np.stack(
        [np.stack([a.real, -a.imag, b.real], -1), np.stack([a.imag, a.real, b.imag], -1)],
        axis=1,
    )
    residual = a[:, None] * zs + b[:, None] - zd
    rms = np.sqrt((np.abs(residual) ** 2).mean(axis=1))
    return (matrices[0], float(rms[0])) if single else (matrices, rms)


def procrustes_mean(
    shapes: np.ndarray, max_iter: int = 100, tol: float = 1e-10
) -> np.ndarray:
    """Generalised Procrustes mean of shapes, centred at 0 with unit root-mean-square radius.

    Every shape is aligned to the current mean by :func:`similarity_to`, the aligned shapes
    are averaged, and the average is normalised (centred, unit RMS distance of its points to
    their centroid) and turned back to the orientation of the first estimate, so that the
    mean does not drift in rotation; repeated until the mean moves less than ``tol``.

    Parameters
    ----------
    shapes : array-like of shape (N, P, 2)
        Finite points, ``N >= 1``.
    max_iter : int, default=100
    tol : float, default=1e-10
        On the RMS change of the normalised mean between two iterations.

    Returns
    -------
    mean : ndarray of shape (P, 2)
    """
    x = np.asarray(shapes, dtype=np.float64)

    def normalise(shape: np.ndarray) -> np.ndarray:
        c = shape - shape.mean(axis=0)
        r = np.sqrt((c**2).sum(axis=1).mean())
        return c / r if r > 0 else c

    reference = normalise(x[0])
    mean = reference
    for _ in range(max_iter):
        matrices, _ = similarity_to(x, mean)
        aligned = affine_points(x, matrices)
        new = normalise(aligned.mean(axis=0))
        # Fix the gauge: rotate the new mean back onto the reference orientation.
        new = normalise(affine_points(new, similarity_to(new, reference)[0]))
        change = np.sqrt(((new - mean) ** 2).sum(axis=1).mean())
        mean = new
        if change < tol:
            break
    return mean
