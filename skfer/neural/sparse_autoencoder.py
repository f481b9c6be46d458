"""Sparse autoencoder of small face images, in torch (CS229 facial expression project).

The project (``001_1be6a9c7e9d5e8de.txt``, sections 2.1 and 3.3) follows Ng's CS294A notes:
faces resized to 24x24 and scaled to [-1, 1] feed 576 inputs, a hidden layer of 250 logistic
units is trained to reconstruct the input under a KL-divergence sparsity penalty (target
activation ``rho``, weight ``beta``) and weight decay ``lambda`` (the paper's 0.2 / 5 / 0.002),
optionally stacked (250-100), and the hidden activations feed a softmax or one-vs-rest
logistic classifier (:class:`skfer.features.FrameLevelClassifier` for clips).

The cost of one layer on ``m`` inputs ``x`` with hidden ``h = sigmoid(W1 x + b1)`` and linear
reconstruction ``x_hat = W2 h + b2`` is (the CS294A / UFLDL cost)::

    J = 1/(2m) sum ||x_hat - x||^2 + lambda/2 (||W1||^2 + ||W2||^2) + beta sum_j KL(rho || rho_j)

with ``rho_j`` the mean activation of hidden unit ``j`` over the ``m`` inputs and
``KL(rho || r) = rho log(rho / r) + (1 - rho) log((1 - rho) / (1 - r))``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..base import ClipTransformerMixin, same_container
from ..clipset import ClipSet
from ..preprocessing.illumination import MinMaxImageScaler
from ..utils._param_validation import FrameSize
from ..utils._sklearn import Interval, _fit_context
from ..utils.pixels import to_grey_float
from ..utils.validation import check_clips
from .rbm import torch_generator

__all__ = [
    "SparseAutoencoder",
    "SparseAutoencoderLayer",
    "kl_sparsity_penalty",
    "sparse_autoencoder_cost",
]


def kl_sparsity_penalty(mean_activation: torch.Tensor, rho: float) -> torch.Tensor:
    """``sum_j KL(rho || rho_j)`` between Bernoulli means (the CS294A sparsity penalty).

    Parameters
    ----------
    mean_activation : tensor of shape (n_hidden,)
        Mean activation ``rho_j`` of every hidden unit, in (0, 1).
    rho : float in (0, 1)
        Target activation.

    Returns
    -------
    0-d tensor

    Examples
    --------
    >>> round(float(kl_sparsity_penalty(torch.tensor([0.2, 0.5]), 0.2)), 4)  # 0.2 ln .4 + .8 ln 1.6
    0.1927
    """
    # Clamp: a saturated unit (rho_j = 0 or 1 in float32) would give an infinite penalty.
    r = mean_activation.clamp(1e-7, 1 - 1e-7)
    return (rho * torch.log(rho / r) + (1 - rho) * torch.log((1 - rho) / (1 - r))).sum()


class SparseAutoencoderLayer(nn.Module):
    """One sparse autoencoder: sigmoid encoder, linear decoder.

    Weights start uniform in ``+-sqrt(6 / (n_in + n_hidden + 1))``, biases at zero (as the
    UFLDL starter code ``initializeParameters.m``).
    """

    def __init__(self, n_in: int, n_hidden: int, generator: torch.Generator | None = None):
        super().__init__()
        self.encoder = nn.Linear(n_in, n_hidden)
        self.decoder = nn.Linear(n_hidden, n_in)
        r = float(np.sqrt(6.0 / (n_in + n_hidden + 1)))
        with torch.no_grad():
            for lin in (self.encoder, self.decoder):
                lin.weight.uniform_(-r, r, generator=generator)
                lin.bias.zero_()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.encoder(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden activations and reconstruction of ``x``."""
        h = self.encode(x)
        return h, self.decoder(h)


