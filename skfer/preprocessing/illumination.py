"""Illumination normalisation of face images: per-image min-max scaling and isotropic smoothing.

* :class:`MinMaxImageScaler`: each frame scaled by its own minimum and maximum to
  ``[-1, 1]`` (CS229 project, section 3.2, step b: "the minimum and maximum pixel
  intensities for each image were calculated, and each image was scaled accordingly such
  that the pixel values were now between -1 and +1").
* :class:`IsotropicSmoothing`: the isotropic smoothing (IS) photometric normalisation of
  Heusch, Cardinaux and Marcel (2005) as in Štruc and Pavešić's INface toolbox, used by
  EmoNets (Kahou et al., 2015, section 3.1.1) on its face images.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.fft import dctn, idctn

from ..base import StatelessClipTransformer, same_container
from ..utils._param_validation import RealTuple
from ..utils._sklearn import Interval
from ..utils.validation import check_clips

__all__ = [
    "IsotropicSmoothing",
    "MinMaxImageScaler",
    "isotropic_luminance",
    "neumann_laplacian_eigenvalues",
]


def _per_image(clip: np.ndarray, func) -> np.ndarray:
    """Apply ``func`` to every 2-D image of a clip (every channel of colour frames)."""
    f = clip.astype(np.float64)
    if f.ndim == 4:
        return np.stack(
            [np.stack([func(fr[..., c]) for c in range(fr.shape[-1])], axis=-1) for fr in f]
        )
    return np.stack([func(fr) for fr in f])


# -------------------------------------------------------------------------- min-max


class MinMaxImageScaler(StatelessClipTransformer):
    """Scale every frame by its own minimum and maximum to ``feature_range`` (CS229 3.2).

    ``x' = a + (b - a) (x - min) / (max - min)`` with ``(a, b) = feature_range`` and the
    minimum and maximum over the frame's pixels (all channels of a colour frame together,
    which keeps its colours). This removes global brightness and contrast differences
    between images; nothing is learnt.

    Parameters
    ----------
    feature_range : tuple of float, default=(-1, 1)
        Output range ``(a, b)``, ``a < b``; the CS229 project used ``[-1, 1]``.

    Notes
    -----
    A constant frame (``max == min``) has no contrast to stretch: it maps to the middle of
    the range, ``(a + b) / 2`` (0 for the default), not to NaN. Output clips are float32
    and come back in the container kind of ``X`` (list, ndarray, or a
    :class:`~skfer.ClipSet` with every companion kept: the pixels do not move).

    Examples
    --------
    >>> import numpy as np
    >>> MinMaxImageScaler().fit_transform([np.array([[[10, 20], [30, 50]]], np.uint8)])[0]
    array([[[-1. , -0.5],
            [ 0. ,  1. ]]], dtype=float32)
    """

    _parameter_constraints: dict = {"feature_range": [RealTuple(2)]}

    def __init__(self, *, feature_range: tuple[float, float] = (-1, 1)) -> None:
        self.feature_range = feature_range

    def _check_param_relations(self) -> None:
        a, b = self.feature_range
        if not a < b:
            raise ValueError(f"feature_range must have min < max, got {self.feature_range!r}")

    def transform(self, X):
        """Scale every frame to ``feature_range``.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`

        Returns
        -------
        Xt : clips of float32 frames in ``feature_range``, list, ndarray or ClipSet like ``X``
        """
        self._check_ready()
        a, b = (float(v) for v in self.feature_range)
        out = []
        for clip in check_clips(X):
            f = clip.astype(np.float64)
            axes = tuple(range(1, f.ndim))
            lo = f.min(axis=axes, keepdims=True)
            span = f.max(axis=axes, keepdims=True) - lo
            # Constant frames: unit span and a centred value give the middle of the range.
            scaled = np.where(span > 0, (f - lo) / np.where(span > 0, span, 1.0), 0.5)
            out.append((a + (b - a) * scaled).astype(np.float32))
        return same_container(X, out)


# ---------------------------------------------------------------- isotropic smoothing


def neumann_laplacian_eigenvalues(height: int, width: int) -> np.ndarray:
    """Eigenvalues of the 4-neighbour graph Laplacian of an image grid (Neumann boundaries).

    The Laplacian ``(D L)_p = sum_{q ~ p} (L_p - L_q)`` over the 4-neighbours ``q`` inside
    the image (no flux across the border) is diagonalised by the orthonormal 2-D DCT-II;
    its eigenvalue for frequency ``(k, l)`` is ``(2 - 2 cos(pi k / H)) + (2 - 2 cos(pi l /
    W))``.
    """
    mu = 2.0 - 2.0 * np.cos(np.pi * np.arange(height) / height)
    nu = 2.0 - 2.0 * np.cos(np.pi * np.arange(width) / width)
    return mu[:, None] + nu[None, :]


def isotropic_luminance(image: np.ndarray, smoothness: float) -> np.ndarray:
    """Luminance ``L`` of isotropic smoothing: solve ``(Id + lambda D) L = I`` exactly.

    ``L`` minimises ``sum_p (L_p - I_p)^2 + lambda sum_{p ~ q} (L_p - L_q)^2`` (the
    discrete ``|grad L|^2`` over 4-neighbour pairs, Heusch et al. 2005); setting the
    gradient to zero gives the linear system above, with ``D`` the Neumann graph
    Laplacian of :func:`neumann_laplacian_eigenvalues`. The system is solved in the DCT
    basis, which diagonalises it: ``L = IDCT(DCT(I) / (1 + lambda eig))``.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    smoothness : float
        ``lambda >= 0``.

    Returns
    -------
    luminance : ndarray of shape (H, W), float64
    """
    eig = neumann_laplacian_eigenvalues(*image.shape)
    coeffs = dctn(np.asarray(image, np.float64), type=2, norm="ortho")
    return idctn(coeffs / (1.0 + smoothness * eig), type=2, norm="ortho")


#: INface's offset added to the [0, 255] image before the division (avoids dividing by 0).
_INFACE_OFFSET = 0.001


class IsotropicSmoothing(StatelessClipTransformer):
    """Isotropic smoothing (IS) illumination normalisation (EmoNets section 3.1.1).

    The retinex model ``I = R L`` splits an image into reflectance ``R`` (the face) and a
    smooth luminance ``L`` (the lighting). Isotropic smoothing (Heusch, Cardinaux and
    Marcel, "Lighting normalization algorithms for face verification", IDIAP-com 05-03,
    2005) estimates ``L`` by isotropic diffusion, the minimiser of ``sum (L - I)^2 +
    lambda sum |grad L|^2`` (:func:`isotropic_luminance`), and returns ``R = I / L``.
    Following INface's ``isotropic_smoothing.m`` (Štruc and Pavešić), each image is first
    min-max scaled to ``[0, 255]`` and ``0.001`` is added, and the ratio is taken in the
    linear (not log) domain: ``R = (I' + 0.001) / L`` with ``L`` the luminance of ``I' +
    0.001``.

    Parameters
    ----------
    smoothness : float, default=7.0
        ``lambda``, the weight of the smoothness term. 7 is INface's default
        (``param = 7`` in ``isotropic_smoothing.m``, tuned there for 128 x 128 faces);
        EmoNets used "the default smoothness parameter".
    normalize : bool, default=False
        ``False``: return the ratio ``R`` (around 1), as EmoNets did ("without
        normalization as post-processing"). ``True``: INface's post-processing, clip the
        0.2 % darkest and brightest values of ``R`` (``histtruncate(R, 0.2, 0.2)``) and
        min-max scale to ``[0, 255]``.

    Notes
    -----
    Differences from INface, on purpose: INface builds the sparse matrix with ``1 + 4
    lambda`` on the whole diagonal (zero luminance outside the image), after padding the
    image with 3 mirrored pixels, and crops the pad afterwards; skfer solves the same
    energy with proper Neumann boundaries (no flux out of the image), exactly and fast
    with the DCT, so no padding is needed. Away from the border both agree. A constant
    image has ``L = I`` and gives ``R = 1`` everywhere. Colour frames are processed one
    channel at a time. Output clips are float32 in the container kind of ``X`` (a
    :class:`~skfer.ClipSet` keeps every companion: the pixels do not move).

    Examples
    --------
    >>> import numpy as np
    >>> IsotropicSmoothing().fit_transform(np.full((1, 1, 8, 8), 50.0))[0, 0, 0, 0]
    np.float32(1.0)
    """

    _parameter_constraints: dict = {
        "smoothness": [Interval(numbers.Real, 0, np.inf, closed="left")],
        "normalize": ["boolean"],
    }

    def __init__(self, *, smoothness: float = 7.0, normalize: bool = False) -> None:
        self.smoothness = smoothness
        self.normalize = normalize

    def _reflectance(self, image: np.ndarray) -> np.ndarray:
        lo, hi = image.min(), image.max()
        scaled = (image - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(image)
        scaled += _INFACE_OFFSET
        ratio = scaled / isotropic_luminance(scaled, float(self.smoothness))
        if not self.normalize:
            return ratio
        low, high = np.percentile(ratio, [0.2, 99.8])
        ratio = np.clip(ratio, low, high)
        return (ratio - low) * (255.0 / (high - low)) if high > low else np.zeros_like(ratio)

    def transform(self, X):
        """Reflectance of every frame.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`

        Returns
        -------
        Xt : clips of float32 reflectance frames, list, ndarray or ClipSet like ``X``
        """
        self._check_ready()
        out = [_per_image(c, self._reflectance).astype(np.float32) for c in check_clips(X)]
        return same_container(X, out)
