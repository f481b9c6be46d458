"""The scikit-learn side of skfer's networks: a plain estimator that builds a skorch net in ``fit``.

Why not subclass skorch's ``NeuralNetClassifier``: skorch nets set attributes in ``__init__``
(``history_``, ``initialized_``: scikit-learn's ``check_no_attributes_set_in_init`` fails),
have no ``random_state``, take one array for ``X`` (skfer's clips are ragged lists)
and predict one row per *sample* where skfer's frame models predict one row per *clip*. So
every skfer network is a plain :class:`~sklearn.base.BaseEstimator` whose ``__init__`` only
stores parameters, and whose ``fit`` builds, seeds and trains a skorch net (``net_``) with
skorch's own training loop and callbacks (``EarlyStopping``, ``Checkpoint``,
``LRScheduler``, ``EpochScoring``, Optuna's ``SkorchPruningCallback`` ...).

Nested parameters work as in skorch: ``module__n_filters=(32, 32, 64)``,
``optimizer__nesterov=True``, ``criterion__label_smoothing=0.1``,
``iterator_train__num_workers=2``, ``iterator_valid__batch_size=512`` and
``callbacks__<name>__<param>`` are accepted by ``__init__``/``set_params``, returned by
``get_params`` (so ``clone``, ``GridSearchCV`` and Optuna spaces use them) and passed to the
skorch net.
"""

from __future__ import annotations

import contextlib
import copy
import numbers
import os
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import Bunch, check_random_state, column_or_1d
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from skorch.utils import to_tensor

from ..base import ClipTransformerMixin, same_container
from ..clipset import ClipSet
from ..utils._sklearn import HasMethods, Interval, StrOptions, _fit_context
from ..utils.validation import check_clips, check_labels
from ._dataset import ClipDataset
from ._optim import (
    OPTIMIZERS,
    momentum_kwargs,
    no_decay_names,
    resolve_optimizer,
    split_decay_groups,
)
from .callbacks import DIVERGENCE_GROWTH, DivergenceCheck, TrainingDivergedError, check_divergence

__all__ = [
    "BaseClipClassifier", "BaseFrameClassifier", "BaseNeuralClassifier", "DivergenceCheck",
    "DIVERGENCE_GROWTH", "NESTED_PREFIXES", "TrainingDivergedError", "check_divergence",
    "ValidationSplitWarning", "resolve_device", "seeded_torch",
]

#: Prefixes of the nested parameters passed through to the skorch net.
NESTED_PREFIXES = (
    "module__", "optimizer__", "criterion__", "iterator_train__", "iterator_valid__",
    "callbacks__",
)


class SkferOptimizerMixin:
    """skorch net mixin: the optimizer under skfer's rules (:mod:`skfer.neural._optim`).

    ``initialize_optimizer`` splits skorch's parameter groups (``optimizer__param_groups``)
    so that biases and normalisation weights get no weight decay; every skorch net of skfer
    (the classifiers' :class:`SkferNet`, the regression net of FaceNet2ExpNet's stage 1, the
    joint heads of DTAGN) builds its optimizer here, so they cannot disagree.
    """

    def initialize_optimizer(self, triggered_directly=None):
        named = list(self.get_all_learnable_params())
        args, kwargs = self.get_params_for_optimizer("optimizer", named)
        groups = split_decay_groups(args[0], named, no_decay_names(self.module_))
        self.optimizer_ = self.optimizer(groups, *args[1:], **kwargs)
        return self


class SkferNet(SkferOptimizerMixin, NeuralNetClassifier):
    """skorch's classifier with skfer's optimizer rules, mixed precision and one inference path.

    * ``initialize_optimizer`` splits skorch's parameter groups (``optimizer__param_groups``)
      so biases and normalisation weights get no weight decay (:mod:`skfer.neural._optim`).
    * ``precision="bfloat16"`` runs the module's forward pass in bfloat16 where it is safe
      (autocast: convolutions and matrix products; weights, optimiser state and the loss stay
      float32; bfloat16 has float32's range, so no loss scaling is needed) and feeds 4-D image
      batches in ``channels_last`` layout. On CPUs with bfloat16 instructions (AVX-512 BF16,
      AMX) this about doubles the training speed of skfer's ConvNet; ``"float32"`` is plain
      skorch.
    * Inference is skorch's ``forward_iter`` (so ``iterator_valid__*`` parameters apply),
      with :meth:`outputs` choosing the module's class scores or its ``features``;
      ``inference_dtype=torch.float64`` evaluates in double precision (see
      :class:`~skfer.neural.AudioDBNClassifier`: a result that must not depend on which
      samples share a batch).

    Defined at module level so that a fitted net pickles.
    """

    def __init__(self, *args, precision: str = "float32", inference_dtype=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision
        self.inference_dtype = inference_dtype

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device)
        dtype = self.__dict__.get("_dtype")  # set by iter_outputs for another precision
        if dtype is not None:
            x = _cast_floats(x, dtype)
        mixed = self.precision != "float32" and dtype is None
        if mixed and isinstance(x, torch.Tensor) and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        method = self.__dict__.get("_method", "forward")
        call = self.module_ if method == "forward" else getattr(self.module_, method)
        with torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16,
                            enabled=mixed):
            if isinstance(x, Mapping):
                out = call(**self._merge_x_and_fit_params(x, fit_params))
            else:
                out = call(x, **fit_params)
        if dtype is not None:
            return out
        return tuple(o.float() for o in out) if isinstance(out, tuple) else out.float()

    def iter_outputs(self, dataset, method: str = "forward"):
        """Yield the output of the module's ``method`` for each batch of ``dataset``.

        The one inference path of skfer's networks: skorch's ``forward_iter`` with the
        validation iterator (``iterator_valid__batch_size`` and the like apply), the module
        in evaluation mode, no gradients, outputs on the CPU. ``method`` is ``"forward"``
        (class scores), ``"features"`` or another method of the module taking the batch
        (``"forward_all"`` of the video autoencoder).
        """
        self.__dict__["_method"] = method
        dtype = self.inference_dtype
        if dtype is not None:
            self.__dict__["_dtype"] = dtype
            self.module_.to(dtype)
        try:
            yield from self.forward_iter(dataset)
        finally:
            self.__dict__.pop("_method", None)
            if self.__dict__.pop("_dtype", None) is not None:
                self.module_.float()  # float32 -> float64 -> float32 is exact

    def outputs(self, dataset, *, features: bool = False) -> np.ndarray:
        """Softmax probabilities (or ``module.features``) of every item, in order.

        Through :meth:`iter_outputs`; a module returning a tuple gives its first element
        (skorch's rule for ``predict_proba``).
        """
        # infer already gives float32 (or inference_dtype): only the tuple rule is left.
        chunks = [out[0] if isinstance(out, tuple) else out
                  for out in self.iter_outputs(dataset, "features" if features else "forward")]
        if not chunks:
            return np.empty((0, 0), dtype=np.float32)
        out = torch.cat(chunks)
        if not features:
            out = torch.softmax(out, dim=-1)
        return out.cpu().numpy()


def _cast_floats(x, dtype):
    """Floating tensors of ``x`` (a tensor or a dict of them) in ``dtype``; others unchanged."""
    if isinstance(x, Mapping):
        return {k: _cast_floats(v, dtype) for k, v in x.items()}
    return x.to(dtype) if isinstance(x, torch.Tensor) and x.is_floating_point() else x


#: The name of :class:`SkferNet` in models pickled before it was renamed.
MixedPrecisionNet = SkferNet


@contextlib.contextmanager
def seeded_torch(device: str, seed: int):
    """Seed torch's generators for a ``fit`` and give their previous states back after it.

    Weights, augmentation, dropout and batch shuffling all draw from torch's global
    generator (and the CUDA one on a GPU), so one seed makes a fit reproducible without
    changing the caller's random state.
    """
    cuda = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


def resolve_device(device: str) -> str:
    """The torch device for the ``device`` parameter: ``"auto"`` is CUDA when available.

    Raises
    ------
    ValueError
        CUDA requested on a machine without it (no silent fall-back: a run meant for a GPU
        that trains on the CPU instead would take hours without saying so), or an unknown
        device name.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {device!r} is not a torch device ('auto', 'cpu', 'cuda', "
                         f"'cuda:1', ...): {exc}") from exc
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but torch finds no CUDA device on this machine (torch "
            f"{torch.__version__}, CUDA build {torch.version.cuda}); use device='cpu' or "
            "'auto' (CUDA when there is one)"
        )
    return device


class ValidationSplitWarning(UserWarning):
    """The internal validation split could not keep subjects apart (no ``groups``)."""


def pretrained_names() -> list[str]:
    """Names of the networks shipped in :mod:`skfer.pretrained`."""
    from . import _pretrained

    return _pretrained.available()


def _load_network_file(path, owner: str):
    """A ``joblib`` file of a fitted network (``init_from``), with clear errors."""
    import joblib

    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"init_from: no file {os.fspath(path)!r} (and not the name of a shipped network "
            f"{pretrained_names()})"
        )
    try:
        obj = joblib.load(path)
    except Exception as exc:  # a pickle of anything can fail in any way
        raise ValueError(
            f"init_from: {os.fspath(path)!r} is not a saved {owner} (joblib could not read "
            f"it: {type(exc).__name__}: {exc})"
        ) from exc
    if hasattr(obj, "steps"):  # a whole pipeline, e.g. written by `skfer train`
        obj = obj.steps[-1][1]
    return obj


def _frame_shape(clip: np.ndarray) -> tuple[tuple[int, int], bool]:
    return tuple(int(s) for s in clip.shape[1:3]), clip.ndim == 4


def _describe(size: tuple[int, int], color: bool) -> str:
    return f"{size[0]}x{size[1]} {'colour' if color else 'grey'}"


class BaseNeuralClassifier(ClipTransformerMixin, ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """Base of skfer's network classifiers: parameters, seeding, devices, splits, skorch.

    Subclasses set :attr:`_module_class` (a :class:`torch.nn.Module` returning class logits),
    :attr:`_input_mode` (``"frames"`` for frame models, ``"clips"`` for clip models), and
    define :meth:`_module_kwargs` (the module's arguments from the estimator's parameters and
    the data). They list every parameter in their own keyword-only ``__init__`` (scikit-learn
    reads parameters from the signature) and end it with ``**kwargs`` passed to
    :meth:`_set_nested`.

    Parameters
    ----------
    classes : array-like or None, default=None
        The label set, in output order. ``None`` takes the labels found in ``y``. Give it to
        keep ``predict_proba``'s columns the same across cross-validation folds; a class
        absent from a fold's ``y`` is then kept (a ``UserWarning`` names it) and the network
        only learns it as a negative.
    lr : float, default=0.01
    max_epochs : int, default=20
    batch_size : int, default=128
        Training (and inference) batch size, in frames for frame models.
    optimizer : {"sgd", "adam", "adamw"} or torch optimizer class, default="sgd"
    momentum : float, default=0.9
        The optimizer's first-moment coefficient: ``momentum`` of SGD and RMSprop, the first
        of Adam's and AdamW's ``betas`` (:func:`skfer.neural._optim.momentum_kwargs`).
    weight_decay : float, default=0.0
        Passed to the optimizer as is: an L2 penalty with SGD, a *decoupled* decay (each step
        shrinks weights by ``lr * weight_decay``) with AdamW, whose useful values are larger
        (about 0.01-0.1). Biases and the weights of normalisation layers (batch, layer,
        group, instance norm) get none; ``optimizer__param_groups=[(pattern, {...})]``
        (skorch's syntax) sets other options per group, e.g. a slower pretrained body.
    patience : int or None, default=None
        Early stopping: stop after ``patience`` epochs without an improvement of
        ``monitor`` and restore the weights of the best epoch (skorch
        ``EarlyStopping(load_best=True)``, callback ``early_stopping``). ``None`` trains
        ``max_epochs`` epochs.
    monitor : str, default="valid_loss"
        The history column early stopping watches: ``"valid_loss"`` (lower is better) or
        ``"valid_acc"`` (higher is better; what an accuracy target needs: the validation
        loss of a classifier often rises while its accuracy still improves); any other
        column whose name ends in ``_loss`` is lower-is-better, others higher-is-better.
    validation_fraction : float in (0, 1) or None, default=0.1
        Share of the training *clips* held out to score every epoch (``valid_loss``,
        ``valid_acc``; needed by ``patience`` and by pruning callbacks). The split is grouped:
        by subject when ``fit`` gets ``groups``, by clip otherwise, so frames of one clip or
        subject are never on both sides. ``None``: no internal validation (unless ``fit``
        gets ``X_valid``). A split by clip under early stopping warns
        (:class:`ValidationSplitWarning`): clips of one subject on both sides make the
        validation score optimistic. Route the subjects in a pipeline or cross-validation
        with ``sklearn.set_config(enable_metadata_routing=True)`` and
        ``net.set_fit_request(groups=True)``.
    callbacks : list of skorch callbacks or (name, callback) pairs, or None, default=None
        Added to skorch's defaults (epoch timer, losses, ``valid_acc``, the epoch table). Each
        ``fit`` trains with shallow copies, so the objects given here are never modified;
        ``clone`` keeps the same objects (a callback holding an Optuna trial must reach the
        trial itself, not a copy). Set their parameters with
        ``callbacks__<name>__<param>``.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``. CUDA on a
        machine without it raises ``ValueError`` in ``fit``.
    init_from : str, path, fitted estimator or None, default=None
        Start from the weights of a fitted network of the same kind (an estimator, a
        ``FrozenEstimator`` of one, or a ``joblib`` file of one) instead of a random
        initialisation: fine-tuning. When its classes differ from this fit's classes, the
        output layer is re-initialised (listed in ``init_report_``). ``clone`` keeps the same
        source (it is only read).
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, torch's generator during ``fit`` (weights,
        augmentation, dropout) and the shuffling of the training batches. Two fits with the
        same int give the same network on the CPU. torch's global random state is restored
        after ``fit``.
    verbose : int, default=1
        1: skorch's table of epochs; 0: silent.
    **kwargs
        Nested parameters (see the module docstring), prefixed with one of
        :data:`NESTED_PREFIXES`.

    Subclasses may add a parameter ``precision : {"float32", "bfloat16"}`` (with its
    constraint ``StrOptions({"float32", "bfloat16"})``): ``"bfloat16"`` runs forward passes
    (training and inference) under ``torch.autocast`` with channels-last images (see
    :class:`SkferNet`), about twice as fast on CPUs with bfloat16 instructions.
    Without the parameter a network trains in float32. (Not a base parameter: a parameter
    added here would have to be added to every subclass's signature.)

    Attributes
    ----------
    classes_ : ndarray
    net_ : SkferNet
        A skorch ``NeuralNetClassifier``.
        The trained net (``net_.module_`` is the torch module, ``net_.history`` the epochs).
    device_ : str
        The device the network was trained on.
    frame_size_ : (int, int)
        Frame size of the training clips; other sizes are rejected.
    color_ : bool
        Whether the network takes colour frames.
    validation_split_ : Bunch
        ``train`` and ``valid``: the indices of the training clips on each side of the
        internal validation split; ``by``: ``"subject"``, ``"clip"``, ``"predefined"``
        (``X_valid``) or ``None`` (no validation).
    n_epochs_ : int
        Epochs trained.
    init_report_ : dict or None
        With ``init_from``: ``source`` and ``reinitialized`` (parameter names not copied).
    n_missing_frames_skipped_ : int
        Training frames left out because a ClipSet's ``status`` marks them ``"missing"``
        (frame models; a clip with no other frame keeps them all, with a warning).
    history_ : skorch.History
        ``net_.history``.

    Notes
    -----
    *Devices and saved models.* A fitted estimator pickles (``joblib.dump``) with its skorch
    net, whose unpickling maps CUDA tensors to the CPU where there is no GPU (with skorch's
    ``DeviceWarning``): a model trained on a GPU predicts on a CPU-only machine.
    ``device_`` keeps where it was trained; inference runs on ``net_.device``.

    *Pretrained networks in cross-validation.* ``FrozenEstimator(fitted_network)`` in a
    pipeline is never refitted (``clone`` returns it as is), so a network trained on one data
    set serves every fold on another; ``init_from`` instead fine-tunes a copy in each fold.

    *Optuna pruning.* ``optuna_integration.SkorchPruningCallback(trial, "valid_acc")`` in
    ``callbacks`` reports every epoch's validation accuracy to the trial and raises
    ``optuna.TrialPruned`` when the pruner says so (it needs the validation split). The
    callback object is shared by clones and copied (shallowly) into each fit, so it always
    reaches the trial. Remove it (``set_params(callbacks=None)``) before saving a model: it
    holds the study.

    Examples
    --------
    >>> import optuna  # doctest: +SKIP
    >>> from optuna_integration import SkorchPruningCallback  # doctest: +SKIP
    >>> def objective(trial):  # doctest: +SKIP
    ...     net = ConvNet(lr=trial.suggest_float("lr", 1e-4, 1e-1, log=True),
    ...                   callbacks=[SkorchPruningCallback(trial, "valid_acc")], verbose=0)
    ...     net.fit(X, y, groups=subjects)  # validation split by subject
    ...     return net.history_[-1, "valid_acc"]
    """

    _module_class: type[torch.nn.Module]
    _input_mode: str = "frames"
    #: The loss; the module returns logits (skorch applies softmax for probabilities).
    _criterion: type[torch.nn.Module] = torch.nn.CrossEntropyLoss
    #: Name prefix of the module's output layer, re-initialised when classes differ.
    _output_layer: str = "classifier"
    #: Parameters ``clone`` keeps by reference (see ``callbacks`` and ``init_from``).
    _shared_params = ("callbacks", "init_from")

    _parameter_constraints: dict = {
        "classes": ["array-like", None],
        "lr": [Interval(numbers.Real, 0, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "monitor": [str],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "callbacks": [list, None],
        "device": [str],
        "init_from": [str, os.PathLike, HasMethods(["predict_proba"]), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        classes=None,
        lr: float = 0.01,
        max_epochs: int = 20,
        batch_size: int = 128,
        optimizer="sgd",
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        patience: int | None = None,
        monitor: str = "valid_loss",
        validation_fraction: float | None = 0.1,
        callbacks: list | None = None,
        device: str = "auto",
        init_from=None,
        random_state=None,
        verbose: int = 1,
        **kwargs,
    ):
        self.classes = classes
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.patience = patience
        self.monitor = monitor
        self.validation_fraction = validation_fraction
        self.callbacks = callbacks
        self.device = device
        self.init_from = init_from
        self.random_state = random_state
        self.verbose = verbose
        self._set_nested(kwargs)

    # ------------------------------------------------------------------ nested parameters
    def _set_nested(self, kwargs: dict) -> None:
        """Store the prefixed parameters (the only thing ``__init__`` does besides params).

        Names are checked in ``fit`` (:meth:`_check_nested`), not here: scikit-learn's
        estimators never raise in ``__init__``/``set_params``.
        """
        # Kept in a private dict rather than as attributes: scikit-learn's checks allow only
        # the signature's names as public attributes set by __init__.
        self._nested_params = dict(kwargs)

    def _check_nested(self) -> None:
        bad = sorted(k for k in self._nested_params if not k.startswith(NESTED_PREFIXES))
        if bad:
            raise ValueError(
                f"{type(self).__name__} got unknown parameters {bad}; nested parameters start "
                f"with one of {NESTED_PREFIXES}"
            )

    def get_params(self, deep: bool = True) -> dict:
        """Parameters of the estimator, nested (``module__*``, ...) ones included."""
        params = super().get_params(deep=deep)
        params.update(self.__dict__.get("_nested_params", {}))
        return params

    def set_params(self, **params):
        """Set parameters; prefixed names (``module__n_filters``) are nested parameters.

        As in ``__init__``, names that are neither parameters nor nested under one
        (``init_from__*``) are kept as nested parameters and rejected by ``fit`` with the
        list of valid prefixes.
        """
        own = set(self._get_param_names())
        nested = {k: v for k, v in params.items() if k.split("__", 1)[0] not in own}
        self.__dict__.setdefault("_nested_params", {}).update(nested)
        rest = {k: v for k, v in params.items() if k not in nested}
        if rest:
            super().set_params(**rest)
        return self

    def __sklearn_clone__(self):
        # scikit-learn's clone would rebuild every callback from its get_params(), which
        # fails for Optuna's SkorchPruningCallback (its params are "_trial", "_monitor") and
        # would deep-copy the trial; and it would un-fit an ``init_from`` estimator. Both are
        # shared instead (fit never modifies them); everything else is cloned as usual.
        params = self.get_params(deep=False)
        shared = {k: params.pop(k) for k in self._shared_params}
        if shared.get("callbacks") is not None:
            shared["callbacks"] = list(shared["callbacks"])
        new = type(self)(**{k: clone(v, safe=False) for k, v in params.items()}, **shared)
        for attr in ("_metadata_request", "_sklearn_output_config"):
            if attr in self.__dict__:
                setattr(new, attr, copy.deepcopy(self.__dict__[attr]))
        return new

    # --------------------------------------------------------------------- subclass hooks
    @abstractmethod
    def _module_kwargs(self) -> dict:
        """Module arguments from the estimator's own parameters (not data-dependent ones)."""

    def _check_geometry(self, size: tuple[int, int]) -> None:
        """Further checks of the training frame size (e.g. crop larger than the frames)."""

    def _training_clips(self, X, clips: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
        """The clips ``fit`` trains (or validates) on, and the number of frames left out.

        Frame models leave out the frames a ClipSet marks ``"missing"``.
        """
        return clips, 0

    # ------------------------------------------------------------------------ validation
    def _check_X(self, X, *, reset: bool) -> list[np.ndarray]:
        """Validated clips; one frame size per data set, the fitted one when not ``reset``."""
        clips = check_clips(X)
        sources = X.get("source") if isinstance(X, ClipSet) else None
        size, color = (self.frame_size_, self.color_) if not reset else _frame_shape(clips[0])
        for i, clip in enumerate(clips):
            if _frame_shape(clip) != (size, color):
                where = f"clip {i}" + (f" ({sources[i]})" if sources else "")
                what = (
                    f"the network was fitted on {_describe(size, color)} frames"
                    if not reset else f"clip 0 has {_describe(size, color)} frames"
                )
                raise ValueError(
                    f"{where}: {_describe(*_frame_shape(clip))} frames, but {what}; a network "
                    "takes one frame size (resize, register or crop the faces first)"
                )
        if reset:
            self._check_geometry(size)
            self.frame_size_, self.color_ = size, color
        return clips

    def _encode(self, y, n_clips: int, what: str = "y") -> np.ndarray:
        y = column_or_1d(y, warn=True)
        if len(y) != n_clips:
            raise ValueError(f"{what} has {len(y)} labels for {n_clips} clips")
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        unknown = sorted({str(v) for v in y.tolist() if v not in index})
        if unknown:
            raise ValueError(
                f"{what} holds labels {unknown} that are not in classes "
                f"{self.classes_.tolist()}"
            )
        return np.array([index[v] for v in y.tolist()], dtype=np.int64)

    def _set_classes(self, y) -> None:
        y = check_labels(y)
        if self.classes is None:
            self.classes_ = np.unique(y)
        else:
            self.classes_ = np.asarray(self.classes)
            if len(set(self.classes_.tolist())) != len(self.classes_):
                raise ValueError(f"classes has repeated labels: {self.classes_.tolist()}")
            seen = set(y.tolist())
            absent = [c for c in self.classes_.tolist() if c not in seen]
            if absent:
                warnings.warn(
                    f"classes {absent} have no training clip in y; the network learns them "
                    "only as negatives (their probability stays low)",
                    UserWarning,
                    stacklevel=3,
                )
        if len(self.classes_) < 2:
            raise ValueError(
                f"a classifier needs at least 2 classes, y has only {self.classes_.tolist()}"
            )

    # --------------------------------------------------------------------------- training
    def _validation_split(self, y: np.ndarray, groups, rng) -> Bunch:
        n = len(y)
        everything = Bunch(train=np.arange(n), valid=np.arange(0), by=None)
        if self.validation_fraction is None:
            return everything
        if groups is not None:
            groups = column_or_1d(groups, warn=True)
            if len(groups) != n:
                raise ValueError(f"groups has {len(groups)} entries for {n} clips")
            if len(np.unique(groups)) < 2:
                raise ValueError(
                    "the validation split is by subject (groups), but groups holds only one "
                    "subject; give at least 2, or validation_fraction=None"
                )
            splitter = GroupShuffleSplit(
                n_splits=1, test_size=self.validation_fraction, random_state=rng
            )
            train, valid = next(splitter.split(np.zeros(n), y, groups))
            return Bunch(train=train, valid=valid, by="subject")
        if n < 2:
            raise ValueError("a validation split needs at least 2 clips")
        try:
            splitter = StratifiedShuffleSplit(
                n_splits=1, test_size=self.validation_fraction, random_state=rng
            )
            train, valid = next(splitter.split(np.zeros(n), y))
        except ValueError:  # too few clips of a class to stratify
            splitter = ShuffleSplit(n_splits=1, test_size=self.validation_fraction,
                                    random_state=rng)
            train, valid = next(splitter.split(np.zeros(n)))
        if self.patience is not None:
            warnings.warn(
                f"{type(self).__name__}: the validation split that early stopping watches is "
                "by clip, since fit got no groups; if several clips come from one subject, "
                "the same person is on both sides and the validation score (and the epoch "
                "it picks) is optimistic. Pass groups=subjects to fit (in a Pipeline or "
                "cross_validate: sklearn.set_config(enable_metadata_routing=True) and "
                "net.set_fit_request(groups=True)), or X_valid/y_valid",
                ValidationSplitWarning,
                stacklevel=3,
            )
        return Bunch(train=train, valid=valid, by="clip")

    def _dataset(self, clips, y=None) -> ClipDataset:
        return ClipDataset(clips, y, mode=self._input_mode, color=self.color_)

    @staticmethod
    def _pixel_stats(frames: np.ndarray) -> tuple[float, float]:
        """Mean and standard deviation of all pixels, in chunks (no float64 copy of it all)."""
        total, squares, count = 0.0, 0.0, 0
        flat = frames.reshape(len(frames), -1)
        for start in range(0, len(flat), 4096):
            chunk = flat[start:start + 4096].astype(np.float64)
            total += chunk.sum()
            squares += np.square(chunk).sum()
            count += chunk.size
        mean = total / count
        std = float(np.sqrt(max(squares / count - mean**2, 0.0)))
        return float(mean), std if std > 1e-8 else 1.0

    def _callbacks(self) -> list:
        from skorch.callbacks import EarlyStopping
        from skorch.utils import noop

        out: list = [("divergence_check", DivergenceCheck(type(self).__name__))]
        if self.patience is not None:
            out.append(("early_stopping", EarlyStopping(
                monitor=self.monitor, lower_is_better=self.monitor.endswith("_loss"),
                patience=self.patience, load_best=True,
                sink=print if self.verbose else noop,
            )))
        for item in self.callbacks or []:
            if isinstance(item, tuple):
                name, cb = item
                out.append((name, cb if isinstance(cb, type) else copy.copy(cb)))
            else:
                out.append(item if isinstance(item, type) else copy.copy(item))
        return out

    def _net_kwargs(self, module_kwargs: dict, valid_ds, device: str) -> dict:
        from skorch.helper import predefined_split

        optimizer = resolve_optimizer(self.optimizer)
        kwargs: dict[str, Any] = {
            "module": self._module_class,
            "criterion": self._criterion,
            "optimizer": optimizer,
            "lr": self.lr,
            "max_epochs": self.max_epochs,
            "batch_size": self.batch_size,
            "train_split": None if valid_ds is None else predefined_split(valid_ds),
            "callbacks": self._callbacks(),
            "verbose": self.verbose,
            "device": device,
            "classes": list(range(len(self.classes_))),
            # No explicit torch.Generator: the sampler draws its seed from torch's global
            # generator, seeded in fit (a Generator in the net would also make the fitted
            # estimator's joblib hash change at every call).
            "iterator_train__shuffle": True,
            # Biases and normalisation weights are split off without decay by
            # SkferNet.initialize_optimizer (skfer.neural._optim).
            "optimizer__weight_decay": self.weight_decay,
        }
        for key, value in momentum_kwargs(optimizer, self.momentum).items():
            kwargs["optimizer__" + key] = value
        for key, value in module_kwargs.items():
            kwargs["module__" + key] = value
        nested = self.__dict__.get("_nested_params", {})
        clash = sorted(k for k in nested if k.startswith("module__") and k in kwargs)
        if clash:
            raise ValueError(
                f"{clash} are set by {type(self).__name__}'s own parameters or by the data "
                f"(module arguments {sorted(module_kwargs)}); set those instead"
            )
        kwargs.update(nested)
        return kwargs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None, *, X_valid=None, y_valid=None):
        """Train the network on clips.

        Parameters
        ----------
        X : list of clips ``(T, H, W[, 3])``, ClipSet or ndarray
            All frames of one size. Frame models train on every frame, labelled with its
            clip's label.
        y : array-like of shape (n_clips,)
        groups : array-like of shape (n_clips,), default=None
            Subject of each clip: the internal validation split keeps each subject on one
            side. Reaches ``fit`` through metadata routing
            (``set_fit_request(groups=True)``) inside ``cross_validate``/``Pipeline``.
        X_valid, y_valid : clips and labels, default=None
            A predefined validation set (e.g. FER2013's PublicTest) used instead of the
            internal split.

        Returns
        -------
        self
        """
        self._check_nested()
        if (X_valid is None) != (y_valid is None):
            raise ValueError("give both X_valid and y_valid, or neither")
        clips, n_skipped = self._training_clips(X, self._check_X(X, reset=True))
        self._set_classes(y)
        y_enc = self._encode(y, len(clips))
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        if X_valid is not None:
            valid_clips, _ = self._training_clips(X_valid, self._check_X(X_valid, reset=False))
            valid_y = self._encode(y_valid, len(valid_clips), "y_valid")
            split = Bunch(train=np.arange(len(clips)), valid=np.arange(0), by="predefined")
        else:
            split = self._validation_split(y_enc, groups, rng)
            valid_clips = [clips[i] for i in split.valid]
            valid_y = y_enc[split.valid]
        if self.patience is not None and not len(valid_clips):
            raise ValueError(
                f"patience={self.patience} (early stopping) needs validation data: set "
                "validation_fraction or pass X_valid/y_valid"
            )
        train_ds = self._dataset([clips[i] for i in split.train], y_enc[split.train])
        valid_ds = self._dataset(valid_clips, valid_y) if len(valid_clips) else None
        module_kwargs = self._image_module_kwargs(train_ds)
        source = self._init_source()
        with seeded_torch(device, seed):
            net = SkferNet(
                **self._net_kwargs(module_kwargs, valid_ds, device),
                precision=getattr(self, "precision", "float32"),
            )
            net.initialize()
            if net.precision != "float32":
                net.module_.to(memory_format=torch.channels_last)
            self.init_report_ = None if source is None else self._load_weights(net, source)
            # partial_fit: fit() would initialize again and lose init_from's weights.
            net.partial_fit(train_ds, None)
        self._keep_trained(net, device, split)
        self.n_missing_frames_skipped_ = n_skipped
        return self

    def _image_module_kwargs(self, train_ds: ClipDataset) -> dict:
        """Module arguments: the estimator's own, the classes, the frames and pixel statistics."""
        mean, std = self._pixel_stats(train_ds.X)
        return {
            **self._module_kwargs(),
            "n_classes": len(self.classes_),
            "in_channels": 3 if self.color_ else 1,
            "input_size": self.frame_size_,
            "mean": mean,
            "std": std,
        }

    def _keep_trained(self, net, device: str, split: Bunch) -> None:
        """Store a trained net and where and how it was trained (the end of every ``fit``)."""
        # The validation data are not part of the model (nor of its pickle).
        net.train_split = None
        # Module and criterion in evaluation mode, as skorch's forward_iter leaves them:
        # predict then changes nothing in the fitted net (check_clip_dict_unchanged).
        net._set_training(False)
        self.net_ = net
        self.device_ = device
        self.validation_split_ = split
        self.n_epochs_ = len(net.history)

    # ----------------------------------------------------------------------- init_from
    def _init_source(self):
        """The fitted network ``init_from`` names, loaded and checked (the one loader).

        ``init_from`` is a fitted estimator (or a ``FrozenEstimator`` of one), the name of a
        network shipped in :mod:`skfer.pretrained` (``"emonets-fer2013"``), or the path of a
        ``joblib`` file of a fitted estimator. :meth:`_check_init_source` (a subclass hook)
        checks that its architecture and input fit this network.
        """
        if self.init_from is None:
            return None
        source = self.init_from
        if isinstance(source, (str, os.PathLike)):
            from . import _pretrained

            if isinstance(source, str) and source in _pretrained.available():
                source = _pretrained.load(source, device="cpu")
            else:
                source = _load_network_file(source, type(self).__name__)
        source = getattr(source, "estimator", source)  # FrozenEstimator(network)
        if not isinstance(source, BaseNeuralClassifier):
            raise TypeError(
                f"init_from must be a fitted {type(self).__name__}, its file or the name of a "
                f"shipped network {sorted(pretrained_names())}, got {type(source).__name__}"
            )
        check_is_fitted(source, "net_")
        self._check_init_source(source)
        return source

    def _check_init_source(self, source) -> None:
        """Raise when a fitted ``init_from`` network cannot start this one (subclass hook)."""
        if source._module_class is not self._module_class:
            raise TypeError(
                f"init_from must be a fitted {type(self).__name__} (or its file), got "
                f"{type(source).__name__}"
            )
        if (source.frame_size_, source.color_) != (self.frame_size_, self.color_):
            raise ValueError(
                f"init_from was fitted on {_describe(source.frame_size_, source.color_)} "
                f"frames, these clips have {_describe(self.frame_size_, self.color_)} frames"
            )

    def _restore(self, *, module_kwargs: dict, state_dict: dict, classes, frame_size, color,
                 device: str = "auto"):
        """Make this estimator a fitted network from stored weights, without training.

        The inverse of reading ``net_.get_params_for("module")`` and
        ``net_.module_.state_dict()`` of a fitted network: :mod:`skfer.pretrained` ships
        networks as these tensors and a JSON card, never as a pickle.
        """
        self.classes_ = np.asarray(classes)
        self.frame_size_ = tuple(int(s) for s in frame_size)
        self.color_ = bool(color)
        device = resolve_device(device)
        net = SkferNet(**self._net_kwargs(module_kwargs, None, device),
                       precision=getattr(self, "precision", "float32"))
        net.initialize()
        net.module_.load_state_dict(
            {k: v.to(net.module_.state_dict()[k].dtype) for k, v in state_dict.items()},
            strict=True,
        )
        self._keep_trained(net, device, Bunch(train=np.arange(0), valid=np.arange(0), by=None))
        self.init_report_ = None
        self.n_missing_frames_skipped_ = 0
        return self

    def _load_weights(self, net, source) -> dict:
        src = source.net_.module_.state_dict()
        dst = net.module_.state_dict()
        same_classes = np.array_equal(
            np.asarray(source.classes_, dtype=object), np.asarray(self.classes_, dtype=object)
        )
        reinitialized = []
        for name, value in dst.items():
            if not same_classes and name.startswith(self._output_layer + "."):
                reinitialized.append(name)
                continue
            if name not in src or src[name].shape != value.shape:
                got = "missing" if name not in src else tuple(src[name].shape)
                raise ValueError(
                    f"init_from: parameter {name!r} is {got} in the source network but "
                    f"{tuple(value.shape)} here; the architectures differ (module__* "
                    "parameters must match)"
                )
            dst[name] = src[name]
        net.module_.load_state_dict(dst)
        what = self.init_from if isinstance(self.init_from, (str, os.PathLike)) else "estimator"
        return {"source": os.fspath(what) if not isinstance(what, str) else what,
                "reinitialized": reinitialized}

    # -------------------------------------------------------------------------- inference
    @property
    def history_(self):
        check_is_fitted(self, "net_")
        return self.net_.history

    def _network_outputs(self, dataset, *, features: bool = False) -> np.ndarray:
        """Softmax probabilities (or ``module.features``) of every item, in order.

        Through :meth:`SkferNet.outputs`, skorch's ``forward_iter``: batches of
        ``iterator_valid__batch_size`` (default ``batch_size``) items.
        """
        return self.net_.outputs(dataset, features=features)

    def predict(self, X) -> np.ndarray:
        """The most probable class of every clip (see :meth:`predict_proba`)."""
        check_is_fitted(self, "net_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @abstractmethod
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, one row per clip."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class BaseFrameClassifier(TransformerMixin, BaseNeuralClassifier):
    """A network that classifies single frames; clips are scored from their frames.

    Subclasses add the parameters ``clip_aggregation`` (``"mean"`` or ``"last"``) and
    ``transform_output`` (``"proba"`` or ``"features"``).

    Frames marked ``"missing"`` in a :class:`~skfer.ClipSet`'s ``status`` companion (no face
    found) are left out of a clip's probabilities and become all-NaN rows in
    :meth:`transform`, which :class:`~skfer.preprocessing.FrameAggregator` skips.
    """

    _input_mode = "frames"

    def _training_clips(self, X, clips: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
        # A frame marked "missing" holds no face (or a filled-in guess): training on it with
        # its clip's label would teach noise. Counted in n_missing_frames_skipped_.
        if not isinstance(X, ClipSet) or X.get("status") is None:
            return clips, 0
        out, skipped, faceless = [], 0, []
        for i, clip in enumerate(clips):
            keep = X.usable_frames(i)
            if keep.all() or not keep.any():
                out.append(clip)
                if not keep.any():
                    faceless.append(i)
                continue
            skipped += int((~keep).sum())
            out.append(clip[keep])
        if faceless:
            warnings.warn(
                f"clips {faceless[:10]}{' ...' if len(faceless) > 10 else ''} have no frame with "
                "a face (status 'missing'); they are trained on all their frames",
                UserWarning,
                stacklevel=3,
            )
        return out, skipped

    def _frame_outputs(self, X, *, features: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per-clip frame outputs and per-clip usable-frame masks."""
        check_is_fitted(self, "net_")
        clips = self._check_X(X, reset=False)
        out = self._network_outputs(self._dataset(clips), features=features)
        bounds = np.cumsum([len(c) for c in clips])[:-1]
        per_clip = np.split(out, bounds)
        usable = [
            X.usable_frames(i) if isinstance(X, ClipSet) else np.ones(len(c), dtype=bool)
            for i, c in enumerate(clips)
        ]
        return per_clip, usable

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of every clip, from its frames' probabilities.

        ``clip_aggregation="mean"`` averages the probabilities of the clip's frames,
        ``"last"`` takes its last frame (the apex of a CK+ sequence). Frames whose
        ``status`` is ``"missing"`` are left out; a clip with no usable frame is scored on
        all its frames (with a ``UserWarning``).

        Parameters
        ----------
        X : list of clips, ClipSet or ndarray

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
        """
        proba, fallback = self._clip_rows(X, features=False)
        if fallback:
            warnings.warn(
                f"clips {fallback[:10]}{' ...' if len(fallback) > 10 else ''} have no frame "
                "with a face (status 'missing'); they were scored on all their frames",
                UserWarning,
                stacklevel=2,
            )
        return proba

    def clip_features(self, X) -> np.ndarray:
        """Penultimate features of every clip, reduced from its frames as :meth:`predict_proba`.

        The frames' features are averaged (``clip_aggregation="mean"``) or the last frame's
        taken (``"last"``), frames whose ``status`` is ``"missing"`` left out and a clip with
        no usable frame read on all its frames. The top layer is linear, so a head on the
        clip's mean features gives the mean of its frames' logits (how
        :class:`~skfer.neural.DTAGN` joins a frame network).

        Parameters
        ----------
        X : list of clips, ClipSet or ndarray

        Returns
        -------
        features : ndarray of shape (n_clips, n_features)
        """
        return self._clip_rows(X, features=True)[0]

    def _clip_rows(self, X, *, features: bool) -> tuple[np.ndarray, list[int]]:
        """One row per clip from its usable frames, and the clips read on all frames."""
        per_clip, usable = self._frame_outputs(X, features=features)
        rows, fallback = [], []
        for i, (out, keep) in enumerate(zip(per_clip, usable)):
            if not keep.any():
                fallback.append(i)
                keep = np.ones(len(out), dtype=bool)
            out = out[keep]
            rows.append(out[-1] if self.clip_aggregation == "last" else out.mean(axis=0))
        return np.stack(rows), fallback

    def transform(self, X):
        """Per-frame class probabilities or penultimate features, one sequence per clip.

        Parameters
        ----------
        X : list of clips, ClipSet or ndarray

        Returns
        -------
        sequences : list of ndarray ``(T_i, F)``, or ClipSet / ndarray like ``X``
            ``F`` is ``n_classes`` (``transform_output="proba"``) or the network's feature
            width (``"features"``). Frames whose ``status`` is ``"missing"`` are NaN rows.
            A ClipSet comes back as a ClipSet of sequences with its companions.
        """
        per_clip, usable = self._frame_outputs(
            X, features=self.transform_output == "features"
        )
        seqs = []
        for out, keep in zip(per_clip, usable):
            if not keep.all():
                out = out.copy()
                out[~keep] = np.nan
            seqs.append(out)
        return same_container(X, seqs)


class BaseClipClassifier(BaseNeuralClassifier):
    """A network that classifies whole clips of a fixed number of frames (DTAN/DTGN-like).

    The module gets batches ``(N, T, C, H, W)``; every clip must have the same ``T`` (use
    :class:`~skfer.preprocessing.TemporalResampler` first). The validation split and
    ``batch_size`` count clips.
    """

    _input_mode = "clips"

    def _check_X(self, X, *, reset: bool) -> list[np.ndarray]:
        clips = super()._check_X(X, reset=reset)
        n = len(clips[0]) if reset else self.n_frames_
        for i, clip in enumerate(clips):
            if len(clip) != n:
                what = "clip 0 has" if reset else "the network was fitted on clips of"
                raise ValueError(
                    f"clip {i} has {len(clip)} frames but {what} {n}; a clip model takes clips "
                    "of one length (use TemporalResampler first)"
                )
        if reset:
            self.n_frames_ = n
        return clips

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, one row per clip.

        Parameters
        ----------
        X : list of clips ``(T, H, W[, 3])`` of the fitted length, ClipSet or ndarray

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
        """
        check_is_fitted(self, "net_")
        return self._network_outputs(self._dataset(self._check_X(X, reset=False)))