def sparse_autoencoder_cost(
    layer: SparseAutoencoderLayer,
    x: torch.Tensor,
    rho: float,
    beta: float,
    weight_decay: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The CS294A cost of ``layer`` on the batch ``x`` (see the module docstring).

    Returns
    -------
    cost : 0-d tensor
        Reconstruction + weight decay + sparsity terms (differentiable).
    parts : dict
        The three terms as floats: ``"reconstruction"``, ``"weight_decay"``, ``"sparsity"``.
    """
    h, x_hat = layer(x)
    recon = 0.5 * ((x_hat - x) ** 2).sum() / len(x)
    decay = 0.5 * weight_decay * (
        layer.encoder.weight.pow(2).sum() + layer.decoder.weight.pow(2).sum()
    )
    sparsity = beta * kl_sparsity_penalty(h.mean(dim=0), rho)
    parts = {
        "reconstruction": float(recon.detach()),
        "weight_decay": float(decay.detach()),
        "sparsity": float(sparsity.detach()),
    }
    return recon + decay + sparsity, parts


class SparseAutoencoder(ClipTransformerMixin, TransformerMixin, BaseEstimator):
    """Sparse autoencoder features of face frames (CS229 project, 3.3; CS294A cost).

    Every frame is converted to grey, resized to ``frame_size`` and scaled by its own
    minimum and maximum to [-1, 1] (:class:`~skfer.preprocessing.MinMaxImageScaler`), then
    flattened (576 values for 24x24). ``fit`` trains one sparse autoencoder per entry of
    ``hidden_layer_sizes``, greedily: the first on the pixels, each next one on the previous
    layer's hidden activations. ``transform`` gives the last layer's hidden activations,
    one row per frame.

    Parameters
    ----------
    frame_size : tuple of int (height, width), default=(24, 24)
        Size the frames are resized to (the paper's 24x24; other sizes are resized, never
        rejected).
    hidden_layer_sizes : tuple of int, default=(250,)
        Hidden units of each stacked layer: the paper's 250, or ``(250, 100)`` for its
        two-layer variant.
    sparsity_target : float in (0, 1), default=0.2
        Target mean activation ``rho`` of every hidden unit (the paper's "alpha = 0.2").
    sparsity_weight : float >= 0, default=5.0
        Weight ``beta`` of the KL sparsity penalty (the paper's 5).
    weight_decay : float >= 0, default=0.002
        ``lambda`` of the L2 penalty ``lambda/2 (||W1||^2 + ||W2||^2)`` (the paper's 0.002).
    max_iter : int, default=400
        L-BFGS iterations per layer (the UFLDL exercises use 400).
    tol : float, default=1e-7
        L-BFGS stops when a step changes the cost or the parameters by less than this.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation (through a ``torch.Generator``).

    Attributes
    ----------
    layers_ : list of SparseAutoencoderLayer
        The trained layers (CPU, float32, eval mode).
    loss_curve_ : list of list of float
        Per layer, the cost at every cost evaluation of L-BFGS (line searches included).
    cost_parts_ : list of dict
        Per layer, the final reconstruction, weight-decay and sparsity terms.
    n_iter_ : list of int
        L-BFGS iterations run per layer.
    n_frames_fit_ : int
        Training frames (frames whose ``status`` is ``"missing"`` are left out).
    n_features_in_ : int
        ``frame_size[0] * frame_size[1]``.
    n_features_out_ : int
        ``hidden_layer_sizes[-1]``.

    Notes
    -----
    Where skfer departs from, or fills in, the paper:

    * the paper ran stochastic gradient descent for 4 million iterations; skfer minimises the
      same cost full-batch with L-BFGS (``torch.optim.LBFGS``, strong-Wolfe line search), as
      the UFLDL starter code does with ``minFunc`` — deterministic and far fewer steps;
    * the decoder is linear (a sigmoid decoder cannot reconstruct [-1, 1] inputs); stacked
      layers keep a linear decoder on their (0, 1) inputs;
    * the stacked variant is trained greedily, layer by layer, without fine-tuning (the
      paper does not describe one);
    * the paper's faces were grey, masked by an oval and resized; skfer resizes and scales,
      any masking is an earlier step's job;
    * frames flagged ``"missing"`` by a ClipSet ``status`` are left out of ``fit`` but still
      encoded by ``transform``.

    The output keeps ``X``'s container: a :class:`~skfer.ClipSet` gives a ClipSet of
    ``(T_i, n_features_out_)`` float32 sequences with every companion kept.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> faces = [rng.randint(0, 255, (3, 30, 30)).astype(np.uint8) for _ in range(2)]
    >>> sae = SparseAutoencoder(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    >>> [seq.shape for seq in sae.fit(faces).transform(faces)]
    [(3, 8), (3, 8)]
    """

    _parameter_constraints: dict = {
        "frame_size": [FrameSize()],
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "sparsity_target": [Interval(numbers.Real, 0, 1, closed="neither")],
        "sparsity_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        frame_size: tuple[int, int] = (24, 24),
        hidden_layer_sizes: tuple[int, ...] = (250,),
        sparsity_target: float = 0.2,
        sparsity_weight: float = 5.0,
        weight_decay: float = 0.002,
        max_iter: int = 400,
        tol: float = 1e-7,
        random_state: Any = None,
    ) -> None:
        self.frame_size = frame_size
        self.hidden_layer_sizes = hidden_layer_sizes
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.weight_decay = weight_decay
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _sizes(self) -> list[int]:
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if sizes.ndim != 1 or len(sizes) == 0 or not all(
            isinstance(s, numbers.Integral) and s >= 1 for s in sizes.tolist()
        ):
            raise ValueError(
                "hidden_layer_sizes must be a positive int or a non-empty sequence of them, "
                f"got {self.hidden_layer_sizes!r}"
            )
        return [int(s) for s in sizes]

    def _pixels(self, clip: np.ndarray) -> np.ndarray:
        """Frames of a clip as ``(T, H*W)`` float32 rows in [-1, 1] at ``frame_size``."""
        grey = to_grey_float(clip, tuple(self.frame_size))
        scaled = MinMaxImageScaler(feature_range=(-1, 1)).fit_transform([grey])[0]
        return scaled.reshape(len(scaled), -1)

    def _train_layer(self, x: torch.Tensor, n_hidden: int, generator: torch.Generator):
        layer = SparseAutoencoderLayer(x.shape[1], n_hidden, generator)
        opt = torch.optim.LBFGS(
            layer.parameters(),
            lr=1.0,
            max_iter=self.max_iter,
            tolerance_grad=self.tol,
            tolerance_change=self.tol,
            history_size=20,
            line_search_fn="strong_wolfe",
        )
        curve: list[float] = []

        def closure():
            opt.zero_grad()
            cost, _ = sparse_autoencoder_cost(
                layer, x, self.sparsity_target, self.sparsity_weight, self.weight_decay
            )
            cost.backward()
            curve.append(float(cost.detach()))
            return cost

        opt.step(closure)
        with torch.no_grad():
            _, parts = sparse_autoencoder_cost(
                layer, x, self.sparsity_target, self.sparsity_weight, self.weight_decay
            )
        n_iter = int(opt.state[opt._params[0]].get("n_iter", 0))
        return layer.eval(), curve, parts, n_iter

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the (stacked) sparse autoencoder on the frames of ``X``.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`
            Face crops (any size: they are resized to ``frame_size``).
        y : ignored

        Returns
        -------
        self
        """
        sizes = self._sizes()
        clips = check_clips(X)
        rows = []
        for i, clip in enumerate(clips):
            keep = X.usable_frames(i) if isinstance(X, ClipSet) else slice(None)
            rows.append(self._pixels(clip)[keep])
        data = np.concatenate(rows) if rows else np.empty((0, 0), np.float32)
        if len(data) == 0:
            raise ValueError("no usable frame to fit on (no frame, or every status 'missing')")
        generator = torch_generator(self.random_state)
        x = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
        self.layers_, self.loss_curve_, self.cost_parts_, self.n_iter_ = [], [], [], []
        for n_hidden in sizes:
            layer, curve, parts, n_iter = self._train_layer(x, n_hidden, generator)
            self.layers_.append(layer)
            self.loss_curve_.append(curve)
            self.cost_parts_.append(parts)
            self.n_iter_.append(n_iter)
            with torch.no_grad():
                x = layer.encode(x)
        self.n_frames_fit_ = len(data)
        self.n_features_in_ = data.shape[1]
        self.n_features_out_ = sizes[-1]
        return self

    def _encode(self, pixels: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            h = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
            for layer in self.layers_:
                h = layer.encode(h)
        return h.numpy()

    def transform(self, X):
        """Hidden activations of the last layer for every frame.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`

        Returns
        -------
        sequences : list, ClipSet or ndarray (as ``X``) of float32 (T_i, n_features_out_)
        """
        check_is_fitted(self, "layers_")
        self._validate_params()
        if int(np.prod(self.frame_size)) != self.n_features_in_:
            raise ValueError("frame_size changed since fit; fit again before transforming")
        out = [self._encode(self._pixels(clip)) for clip in check_clips(X)]
        return same_container(X, out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags
