"""skorch callbacks that skorch itself lacks, and the one divergence check of skfer.

Use them through a network's ``callbacks`` parameter, e.g.
``ConvNet(callbacks=[TimeLimit(max_minutes=30)])``. For Optuna pruning use
``optuna_integration.SkorchPruningCallback(trial, "valid_acc")`` the same way.
:class:`DivergenceCheck` is added first to every skfer network's callbacks;
:func:`check_divergence` is the same rule for the few hand-written training stages.
"""

from __future__ import annotations

import numbers
import time

import numpy as np
import torch
from skorch.callbacks import Callback

__all__ = [
    "DIVERGENCE_GROWTH", "DivergenceCheck", "TimeLimit", "TrainingDivergedError",
    "check_divergence",
]


class TimeLimit(Callback):
    """Stop training at the end of the epoch in which ``max_minutes`` of wall time ran out.

    Training ends as skorch's ``EarlyStopping`` ends it (the last epoch completes, callbacks'
    ``on_train_end`` run, so ``EarlyStopping(load_best=True)``, i.e. a network's
    ``patience``, still restores the best epoch's weights). The history's last row records
    ``time_limit_reached``.

    Parameters
    ----------
    max_minutes : float
        Wall-clock budget of one ``fit``, counted from the start of training.
    """

    def __init__(self, max_minutes: float):
        self.max_minutes = max_minutes

    def initialize(self):
        self.start_ = None
        self.reached_ = False
        return self

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.monotonic()
        self.reached_ = False

    def on_epoch_end(self, net, **kwargs):
        self.reached_ = time.monotonic() - self.start_ >= 60.0 * self.max_minutes
        net.history.record("time_limit_reached", self.reached_)

    def on_epoch_begin(self, net, **kwargs):
        # Stop before the next epoch rather than inside on_epoch_end, so that the last
        # epoch's row of the epoch table (PrintLog runs last) is still printed.
        if self.reached_:
            if net.verbose:
                print(f"Stopping: the time limit of {self.max_minutes} minutes is reached.")
            net.history.pop()  # the row skorch opened for the epoch that will not run
            # skorch's fit loop ends training on KeyboardInterrupt (as EarlyStopping does).
            raise KeyboardInterrupt


class TrainingDivergedError(ValueError):
    """A network's training loss or weights blew up (:func:`check_divergence`)."""


#: The training loss may not grow above this many times its first value (at least 1).
DIVERGENCE_GROWTH = 1e4


def check_divergence(
    loss, *, owner: str, epoch: int, first=None, rate_name: str = "lr", rate=None,
    module: torch.nn.Module | None = None, stage: str = "",
) -> None:
    """Raise :class:`TrainingDivergedError` when training has diverged; the one check of skfer.

    A too large learning rate makes the loss, then the weights, huge or NaN; the network
    then gives probability 1 to one class for every input (saturated softmax, or the argmax
    of NaN), with no error of its own. Training has diverged when the loss is NaN or
    infinite, when it grew above :data:`DIVERGENCE_GROWTH` times its first value (taken as
    at least 1: an untrained classifier's cross-entropy is ``log(n_classes)``; no working
    training multiplies it by 10,000), or when a weight is NaN or infinite. Every training
    loop of skfer calls this: skorch nets through :class:`DivergenceCheck` (every batch;
    FaceNet2ExpNet's stage 1 and DTAGN's joint fine-tuning are skorch nets too), the two
    hand-written loops (video-autoencoder pretraining, the synchrony autoencoder) through
    ``skfer.neural._training.train_epochs`` at the end of each epoch.

    Parameters
    ----------
    loss : float or None
        The training loss (``None``: only the weights are checked).
    owner : str
        Estimator (and part) named in the message.
    epoch : int
        1-based epoch, named in the message.
    first : float or None
        The first loss of this training, the reference of the growth rule.
    rate_name, rate : str, float
        The learning-rate parameter to lower, and its value.
    module : torch.nn.Module or None
        Its parameters must all be finite too (a last step can break them after a finite
        loss).
    stage : str
        Appended to the epoch in the message (``" of pretraining stage 2"``).

    Examples
    --------
    >>> check_divergence(0.7, owner="ConvNet", epoch=1, first=1.9)
    >>> check_divergence(4e20, owner="ConvNet", epoch=2, first=0.7, rate=1e3)
    Traceback (most recent call last):
    ...
    skfer.neural.callbacks.TrainingDivergedError: ConvNet diverged at epoch 2: the training loss ...
    """
    what = None
    if loss is not None and not np.isfinite(loss):
        what = f"the training loss is {float(loss)}"
    elif loss is not None and first is not None and (
        loss > DIVERGENCE_GROWTH * max(float(first), 1.0)
    ):
        what = f"the training loss grew from {float(first):.4g} to {float(loss):.4g}"
    elif module is not None:
        bad = next((n for n, p in module.named_parameters()
                    if not bool(torch.isfinite(p.detach()).all())), None)
        if bad is not None:
            what = f"parameter {bad!r} holds NaN or infinite values"
    if what is None:
        return
    now = f" (now {rate:g})" if isinstance(rate, numbers.Real) else ""
    raise TrainingDivergedError(
        f"{owner} diverged at epoch {epoch}{stage}: {what}; it would predict one class for "
        f"everything. Lower {rate_name}{now}, or standardise the inputs"
    )


class DivergenceCheck(Callback):
    """skorch callback: :func:`check_divergence` on every training batch and each epoch's weights.

    Every skfer network adds it first among its callbacks (named ``"divergence_check"``), so
    it runs before ``EarlyStopping`` (which would otherwise restore a "best" diverged epoch).

    Parameters
    ----------
    owner : str, default="the network"
        Estimator named in the message.
    rate_name : str, default="lr"
        The parameter setting the net's ``lr``, named in the message: a training stage
        with its own rate says which to lower (``"stage1_lr"``, ``"finetune_lr"``).
    """

    def __init__(self, owner: str = "the network", rate_name: str = "lr"):
        self.owner = owner
        self.rate_name = rate_name

    def on_train_begin(self, net, **kwargs):
        self.first_ = None

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if not training or loss is None:
            return
        value = float(loss.detach())
        if self.first_ is None:
            self.first_ = value
        check_divergence(value, owner=self.owner, epoch=len(net.history), first=self.first_,
                         rate_name=self.rate_name, rate=getattr(net, "lr", None))

    def on_epoch_end(self, net, **kwargs):
        check_divergence(None, owner=self.owner, epoch=len(net.history),
                         rate_name=self.rate_name, rate=getattr(net, "lr", None),
                         module=net.module_)
