"""PyTorch modules of DTAGN (Jung et al., ICCV 2015), usable without any skfer estimator.

* :class:`LocalContrastNorm`: subtractive then divisive local contrast normalisation over a
  ``size x size`` Gaussian window across all maps (Jarrett et al. 2009), DTAN's ``L5``/``L3``;
* :class:`DTANNet`: the Deep Temporal Appearance Network (section 3.2, eq. 1): the ``T``
  frames of a clip are the input channels of the first convolution (no weight sharing over
  time);
* :class:`DTGNNet`: the Deep Temporal Geometry Network (section 3.3): fully connected
  layers on the normalised landmark trajectory (eq. 4);
* :func:`dtagn_loss`: the joint fine-tuning loss (eq. 8-10),
  ``λ1 CE(l1) + λ2 CE(l2) + λ3 CE(l1 + l2)``, and :class:`DTAGNLoss`, the same as a
  criterion of :class:`JointHeads`' output;
* :class:`JointHeads`: the two top layers that joint fine-tuning retrains, on the bodies'
  features.

Both networks split into a body (:meth:`features`, everything below the top linear layer)
and ``classifier`` (the top linear layer, the green boxes of the paper's Fig. 2), with
``forward(x) = classifier(dropout(features(x)))``; joint fine-tuning retrains the two
``classifier`` layers on the frozen bodies' features. They take float inputs and return
class *logits*.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..utils.landmark_scheme import flip_permutation
from .modules import Standardize, _pair

__all__ = [
    "DTAN_PRESETS",
    "DTGN_PRESETS",
    "DTANNet",
    "DTAGNLoss",
    "DTGNNet",
    "GaussianNoise",
    "JointHeads",
    "RandomTrajectoryTransform",
    "LocalContrastNorm",
    "dtagn_loss",
]

#: DTAN architectures of section 5.1: per convolution stage ``(kernel, filters, lcn, pool)``
#: (``lcn``: window of the local contrast normalisation or None; ``pool``: max-pooling
#: window, stride 2, or None), then the hidden fully connected widths.
DTAN_PRESETS: dict[str, dict] = {
    # CK+ / Oulu-CASIA: I64-C(5,64)-L5-P2-C(5,64)-L3-P2-FC500-FC500-S
    "ckplus": {"stages": ((5, 64, 5, 2), (5, 64, 3, 2)), "hidden": (500, 500)},
    # MMI: I64-C(5,32)-P3-C(3,32)-FC30-S6
    "mmi": {"stages": ((5, 32, None, 3), (3, 32, None, None)), "hidden": (30,)},
}

#: DTGN hidden layers of section 5.1 (CK+: D1176-FC100-FC600-S7; MMI: FC100-FC200-FC6).
DTGN_PRESETS: dict[str, tuple[int, ...]] = {"ckplus": (100, 600), "mmi": (100, 200)}


class LocalContrastNorm(nn.Module):
    """Local contrast normalisation (Jarrett et al., ICCV 2009), as DTAN's ``L`` layers.

    With ``w`` a normalised ``size x size`` Gaussian window summed over all ``C`` maps
    (weights summing to 1): ``v = x - w * x`` (subtractive), ``σ = sqrt(w * v²)``, and
    ``y = v / max(c, σ)`` with ``c`` the mean of ``σ`` over the image (divisive; ``c``
    keeps flat regions from being blown up). Zero padding, with the window renormalised at
    the border so that a constant image maps to zero everywhere.

    Parameters
    ----------
    size : int, default=5
        Window width (DTAN: 5 after the first convolution, 3 after the second).
    sigma : float or None, default=None
        Gaussian standard deviation; ``None``: ``size / 4`` (a window that falls to about
        a tenth at its corners).
    eps : float, default=1e-4
        Floor of the divisor.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> y = LocalContrastNorm(5)(3 + 5 * torch.randn(2, 4, 12, 12))
    >>> y.shape, abs(float(y.mean())) < 0.05, 0.8 < float(y.std()) < 1.2
    (torch.Size([2, 4, 12, 12]), True, True)
    """

    def __init__(self, size: int = 5, sigma: float | None = None, eps: float = 1e-4):
        super().__init__()
        self.size = int(size)
        if self.size < 1 or self.size % 2 == 0:
            raise ValueError(f"size must be a positive odd int, got {size}")
        self.sigma = float(sigma) if sigma is not None else self.size / 4.0
        self.eps = float(eps)
        r = torch.arange(self.size, dtype=torch.float32) - (self.size - 1) / 2
        g = torch.exp(-(r**2) / (2 * self.sigma**2))
        window = g[:, None] * g[None, :]
        self.register_buffer("window", (window / window.sum())[None, None])

    def _local_mean(self, x: torch.Tensor) -> torch.Tensor:
        # Mean over maps, then a Gaussian over space; divided by the window mass inside the
        # image so that borders are not darkened by the zero padding.
        pad = self.size // 2
        mean_maps = x.mean(dim=1, keepdim=True)
        num = F.conv2d(mean_maps, self.window, padding=pad)
        ones = torch.ones_like(mean_maps[:1])
        den = F.conv2d(ones, self.window, padding=pad)
        return num / den

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x - self._local_mean(x)
        sigma = torch.sqrt(self._local_mean(v * v) + 1e-12)
        c = sigma.mean(dim=(2, 3), keepdim=True)
        return v / torch.clamp(torch.maximum(sigma, c), min=self.eps)

    def extra_repr(self) -> str:
        return f"size={self.size}, sigma={self.sigma}"


class GaussianNoise(nn.Module):
    """Adds ``N(0, std²)`` noise in training mode only (identity in evaluation).

    DTGN's landmark noise (eq. 5, ``σ = 0.01``) drawn afresh for every batch, instead of
    the paper's three fixed noisy copies of each sequence.
    """

    def __init__(self, std: float = 0.0):
        super().__init__()
        self.std = float(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.std == 0:
            return x
        return x + self.std * torch.randn_like(x)

    def extra_repr(self) -> str:
        return f"std={self.std}"


class RandomTrajectoryTransform(nn.Module):
    """Random mirror and rotation of normalised landmark trajectories, in training mode only.

    DTGN's geometric augmentation (section 3.4, eq. 6) drawn afresh for every batch: each
    trajectory is mirrored with probability 1/2 (``x`` negated and the points relabelled
    left/right by :func:`skfer.utils.landmark_scheme.flip_permutation`) and every frame's
    points are rotated about the origin (the nose tip after eq. 3) by
    ``theta ~ U[-max_angle, max_angle]``, a new angle per frame as the paper's
    ``theta^(t)``. The paper instead adds six fixed copies and their mirrors to the training
    set (:class:`skfer.augmentation.LandmarkAugmenter` does that); drawn per batch, every
    epoch sees new ones without multiplying the data.

    Parameters
    ----------
    n_points : {49, 68}
        Points per frame; the input rows are frames of ``[x_1 y_1 ... x_P y_P]`` (eq. 4).
    flip : bool, default=True
        Mirror half of the trajectories.
    max_angle : float, default=0.0
        Largest rotation in radians (the paper's ``pi / 10``); 0: no rotation.

    Examples
    --------
    >>> import torch
    >>> t = RandomTrajectoryTransform(49, flip=True, max_angle=0.3)
    >>> x = torch.randn(4, 49 * 2 * 3)
    >>> bool((t.eval()(x) == x).all()), t.train()(x).shape
    (True, torch.Size([4, 294]))
    """

    def __init__(self, n_points: int, flip: bool = True, max_angle: float = 0.0):
        super().__init__()
        self.n_points = int(n_points)
        self.flip = bool(flip)
        self.max_angle = float(max_angle)
        perm = flip_permutation(self.n_points) if self.flip else np.arange(self.n_points)
        self.register_buffer("perm", torch.as_tensor(perm, dtype=torch.long), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or (not self.flip and self.max_angle == 0):
            return x
        points = x.reshape(len(x), -1, self.n_points, 2)  # (N, T, P, 2)
        if self.flip:
            mirrored = points[:, :, self.perm] * points.new_tensor([-1.0, 1.0])
            chosen = torch.rand(len(x), device=x.device) < 0.5
            points = torch.where(chosen[:, None, None, None], mirrored, points)
        if self.max_angle:
            theta = (torch.rand(points.shape[:2], device=x.device) * 2 - 1) * self.max_angle
            cos, sin = torch.cos(theta)[..., None], torch.sin(theta)[..., None]
            px, py = points[..., 0], points[..., 1]
            # [x~ y~]^T = R(theta) [x y]^T (eq. 6)
            points = torch.stack([cos * px - sin * py, sin * px + cos * py], dim=-1)
        return points.reshape(x.shape)

    def extra_repr(self) -> str:
        return f"n_points={self.n_points}, flip={self.flip}, max_angle={self.max_angle}"


def _mlp(widths: Sequence[int], dropout: float) -> nn.Sequential:
    """Linear-ReLU(-dropout) blocks through ``widths``; no dropout after the last block."""
    layers: list[nn.Module] = []
    for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
        if i and dropout:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Linear(w_in, w_out), nn.ReLU()]
    return nn.Sequential(*layers)


class DTANNet(nn.Module):
    """Deep Temporal Appearance Network (DTAGN, section 3.2, eq. 1, 5.1).

    A clip of ``T`` frames enters as ``T * C`` input channels of the first convolution, so
    each filter has its own weights for every frame (eq. 1, no weight sharing over time).
    Each stage is ``conv (same padding) -> ReLU [-> local contrast normalisation] [-> max
    pooling, stride 2]``, then the hidden fully connected layers (ReLU; dropout before
    each but the first), then dropout and the top linear layer ``classifier``.

    Parameters
    ----------
    n_classes : int, default=7
    n_frames : int, default=3
        ``T``, frames per clip.
    in_channels : int, default=1
        Channels per frame (1 grey, 3 colour).
    input_size : (int, int), default=(64, 64)
    preset : {"ckplus", "mmi"}, default="ckplus"
        The architecture of :data:`DTAN_PRESETS`.
    stages : sequence of (kernel, filters, lcn, pool) or None, default=None
        Overrides the preset's convolution stages.
    hidden : sequence of int or None, default=None
        Overrides the preset's hidden fully connected widths.
    dropout : float, default=0.5
    mean, std : float, default=0.0, 1.0
        Input standardisation (skfer's estimators set the training pixels' statistics).

    Notes
    -----
    *Inferred.* The paper gives strides (1 for convolutions, 2 for poolings) but not the
    padding: skfer pads convolutions to keep the size (``kernel // 2``), so 64x64 gives
    16x16x64 = 16,384 features before FC500, and 48x48 gives 12x12x64. The order ReLU ->
    normalisation -> pooling follows Jarrett et al.'s LCN pipeline; MMI's ``P3`` is a 3x3
    max pooling with the paper's stride 2.

    Examples
    --------
    >>> import torch
    >>> net = DTANNet(n_classes=7, n_frames=3, input_size=(48, 48)).eval()
    >>> net(torch.zeros(2, 3, 1, 48, 48)).shape, net.features(torch.zeros(2, 3, 1, 48, 48)).shape
    (torch.Size([2, 7]), torch.Size([2, 500]))
    """

    def __init__(
        self,
        n_classes: int = 7,
        n_frames: int = 3,
        in_channels: int = 1,
        input_size=(64, 64),
        preset: str = "ckplus",
        stages: Sequence | None = None,
        hidden: Sequence[int] | None = None,
        dropout: float = 0.5,
        mean: float = 0.0,
        std: float = 1.0,
    ):
        super().__init__()
        if preset not in DTAN_PRESETS:
            raise ValueError(f"preset must be one of {sorted(DTAN_PRESETS)}, got {preset!r}")
        stages = DTAN_PRESETS[preset]["stages"] if stages is None else stages
        hidden = DTAN_PRESETS[preset]["hidden"] if hidden is None else hidden
        self.input_size = _pair(input_size, "input_size")
        self.n_frames = int(n_frames)
        self.in_channels = int(in_channels)
        self.standardize = Standardize(mean, std)
        layers: list[nn.Module] = []
        channels = self.n_frames * self.in_channels
        h, w = self.input_size
        for kernel, filters, lcn, pool in stages:
            layers += [nn.Conv2d(channels, int(filters), int(kernel), padding=int(kernel) // 2),
                       nn.ReLU()]
            if lcn:
                layers.append(LocalContrastNorm(int(lcn)))
            if pool:
                layers.append(nn.MaxPool2d(int(pool), stride=2))
                h, w = (h - int(pool)) // 2 + 1, (w - int(pool)) // 2 + 1
            if h < 1 or w < 1:
                raise ValueError(f"input_size {self.input_size} is too small for the stages")
            channels = int(filters)
        self.conv = nn.Sequential(*layers)
        widths = [channels * h * w, *(int(u) for u in hidden)]
        self.n_features = widths[-1]
        self.fc = _mlp(widths, dropout)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.classifier = nn.Linear(self.n_features, int(n_classes))

    def _flat_input(self, x: torch.Tensor) -> torch.Tensor:
        # (N, T, C, H, W) clips -> (N, T*C, H, W): frames become input channels (eq. 1).
        want = (self.n_frames, self.in_channels, *self.input_size)
        if x.ndim != 5 or tuple(x.shape[1:]) != want:
            raise ValueError(
                f"the network takes clips (N, {', '.join(map(str, want))}) (T frames of C "
                f"channels), got a batch of shape {tuple(x.shape)}"
            )
        return x.reshape(len(x), -1, *self.input_size)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of the last hidden layer ``(N, n_features)``: the input of ``classifier``."""
        x = self.conv(self.standardize(self._flat_input(x)))
        return self.fc(torch.flatten(x, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, n_classes)``."""
        return self.classifier(self.dropout(self.features(x)))


class DTGNNet(nn.Module):
    """Deep Temporal Geometry Network (DTAGN, section 3.3, 5.1).

    ``normalised trajectory (2 P T values) -> [noise] -> FC -> ReLU -> ... -> dropout ->
    classifier``: CK+ ``D1176-FC100-FC600-S7``, MMI ``FC100-FC200-S6``.

    Parameters
    ----------
    n_inputs : int, default=1176
        ``2 P T`` (49 points, 12 frames: 1176).
    n_classes : int, default=7
    preset : {"ckplus", "mmi"}, default="ckplus"
        Hidden widths of :data:`DTGN_PRESETS`.
    hidden : sequence of int or None, default=None
        Overrides the preset's hidden widths.
    dropout : float, default=0.5
        Dropout before every hidden layer but the first, and before ``classifier``.
    noise_std : float, default=0.0
        Training-time Gaussian noise on the normalised trajectories (eq. 5;
        :class:`GaussianNoise`), added before the standardisation below.
    flip : bool, default=False
        Training-time random mirroring of half the trajectories
        (:class:`RandomTrajectoryTransform`; needs ``n_points``).
    max_angle : float, default=0.0
        Training-time random rotation of every frame's points (eq. 6), in radians.
    n_points : {49, 68} or None, default=None
        Points per frame, for ``flip`` and ``max_angle``.
    center, scale : sequence of float of length ``n_inputs``, or None, default=None
        Per-input standardisation ``(x - center) / scale`` (buffers, saved with the
        weights); skfer's estimator sets the training trajectories' mean and standard
        deviation. ``None``: the scalar ``mean``/``std`` below instead.
    mean, std : float, default=0.0, 1.0
        Scalar standardisation, used when ``center`` is None.
    in_channels, input_size : ignored
        Accepted so that skfer's estimator base can build every network alike.

    Examples
    --------
    >>> import torch
    >>> DTGNNet(n_inputs=1176).eval()(torch.zeros(4, 1176)).shape
    torch.Size([4, 7])
    """

    def __init__(
        self,
        n_inputs: int = 1176,
        n_classes: int = 7,
        preset: str = "ckplus",
        hidden: Sequence[int] | None = None,
        dropout: float = 0.5,
        noise_std: float = 0.0,
        flip: bool = False,
        max_angle: float = 0.0,
        n_points: int | None = None,
        center: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        mean: float = 0.0,
        std: float = 1.0,
        in_channels=None,
        input_size=None,
    ):
        super().__init__()
        if preset not in DTGN_PRESETS:
            raise ValueError(f"preset must be one of {sorted(DTGN_PRESETS)}, got {preset!r}")
        hidden = DTGN_PRESETS[preset] if hidden is None else hidden
        self.n_inputs = int(n_inputs)
        if center is None:
            center, scale = [float(mean)] * self.n_inputs, [float(std)] * self.n_inputs
        center = torch.as_tensor(center, dtype=torch.float32).reshape(-1)
        scale = torch.as_tensor(scale, dtype=torch.float32).reshape(-1)
        if center.shape != (self.n_inputs,) or scale.shape != (self.n_inputs,):
            raise ValueError(f"center and scale must have n_inputs={self.n_inputs} values")
        self.register_buffer("center", center)
        self.register_buffer("scale", torch.where(scale > 1e-8, scale, torch.ones_like(scale)))
        self.augment = nn.Identity()
        if flip or max_angle:
            if n_points is None or self.n_inputs % (2 * int(n_points)):
                raise ValueError(
                    f"flip and max_angle need n_points, the points of one frame of the "
                    f"n_inputs={self.n_inputs} values; got n_points={n_points}"
                )
            self.augment = RandomTrajectoryTransform(n_points, flip, max_angle)
        self.noise = GaussianNoise(noise_std)
        widths = [self.n_inputs, *(int(u) for u in hidden)]
        self.n_features = widths[-1]
        self.fc = _mlp(widths, dropout)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.classifier = nn.Linear(self.n_features, int(n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of the last hidden layer ``(N, n_features)``."""
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(
                f"the network takes (N, {self.n_inputs}) trajectories, got a batch of shape "
                f"{tuple(x.shape)}"
            )
        return self.fc((self.noise(self.augment(x)) - self.center) / self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, n_classes)``."""
        return self.classifier(self.dropout(self.features(x)))


def dtagn_loss(
    l1: torch.Tensor,
    l2: torch.Tensor,
    y: torch.Tensor,
    lambdas: Sequence[float] = (1.0, 1.0, 0.1),
) -> torch.Tensor:
    """Joint fine-tuning loss of DTAGN (eq. 8-10), averaged over the batch.

    ``L = λ1 CE(softmax(l1), y) + λ2 CE(softmax(l2), y) + λ3 CE(softmax(l1 + l2), y)``,
    ``l1`` and ``l2`` the logits of DTAN and DTGN.

    Parameters
    ----------
    l1, l2 : Tensor of shape (N, n_classes)
    y : Tensor of int64, shape (N,)
    lambdas : (float, float, float), default=(1.0, 1.0, 0.1)
        The paper's values.

    Returns
    -------
    loss : scalar Tensor

    Examples
    --------
    >>> import torch
    >>> z = torch.zeros(1, 2)
    >>> round(float(dtagn_loss(z, z, torch.tensor([0]))), 4)  # 2.1 * log 2
    1.4556
    """
    lam1, lam2, lam3 = (float(v) for v in lambdas)
    return (
        lam1 * F.cross_entropy(l1, y)
        + lam2 * F.cross_entropy(l2, y)
        + lam3 * F.cross_entropy(l1 + l2, y)
    )


class DTAGNLoss(nn.Module):
    """:func:`dtagn_loss` as a criterion: ``criterion((l1, l2), y)`` (skorch's call).

    Parameters
    ----------
    lambdas : (float, float, float), default=(1.0, 1.0, 0.1)
        ``λ1, λ2, λ3`` of eq. 8.

    Examples
    --------
    >>> import torch
    >>> z = torch.zeros(1, 2)
    >>> round(float(DTAGNLoss()((z, z), torch.tensor([0]))), 4)
    1.4556
    """

    def __init__(self, lambdas: Sequence[float] = (1.0, 1.0, 0.1)):
        super().__init__()
        self.lambdas = tuple(float(v) for v in lambdas)

    def forward(self, logits: tuple[torch.Tensor, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        l1, l2 = logits
        return dtagn_loss(l1, l2, y, self.lambdas)

    def extra_repr(self) -> str:
        return f"lambdas={self.lambdas}"


class JointHeads(nn.Module):
    """DTAGN's two top layers on the frozen bodies' features, trained jointly (eq. 8-11).

    ``forward(appearance, geometry)`` gives ``(l1, l2)``: each head applied to its body's
    features after dropout, as in the networks' own ``forward``; the joint prediction is
    ``softmax(l1 + l2)``.

    Parameters
    ----------
    appearance, geometry : torch.nn.Module
        The top layers (e.g. copies of the trained ``DTANNet.classifier`` and
        ``DTGNNet.classifier``), trained in place.
    dropout : (float, float), default=(0.5, 0.5)
        Dropout on the appearance and geometry features.

    Attributes
    ----------
    heads : torch.nn.ModuleDict
        ``"appearance"`` and ``"geometry"``: the two top layers.

    Examples
    --------
    >>> import torch
    >>> joint = JointHeads(torch.nn.Linear(4, 3), torch.nn.Linear(2, 3)).eval()
    >>> [t.shape for t in joint(torch.zeros(5, 4), torch.zeros(5, 2))]
    [torch.Size([5, 3]), torch.Size([5, 3])]
    """

    def __init__(self, appearance: nn.Module, geometry: nn.Module,
                 dropout: Sequence[float] = (0.5, 0.5)):
        super().__init__()
        self.heads = nn.ModuleDict({"appearance": appearance, "geometry": geometry})
        self.dropout = nn.ModuleDict({
            "appearance": nn.Dropout(float(dropout[0])),
            "geometry": nn.Dropout(float(dropout[1])),
        })

    def forward(self, appearance: torch.Tensor,
                geometry: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        l1 = self.heads["appearance"](self.dropout["appearance"](appearance))
        l2 = self.heads["geometry"](self.dropout["geometry"](geometry))
        return l1, l2
