"""PyTorch modules of FaceNet2ExpNet (Ding, Zhou and Chellappa, FG 2017), usable on their own.

* :class:`FaceNet2ExpNetModule`: the expression network (section 3.2): five convolution
  blocks, a 1x1 "bridge" convolution whose map stage 1 regresses onto the face network's,
  then a fully connected layer with dropout and the softmax layer;
* :class:`PNormLoss`: the stage-1 loss of eq. 4, ``||g(I) - G(I)||_p^p``;
* :class:`ConvMapRegressor`: stage 1's network, the expression network up to its bridge
  (images in, the map that regresses the face network's out);
* :class:`FineTunedFaceNet`: a face network with a new softmax layer, the module that
  :class:`~skfer.neural.TeacherClassifier` trains (fed with the output of the face network's
  frozen layers);
* :func:`student_map_size`: the size of the expression network's last map.

The modules take float inputs and return class *logits*; running the face network on frames
(input adaptation, frozen layers, a layer's maps) is :mod:`skfer.neural.teacher`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .modules import RandomCropFlip, Standardize

__all__ = [
    "ConvMapRegressor", "FaceNet2ExpNetModule", "FineTunedFaceNet", "PNormLoss",
    "student_map_size",
]


class PNormLoss(nn.Module):
    """Eq. 4 of the paper: ``||g(I) - G(I)||_p^p``, summed over the map, averaged over the batch.

    Parameters
    ----------
    p : float, default=2.0

    Examples
    --------
    >>> import torch
    >>> PNormLoss(1.0)(torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2))
    tensor(4.)
    """

    def __init__(self, p: float = 2.0):
        super().__init__()
        self.p = float(p)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = (input - target).abs()
        per_image = (diff.pow(self.p) if self.p != 1 else diff).flatten(1).sum(1)
        return per_image.mean()

    def extra_repr(self) -> str:
        return f"p={self.p}"


def student_map_size(size: tuple[int, int], n_blocks: int) -> tuple[int, int]:
    """Map size after ``n_blocks`` 3x3/2 max poolings padded by 1 (each: ``(n - 1) // 2 + 1``).

    >>> student_map_size((48, 48), 5), student_map_size((64, 64), 5)
    ((2, 2), (2, 2))
    """
    h, w = size
    for _ in range(n_blocks):
        h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    return h, w


class FaceNet2ExpNetModule(nn.Module):
    """The expression network of FaceNet2ExpNet (section 3.2).

    ``5 x [conv 3x3 (64, 128, 256, 512, 512), ReLU, max pool 3x3/2] -> conv 1x1 (bridge, to
    the teacher layer's channels) -> fc 256, ReLU, dropout 0.5 -> fc n_classes``.

    Parameters
    ----------
    n_classes : int, default=7
    in_channels : int, default=1
    input_size : (int, int), default=(48, 48)
    channels : sequence of int, default=(64, 128, 256, 512, 512)
    bridge_channels : int, default=256
        Output channels of the 1x1 bridge: the teacher layer's channels.
    fc_size : int, default=256
    dropout : float, default=0.5
    flip : bool, default=True
        Random horizontal flips of training images (stage 2).
    batch_norm : bool, default=False
        Batch normalisation after each convolution (the paper's "from scratch" baseline).
    mean, std : float, default=0.0, 1.0
        Input standardisation.

    Notes
    -----
    Convolutions are padded by 1 and poolings by 1 (as VGG's, which the paper's layout
    follows), so each block halves the size rounding up: 48 -> 24 -> 12 -> 6 -> 3 -> 2 and
    64 -> 32 -> 16 -> 8 -> 4 -> 2, the 2x2 of dlib's last convolution stage at 150x150.
    The paper's random crops are left out: a crop changes the student's map size, which must
    equal the teacher's.

    Examples
    --------
    >>> import torch
    >>> net = FaceNet2ExpNetModule(n_classes=7, channels=(4, 4, 8, 8, 8), bridge_channels=6)
    >>> net.conv_map(torch.zeros(2, 1, 48, 48)).shape, net(torch.zeros(2, 1, 48, 48)).shape
    (torch.Size([2, 6, 2, 2]), torch.Size([2, 7]))
    """

    def __init__(self, n_classes: int = 7, in_channels: int = 1,
                 input_size: tuple[int, int] = (48, 48),
                 channels: Sequence[int] = (64, 128, 256, 512, 512), bridge_channels: int = 256,
                 fc_size: int = 256, dropout: float = 0.5, flip: bool = True,
                 batch_norm: bool = False, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.input_size = tuple(int(s) for s in input_size)
        self.standardize = Standardize(mean, std)
        self.augment = RandomCropFlip(self.input_size, flip=flip)
        layers: list = []
        c_in = in_channels
        for c in channels:
            layers.append(nn.Conv2d(c_in, int(c), 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(int(c)))
            layers += [nn.ReLU(), nn.MaxPool2d(3, 2, padding=1)]
            c_in = int(c)
        self.blocks = nn.Sequential(*layers)
        self.bridge = nn.Conv2d(c_in, int(bridge_channels), 1)
        self.map_size = h, w = student_map_size(self.input_size, len(channels))
        self.fc = nn.Linear(int(bridge_channels) * h * w, int(fc_size))
        self.dropout = nn.Dropout(float(dropout))
        self.classifier = nn.Linear(int(fc_size), int(n_classes))

    def conv_map(self, x: torch.Tensor, augment: bool = True) -> torch.Tensor:
        """The bridge's map ``(N, bridge_channels, *map_size)``: what stage 1 regresses."""
        if x.ndim != 4 or tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(f"the network takes (N, C, {self.input_size[0]}, "
                             f"{self.input_size[1]}) images, got {tuple(x.shape)}")
        x = self.standardize(x)
        if augment:
            x = self.augment(x)
        return self.bridge(self.blocks(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: the 256 units of the fully connected layer."""
        return F.relu(self.fc(torch.flatten(self.conv_map(x), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(x)))


class ConvMapRegressor(nn.Module):
    """Stage 1's network: :meth:`FaceNet2ExpNetModule.conv_map` of images, without augmentation.

    The images' maps are regressed onto the face network's maps of the same images, so they
    are neither cropped nor flipped. The fully connected layers take no part in stage 1:
    their parameters are frozen (``requires_grad=False``), so an optimizer built over the
    trainable parameters leaves them out.

    Parameters
    ----------
    net : FaceNet2ExpNetModule
        Trained in place (its fully connected layers frozen).

    Examples
    --------
    >>> import torch
    >>> net = FaceNet2ExpNetModule(n_classes=1, channels=(4, 4, 8, 8, 8), bridge_channels=6)
    >>> ConvMapRegressor(net)(torch.zeros(2, 1, 48, 48, dtype=torch.uint8)).shape
    torch.Size([2, 6, 2, 2])
    """

    def __init__(self, net: FaceNet2ExpNetModule):
        super().__init__()
        self.net = net
        for module in (net.fc, net.classifier):
            module.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` images in any dtype (uint8 pixels are kept so until the batch)."""
        return self.net.conv_map(images.float(), augment=False)


class FineTunedFaceNet(nn.Module):
    """A face network with a new softmax layer, fed with the output of its frozen layers.

    Parameters
    ----------
    face_net : torch.nn.Module
        The face network; copied (the caller's module, e.g. the estimator's frozen
        ``face_net_``, is never trained).
    start : str or None
        The block where the network is split (modules with ``forward_from``, such as
        :class:`~skfer.neural.dlib_resnet.DlibFaceResNet`): the input is the output of the
        blocks before it, which are not run here. ``None``: the input is the frames and the
        whole network runs.
    out_features : int
        Size of the face network's (flattened) output.
    n_classes : int, default=7
    freeze_before : str or None, default=None
        Without a split, the layer whose parameters are the first trained ones; the
        parameters registered before it are frozen. ``None`` trains all.
    dropout : float, default=0.0
        Dropout before the new softmax layer.
    **_ignored
        The image arguments every skfer network receives (``in_channels``, ``input_size``,
        ``mean``, ``std``): the face network takes its own input.

    Examples
    --------
    >>> import torch
    >>> face = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten())
    >>> head = FineTunedFaceNet(face, None, out_features=2 * 6 * 6, n_classes=3,
    ...                         freeze_before="0")
    >>> head(torch.zeros(4, 1, 8, 8)).shape
    torch.Size([4, 3])
    """

    def __init__(self, face_net: nn.Module, start: str | None, out_features: int,
                 n_classes: int = 7, freeze_before: str | None = None, dropout: float = 0.0,
                 **_ignored):
        super().__init__()
        self.face_net = copy.deepcopy(face_net)
        self.start = start
        # Parameters are registered in forward order: those before the first trained layer
        # stay frozen (with a split they are not even run).
        first = start if start is not None else freeze_before
        trainable = first is None
        for name, param in self.face_net.named_parameters():
            trainable = trainable or name.startswith(first + ".")
            param.requires_grad_(trainable)
        self.dropout = nn.Dropout(float(dropout))
        self.classifier = nn.Linear(int(out_features), int(n_classes))

    def features(self, h: torch.Tensor) -> torch.Tensor:
        """The face network's flattened output (its descriptor, 128-D for dlib's)."""
        out = self.face_net(h) if self.start is None else self.face_net.forward_from(h, self.start)
        return torch.flatten(out, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(h)))
