"""dlib's ResNet face-recognition network as a torch module, read from dlib's own weight file.

The ``face-recognition-models`` package (skfer's ``landmarks`` extra, MIT licence) ships
``dlib_face_recognition_resnet_model_v1.dat``: a 29-layer ResNet that maps a 150x150 RGB face
chip aligned by ``dlib.get_face_chip`` to a 128-D descriptor (dlib's
``face_recognition_model_v1``). :func:`load_dlib_face_resnet` reads that file with a reader
written for skfer from dlib's serialisation format (no dlib needed, no download: the file is
part of the installed package) into :class:`DlibFaceResNet`, whose intermediate feature maps
can then be taken by forward hooks, e.g. as the teacher of
:class:`~skfer.neural.FaceNet2ExpNet`.

The format, as dlib writes it (``dlib/serialize.h``, ``dlib/dnn/core.h``, ``layers.h``,
``input.h``, ``loss.h``, ``dlib/cuda/tensor.h``):

* integers: one control byte (low nibble: byte count, bit 0x80: negative) then the
  magnitude's bytes, little-endian; ``bool``: the character ``'0'`` or ``'1'``; strings: an
  integer length then the bytes; ``float`` scalars: an integer mantissa and an integer
  exponent (``mantissa * 2**exponent``; exponents 32000-32002 are +inf, -inf, NaN);
* tensors: version 2, four integer dimensions ``(n, k, nr, nc)``, then ``n*k*nr*nc``
  little-endian float32 (read here with one ``numpy.frombuffer`` per tensor); an
  ``alias_tensor`` (a view into a layer's parameter tensor) stores only its dimensions;
* a network is nested: ``add_loss_layer`` writes its version, the loss details, then its
  subnetwork; every ``add_layer`` writes its version and its *subnetwork first*, then its own
  layer's details and training state (flags, cached tensors); tags and skips write only a
  version and their subnetwork. A file therefore lists the versions from the loss inwards,
  the input layer, then the layers' details from the input outwards.

Only this network's architecture is read (``examples/dnn_face_recognition_ex.cpp``); every
layer's name, shape, stride and padding in the file is checked against it, and a mismatch
raises a ``ValueError`` naming the layer and the byte offset.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "DLIB_FACE_MODEL_FILE",
    "DlibFaceResNet",
    "dlib_face_model_path",
    "load_dlib_face_resnet",
]

#: dlib's face-recognition network file in the ``face-recognition-models`` package.
DLIB_FACE_MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"

_EXTRA_HINT = 'install the optional extra: pip install "skfer[landmarks]"'

#: dlib's per-channel input means (``input_rgb_image``), checked against the file.
_DLIB_RGB_MEAN = (122.782, 117.001, 104.298)


def dlib_face_model_path() -> Path:
    """Path of dlib's face-recognition network shipped by ``face-recognition-models``.

    The package is located without importing it (its ``__init__`` imports
    ``pkg_resources``, which recent setuptools no longer provide).

    Raises
    ------
    ImportError
        The package is not installed (the message names the ``skfer[landmarks]`` extra).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"dlib's face-recognition network ({DLIB_FACE_MODEL_FILE}) comes with the package "
            f"face-recognition-models, which is not installed; {_EXTRA_HINT}"
        )
    return Path(spec.submodule_search_locations[0]) / "models" / DLIB_FACE_MODEL_FILE


