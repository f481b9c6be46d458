"""Bag of mouths: a k-means dictionary of whitened mouth patches per region (EmoNets 3.4).

EmoNets (Kahou et al., 2015, section 3.4) follows Coates, Lee & Ng (2011): each mouth image
is divided into 16 equal regions, dense 8x8 patches of a region are normalised to zero mean
and unit variance, whitened per region keeping 90% of the variance and compared with 400
k-means centroids of that region through the triangle activation ``max(0, mu - z_k)``; the
activations are mean-pooled per region and the 16 region descriptors concatenated (6,400
values per frame). :class:`BagOfMouths` is that encoder; the paper's frame-level logistic
regression averaged over a clip's frames is
:class:`skfer.features.FrameLevelClassifier`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..base import ClipTransformerMixin, same_container
from ..clipset import ClipSet
from ..utils._sklearn import Interval, StrOptions, _fit_context
from ..utils.pixels import to_grey_float
from ..utils.validation import check_clips

__all__ = ["BagOfMouths", "normalise_patches", "triangle_activation", "whitening_basis"]


def normalise_patches(patches: np.ndarray, epsilon: float) -> np.ndarray:
    """Zero mean and (about) unit variance per patch: ``(p - mean) / sqrt(var + epsilon)``.

    Parameters
    ----------
    patches : ndarray of shape (..., D)
        Flattened patches, pixel values in [0, 255].
    epsilon : float > 0
        Added to each patch's variance (pixel units squared). It keeps a constant patch at
        the zero vector instead of 0/0, and keeps sensor noise in flat patches from being
        blown up to unit variance (Coates et al.'s code uses 10 on 0-255 pixels).

    Returns
    -------
    ndarray of the same shape, float64

    Examples
    --------
    >>> normalise_patches(np.array([[5.0, 5.0, 5.0, 5.0]]), 10.0)
    array([[0., 0., 0., 0.]])
    """
    patches = np.asarray(patches, dtype=np.float64)
    centred = patches - patches.mean(axis=-1, keepdims=True)
    return centred / np.sqrt(centred.var(axis=-1, keepdims=True) + epsilon)


def whitening_basis(
    patches: np.ndarray, variance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """PCA whitening of centred patches keeping a fraction of their variance.

    The kept components are the fewest leading principal axes whose eigenvalues sum to at
    least ``variance`` times the total; a patch ``x`` is whitened to
    ``(x - mean) @ components.T / scale``, whose kept coordinates have unit variance on the
    training patches.

    Parameters
    ----------
    patches : ndarray of shape (n, D)
    variance : float in (0, 1]

    Returns
    -------
    mean : ndarray (D,)
    components : ndarray (k, D)
        Orthonormal rows, in decreasing eigenvalue order.
    scale : ndarray (k,)
        Square roots of the kept eigenvalues (covariance with ``n - 1`` degrees of freedom).
    kept : float
        The fraction of the variance the ``k`` components hold.

    Raises
    ------
    ValueError
        If the patches have no variance at all (nothing to whiten).

    Examples
    --------
    >>> x = np.array([[-3.0, 1.0], [3.0, -1.0], [-3.0, -1.0], [3.0, 1.0]])
    >>> mean, comps, scale, kept = whitening_basis(x, 0.9)
    >>> comps.shape, round(kept, 2)        # variances 12 and 4/3: axis 0 holds 0.9
    ((1, 2), 0.9)
    """
    patches = np.asarray(patches, dtype=np.float64)
    mean = patches.mean(axis=0)
    centred = patches - mean
    # SVD of the data rather than eigh of the covariance: no squared condition number.
    _, sing, vt = np.linalg.svd(centred, full_matrices=False)
    eig = sing**2 / max(len(patches) - 1, 1)
    total = eig.sum()
    if not total > 0:
        raise ValueError("the training patches have no variance: nothing to whiten")
    ratio = np.cumsum(eig) / total
    # Fewest components reaching the fraction (a tiny tolerance for 0.9 landing on a sum).
    k = int(np.searchsorted(ratio, variance - 1e-12) + 1)
    k = min(k, len(eig))
    return mean, vt[:k], np.sqrt(eig[:k]), float(ratio[k - 1])


def triangle_activation(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Coates et al.'s triangle encoding: ``max(0, mu - z_k)``.

    ``z_k`` is the Euclidean distance of a point to centroid ``k`` and ``mu`` the mean of
    its distances to all centroids, so only centroids closer than average are active.

    Parameters
    ----------
    points : ndarray of shape (n, d)
    centroids : ndarray of shape (K, d)

    Returns
    -------
    ndarray of shape (n, K)

    Examples
    --------
    >>> c = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    >>> triangle_activation(np.zeros((1, 2)), c)  # distances 0, 3, 4; mean 7/3
    array([[2.33333333, 0.        , 0.        ]])
    """
    points = np.asarray(points, dtype=np.float64)
    centroids = np.asarray(centroids, dtype=np.float64)
    sq = (
        (points**2).sum(axis=1)[:, None]
        - 2.0 * points @ centroids.T
        + (centroids**2).sum(axis=1)[None, :]
    )
    dist = np.sqrt(np.maximum(sq, 0.0))  # rounding can make a tiny square negative
    return np.maximum(dist.mean(axis=1, keepdims=True) - dist, 0.0)


def _region_bounds(n: int, grid: int) -> np.ndarray:
    """Integer boundaries of ``grid`` equal (to one pixel) parts of ``n`` pixels."""
    return (np.arange(grid + 1) * n) // grid


class BagOfMouths(ClipTransformerMixin, TransformerMixin, BaseEstimator):
    """Bag-of-mouths encoder of mouth crops (EmoNets 3.4, after Coates et al., 2011).

    Every frame (converted to grey, pixel values 0-255) is split into ``grid`` x ``grid``
    equal regions. In each region, dense ``patch_size`` x ``patch_size`` patches are taken
    every ``patch_stride`` pixels, normalised one by one (:func:`normalise_patches`),
    whitened with the region's PCA basis keeping ``whiten_variance`` of the variance
    (:func:`whitening_basis`), encoded against the region's ``n_clusters`` k-means centroids
    with the triangle activation (:func:`triangle_activation`), and pooled over the region's
    patches (mean, or standard deviation). A frame's descriptor is the concatenation of its
    regions' pooled activations, region by region in row-major order:
    ``grid**2 * n_clusters`` values (6,400 with the defaults).

    Parameters
    ----------
    grid : int, default=4
        Regions per side (the paper's 4 x 4 = 16).
    patch_size : int, default=8
        Side of a patch in pixels (the paper's 8 x 8).
    patch_stride : int, default=1
        Step between patches in a region. The paper does not give it; 1 is Coates et al.'s
        dense extraction. Larger strides trade detail for speed and memory.
    epsilon : float, default=10.0
        Added to each patch's variance before dividing (pixel units, 0-255 scale); constant
        patches become zero vectors. See :func:`normalise_patches`.
    whiten_variance : float, default=0.9
        Fraction of each region's patch variance kept by the whitening PCA (the paper's 90%).
    n_clusters : int, default=400
        Centroids per region (the paper's 400).
    pooling : {"mean", "std"}, default="mean"
        How a region's patch activations are pooled: the average (the paper's choice) or the
        standard deviation (the variant the paper also tried).
    kmeans : {"minibatch", "lloyd"}, default="minibatch"
        :class:`~sklearn.cluster.MiniBatchKMeans` or full-batch
        :class:`~sklearn.cluster.KMeans` (Lloyd), one k-means++ start each.
        ``docs/benchmarks.md`` compares them: mini-batch pays off on large patch sets (about
        1.6x faster than Lloyd at 50,000 patches per region), Lloyd is as fast and reaches a
        lower inertia on small ones (5,000 patches per region on CK+48).
    max_patches : int or None, default=100_000
        Training patches per region drawn at random (without replacement) from all the
        patches of the training frames; ``None`` uses all of them. Bounds the memory and time
        of ``fit`` on long videos.
    random_state : int, RandomState instance or None, default=None
        Seeds the patch sampling and the k-means of every region.

    Attributes
    ----------
    patch_mean_ : ndarray of shape (grid**2, patch_size**2)
        Mean normalised patch of each region (the whitening centre).
    components_ : list of ndarray of shape (k_r, patch_size**2)
        Each region's kept principal axes.
    whiten_scale_ : list of ndarray of shape (k_r,)
        Square roots of the kept eigenvalues.
    explained_variance_ratio_ : ndarray of shape (grid**2,)
        Fraction of the variance each region's whitening keeps (>= ``whiten_variance``).
    cluster_centers_ : list of ndarray of shape (n_clusters, k_r)
        Each region's centroids, in whitened coordinates.
    n_patches_ : ndarray of shape (grid**2,)
        Training patches available per region (before ``max_patches`` sampling).
    n_frames_fit_ : int
        Training frames used (frames whose ``status`` is ``"missing"`` are left out).
    n_features_out_ : int
        ``grid**2 * n_clusters``.

    Raises
    ------
    ValueError
        In ``fit`` or ``transform``: frames smaller than ``grid * patch_size`` on either side
        (each region must hold one patch; the message names the clip and says to resize, e.g.
        ``MouthRegion(frame_size=...)``). In ``fit``: fewer training patches than ``n_clusters`` in
        a region, or a region whose patches are all alike (nothing to whiten); the message
        names the region.

    Notes
    -----
    Where skfer departs from, or fills in, the paper:

    * the paper gives no patch stride; ``patch_stride`` is a parameter (default 1, dense);
    * patches are "normalized by individually setting the mean pixel intensity to 0 and the
      variance to 1"; skfer divides by ``sqrt(var + epsilon)`` as Coates et al.'s code does, so
      a constant patch (zero variance) encodes as the zero vector instead of NaN, and
      low-contrast patches get a variance below 1;
    * whitening is PCA whitening onto the kept components (the paper says "whitening ...
      keeping 90% of the variance"; Coates et al. used ZCA with a regulariser instead);
    * k-means is mini-batch by default (``kmeans="lloyd"`` for the full algorithm), on at most
      ``max_patches`` random patches per region;
    * regions are split to the pixel (``np.arange(grid + 1) * H // grid``), so crops whose
      size is not a multiple of ``grid`` have regions one pixel apart in size; patches never
      cross a region border;
    * frames flagged ``"missing"`` by a ClipSet ``status`` are left out of ``fit`` but still
      encoded by ``transform`` (every frame keeps its place; a later step can use the status).

    The output keeps ``X``'s container: a :class:`~skfer.ClipSet` in gives a ClipSet of
    ``(T_i, n_features_out_)`` sequences with the same companions (one row per frame, so
    per-frame companions stay aligned), a list gives a list.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> mouths = [rng.randint(0, 255, (4, 32, 32)).astype(np.uint8) for _ in range(3)]
    >>> bom = BagOfMouths(n_clusters=5, random_state=0).fit(mouths)
    >>> [seq.shape for seq in bom.transform(mouths)]
    [(4, 80), (4, 80), (4, 80)]
    """

    _parameter_constraints: dict = {
        "grid": [Interval(numbers.Integral, 1, None, closed="left")],
        "patch_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "patch_stride": [Interval(numbers.Integral, 1, None, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "whiten_variance": [Interval(numbers.Real, 0, 1, closed="right")],
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "pooling": [StrOptions({"mean", "std"})],
        "kmeans": [StrOptions({"minibatch", "lloyd"})],
        "max_patches": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        grid: int = 4,
        patch_size: int = 8,
        patch_stride: int = 1,
        epsilon: float = 10.0,
        whiten_variance: float = 0.9,
        n_clusters: int = 400,
        pooling: str = "mean",
        kmeans: str = "minibatch",
        max_patches: int | None = 100_000,
        random_state: Any = None,
    ) -> None:
        self.grid = grid
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.epsilon = epsilon
        self.whiten_variance = whiten_variance
        self.n_clusters = n_clusters
        self.pooling = pooling
        self.kmeans = kmeans
        self.max_patches = max_patches
        self.random_state = random_state

    # ------------------------------------------------------------------------- patches
    def _frames(self, clip: np.ndarray, index: int, sources: list | None) -> np.ndarray:
        """Grey 0-255 frames of a clip, checked to hold a patch in every region."""
        frames = to_grey_float(clip)
        h, w = frames.shape[1:3]
        need = self.grid * self.patch_size
        if h < need or w < need:
            where = f"clip {index}" + (f" ({sources[index]})" if sources else "")
            raise ValueError(
                f"{where}: mouth crops of {h}x{w} pixels are too small for a {self.grid}x"
                f"{self.grid} grid of {self.patch_size}x{self.patch_size} patches (at least "
                f"{need}x{need}); resize them, e.g. MouthRegion(frame_size=(h, w))"
            )
        return frames

    def _region_patches(self, frames: np.ndarray) -> list[np.ndarray]:
        """Normalised patches of every region: a list of ``(T, n_patches_r, D)`` arrays."""
        ys = _region_bounds(frames.shape[1], self.grid)
        xs = _region_bounds(frames.shape[2], self.grid)
        p, s = self.patch_size, self.patch_stride
        out = []
        for r in range(self.grid):
            for c in range(self.grid):
                region = frames[:, ys[r] : ys[r + 1], xs[c] : xs[c + 1]]
                win = sliding_window_view(region, (p, p), axis=(1, 2))[:, ::s, ::s]
                patches = win.reshape(len(frames), -1, p * p)
                out.append(normalise_patches(patches, self.epsilon))
        return out

    # ----------------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn each region's whitening and k-means dictionary from the frames of ``X``.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`
            Mouth crops, e.g. from :class:`~skfer.preprocessing.MouthRegion`.
        y : ignored

        Returns
        -------
        self
        """
        clips = check_clips(X)
        sources = X.get("source") if isinstance(X, ClipSet) else None
        n_regions = self.grid**2
        per_region: list[list[np.ndarray]] = [[] for _ in range(n_regions)]
        n_frames = 0
        for i, clip in enumerate(clips):
            keep = X.usable_frames(i) if isinstance(X, ClipSet) else slice(None)
            frames = self._frames(clip, i, sources)[keep]
            n_frames += len(frames)
            if len(frames) == 0:
                continue
            for r, patches in enumerate(self._region_patches(frames)):
                per_region[r].append(patches.reshape(-1, patches.shape[-1]))
        if n_frames == 0:
            raise ValueError("no usable frame to fit on: every frame's status is 'missing'")

        rng = check_random_state(self.random_state)
        means, comps, scales, kept, centres, counts = [], [], [], [], [], []
        for r in range(n_regions):
            patches = np.concatenate(per_region[r])
            per_region[r] = []  # free the memory as we go
            where = f"region {divmod(r, self.grid)} (row, column)"
            counts.append(len(patches))
            if len(patches) < self.n_clusters:
                raise ValueError(
                    f"{where}: {len(patches)} training patches for n_clusters="
                    f"{self.n_clusters} centroids; give more frames, a smaller patch_stride "
                    "or fewer n_clusters"
                )
            if self.max_patches is not None and len(patches) > self.max_patches:
                patches = patches[rng.choice(len(patches), self.max_patches, replace=False)]
            try:
                mean, comp, scale, frac = whitening_basis(patches, self.whiten_variance)
            except ValueError as exc:
                raise ValueError(
                    f"{where}: {exc} (every patch is constant or all are alike)"
                ) from None
            white = (patches - mean) @ comp.T / scale
            seed = rng.randint(np.iinfo(np.int32).max)
            # One k-means++ start each: on CK+48 mouths, 3 mini-batch starts doubled the fit
            # time for a 1% lower inertia (docs/benchmarks.md).
            km = (
                MiniBatchKMeans(self.n_clusters, random_state=seed, n_init=1)
                if self.kmeans == "minibatch"
                else KMeans(self.n_clusters, random_state=seed, n_init=1)
            ).fit(white)
            means.append(mean)
            comps.append(comp)
            scales.append(scale)
            kept.append(frac)
            centres.append(km.cluster_centers_)

        self.patch_mean_ = np.stack(means)
        self.components_ = comps
        self.whiten_scale_ = scales
        self.explained_variance_ratio_ = np.array(kept)
        self.cluster_centers_ = centres
        self.n_patches_ = np.array(counts)
        self.n_frames_fit_ = n_frames
        self.n_features_out_ = n_regions * self.n_clusters
        return self

    # ----------------------------------------------------------------------- transform
    def _encode(self, frames: np.ndarray) -> np.ndarray:
        """Descriptors ``(T, n_features_out_)`` of grey frames."""
        pool = np.mean if self.pooling == "mean" else np.std
        parts = []
        for r, patches in enumerate(self._region_patches(frames)):
            t, n, d = patches.shape
            white = (patches.reshape(-1, d) - self.patch_mean_[r]) @ self.components_[r].T
            act = triangle_activation(white / self.whiten_scale_[r], self.cluster_centers_[r])
            parts.append(pool(act.reshape(t, n, -1), axis=1))
        return np.concatenate(parts, axis=1)

    def transform(self, X):
        """Encode every frame of every clip.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`

        Returns
        -------
        sequences : list, ClipSet or ndarray (as ``X``) of ndarray ``(T_i, n_features_out_)``
        """
        check_is_fitted(self, "cluster_centers_")
        self._validate_params()
        clips = check_clips(X)
        sources = X.get("source") if isinstance(X, ClipSet) else None
        if self.grid**2 != len(self.cluster_centers_) or (
            self.patch_size**2 != self.patch_mean_.shape[1]
        ):
            raise ValueError(
                "grid or patch_size changed since fit; fit again before transforming"
            )
        out = [self._encode(self._frames(c, i, sources)) for i, c in enumerate(clips)]
        return same_container(X, out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags
