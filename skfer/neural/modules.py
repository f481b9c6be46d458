"""PyTorch modules of skfer's networks, usable on their own (no skfer estimator needed).

* :class:`RandomCropFlip`: training-time random crops and horizontal flips, centre crop (or
  10 views) at evaluation, as the first layer of a network (EmoNets, Kahou et al. 2015,
  section 3.1.2); :class:`RandomAffine` and :class:`RandomErasing`: further training-time
  augmentation on torch tensors (skfer's additions);
* :class:`Standardize`: ``(x - mean) / std`` with the statistics stored as buffers, so a saved
  network carries the pixel scaling it was trained with;
* :class:`SpatialResponseNorm`: cuda-convnet's ``rnorm`` layer (same-map local response
  normalisation over a ``size x size`` neighbourhood);
* :class:`EmoNetsConvNet`: the frame ConvNet of EmoNets (section 3.1.2, "ConvNet 1").

The modules take float images in the data's own pixel scale (``(N, C, H, W)``, e.g. 0-255
grey values) and return class *logits*; apply ``softmax`` for probabilities.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "EmoNetsConvNet", "RandomAffine", "RandomCropFlip", "RandomErasing", "SpatialResponseNorm",
    "Standardize",
]


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"{name} must be a positive int or a (height, width) pair, got {value}")
    return value


class RandomCropFlip(nn.Module):
    """Random ``crop_size`` crops and horizontal flips in training, centre crop otherwise.

    Each image of a training batch gets its own crop offset and flip draw from torch's
    random number generator (seed it with ``torch.manual_seed`` for repeatable training).
    In evaluation mode (``module.eval()``) the crop is the centre one and nothing is flipped,
    as EmoNets classifies the centre 40x40 crop of its 48x48 faces at test time.

    Parameters
    ----------
    crop_size : int or (int, int), default=(40, 40)
        Output ``(height, width)``.
    flip : bool, default=True
        Whether training images are flipped left-right.
    flip_probability : float, default=0.5
        Probability that a training image is flipped.
    test_views : {1, 2, 10}, default=1
        Evaluation mode: 1 returns the centre crop; 2 the centre crop and its mirror; 10 the
        centre and the four corner crops, each also mirrored (Krizhevsky et al.'s 10-view
        test). Views come out view-major: ``(test_views * N, C, h, w)``, view ``v`` of image
        ``i`` at row ``v * N + i``; the network averages them.

    Examples
    --------
    >>> import torch
    >>> layer = RandomCropFlip((2, 2)).eval()
    >>> layer(torch.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
    tensor([[ 5.,  6.],
            [ 9., 10.]])
    >>> RandomCropFlip((2, 2), test_views=10).eval()(torch.zeros(3, 1, 4, 4)).shape
    torch.Size([30, 1, 2, 2])
    """

    def __init__(self, crop_size=(40, 40), flip: bool = True, flip_probability: float = 0.5,
                 test_views: int = 1):
        super().__init__()
        self.crop_size = _pair(crop_size, "crop_size")
        self.flip = bool(flip)
        self.flip_probability = float(flip_probability)
        if test_views not in (1, 2, 10):
            raise ValueError(f"test_views must be 1, 2 or 10, got {test_views!r}")
        self.test_views = int(test_views)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ch, cw = self.crop_size
        n, _, h, w = x.shape
        if h < ch or w < cw:
            raise ValueError(
                f"images of {h}x{w} pixels are smaller than the crop {ch}x{cw}; give larger "
                "images or a smaller crop_size"
            )
        if not self.training:
            top, left = (h - ch) // 2, (w - cw) // 2
            centre = x[:, :, top:top + ch, left:left + cw]
            if self.test_views == 1:
                return centre
            crops = [centre]
            if self.test_views == 10:
                crops += [x[:, :, t:t + ch, c:c + cw]
                          for t in (0, h - ch) for c in (0, w - cw)]
            return torch.cat(crops + [c.flip(-1) for c in crops])
        top = torch.randint(0, h - ch + 1, (n,), device=x.device)
        left = torch.randint(0, w - cw + 1, (n,), device=x.device)
        rows = (top[:, None] + torch.arange(ch, device=x.device))[:, None, :, None]
        cols = (left[:, None] + torch.arange(cw, device=x.device))[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        out = x[batch, chans, rows, cols]
        if self.flip:
            flipped = torch.rand(n, device=x.device) < self.flip_probability
            out = torch.where(flipped[:, None, None, None], out.flip(-1), out)
        return out

    def extra_repr(self) -> str:
        return (f"crop_size={self.crop_size}, flip={self.flip}, p={self.flip_probability}, "
                f"test_views={self.test_views}")


class RandomAffine(nn.Module):
    """Training-time random rotation and scaling of a batch of images, identity otherwise.

    Each image gets its own angle, uniform in ``[-rotation, rotation]`` degrees, and scale,
    uniform in ``[1 - zoom, 1 + zoom]``, about its centre (``affine_grid`` +
    ``grid_sample``, bilinear, zeros outside: the mean grey once the input is
    standardised). Draws come from torch's generator. Translation is left to the random
    crop that follows it in :class:`EmoNetsConvNet`.

    Parameters
    ----------
    rotation : float, default=10.0
        Largest rotation, in degrees.
    zoom : float, default=0.1
        Largest relative change of scale.

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(2, 1, 8, 8)
    >>> bool((RandomAffine(10, 0.1).eval()(x) == x).all())
    True
    """

    def __init__(self, rotation: float = 10.0, zoom: float = 0.1):
        super().__init__()
        if rotation < 0 or not 0 <= zoom < 1:
            raise ValueError(f"rotation must be >= 0 and 0 <= zoom < 1, got {rotation}, {zoom}")
        self.rotation, self.zoom = float(rotation), float(zoom)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or (self.rotation == 0 and self.zoom == 0):
            return x
        n = x.shape[0]
        angle = (torch.rand(n, device=x.device) * 2 - 1) * self.rotation * torch.pi / 180
        scale = 1 + (torch.rand(n, device=x.device) * 2 - 1) * self.zoom
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        zero = torch.zeros_like(cos)
        theta = torch.stack([torch.stack([cos, -sin, zero], 1),
                             torch.stack([sin, cos, zero], 1)], 1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                             align_corners=False)

    def extra_repr(self) -> str:
        return f"rotation={self.rotation}, zoom={self.zoom}"


class RandomErasing(nn.Module):
    """Training-time random erasing (Zhong et al. 2020): a random rectangle set to zero.

    With probability ``p`` an image gets one rectangle of ``2-25%`` of its area and an
    aspect ratio between 0.3 and 3.3 set to 0 (the mean, on standardised input). Identity
    in evaluation mode. Draws come from torch's generator.

    Parameters
    ----------
    p : float, default=0.5

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> out = RandomErasing(1.0)(torch.ones(4, 1, 10, 10))
    >>> bool((out == 0).any(dim=(1, 2, 3)).all())
    True
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        n, _, h, w = x.shape
        dev = x.device
        area = (0.02 + 0.23 * torch.rand(n, device=dev)) * h * w
        aspect = torch.exp(torch.empty(n, device=dev).uniform_(-1.2040, 1.2040))  # 0.3-3.3
        eh = torch.sqrt(area * aspect).clamp(1, h).floor()
        ew = torch.sqrt(area / aspect).clamp(1, w).floor()
        top = (torch.rand(n, device=dev) * (h - eh + 1)).floor()
        left = (torch.rand(n, device=dev) * (w - ew + 1)).floor()
        rows = torch.arange(h, device=dev)[None, :]
        cols = torch.arange(w, device=dev)[None, :]
        inside = (((rows >= top[:, None]) & (rows < (top + eh)[:, None]))[:, :, None]
                  & ((cols >= left[:, None]) & (cols < (left + ew)[:, None]))[:, None, :])
        erase = inside & (torch.rand(n, device=dev) < self.p)[:, None, None]
        return x.masked_fill(erase[:, None], 0.0)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Standardize(nn.Module):
    """``(x - mean) / std`` with scalar statistics kept as buffers (saved with the weights).

    Parameters
    ----------
    mean, std : float, default=0.0, 1.0
    """

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class SpatialResponseNorm(nn.Module):
    """Same-map local response normalisation (cuda-convnet's ``rnorm`` layer).

    ``y = x / (k + alpha * mean_{size x size}(x^2)) ** beta``, the mean taken over a
    ``size x size`` neighbourhood of the same feature map (zero padded, divided by
    ``size**2`` as cuda-convnet's ``scale / N``). :class:`torch.nn.LocalResponseNorm`
    normalises across maps instead (cuda-convnet's ``cmrnorm``).

    Parameters
    ----------
    size : int, default=3
    alpha : float, default=5e-5
    beta : float, default=0.75
    k : float, default=1.0
    """

    def __init__(self, size: int = 3, alpha: float = 5e-5, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        local = F.avg_pool2d(
            x * x, self.size, stride=1, padding=self.size // 2, count_include_pad=True
        )
        return x / (self.k + self.alpha * local).pow(self.beta)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _norm_layer(kind: str | None, channels: int) -> nn.Module:
    if kind == "spatial":
        return SpatialResponseNorm(3, 5e-5, 0.75)
    if kind == "cross_channel":
        return nn.LocalResponseNorm(3, alpha=5e-5, beta=0.75, k=1.0)
    if kind is None:
        return nn.Identity()
    raise ValueError(f"lrn must be 'spatial', 'cross_channel' or None, got {kind!r}")


class EmoNetsConvNet(nn.Module):
    """The frame ConvNet of EmoNets (Kahou et al. 2015, section 3.1.2, Fig. 3).

    ``crop (40x40) -> [conv 5x5 64, max pool 3/2, ReLU, LRN] -> [conv 5x5 64, ReLU,
    avg pool 3/2, LRN] -> [conv 5x5 128, ReLU, avg pool 3/2] -> fully connected -> logits``.

    Parameters
    ----------
    n_classes : int, default=7
    in_channels : int, default=1
        1 for grey faces (the paper), 3 for colour.
    input_size : (int, int), default=(48, 48)
        Frame size the network is built for; other sizes raise a ``ValueError``.
    crop_size : (int, int), default=(40, 40)
        Random crop in training, centre crop in evaluation (:class:`RandomCropFlip`).
    flip : bool, default=True
        Horizontal flips (p = 0.5) in training.
    n_filters : (int, int, int), default=(64, 64, 128)
    kernel_size : int, default=5
        Convolutions are padded to keep the size (padding ``kernel_size // 2``, 2 for 5x5).
    lrn : {"spatial", "cross_channel"} or None, default="spatial"
        Response normalisation after the first two stages: size 3, alpha 5e-5, beta 0.75.
    batch_norm : bool, default=False
        Batch normalisation after each convolution (not in the paper).
    dropout : float, default=0.0
        Dropout before the fully connected layer(s) (not in the paper).
    mean, std : float, default=0.0, 1.0
        Input standardisation (buffers of :class:`Standardize`); skfer's estimators set
        them to the training pixels' statistics.
    hidden_units : int, default=0
        Width of a hidden fully connected ReLU layer (``hidden``) between the convolutions
        and the softmax layer, with ``dropout`` before both; 0: none, as in the paper.
    rotation, zoom : float, default=0.0
        Training-time random rotation (degrees) and scaling (:class:`RandomAffine`) before
        the crop; 0: none, as in the paper.
    erasing : float, default=0.0
        Probability of random erasing of a training crop (:class:`RandomErasing`).
    test_views : {1, 2, 10}, default=1
        Evaluation: classify the centre crop (1), it and its mirror (2), or the centre and
        corner crops and their mirrors (10); the class probabilities of the views are
        averaged (``forward`` returns the log of the mean softmax, so ``softmax`` of it is
        that mean) and so are their :meth:`features`.
    freeze_bn_stats : bool, default=False
        Keep the batch-norm layers in evaluation mode in training too: their running mean
        and variance stay as loaded (fine-tuning a pretrained network on a small data set,
        whose batches would otherwise replace statistics learnt on a large one).

    Notes
    -----
    *Inferred from cuda-convnet.* The paper names Krizhevsky's cuda-convnet and its
    example configuration (``layers-18pct.cfg``) for the hyper-parameters; the layer
    details the paper does not state are taken from that file: 5x5 convolutions padded by
    2, 3x3 pooling with stride 2 whose output size is rounded up (``ceil_mode``: 40 -> 20
    -> 10 -> 5), ReLU applied after the first (max) pooling and before the later (average)
    poolings, and ``rnorm`` response normalisation (same-map, :class:`SpatialResponseNorm`)
    of size 3 with ``scale`` 5e-5 and ``pow`` 0.75. Weights use PyTorch's default
    initialisation rather than cuda-convnet's small Gaussians (``initW`` 1e-4 / 1e-2),
    which train much more slowly.

    Examples
    --------
    >>> import torch
    >>> net = EmoNetsConvNet(n_classes=7).eval()
    >>> net(torch.zeros(2, 1, 48, 48)).shape, net.features(torch.zeros(2, 1, 48, 48)).shape
    (torch.Size([2, 7]), torch.Size([2, 3200]))
    """

    def __init__(
        self,
        n_classes: int = 7,
        in_channels: int = 1,
        input_size=(48, 48),
        crop_size=(40, 40),
        flip: bool = True,
        n_filters=(64, 64, 128),
        kernel_size: int = 5,
        lrn: str | None = "spatial",
        batch_norm: bool = False,
        dropout: float = 0.0,
        mean: float = 0.0,
        std: float = 1.0,
        hidden_units: int = 0,
        rotation: float = 0.0,
        zoom: float = 0.0,
        erasing: float = 0.0,
        test_views: int = 1,
        freeze_bn_stats: bool = False,
    ):
        super().__init__()
        self.freeze_bn_stats = bool(freeze_bn_stats)
        self.input_size = _pair(input_size, "input_size")
        crop = _pair(crop_size, "crop_size")
        if crop[0] > self.input_size[0] or crop[1] > self.input_size[1]:
            raise ValueError(f"crop_size {crop} is larger than input_size {self.input_size}")
        if len(n_filters) != 3:
            raise ValueError(f"n_filters must give 3 filter counts, got {n_filters!r}")
        self.standardize = Standardize(mean, std)
        self.affine = RandomAffine(rotation, zoom)
        self.augment = RandomCropFlip(crop, flip=flip, test_views=test_views)
        self.erase = RandomErasing(erasing)
        pad = int(kernel_size) // 2
        c1, c2, c3 = (int(c) for c in n_filters)

        def conv(c_in, c_out):
            layers = [nn.Conv2d(c_in, c_out, kernel_size, padding=pad, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(c_out))
            return layers

        self.stage1 = nn.Sequential(
            *conv(in_channels, c1), nn.MaxPool2d(3, 2, ceil_mode=True), nn.ReLU(),
            _norm_layer(lrn, c1),
        )
        self.stage2 = nn.Sequential(
            *conv(c1, c2), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True), _norm_layer(lrn, c2),
        )
        self.stage3 = nn.Sequential(
            *conv(c2, c3), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
        )
        h, w = crop
        for _ in range(3):  # each pooling: ceil((n - 3) / 2) + 1
            h, w = -(-(h - 3) // 2) + 1, -(-(w - 3) // 2) + 1
        self.n_conv_features = c3 * h * w
        self.dropout = nn.Dropout(float(dropout)) if dropout else nn.Identity()
        if hidden_units:
            self.hidden = nn.Sequential(
                nn.Linear(self.n_conv_features, int(hidden_units)), nn.ReLU(),
                nn.Dropout(float(dropout)) if dropout else nn.Identity(),
            )
        else:
            self.hidden = nn.Identity()
        self.n_features = int(hidden_units) or self.n_conv_features
        self.classifier = nn.Linear(self.n_features, int(n_classes))

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(
                f"the network takes (N, C, {self.input_size[0]}, {self.input_size[1]}) "
                f"images, got a batch of shape {tuple(x.shape)}"
            )

    def train(self, mode: bool = True):
        """Set training mode; batch-norm layers stay in evaluation with ``freeze_bn_stats``."""
        super().train(mode)
        if mode and self.freeze_bn_stats:
            for layer in self.modules():
                if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                    layer.eval()
        return self

    def _views(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Penultimate features of every view ``(V * N, n_features)`` and ``V``."""
        self._check_input(x)
        crops = self.erase(self.augment(self.affine(self.standardize(x))))
        conv = torch.flatten(self.stage3(self.stage2(self.stage1(crops))), 1)
        return self.hidden(self.dropout(conv)), len(crops) // len(x) if len(x) else 1

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``(N, n_features)``: the flattened third stage (or the hidden
        layer), averaged over the test views."""
        out, views = self._views(x)
        return out if views == 1 else out.unflatten(0, (views, -1)).mean(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, n_classes)`` (log mean probabilities over several test views)."""
        out, views = self._views(x)
        logits = self.classifier(out)
        if views == 1:
            return logits
        log_p = torch.log_softmax(logits.float(), -1).unflatten(0, (views, -1))
        return torch.logsumexp(log_p, 0) - math.log(views)