# ----------------------------------------------------------------------------- torch module
class Affine(nn.Module):
    """Per-channel ``gamma * x + beta`` (dlib's ``affine`` layer: batch norm frozen at test)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight[:, None, None] + self.bias[:, None, None]


def _add_zero_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: the sum over the larger of both shapes, missing values being 0.

    In the down-sampling blocks the 3x3/2 convolution and the 2x2/2 average pooling of the
    shortcut disagree on odd sizes (8 -> 3 and 4; 4 -> 1 and 2) and on channels (32 -> 64):
    dlib then adds the smaller tensor into the top-left corner (first channels) of the larger.
    """
    if a.shape == b.shape:
        return a + b
    shape = [max(s, t) for s, t in zip(a.shape, b.shape)]
    out = a.new_zeros(shape)
    out[: a.shape[0], : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[: b.shape[0], : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out


class ResidualBlock(nn.Module):
    """``relu(affine(conv(relu(affine(conv(x))))) + shortcut(x))``, dlib's ``ares``/``ares_down``.

    ``stride=2`` is ``ares_down``: the first convolution has stride 2 and no padding (dlib's
    default padding is ``kernel // 2`` for stride 1, 0 otherwise) and the shortcut is a 2x2/2
    average pooling.
    """

    def __init__(self, in_channels: int, channels: int, stride: int):
        super().__init__()
        self.stride = int(stride)
        pad = 1 if stride == 1 else 0
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=pad)
        self.affine1 = Affine(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.affine2 = Affine(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = x if self.stride == 1 else F.avg_pool2d(x, 2, 2)
        return F.relu(_add_zero_padded(out, shortcut))


#: (channels, stride) of every residual block, input side first (``alevel4`` ... ``alevel0``).
_STAGES = (
    ((32, 1), (32, 1), (32, 1)),
    ((64, 2), (64, 1), (64, 1), (64, 1)),
    ((128, 2), (128, 1), (128, 1)),
    ((256, 2), (256, 1), (256, 1)),
    ((256, 2),),
)


class DlibFaceResNet(nn.Module):
    """dlib's face-recognition ResNet (``dnn_face_recognition_ex.cpp``) in torch.

    ``150x150 RGB -> conv 7x7/2 32, affine, ReLU, max pool 3x3/2 (35x35) -> stage1: 3 blocks
    of 32 (35x35) -> stage2: 4 blocks of 64 (17x17) -> stage3: 3 blocks of 128 (8x8) ->
    stage4: 3 blocks of 256 (4x4) -> stage5: 1 block of 256 (2x2) -> global average -> fc
    128 (no bias)``. Use :func:`load_dlib_face_resnet` for dlib's trained weights.

    Input: float ``(N, 3, 150, 150)`` RGB in 0-255 (dlib subtracts its channel means and
    divides by 256; :attr:`mean` holds the means read from the file). The output is dlib's
    128-D face descriptor (not normalised; dlib compares descriptors by Euclidean distance,
    0.6 being its same-person threshold).

    Hook points (names of :meth:`named_modules`): ``stem`` (32x35x35), ``stage1`` ...
    ``stage5`` and each block ``stage<i>.<j>``, ``pool`` (256), ``fc`` (128).
    """

    input_size = (150, 150)

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(_DLIB_RGB_MEAN, dtype=torch.float32))
        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 7, stride=2, padding=0), Affine(32), nn.ReLU(), nn.MaxPool2d(3, 2)
        )
        in_channels = 32
        for i, stage in enumerate(_STAGES, start=1):
            blocks = []
            for channels, stride in stage:
                blocks.append(ResidualBlock(in_channels, channels, stride))
                in_channels = channels
            setattr(self, f"stage{i}", nn.Sequential(*blocks))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(256, 128, bias=False)

    #: Top-level blocks in forward order: the points :meth:`forward_to`/:meth:`forward_from`
    #: split the network at (a frozen prefix computed once, a trainable rest).
    block_names = ("stem", *(f"stage{i}" for i in range(1, len(_STAGES) + 1)), "pool", "fc")

    def _check_block(self, name: str) -> int:
        if name not in self.block_names:
            raise ValueError(f"{name!r} is not a block of the network; blocks: "
                             f"{list(self.block_names)}")
        return self.block_names.index(name)

    def _run(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        for name in self.block_names[start:stop]:
            x = getattr(self, name)(x)
            if name == "pool":
                x = torch.flatten(x, 1)
        return x

    def forward_to(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """The input of block ``name`` (RGB 0-255 images in, every earlier block applied)."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"dlib's face network takes RGB batches (N, 3, 150, 150), got {tuple(x.shape)}"
            )
        x = (x - self.mean[:, None, None]) / 256.0
        return self._run(x, 0, self._check_block(name))

    def forward_from(self, h: torch.Tensor, name: str) -> torch.Tensor:
        """Block ``name`` and every later block applied to ``h`` (see :meth:`forward_to`)."""
        return self._run(h, self._check_block(name), len(self.block_names))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The 128-D descriptors of RGB 0-255 face chips ``(N, 3, 150, 150)``."""
        return self.forward_from(self.forward_to(x, "stem"), "stem")


# ------------------------------------------------------------------------------- reader
class _Reader:
    """Sequential reader of dlib's serialisation primitives over one bytes buffer."""

    def __init__(self, data: bytes, source: str):
        self.data = memoryview(data)
        self.pos = 0
        self.source = source

    def fail(self, what: str, at: int | None = None) -> ValueError:
        where = self.pos if at is None else at
        return ValueError(f"{self.source}: byte {where}: {what}")

    def int(self) -> int:
        start = self.pos
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of file reading an integer")
        control = self.data[self.pos]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte 0x{control:02x}", start)
        raw = bytes(self.data[self.pos + 1:self.pos + 1 + size])
        if len(raw) != size:
            raise self.fail("unexpected end of file inside an integer", start)
        self.pos += 1 + size
        value = int.from_bytes(raw, "little")
        return -value if control & 0x80 else value

    def bool(self) -> bool:
        ch = bytes(self.data[self.pos:self.pos + 1])
        if ch not in (b"0", b"1"):
            raise self.fail(f"expected a bool ('0' or '1'), found {ch!r}")
        self.pos += 1
        return ch == b"1"

    def str(self) -> str:
        start = self.pos
        n = self.int()
        if not 0 <= n <= 256:
            raise self.fail(f"string of {n} bytes where a layer name was expected", start)
        text = bytes(self.data[self.pos:self.pos + n]).decode("latin-1")
        self.pos += n
        return text

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        special = {32000: np.inf, 32001: -np.inf, 32002: np.nan}
        if exponent in special:
            return float(special[exponent])
        return float(mantissa) * 2.0**exponent

    def tensor(self) -> np.ndarray:
        start = self.pos
        version = self.int()
        if version != 2:
            raise self.fail(f"tensor version {version}, expected 2", start)
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise self.fail(f"tensor of shape {shape} runs past the end of the file", start)
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos = end
        return values.reshape(shape)

    def alias(self) -> tuple[int, ...]:
        start = self.pos
        if (version := self.int()) != 1:
            raise self.fail(f"alias_tensor version {version}, expected 1", start)
        return tuple(self.int() for _ in range(4))

    def expect_name(self, allowed: tuple[str, ...], layer: str) -> str:
        start = self.pos
        name = self.str()
        if name not in allowed:
            raise self.fail(f"layer {layer}: found {name[:40]!r}, expected one of {allowed}",
                            start)
        return name


@dataclass
class _Layer:
    """One ``add_layer`` of the dlib network: its kind, expected shape and torch target."""

    kind: str  # "con", "affine", "relu", "max_pool", "avg_pool", "fc", "add_prev"
    target: str = ""  # dotted torch module name receiving the weights
    shape: dict = field(default_factory=dict)  # expected hyper-parameters
    version: int = 0


def _chain() -> list:
    """The network as dlib nests it, from the loss inwards: ``_Layer`` or "tag"/"skip"."""
    chain: list = [
        _Layer("fc", "fc", {"outputs": 128}),
        _Layer("avg_pool", shape={"nr": 0, "nc": 0, "stride": 1}),
    ]
    n_stages = len(_STAGES)
    for s in range(n_stages, 0, -1):
        for b in range(len(_STAGES[s - 1]) - 1, -1, -1):
            channels, stride = _STAGES[s - 1][b]
            name = f"stage{s}.{b}"
            pad = 1 if stride == 1 else 0
            body = [
                _Layer("affine", f"{name}.affine2"),
                _Layer("con", f"{name}.conv2", {"filters": channels, "nr": 3, "stride": 1,
                                                 "padding": 1}),
                _Layer("relu"),
                _Layer("affine", f"{name}.affine1"),
                _Layer("con", f"{name}.conv1", {"filters": channels, "nr": 3,
                                                 "stride": stride, "padding": pad}),
                "tag",
            ]
            if stride == 1:  # relu<add_prev1<block<tag1<x>>>>
                chain += [_Layer("relu"), _Layer("add_prev"), *body]
            else:  # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<tag1<x>>>>>>>>
                chain += [
                    _Layer("relu"), _Layer("add_prev"),
                    _Layer("avg_pool", shape={"nr": 2, "nc": 2, "stride": 2}),
                    "skip", "tag", *body,
                ]
    chain += [
        _Layer("max_pool", shape={"nr": 3, "nc": 3, "stride": 2}),
        _Layer("relu"),
        _Layer("affine", "stem.1"),
        _Layer("con", "stem.0", {"filters": 32, "nr": 7, "stride": 2, "padding": 0}),
    ]
    return chain


def _read_details(r: _Reader, layer: _Layer, weights: dict) -> None:
    """One layer's details (dlib's ``deserialize(<layer>_&)``), weights into ``weights``."""
    what = layer.target or layer.kind
    start = r.pos
    if layer.kind == "con":
        name = r.expect_name(("con_4", "con_5", "con_6"), what)
        params = r.tensor().ravel()
        n_filters, nr, nc = r.int(), r.int(), r.int()
        stride, stride_x, pad, pad_x = r.int(), r.int(), r.int(), r.int()
        filters, biases = r.alias(), r.alias()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            r.float()
        use_bias = r.bool() if name in ("con_5", "con_6") else True
        if name == "con_6" and r.bool():
            raise r.fail(f"layer {what}: a convolution with a fused ReLU is not supported", start)
        got = {"filters": n_filters, "nr": nr, "stride": stride, "padding": pad}
        if got != layer.shape or (nc, stride_x, pad_x) != (nr, stride, pad):
            raise r.fail(f"layer {what}: convolution {got} (nc={nc}, stride_x={stride_x}, "
                         f"padding_x={pad_x}), expected {layer.shape}", start)
        n_w = int(np.prod(filters))
        weights[f"{what}.weight"] = params[:n_w].reshape(filters)
        n_b = int(np.prod(biases))
        bias = params[n_w:n_w + n_b] if use_bias else np.zeros(n_filters, np.float32)
        weights[f"{what}.bias"] = bias.reshape(-1)
    elif layer.kind == "affine":
        name = r.expect_name(("affine_", "affine_2"), what)
        params = r.tensor().ravel()
        gamma, beta = r.alias(), r.alias()
        r.int()  # mode: CONV_MODE (per channel) here, checked by the sizes below
        if name == "affine_2" and r.bool():
            raise r.fail(f"layer {what}: a disabled affine layer is not supported", start)
        n_g, n_b = int(np.prod(gamma)), int(np.prod(beta))
        weights[f"{what}.weight"] = params[:n_g]
        weights[f"{what}.bias"] = params[n_g:n_g + n_b]
    elif layer.kind == "relu":
        if r.expect_name(("relu_", "relu_2"), what) == "relu_2" and r.bool():
            raise r.fail("a disabled relu layer is not supported", start)
    elif layer.kind in ("max_pool", "avg_pool"):
        r.expect_name((f"{layer.kind}_2",), what)
        nr, nc, stride, stride_x, pad, pad_x = (r.int() for _ in range(6))
        got = {"nr": nr, "nc": nc, "stride": stride}
        if got != layer.shape or stride_x != stride or pad or pad_x:
            raise r.fail(f"layer {what}: pooling {got} padding ({pad}, {pad_x}), expected "
                         f"{layer.shape} without padding", start)
    elif layer.kind == "fc":
        name = r.expect_name(("fc_2", "fc_3"), what)
        n_out, n_in = r.int(), r.int()
        params = r.tensor().ravel()
        r.alias(), r.alias()  # weights (n_in, n_out) and biases views: sizes from n_in, n_out
        bias_mode = r.int()
        for _ in range(4):
            r.float()
        if name == "fc_3":
            r.bool()
        if n_out != layer.shape["outputs"] or bias_mode != 1:  # FC_NO_BIAS
            raise r.fail(f"layer {what}: fc with {n_out} outputs and bias mode {bias_mode}, "
                         f"expected {layer.shape['outputs']} outputs without bias", start)
        # dlib multiplies (N, n_in) by weights (n_in, n_out); torch stores (n_out, n_in).
        weights[f"{what}.weight"] = params[:n_in * n_out].reshape(n_in, n_out).T
    elif layer.kind == "add_prev":
        r.expect_name(("add_prev_",), what)


def _read_network(data: bytes, source: str) -> tuple[dict, dict]:
    """All weights (torch names -> arrays) and the input layer's settings from the file."""
    r = _Reader(data, source)
    if (version := r.int()) != 1:
        raise r.fail(f"add_loss_layer version {version}, expected 1 (not a dlib network file?)")
    start = r.pos
    loss = r.str()
    if loss != "loss_metric_2":
        raise r.fail(f"loss {loss[:40]!r}: this is not dlib's face-recognition network "
                     "(loss_metric_2 expected)", start)
    r.float(), r.float()  # margin, distance threshold: training only
    chain = _chain()
    for item in chain:  # versions, from the loss inwards
        start = r.pos
        version = r.int()
        if isinstance(item, str):
            if version != 1:
                raise r.fail(f"{item} layer version {version}, expected 1", start)
        else:
            item.version = version
    innermost = chain[-1]
    if innermost.version not in (2, 3):
        raise r.fail(f"input add_layer version {innermost.version}, expected 2 or 3")
    r.expect_name(("input_rgb_image_sized",), "input")
    means = tuple(r.float() for _ in range(3))
    size = (r.int(), r.int())
    if size != (150, 150):
        raise r.fail(f"input size {size}, expected (150, 150)")
    weights: dict = {}
    layers = [item for item in chain if not isinstance(item, str)]
    for layer in reversed(layers):  # details, from the input outwards
        if not 1 <= layer.version <= 3:
            raise r.fail(f"add_layer version {layer.version} for {layer.target or layer.kind}")
        try:
            _read_details(r, layer, weights)
            for _ in range(3):  # this_layer_setup_called, gradient_input_is_stale, disabled
                r.bool()
            r.tensor(), r.tensor()  # x_grad, cached_output: training state
            if layer is innermost:
                r.tensor()  # grad_final
                if layer.version >= 3:
                    r.int()  # sample expansion factor
            elif layer.version == 2:
                r.tensor()  # params_grad
        except ValueError as exc:
            if "layer " in str(exc):
                raise
            raise ValueError(f"{exc} (layer {layer.target or layer.kind})") from None
    if r.pos != len(r.data):
        raise r.fail(f"{len(r.data) - r.pos} bytes left after the network")
    return weights, {"mean": means, "size": size}


@functools.lru_cache(maxsize=2)
def _cached_weights(path: str, mtime: float) -> tuple[dict, dict]:
    with open(path, "rb") as fh:
        data = fh.read()
    weights, info = _read_network(data, os.path.basename(path))
    # frombuffer views keep the 22 MB file alive; copies are the same size and writable.
    return {k: np.array(v, dtype=np.float32) for k, v in weights.items()}, info


def load_dlib_face_resnet(path: str | os.PathLike | None = None) -> DlibFaceResNet:
    """dlib's face-recognition network with its trained weights, in evaluation mode.

    Parameters
    ----------
    path : str, path or None, default=None
        A ``dlib_face_recognition_resnet_model_v1.dat`` file; ``None`` takes the one installed
        with ``face-recognition-models`` (the ``skfer[landmarks]`` extra). Nothing is
        downloaded. The parsed weights are cached per file (a second call costs only the
        copy into a new module).

    Returns
    -------
    net : DlibFaceResNet
        A new module each call (fine-tuning one leaves the others untouched).

    Raises
    ------
    ImportError
        ``path=None`` and ``face-recognition-models`` is not installed.
    FileNotFoundError
        No such file.
    ValueError
        The file is not this network in dlib's format (the message gives the byte offset
        and the layer).

    Examples
    --------
    >>> import torch
    >>> net = load_dlib_face_resnet()  # doctest: +SKIP
    >>> net(torch.full((1, 3, 150, 150), 128.0)).shape  # doctest: +SKIP
    torch.Size([1, 128])
    """
    path = Path(dlib_face_model_path() if path is None else path)
    if not path.is_file():
        raise FileNotFoundError(f"no dlib network file {os.fspath(path)!r}")
    weights, info = _cached_weights(os.fspath(path), path.stat().st_mtime)
    net = DlibFaceResNet()
    state = net.state_dict()
    missing = sorted(set(state) - set(weights) - {"mean"})
    if missing:
        raise ValueError(f"{path.name}: no weights found for {missing}")
    for name, value in weights.items():
        if tuple(state[name].shape) != value.shape:
            raise ValueError(f"{path.name}: {name} has shape {value.shape} in the file, "
                             f"{tuple(state[name].shape)} in the network")
        state[name] = torch.from_numpy(value.copy())
    state["mean"] = torch.tensor(info["mean"], dtype=torch.float32)
    net.load_state_dict(state)
    return net.eval()
