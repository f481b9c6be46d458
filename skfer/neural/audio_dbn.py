"""The EmoNets audio model (Kahou et al. 2015, sections 3.2.2-3.2.4) as a scikit-learn classifier.

A multilayer perceptron applied to every audio frame of a clip (ReLU first layer, sigmoid
second), initialised from a deep belief net (:mod:`skfer.neural.rbm`), whose last hidden layer
is pooled over the clip's frames by **top-N pooling** (eq. 1) before a softmax layer, and
fine-tuned with dropout of time steps and hidden units, a max-norm constraint on incoming
weights, an L2 penalty and RMSprop with Nesterov momentum (eq. 2-4, :class:`NesterovRMSprop`).

The input is one ``(T_i, F)`` sequence of audio features per clip, as
:class:`~skfer.features.AudioFeatures` gives them, so ``make_pipeline(AudioFeatures(),
AudioDBNClassifier())`` classifies the sound track of a :class:`~skfer.ClipSet` (its ``audio``
companion), a list of waveforms or of sound files.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback
from torch import nn
from torch.utils.data import Dataset

from ..clipset import ClipSet
from ..preprocessing.temporal import _validate_sequences
from ..utils._sklearn import Interval, StrOptions, _fit_context
from ..utils.validation import check_labels
from . import _base
from ._base import BaseNeuralClassifier, resolve_device, seeded_torch
from .rbm import NOISY_RELU_ALPHA, GaussianBernoulliRBM, GaussianReLURBM

__all__ = [
    "AudioDBNClassifier",
    "AudioDBNModule",
    "MaxNorm",
    "NesterovRMSprop",
    "SequenceDataset",
    "collate_sequences",
    "top_n_pool",
]

#: The paper's top-N pooling weights (N = 2) in training and at test time (section 3.2.3).
TRAIN_WEIGHTS = (1.4, 0.6)
TEST_WEIGHTS = (1.3, 0.7)


# --------------------------------------------------------------------------- optimiser
class NesterovRMSprop(torch.optim.Optimizer):
    """RMSprop with Nesterov momentum exactly as EmoNets' eq. 2-4.

    With gradient ``g_t`` (plus ``weight_decay * theta_t``)::

        RMS_{t+1}   = rho * RMS_t + (1 - rho) * g_t**2                         (2)
        v_{t+1}     = mu * v_t - lr * g_t                                       (3)
        theta_{t+1} = theta_t + (mu * v_{t+1} - lr * g_t) / (sqrt(RMS_{t+1}) + eps)   (4)

    from ``RMS_0 = v_0 = 0``. The velocity accumulates *unscaled* gradients and only the step
    is divided by the running root mean square. None of torch's optimisers computes this:
    ``torch.optim.RMSprop(momentum=mu)`` keeps the momentum of the *scaled* gradients
    (``b = mu * b + g / sqrt(RMS)``, ``theta -= lr * b``) and has no Nesterov form, and
    ``torch.optim.SGD(nesterov=True)`` has no RMS scaling.

    Parameters
    ----------
    params : iterable
        Parameters or parameter groups.
    lr : float, default=5e-4
        ``epsilon_0`` of the paper.
    momentum : float, default=0.46
        ``mu``.
    rho : float, default=0.92
        Decay of the running mean square.
    eps : float, default=1e-8
        Added to ``sqrt(RMS)`` (not in the paper: it guards a parameter whose gradients
        have all been 0).
    weight_decay : float, default=0.0
        L2 penalty: ``weight_decay * theta`` is added to the gradient.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = NesterovRMSprop([w], lr=0.1, momentum=0.5, rho=0.9, eps=0.0)
    >>> (w ** 2).sum().backward(); opt.step()
    >>> round(w.item(), 4)  # 1 + (0.5 * -0.2 - 0.2) / sqrt(0.1 * 4)
    0.5257
    """

    def __init__(self, params, lr: float = 5e-4, momentum: float = 0.46, rho: float = 0.92,
                 eps: float = 1e-8, weight_decay: float = 0.0):
        if lr < 0 or not 0 <= momentum < 1 or not 0 <= rho < 1 or eps < 0 or weight_decay < 0:
            raise ValueError(
                f"NesterovRMSprop needs lr >= 0, 0 <= momentum < 1, 0 <= rho < 1, eps >= 0 and "
                f"weight_decay >= 0; got lr={lr}, momentum={momentum}, rho={rho}, eps={eps}, "
                f"weight_decay={weight_decay}"
            )
        super().__init__(params, {"lr": lr, "momentum": momentum, "rho": rho, "eps": eps,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter with a gradient (eq. 2-4)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu, rho = group["lr"], group["momentum"], group["rho"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["mean_square"] = torch.zeros_like(p)
                    state["velocity"] = torch.zeros_like(p)
                ms, v = state["mean_square"], state["velocity"]
                ms.mul_(rho).addcmul_(g, g, value=1 - rho)  # (2)
                v.mul_(mu).add_(g, alpha=-lr)  # (3)
                step = (mu * v - lr * g) / (ms.sqrt() + group["eps"])
                p.add_(step)  # (4)
        return loss


# ------------------------------------------------------------------------- max-norm
class MaxNorm(Callback):
    """skorch callback: the incoming weights of every hidden unit have L2 norm <= ``max_norm``.

    Applied at the start of training and after every optimiser step (``on_batch_end`` of a
    training batch), by rescaling the rows of the weight matrices of ``module_.hidden``
    whose norm exceeds it (Srebro and Shraibman's max-norm, as EmoNets uses it with dropout).

    Parameters
    ----------
    max_norm : float, default=1.2875
        The paper's bound.
    """

    def __init__(self, max_norm: float = 1.2875):
        self.max_norm = max_norm

    def _apply(self, net) -> None:
        with torch.no_grad():
            for layer in net.module_.hidden:
                layer.weight.copy_(torch.renorm(layer.weight, 2, 0, self.max_norm))

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._apply(net)

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self._apply(net)


# ---------------------------------------------------------------------- top-N pooling
def top_n_pool(
    activations: torch.Tensor, mask: torch.Tensor | None, weights: Sequence[float]
) -> torch.Tensor:
    """EmoNets' top-N temporal pooling (eq. 1): a weighted mean of each feature's N largest.

    ``F_j = (1/N) sum_i w_i f^(i)_j``, ``f^(i)_j`` the ``i``-th largest value of feature
    ``j`` over the clip's time steps, ``N = len(weights)`` (the weights should sum to ``N``;
    they are used as given). A clip with fewer than ``N`` time steps repeats its smallest
    value for the missing ranks, so a one-frame clip pools to that frame (when the weights
    sum to ``N``).

    Parameters
    ----------
    activations : Tensor of shape (batch, T, F)
    mask : bool Tensor of shape (batch, T) or None
        Time steps that count (padding and dropped steps are ``False``); at least one per
        clip. ``None``: all.
    weights : sequence of float
        ``(1.4, 0.6)`` in training and ``(1.3, 0.7)`` at test in the paper.

    Returns
    -------
    Tensor of shape (batch, F)

    Examples
    --------
    >>> a = torch.tensor([[[1.0], [5.0], [3.0]]])
    >>> top_n_pool(a, None, (1.4, 0.6))  # (1.4 * 5 + 0.6 * 3) / 2
    tensor([[4.4000]])
    """
    batch, steps, _ = activations.shape
    n = len(weights)
    if mask is None:
        mask = torch.ones(batch, steps, dtype=torch.bool, device=activations.device)
    filled = activations.masked_fill(~mask[..., None], float("-inf"))
    if steps < n:
        filled = nn.functional.pad(filled, (0, 0, 0, n - steps), value=float("-inf"))
    top = torch.topk(filled, n, dim=1).values  # (batch, n, F), ranks in decreasing order
    count = mask.sum(dim=1)
    if bool((count == 0).any()):
        raise ValueError(f"clips {torch.nonzero(count == 0).flatten().tolist()} have no time step")
    ranks = torch.arange(n, device=activations.device)
    index = torch.minimum(ranks[None], (count - 1)[:, None])  # missing ranks -> smallest
    top = torch.gather(top, 1, index[..., None].expand(-1, -1, top.shape[-1]))
    w = torch.as_tensor(weights, dtype=activations.dtype, device=activations.device)
    return (top * w[None, :, None]).sum(dim=1) / n


# ---------------------------------------------------------------------------- module
class AudioDBNModule(nn.Module):
    """Frame MLP (ReLU, then sigmoid layers), top-N pooling over time, softmax layer.

    Parameters
    ----------
    n_features : int
        Values per audio frame.
    n_classes : int
    hidden_layer_sizes : sequence of int, default=(350, 350)
        Widths of the hidden layers: the first is ReLU, the others sigmoid.
    mean, std : sequence of float or None
        Per-feature standardisation of the input (buffers, saved with the weights).
    time_dropout : float, default=0.4
        Training only: share of each clip's time steps left out of the pooling (at least one
        is kept).
    feature_dropout : float, default=0.121
        Training only: dropout of the hidden units (features) of every frame.
    train_weights, test_weights : sequence of float
        Top-N pooling weights in training and evaluation mode (:func:`top_n_pool`).

    The forward pass takes ``x`` ``(batch, T, n_features)`` and a bool ``mask``
    ``(batch, T)`` of the real (not padded) time steps, and returns class logits.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden_layer_sizes: Sequence[int] = (350, 350),
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        time_dropout: float = 0.4,
        feature_dropout: float = 0.121,
        train_weights: Sequence[float] = TRAIN_WEIGHTS,
        test_weights: Sequence[float] = TEST_WEIGHTS,
    ):
        super().__init__()
        mean = torch.zeros(n_features) if mean is None else torch.as_tensor(mean)
        std = torch.ones(n_features) if std is None else torch.as_tensor(std)
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())
        sizes = [int(n_features), *(int(s) for s in hidden_layer_sizes)]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.dropout = nn.Dropout(feature_dropout)
        self.classifier = nn.Linear(sizes[-1], int(n_classes))
        self.time_dropout = float(time_dropout)
        self.train_weights = tuple(float(w) for w in train_weights)
        self.test_weights = tuple(float(w) for w in test_weights)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's activations of every frame, ``(..., hidden[-1])``."""
        h = (x - self.mean) / self.std
        for i, layer in enumerate(self.hidden):
            h = layer(h)
            h = torch.relu(h) if i == 0 else torch.sigmoid(h)
            h = self.dropout(h)
        return h

    def features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The pooled clip representation that enters the softmax layer."""
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if self.training and self.time_dropout > 0:
            kept = mask & (torch.rand(mask.shape, device=x.device) >= self.time_dropout)
            empty = ~kept.any(dim=1)
            mask = torch.where(empty[:, None], mask, kept)  # never drop a whole clip
        weights = self.train_weights if self.training else self.test_weights
        return top_n_pool(self.frame_features(x), mask, weights)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(self.features(x, mask))


# ---------------------------------------------------------------------------- dataset
class SequenceDataset(Dataset):
    """A torch dataset of ragged ``(T_i, F)`` sequences (one item per clip), with labels.

    Batches are padded by :func:`collate_sequences` (give it to the ``DataLoader``).

    Parameters
    ----------
    sequences : list of ndarray (T_i, F)
    y : array-like of int or None
        One encoded label per sequence; ``None`` for inference (items get label -1).
    """

    def __init__(self, sequences: Sequence[np.ndarray], y=None):
        self.X = [np.ascontiguousarray(s, dtype=np.float32) for s in sequences]
        self.y = None if y is None else np.asarray(y, dtype=np.int64)
        if self.y is not None and len(self.y) != len(self.X):
            raise ValueError(f"{len(self.y)} labels for {len(self.X)} sequences")

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int):
        return torch.from_numpy(self.X[i]), (self.y[i] if self.y is not None else np.int64(-1))


def collate_sequences(batch) -> tuple[dict, torch.Tensor]:
    """Pad a batch of ``(sequence, label)`` items: ``({"x", "mask"}, y)``.

    skorch passes the dict's entries to the module's ``forward`` as keyword arguments.
    """
    seqs, labels = zip(*batch)
    x = nn.utils.rnn.pad_sequence(list(seqs), batch_first=True)
    lengths = torch.tensor([len(s) for s in seqs])
    mask = torch.arange(x.shape[1])[None] < lengths[:, None]
    return {"x": x, "mask": mask}, torch.as_tensor(np.asarray(labels, dtype=np.int64))


# -------------------------------------------------------------------------- estimator
def _per_layer(value, n_layers: int, name: str) -> list[float]:
    values = [float(value)] * n_layers if isinstance(value, numbers.Real) else list(value)
    if len(values) < n_layers:
        raise ValueError(
            f"{name} has {len(values)} values for {n_layers} hidden layers "
            "(hidden_layer_sizes); give one per layer (or one float for all)"
        )
    return values[:n_layers]


class AudioDBNClassifier(BaseNeuralClassifier):
    """EmoNets' audio model: a DBN-initialised frame MLP with top-N pooling over time.

    ``fit`` standardises the training frames (per feature), pre-trains a deep belief net on
    them (unless ``pretrain=False``): a :class:`~skfer.neural.rbm.GaussianReLURBM` (bounded
    noisy ReLU hidden units) then :class:`~skfer.neural.rbm.GaussianBernoulliRBM`\\ s, each on
    the standardised hidden activations of the one below; initialises the MLP with their
    weights (ReLU first layer, sigmoid above) and fine-tunes it with a softmax layer on the
    top-N pooled last hidden layer (:func:`top_n_pool`), with skorch.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(350, 350)
        Hidden units per layer (the paper's 350; its MLP has two hidden layers).
    pretrain : bool, default=True
        Initialise the hidden layers from the DBN; ``False`` keeps PyTorch's default random
        initialisation (the "no pre-training" baseline).
    pretrain_learning_rate : float or sequence of float, default=(6e-4, 5e-4, 1e-3)
        Learning rate of each layer's RBM (the paper's three rates; the first
        ``len(hidden_layer_sizes)`` are used).
    pretrain_l2 : float or sequence of float, default=(2e-3, 2e-4, 2e-4)
        L2 penalty of each RBM (the paper gives 2e-3 and 2e-4 for the first two layers; the
        third repeats the second's).
    pretrain_epochs : int, default=15
        Epochs of each RBM (the paper's 15).
    pretrain_batch_size : int, default=32
        Frames per RBM update (not in the paper; the RBMs' default).
    pretrain_method : {"cd1", "sml"}, default="cd1"
    pretrain_max_frames : int or None, default=None
        Pre-train on at most this many training frames, drawn at random (a speed knob: the
        RBMs' cost grows with the frames; ``None`` uses them all).
    alpha : float, default=6.0
        Bound of the first RBM's noisy ReLU units.
    top_n_weights : tuple of float, default=(1.4, 0.6)
        Top-N pooling weights in training (N = their number, the paper's 2).
    top_n_test_weights : tuple of float, default=(1.3, 0.7)
        Pooling weights at prediction time (same N).
    time_dropout : float, default=0.4
        Share of a clip's time steps dropped at each training pass (the paper's "40% of the
        features in the clip").
    feature_dropout : float, default=0.121
        Dropout of the hidden units (the paper's "0.121 % of the hidden units", read as the
        fraction 0.121).
    max_norm : float or None, default=1.2875
        Bound on the L2 norm of each hidden unit's incoming weights, enforced after every
        update (:class:`MaxNorm`); ``None``: no bound.
    rho : float, default=0.92
        Decay of :class:`NesterovRMSprop`'s running mean square (passed when the optimiser
        takes ``rho``).
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the fine-tuning's forward passes under ``torch.autocast``
        (matrix products in bfloat16; weights, optimiser state and loss in float32), faster
        on CPUs with bfloat16 instructions (AVX-512 BF16, AMX); predictions are computed in
        float64 either way. The RBMs train in float32.
    classes : array-like or None, default=None
    lr : float, default=5e-4
        The paper's ``epsilon_0``.
    max_epochs : int, default=100
    batch_size : int, default=16
        Clips per update.
    optimizer : torch optimiser class or {"sgd", "adam", "adamw"}, default=NesterovRMSprop
    momentum : float, default=0.46
        The paper's ``mu``.
    weight_decay : float, default=1e-5
        The paper's L2 penalty of the fine-tuning (biases have none).
    patience : int or None, default=None
    monitor : str, default="valid_loss"
    validation_fraction : float or None, default=0.1
    callbacks : list or None, default=None
    device : str, default="auto"
    init_from : str, path, fitted AudioDBNClassifier or None, default=None
        Start from a fitted model's weights (pre-training is then skipped).
    random_state : int, RandomState instance or None, default=None
        Seeds the RBMs' torch generators, the validation split and the fine-tuning.
    verbose : int, default=0
    **kwargs
        Nested parameters (``optimizer__eps``, ``iterator_train__num_workers``,
        ``callbacks__*`` ...), see :class:`~skfer.neural._base.BaseNeuralClassifier`.

    Attributes
    ----------
    classes_, net_, device_, validation_split_, n_epochs_, init_report_, history_
        See :class:`~skfer.neural._base.BaseNeuralClassifier`.
    n_features_in_ : int
        Values per audio frame.
    rbms_ : list of fitted RBMs
        The DBN's layers (empty without pre-training); ``rbms_[i].reconstruction_errors_``
        shows each layer's CD-1 progress.
    pretrain_time_ : float
        Seconds spent pre-training.

    Notes
    -----
    Input: a list of ``(T_i, F)`` feature sequences (``AudioFeatures()`` output, or a
    ClipSet of them); a 2-D array ``(n, F)`` is read as ``n`` one-frame sequences. NaN or
    infinite features raise a ``ValueError`` naming the sequence and frame; a ClipSet of
    video frames (pixels) raises, telling to put ``AudioFeatures()`` first (which itself
    refuses clips without a sound track, tracks shorter than one analysis window, and
    resamples tracks recorded at other rates).

    Where skfer departs from, or fills in, the paper:

    * Features are standardised per feature (the paper only centres them, after its online
      PCA); the hidden activations feeding each upper RBM are centred (not scaled: their
      standard deviations are about 0.1, and folding a 10x scale into the weights would put
      them far past the max-norm bound), and the shifts are folded into the MLP's biases, so
      the initial MLP computes exactly the DBN's mean-field activations (with plain ReLU,
      unbounded, in the first layer as the paper's MLP).
    * The paper's third RBM and third learning rate (1e-3) are used with three hidden
      layers; its MLP has two, the default.
    * The paper's per-iteration dropping of 98 training clips, the shuffling of frames
      inside a clip (irrelevant to a frame MLP with order-free pooling) and the learning
      rate decay by 0.99 are left out; early stopping is ``patience``.
    * Max-norm applies to the hidden layers, not the softmax layer ("incoming weights to
      a hidden unit").

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = [rng.normal(size=(20, 6)) + (i % 2) for i in range(20)]
    >>> y = ["a", "b"] * 10
    >>> clf = AudioDBNClassifier(hidden_layer_sizes=(16, 16), pretrain_epochs=2,
    ...                          max_epochs=3, validation_fraction=None, random_state=0)
    >>> clf.fit(X, y).predict_proba(X).shape
    (20, 2)
    """

    _module_class = AudioDBNModule
    _input_mode = "sequences"

    _parameter_constraints: dict = {
        **BaseNeuralClassifier._parameter_constraints,
        "hidden_layer_sizes": [tuple, list],
        "pretrain": ["boolean"],
        "pretrain_learning_rate": [Interval(numbers.Real, 0, None, closed="neither"), tuple,
                                   list],
        "pretrain_l2": [Interval(numbers.Real, 0, None, closed="left"), tuple, list],
        "pretrain_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "pretrain_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "pretrain_method": [StrOptions({"cd1", "sml"})],
        "pretrain_max_frames": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "top_n_weights": [tuple, list],
        "top_n_test_weights": [tuple, list],
        "time_dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "feature_dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "max_norm": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "rho": [Interval(numbers.Real, 0, 1, closed="left")],
        "precision": [StrOptions({"float32", "bfloat16"})],
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes=(350, 350),
        pretrain: bool = True,
        pretrain_learning_rate=(6e-4, 5e-4, 1e-3),
        pretrain_l2=(2e-3, 2e-4, 2e-4),
        pretrain_epochs: int = 15,
        pretrain_batch_size: int = 32,
        pretrain_method: str = "cd1",
        pretrain_max_frames: int | None = None,
        alpha: float = NOISY_RELU_ALPHA,
        top_n_weights=TRAIN_WEIGHTS,
        top_n_test_weights=TEST_WEIGHTS,
        time_dropout: float = 0.4,
        feature_dropout: float = 0.121,
        max_norm: float | None = 1.2875,
        rho: float = 0.92,
        precision: str = "float32",
        classes=None,
        lr: float = 5e-4,
        max_epochs: int = 100,
        batch_size: int = 16,
        optimizer=NesterovRMSprop,
        momentum: float = 0.46,
        weight_decay: float = 1e-5,
        patience: int | None = None,
        monitor: str = "valid_loss",
        validation_fraction: float | None = 0.1,
        callbacks: list | None = None,
        device: str = "auto",
        init_from=None,
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.pretrain = pretrain
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_l2 = pretrain_l2
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_method = pretrain_method
        self.pretrain_max_frames = pretrain_max_frames
        self.alpha = alpha
        self.top_n_weights = top_n_weights
        self.top_n_test_weights = top_n_test_weights
        self.time_dropout = time_dropout
        self.feature_dropout = feature_dropout
        self.max_norm = max_norm
        self.rho = rho
        self.precision = precision
        super().__init__(
            classes=classes, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
            optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
            patience=patience, monitor=monitor, validation_fraction=validation_fraction,
            callbacks=callbacks,
            device=device, init_from=init_from, random_state=random_state, verbose=verbose,
            **kwargs,
        )

    # ----------------------------------------------------------------------- checks
    def _check_param_relations(self) -> None:
        sizes = list(self.hidden_layer_sizes)
        if not sizes or any(isinstance(s, bool) or not isinstance(s, numbers.Integral)
                            or s < 1 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be a non-empty sequence of positive ints, got "
                f"{self.hidden_layer_sizes!r}"
            )
        _per_layer(self.pretrain_learning_rate, len(sizes), "pretrain_learning_rate")
        _per_layer(self.pretrain_l2, len(sizes), "pretrain_l2")
        train, test = list(self.top_n_weights), list(self.top_n_test_weights)
        if not train or len(train) != len(test):
            raise ValueError(
                f"top_n_weights {tuple(train)} and top_n_test_weights {tuple(test)} must hold "
                "the same number N >= 1 of weights (N is the number of pooled time steps)"
            )
        if any(not isinstance(w, numbers.Real) or w < 0 for w in train + test):
            raise ValueError(
                f"top-N weights must be non-negative numbers, got {tuple(train)} and "
                f"{tuple(test)}"
            )

    def _module_kwargs(self) -> dict:
        return {
            "hidden_layer_sizes": tuple(int(s) for s in self.hidden_layer_sizes),
            "time_dropout": self.time_dropout,
            "feature_dropout": self.feature_dropout,
            "train_weights": tuple(self.top_n_weights),
            "test_weights": tuple(self.top_n_test_weights),
        }

    def _check_X(self, X, *, reset: bool) -> list[np.ndarray]:
        """Validated feature sequences, all of the fitted width."""
        if isinstance(X, ClipSet) and len(X) and np.ndim(X[0]) > 2:
            raise ValueError(
                "X is a ClipSet of video frames; the audio model takes audio feature "
                "sequences: put AudioFeatures() before it (it reads the 'audio' companion)"
            )
        # Lists of sequences, or tabular input (one-frame sequences) through validate_data.
        return _validate_sequences(self, X, reset=reset)

    def _dataset(self, seqs, y=None) -> SequenceDataset:
        return SequenceDataset(seqs, y)

    def _check_init_source(self, source) -> None:
        # The base compares frame sizes; a sequence model compares feature widths.
        if not isinstance(source, AudioDBNClassifier):
            raise TypeError(
                f"init_from must be a fitted AudioDBNClassifier (or its file), got "
                f"{type(source).__name__}"
            )
        if source.n_features_in_ != self.n_features_in_:
            raise ValueError(
                f"init_from was fitted on {source.n_features_in_} features per frame, these "
                f"sequences have {self.n_features_in_}"
            )

    # --------------------------------------------------------------------- training
    def _callbacks(self) -> list:
        out = super()._callbacks()
        if self.max_norm is not None:
            out.insert(0, ("max_norm", MaxNorm(self.max_norm)))
        return out

    def _net_kwargs(self, module_kwargs: dict, valid_ds, device: str) -> dict:
        kwargs = super()._net_kwargs(module_kwargs, valid_ds, device)
        import inspect

        optimizer = kwargs["optimizer"]
        if isinstance(optimizer, type) and "rho" in inspect.signature(optimizer).parameters:
            kwargs.setdefault("optimizer__rho", self.rho)
        kwargs.setdefault("iterator_train__collate_fn", collate_sequences)
        kwargs.setdefault("iterator_valid__collate_fn", collate_sequences)
        return kwargs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None, *, X_valid=None, y_valid=None):
        """Pre-train the DBN on the training frames, then fine-tune the MLP on the clips.

        Parameters
        ----------
        X : list of ndarray (T_i, F), ClipSet of them, or ndarray
            Audio feature sequences (``AudioFeatures()`` output).
        y : array-like of shape (n_clips,)
        groups : array-like of shape (n_clips,), default=None
            Speaker of each clip: the internal validation split keeps each on one side.
        X_valid, y_valid : sequences and labels, default=None
            A predefined validation set used instead of the internal split.

        Returns
        -------
        self
        """
        self._check_nested()
        self._check_param_relations()
        if (X_valid is None) != (y_valid is None):
            raise ValueError("give both X_valid and y_valid, or neither")
        seqs = self._check_X(X, reset=True)
        if y is not None and self.classes is None and len(np.unique(check_labels(y))) < 2:
            # Worded as scikit-learn's checks expect ("1 class"); the base's message is not.
            raise ValueError(f"y has 1 class ({np.unique(np.asarray(y)).tolist()}); "
                             "a classifier needs at least 2")
        self._set_classes(y)
        y_enc = self._encode(y, len(seqs))
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        if X_valid is not None:
            valid_seqs = self._check_X(X_valid, reset=False)
            valid_y = self._encode(y_valid, len(valid_seqs), "y_valid")
            split = Bunch(train=np.arange(len(seqs)), valid=np.arange(0), by="predefined")
        else:
            split = self._validation_split(y_enc, groups, rng)
            valid_seqs = [seqs[i] for i in split.valid]
            valid_y = y_enc[split.valid]
        if self.patience is not None and not valid_seqs:
            raise ValueError(
                f"patience={self.patience} (early stopping) needs validation data: set "
                "validation_fraction or pass X_valid/y_valid"
            )
        train_seqs = [seqs[i] for i in split.train]
        frames = np.concatenate(train_seqs).astype(np.float64)
        mean = frames.mean(axis=0)
        std = frames.std(axis=0)
        std[std < 1e-8] = 1.0  # a constant feature: centred, not scaled
        module_kwargs = {
            **self._module_kwargs(),
            "n_features": self.n_features_in_,
            "n_classes": len(self.classes_),
            "mean": mean.tolist(),
            "std": std.tolist(),
        }
        source = self._init_source()
        train_ds = self._dataset(train_seqs, y_enc[split.train])
        valid_ds = self._dataset(valid_seqs, valid_y) if valid_seqs else None
        with seeded_torch(device, seed):
            # Inference in float64: float32 matrix products over padded batches of other
            # shapes round differently (1e-7), so a clip's probabilities would depend on
            # which clips share its batch.
            net = _base.SkferNet(**self._net_kwargs(module_kwargs, valid_ds, device),
                                 inference_dtype=torch.float64, precision=self.precision)
            net.initialize()
            self.init_report_ = None if source is None else self._load_weights(net, source)
            start = time.perf_counter()
            self.rbms_ = []
            if self.pretrain and source is None:
                self.rbms_ = self._pretrain(net, (frames - mean) / std, seed)
            self.pretrain_time_ = time.perf_counter() - start
            net.partial_fit(train_ds, None)
        self._keep_trained(net, device, split)
        return self

    def _pretrain(self, net, frames: np.ndarray, seed: int) -> list:
        """Greedy layer-wise RBM training; copies the weights into ``net.module_.hidden``."""
        sizes = [int(s) for s in self.hidden_layer_sizes]
        rates = _per_layer(self.pretrain_learning_rate, len(sizes), "pretrain_learning_rate")
        l2s = _per_layer(self.pretrain_l2, len(sizes), "pretrain_l2")
        rng = np.random.RandomState(seed)
        if self.pretrain_max_frames is not None and len(frames) > self.pretrain_max_frames:
            frames = frames[np.sort(rng.choice(len(frames), self.pretrain_max_frames,
                                               replace=False))]
        common = {"n_epochs": self.pretrain_epochs, "batch_size": self.pretrain_batch_size,
                  "method": self.pretrain_method, "verbose": self.verbose}
        rbms, inputs, shift = [], frames, np.zeros(frames.shape[1])
        for i, (size, lr, l2) in enumerate(zip(sizes, rates, l2s)):
            cls = GaussianReLURBM if i == 0 else GaussianBernoulliRBM
            extra = {"alpha": self.alpha} if i == 0 else {}
            rbm = cls(n_components=size, learning_rate=lr, l2=l2, random_state=rng, **common,
                      **extra).fit(inputs - shift)
            # The RBM sees h - shift, the MLP layer sees h: the shift goes into the bias.
            weight = rbm.components_
            bias = rbm.intercept_hidden_ - weight @ shift
            layer = net.module_.hidden[i]
            with torch.no_grad():
                layer.weight.copy_(torch.as_tensor(weight, dtype=layer.weight.dtype))
                layer.bias.copy_(torch.as_tensor(bias, dtype=layer.bias.dtype))
            rbms.append(rbm)
            if i + 1 < len(sizes):
                # Centred, not scaled: the hidden activations have standard deviations of
                # about 0.1, and a scale folded into the MLP's weights would multiply their
                # norms by 10, past the max-norm bound, which would then crush them.
                inputs = rbm.transform(inputs - shift)
                shift = inputs.mean(axis=0)
        return rbms

    # -------------------------------------------------------------------- inference
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of every clip, from its top-N pooled frames.

        Parameters
        ----------
        X : list of ndarray (T_i, F), ClipSet of them, or ndarray

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
        """
        check_is_fitted(self, "net_")
        return self._network_outputs(self._dataset(self._check_X(X, reset=False)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Sequences: a 2-D (n, F) array is n one-frame sequences (docs/data_model.md).
        tags.input_tags.two_d_array = True
        tags.input_tags.three_d_array = True
        return tags
