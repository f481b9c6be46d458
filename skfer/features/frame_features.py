"""Per-frame appearance features: HOG descriptors, local binary patterns and raw pixels.

Each turns a collection of clips into a collection of per-frame vector sequences
``(T, F)`` (see ``docs/data_model.md``), which :class:`skfer.preprocessing.FramePooling` or
:class:`skfer.preprocessing.FrameAggregator` then turn into one vector per clip. They are
the features of skfer's honest baselines (``skfer evaluate --model hog-svm``).
"""

from __future__ import annotations

import numbers

import cv2
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..base import ClipTransformerMixin
from ..clipset import ClipSet
from ..utils._param_validation import FrameSize
from ..utils._sklearn import Interval, _fit_context
from ..utils.pixels import to_grey_float, to_uint8
from ..utils.validation import check_clips

# to_grey_float moved to skfer.utils.pixels (the neural networks need it too, and may not
# import from skfer.features); it stays importable from here, where it was public.
__all__ = ["HOGFeatures", "LBPFeatures", "PixelFeatures", "lbp_codes", "to_grey_float"]


class _FrameFeatures(ClipTransformerMixin, TransformerMixin, BaseEstimator):
    """Shared fit/transform of per-frame feature extractors (stateless).

    A :class:`~skfer.ClipSet` gives a ClipSet of the per-frame sequences with every
    companion kept, so that a later step (e.g. :class:`~skfer.preprocessing.FrameAggregator`
    reading the per-frame ``status``) still has them; ``landmarks`` and ``boxes`` keep the
    pixel coordinates of the input frames (the features have no pixels to move them into).
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate ``X`` and record the feature size; learns nothing from the data.

        Parameters
        ----------
        X : list of clips, ndarray of them, or :class:`~skfer.ClipSet`
        y : ignored

        Returns
        -------
        self
        """
        check_clips(X)
        self.n_features_out_ = self._frame_features(
            np.zeros((1, *self.frame_size), np.float32)
        ).shape[1]
        return self

    def transform(self, X):
        """Compute one feature vector per frame.

        Parameters
        ----------
        X : list of clips ``(T, H, W)`` or ``(T, H, W, 3)``, ndarray of them, or
            :class:`~skfer.ClipSet`

        Returns
        -------
        sequences : list of ndarray of shape (T_i, n_features_out_), or a ClipSet of them
            (with ``X``'s companions) when ``X`` is a ClipSet
        """
        check_is_fitted(self, "n_features_out_")
        self._validate_params()  # parameters may have been set after fit
        clips = check_clips(X)
        out = [
            self._frame_features(to_grey_float(c, tuple(self.frame_size), index=i))
            for i, c in enumerate(clips)
        ]
        return X.replace(data=out) if isinstance(X, ClipSet) else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags


class HOGFeatures(_FrameFeatures):
    """Histogram-of-oriented-gradients descriptor of every frame.

    Frames are converted to grey, resized to ``frame_size`` and described with OpenCV's
    HOG (Dalal & Triggs): ``cell_size`` pixel cells, blocks of ``block_cells`` x
    ``block_cells`` cells moved by one cell, ``n_bins`` unsigned orientation bins, L2-Hys
    block normalisation.

    Parameters
    ----------
    frame_size : tuple of int, default=(48, 48)
        Frame size (height, width) the descriptor is computed on; must be a multiple of
        ``cell_size``.
    cell_size : int, default=8
        Side of a HOG cell in pixels.
    block_cells : int, default=2
        Side of a normalisation block in cells.
    n_bins : int, default=9
        Orientation bins.

    Attributes
    ----------
    n_features_out_ : int
        Length of one frame's descriptor.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer.features import HOGFeatures
    >>> clips = [np.zeros((3, 48, 48), np.uint8), np.ones((5, 64, 64), np.uint8)]
    >>> [s.shape for s in HOGFeatures().fit_transform(clips)]
    [(3, 900), (5, 900)]
    """

    _parameter_constraints = {
        "frame_size": [FrameSize()],
        "cell_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "block_cells": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_bins": [Interval(numbers.Integral, 2, None, closed="left")],
    }

    def __init__(self, *, frame_size=(48, 48), cell_size=8, block_cells=2, n_bins=9):
        self.frame_size = frame_size
        self.cell_size = cell_size
        self.block_cells = block_cells
        self.n_bins = n_bins

    def _frame_features(self, frames: np.ndarray) -> np.ndarray:
        h, w = self.frame_size
        if h % self.cell_size or w % self.cell_size:
            raise ValueError(
                f"frame_size {tuple(self.frame_size)} must be a multiple of cell_size "
                f"{self.cell_size}"
            )
        block = self.block_cells * self.cell_size
        hog = cv2.HOGDescriptor(
            (w, h), (block, block), (self.cell_size, self.cell_size),
            (self.cell_size, self.cell_size), self.n_bins,
        )
        u8 = to_uint8(frames)  # in [0, 255] by to_grey_float: rounds, clips nothing real
        return np.stack([hog.compute(f).ravel() for f in u8]).astype(np.float64)


#: (dy, dx) of the 8 neighbours, clockwise from the top-left: bit k of a code is neighbour k.
_LBP_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def lbp_codes(frame: np.ndarray) -> np.ndarray:
    """8-neighbour local binary pattern code (0-255) of every interior pixel.

    Bit ``k`` is set when neighbour ``k`` (:data:`_LBP_OFFSETS`) is at least as bright as the
    centre (Ojala et al., 2002). The output is 2 pixels smaller than ``frame`` on each axis.
    """
    img = np.asarray(frame, dtype=np.float32)
    h, w = img.shape
    centre = img[1:-1, 1:-1]
    code = np.zeros(centre.shape, dtype=np.int32)
    for bit, (dy, dx) in enumerate(_LBP_OFFSETS):
        code |= (img[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx] >= centre).astype(np.int32) << bit
    return code


class LBPFeatures(_FrameFeatures):
    """Grid of local-binary-pattern histograms of every frame.

    The classic texture descriptor of facial expression work (Shan, Gong & McOwan, 2009):
    the grey frame, resized to ``frame_size``, gets an 8-neighbour LBP code per pixel
    (:func:`lbp_codes`); the codes are counted in each cell of a ``grid`` x ``grid``
    partition and the 256-bin histograms concatenated. Each frame's vector is
    normalised to sum 1 and square-rooted (Hellinger), so a linear model compares
    histograms sensibly.

    Parameters
    ----------
    frame_size : tuple of int, default=(48, 48)
        Frame size (height, width) the codes are computed on.
    grid : int, default=4
        Cells per side; the descriptor has ``256 * grid**2`` values per frame.

    Attributes
    ----------
    n_features_out_ : int
        ``256 * grid**2``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer.features import LBPFeatures
    >>> [s.shape for s in LBPFeatures(grid=2).fit_transform([np.zeros((3, 48, 48))])]
    [(3, 1024)]
    """

    _parameter_constraints = {
        "frame_size": [FrameSize()],
        "grid": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, *, frame_size=(48, 48), grid=4):
        self.frame_size = frame_size
        self.grid = grid

    def _frame_features(self, frames: np.ndarray) -> np.ndarray:
        if min(self.frame_size) - 2 < self.grid:
            raise ValueError(
                f"frame_size {tuple(self.frame_size)} is too small for a {self.grid}x"
                f"{self.grid} grid of LBP cells"
            )
        out = []
        for frame in frames:
            code = lbp_codes(frame)
            hist = np.concatenate([
                np.bincount(cell.ravel(), minlength=256)
                for rows in np.array_split(code, self.grid, axis=0)
                for cell in np.array_split(rows, self.grid, axis=1)
            ]).astype(np.float64)
            out.append(np.sqrt(hist / hist.sum()))
        return np.stack(out)


class PixelFeatures(_FrameFeatures):
    """Raw grey pixels of every frame, resized and scaled to [0, 1], as a vector.

    Parameters
    ----------
    frame_size : tuple of int, default=(24, 24)
        Frame size (height, width) before flattening; the CS229 paper used 24x24 faces.

    Attributes
    ----------
    n_features_out_ : int
        ``frame_size[0] * frame_size[1]``.
    """

    _parameter_constraints = {"frame_size": [FrameSize()]}

    def __init__(self, *, frame_size=(24, 24)):
        self.frame_size = frame_size

    def _frame_features(self, frames: np.ndarray) -> np.ndarray:
        return frames.reshape(len(frames), -1).astype(np.float64) / 255.0
