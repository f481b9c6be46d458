"""Motion bag-of-words of face tubes with a synchrony autoencoder (EmoNets 3.3).

EmoNets (Kahou et al., 2015, section 3.3) encodes local motion with the synchrony
autoencoder (SAE) of Konda, Memisevic & Michalski (2014): 10x16x16 (time x rows x cols)
blocks cropped at random from the training clips are PCA-whitened to 300 components and an
SAE with 300 hidden units is trained on them (SGD with momentum). A 14x20x20 super-block is
described by the SAE features of the 8 10x16x16 sub-blocks at its corners, concatenated and
reduced by PCA to 100 values; super-blocks are taken densely (stride 7 in time, 10 in
space), quantised by a k-means dictionary (3,000 words) and counted in a normalised
histogram per clip, for an SVM with a chi-squared kernel
(:class:`skfer.features.Chi2KernelTransformer` and ``SVC(kernel="precomputed")``).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..base import ClipTransformerMixin
from ..clipset import ClipSet
from ..utils._sklearn import Interval, _fit_context
from ..utils.pixels import to_grey_float
from ..utils.validation import check_clips

__all__ = ["MotionBagOfWords"]

_SEED_MAX = np.iinfo(np.int32).max


def _triple(value, name: str) -> tuple[int, int, int]:
    if len(value) != 3 or not all(isinstance(v, numbers.Integral) and v >= 1 for v in value):
        raise ValueError(f"{name} must be 3 positive ints (time, rows, cols), got {value!r}")
    return tuple(int(v) for v in value)


class MotionBagOfWords(ClipTransformerMixin, TransformerMixin, BaseEstimator):
    """Bag of motion words of clips: SAE features of super-blocks, k-means, histogram.

    Frames are converted to grey and scaled to [0, 1]; the clips of one call must share
    their frame size only within a clip (each clip is cut into its own blocks).

    Parameters
    ----------
    block_size : tuple of 3 int, default=(10, 16, 16)
        Sub-block (time, rows, cols) the synchrony autoencoder sees.
    superblock_size : tuple of 3 int, default=(14, 20, 20)
        Super-block; its descriptor joins the 8 sub-blocks at its corners.
    stride : tuple of 3 int, default=(7, 10, 10)
        Step between dense super-blocks (the paper's 50% overlap).
    n_components : int, default=300
        PCA whitening components of the blocks.
    n_hidden : int, default=300
        Hidden units of the synchrony autoencoder.
    n_descriptor_components : int, default=100
        PCA components of the super-block descriptors (``8 * n_hidden`` values).
    n_words : int, default=3000
        k-means dictionary size.
    n_train_blocks : int, default=200_000
        Random blocks cropped from the training clips for the PCA and the SAE.
    learning_rate : float, default=1e-4
    momentum : float, default=0.9
    max_epochs : int, default=1000
        SGD epochs of the SAE (the paper's 1,000; reduce them on a CPU).
    batch_size : int, default=128
    random_state : int, RandomState instance or None, default=None
        Seeds the block crops, PCA, SAE and k-means.

    Attributes
    ----------
    block_pca_ : PCA
        Whitening of the blocks.
    autoencoder_ : SynchronyAutoencoderModule
    loss_curve_ : list of float
        SAE reconstruction error per epoch.
    descriptor_pca_ : PCA
    kmeans_ : KMeans
    n_superblocks_fit_ : int
        Super-block descriptors the dictionary was learnt from.
    n_features_out_ : int
        ``n_words``.

    Raises
    ------
    ValueError
        A clip shorter (in frames) or smaller (in pixels) than ``superblock_size`` (the
        message names the clip and its source); fewer distinct training blocks than
        ``n_components``; fewer training super-blocks than ``n_descriptor_components`` or
        ``n_words``; a sub-block larger than the super-block.

    Notes
    -----
    Where skfer departs from, or fills in, the paper:

    * the synchrony autoencoder is skfer's reading of the cited model, with tied weights and
      ``h = sigmoid((W x)^2 + b)`` (see :mod:`skfer.neural.synchrony_autoencoder`);
    * clips shorter than a super-block are refused, not padded (no padding the paper
      describes); frames are grey in [0, 1];
    * the PCA whitening has no regulariser; blocks are not normalised otherwise;
    * k-means is scikit-learn's Lloyd with one k-means++ start.

    The output is an ``(n_clips, n_words)`` array of word frequencies (rows sum to 1), one
    sample per clip (companions of a ClipSet are not carried: the output is tabular).

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> clips = [rng.rand(20, 24, 24) for _ in range(4)]
    >>> bow = MotionBagOfWords(
    ...     block_size=(4, 8, 8), superblock_size=(6, 12, 12), stride=(3, 6, 6),
    ...     n_components=8, n_hidden=6, n_descriptor_components=5, n_words=4,
    ...     n_train_blocks=200, max_epochs=2, random_state=0)
    >>> bow.fit(clips).transform(clips).sum(axis=1)
    array([1., 1., 1., 1.])
    """

    _parameter_constraints: dict = {
        "block_size": [tuple, list],
        "superblock_size": [tuple, list],
        "stride": [tuple, list],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_hidden": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_descriptor_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_words": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_train_blocks": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        block_size: tuple[int, int, int] = (10, 16, 16),
        superblock_size: tuple[int, int, int] = (14, 20, 20),
        stride: tuple[int, int, int] = (7, 10, 10),
        n_components: int = 300,
        n_hidden: int = 300,
        n_descriptor_components: int = 100,
        n_words: int = 3000,
        n_train_blocks: int = 200_000,
        learning_rate: float = 1e-4,
        momentum: float = 0.9,
        max_epochs: int = 1000,
        batch_size: int = 128,
        random_state: Any = None,
    ) -> None:
        self.block_size = block_size
        self.superblock_size = superblock_size
        self.stride = stride
        self.n_components = n_components
        self.n_hidden = n_hidden
        self.n_descriptor_components = n_descriptor_components
        self.n_words = n_words
        self.n_train_blocks = n_train_blocks
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.random_state = random_state

    def _sizes(self):
        block = _triple(self.block_size, "block_size")
        sup = _triple(self.superblock_size, "superblock_size")
        stride = _triple(self.stride, "stride")
        if any(b > s for b, s in zip(block, sup)):
            raise ValueError(
                f"block_size {block} must fit in superblock_size {sup} on every axis"
            )
        return block, sup, stride

    def _volumes(self, X) -> list[np.ndarray]:
        """Grey [0, 1] clips, each checked to hold one super-block."""
        _, sup, _ = self._sizes()
        sources = X.get("source") if isinstance(X, ClipSet) else None
        out = []
        for i, clip in enumerate(check_clips(X)):
            vol = to_grey_float(clip) / 255.0
            if any(n < s for n, s in zip(vol.shape, sup)):
                where = f"clip {i}" + (f" ({sources[i]})" if sources else "")
                raise ValueError(
                    f"{where}: {vol.shape[0]} frames of {vol.shape[1]}x{vol.shape[2]} pixels "
                    f"are smaller than one {sup[0]}x{sup[1]}x{sup[2]} super-block (time x rows"
                    " x cols); give longer clips or smaller superblock_size"
                )
            out.append(vol)
        return out

    def _raw_descriptors(self, vol: np.ndarray) -> np.ndarray:
        """SAE features of the 8 corner sub-blocks of every super-block of one clip."""
        import torch

        block, sup, stride = self._sizes()
        win = sliding_window_view(vol, sup)[:: stride[0], :: stride[1], :: stride[2]]
        win = win.reshape(-1, *sup)
        offsets = [
            (t, y, x)
            for t in (0, sup[0] - block[0])
            for y in (0, sup[1] - block[1])
            for x in (0, sup[2] - block[2])
        ]
        feats = []
        for t, y, x in offsets:
            sub = win[:, t : t + block[0], y : y + block[1], x : x + block[2]]
            white = self.block_pca_.transform(sub.reshape(len(sub), -1))
            with torch.no_grad():
                h = self.autoencoder_.encode(torch.from_numpy(white.astype(np.float32)))
            feats.append(h.numpy().astype(np.float64))
        return np.concatenate(feats, axis=1)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the block whitening, the SAE, the descriptor PCA and the dictionary.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`
            Face tubes, e.g. from :class:`~skfer.preprocessing.FaceTubeExtractor`.
        y : ignored

        Returns
        -------
        self
        """
        from ..neural.synchrony_autoencoder import train_synchrony_autoencoder

        block, _, _ = self._sizes()
        vols = self._volumes(X)
        rng = check_random_state(self.random_state)
        # Random blocks: a clip with probability proportional to its number of positions.
        positions = np.array([np.prod([n - b + 1 for n, b in zip(v.shape, block)]) for v in vols])
        if positions.sum() < self.n_components:
            raise ValueError(
                f"{positions.sum()} distinct training blocks for n_components="
                f"{self.n_components}; give more or longer clips or fewer n_components"
            )
        picks = rng.choice(len(vols), self.n_train_blocks, p=positions / positions.sum())
        blocks = np.empty((self.n_train_blocks, int(np.prod(block))), np.float32)
        for j, c in enumerate(picks):
            t, y_, x = (rng.randint(n - b + 1) for n, b in zip(vols[c].shape, block))
            blocks[j] = vols[c][t : t + block[0], y_ : y_ + block[1], x : x + block[2]].ravel()
        if self.n_components > min(blocks.shape):
            raise ValueError(
                f"n_components={self.n_components} exceeds the {min(blocks.shape)} that "
                f"{len(blocks)} blocks of {blocks.shape[1]} pixels allow"
            )
        self.block_pca_ = PCA(
            self.n_components, whiten=True, random_state=rng.randint(_SEED_MAX)
        ).fit(blocks)
        white = self.block_pca_.transform(blocks)
        self.autoencoder_, self.loss_curve_ = train_synchrony_autoencoder(
            white,
            self.n_hidden,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            random_state=rng.randint(_SEED_MAX),
        )
        raw = np.concatenate([self._raw_descriptors(v) for v in vols])
        need = max(self.n_descriptor_components, self.n_words)
        if len(raw) < need:
            raise ValueError(
                f"{len(raw)} training super-blocks for n_descriptor_components="
                f"{self.n_descriptor_components} and n_words={self.n_words}; give more or "
                "longer clips, a smaller stride, or fewer components/words"
            )
        self.descriptor_pca_ = PCA(
            self.n_descriptor_components, random_state=rng.randint(_SEED_MAX)
        ).fit(raw)
        self.kmeans_ = KMeans(self.n_words, n_init=1, random_state=rng.randint(_SEED_MAX)).fit(
            self.descriptor_pca_.transform(raw)
        )
        self.n_superblocks_fit_ = len(raw)
        self.n_features_out_ = self.n_words
        return self

    def transform(self, X) -> np.ndarray:
        """Normalised word histogram of every clip.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`

        Returns
        -------
        ndarray of shape (n_clips, n_words)
            Word frequencies; every row sums to 1.
        """
        check_is_fitted(self, "kmeans_")
        self._validate_params()
        out = np.zeros((len(check_clips(X)), self.kmeans_.n_clusters))
        for i, vol in enumerate(self._volumes(X)):
            words = self.kmeans_.predict(self.descriptor_pca_.transform(self._raw_descriptors(vol)))
            counts = np.bincount(words, minlength=self.kmeans_.n_clusters)
            out[i] = counts / counts.sum()
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags
