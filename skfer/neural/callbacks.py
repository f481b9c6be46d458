"""skorch callbacks that skorch itself lacks.

Use them through a network's ``callbacks`` parameter, e.g.
``ConvNet(callbacks=[TimeLimit(max_minutes=30)])``. For Optuna pruning use
``optuna_integration.SkorchPruningCallback(trial, "valid_acc")`` the same way.
"""

from __future__ import annotations

import time

from skorch.callbacks import Callback

__all__ = ["TimeLimit"]


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
