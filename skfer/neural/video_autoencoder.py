"""The semi-supervised spatio-temporal autoencoder (paper ``000_456b233df5d24fca``, 3.1-3.3).

:class:`SemiSupervisedVideoAutoencoder` trains a 3-D convolutional autoencoder and a
predictor on its bottleneck together, on labelled and unlabelled clips (label ``-1``, the
convention of :mod:`sklearn.semi_supervised`), with eq. 1's loss ``β CE + α ||x − x̂||²``;
optionally behind the illumination-invariant sub-network (section 3.3) or input LRN
(Table 5's comparison). The torch modules are in
:mod:`skfer.neural.modules_video_autoencoder` and :mod:`skfer.neural.illumination_net`.
"""

from __future__ import annotations

import contextlib
import numbers
import time

import numpy as np
import torch
from sklearn.utils import Bunch, check_random_state, column_or_1d
from sklearn.utils.validation import check_is_fitted
from skorch.utils import to_tensor
from torch.utils.data import DataLoader

from ..clipset import ClipSet
from ..preprocessing.temporal import TemporalResampler
from ..utils._sklearn import Interval, StrOptions, _fit_context
from ..utils.frame_policy import policy_constraint
from ..utils.validation import check_labels
from . import _base
from ._base import BaseNeuralClassifier, resolve_device, seeded_torch
from ._optim import build_optimizer
from ._training import train_epochs
from .dtagn import _FixedLengthMixin
from .modules_video_autoencoder import (
    VIDEO_AUTOENCODER_PRESETS,
    VideoAutoencoderNet,
    semi_supervised_loss,
)

__all__ = ["SemiSupervisedVideoAutoencoder", "unlabelled_mask"]

#: Clips used to measure the initial loss terms (``beta="auto"``) and to calibrate the
#: front end's output scale.
_CALIBRATION_CLIPS = 256


def unlabelled_mask(y) -> np.ndarray:
    """``True`` where ``y`` holds ``-1`` (int, float or the string ``"-1"``): unlabelled.

    Examples
    --------
    >>> unlabelled_mask(["anger", -1, "-1", "fear"])
    array([False,  True,  True, False])
    """
    values = column_or_1d(np.asarray(y, dtype=object), warn=True).tolist()
    return np.array([isinstance(v, (numbers.Number, str)) and str(v) in ("-1", "-1.0")
                     for v in values], dtype=bool)


class _SemiSupervisedNet(_base.SkferNet):
    """skfer's skorch net whose loss is eq. 1, with ``α`` decayed every epoch.

    ``module_.forward_all`` gives ``(logits, reconstruction, target)``; the batch means of
    the two terms are recorded per batch (``ce``, ``rec`` in training, ``valid_ce``,
    ``valid_rec`` in validation) and ``alpha`` per epoch. (Module level, not built in
    ``fit``: a fitted estimator must pickle.)
    """

    def __init__(self, *args, loss_alpha=1.0, loss_beta=1.0, alpha_decay=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_alpha = loss_alpha
        self.loss_beta = loss_beta
        self.alpha_decay = alpha_decay

    def current_alpha(self) -> float:
        epoch = max(len(self.history) - 1, 0)
        return float(self.loss_alpha * self.alpha_decay**epoch)

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        self.history.record("alpha", self.current_alpha())

    def infer(self, x, **fit_params):
        if "_method" in self.__dict__:  # inference through SkferNet.iter_outputs
            return super().infer(x, **fit_params)
        # Training and validation: the loss needs logits, reconstruction and target.
        return self.module_.forward_all(to_tensor(x, device=self.device), **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        logits, recon, target = y_pred
        y = to_tensor(y_true, device=self.device).long()
        total, ce, rec = semi_supervised_loss(
            logits, y, recon, target, alpha=self.current_alpha(), beta=self.loss_beta
        )
        prefix = "" if training else "valid_"
        self.history.record_batch(prefix + "ce", float(ce.detach()))
        self.history.record_batch(prefix + "rec", float(rec.detach()))
        return total


class SemiSupervisedVideoAutoencoder(_FixedLengthMixin, BaseNeuralClassifier):
    """Spatio-temporal autoencoder + predictor trained on labelled and unlabelled clips.

    Every clip is brought to ``n_frames`` frames (linear interpolation in time,
    :class:`~skfer.preprocessing.TemporalResampler`) and goes through
    :class:`~skfer.neural.modules_video_autoencoder.VideoAutoencoderNet`: 3-D convolutions
    that fuse time slowly (9 -> 4 -> 2 -> 1 frames), a fully connected bottleneck, a
    transposed-convolution decoder, and a predictor head on the bottleneck. Training
    minimises eq. 1,

        ``L = β · CE(labelled clips) + α_e · ||x − x̂||²``,

    on all clips: a clip labelled ``-1`` (as in :mod:`sklearn.semi_supervised`) enters only
    the reconstruction term, and the classes are those of the labelled clips.

    Parameters
    ----------
    n_frames : int, default=9
        Frames per clip after resampling (the paper's 9, every third frame of 25).
    preset : {"small", "paper"}, default="small"
        Architecture (:data:`~skfer.neural.modules_video_autoencoder.VIDEO_AUTOENCODER_PRESETS`):
        ``"paper"`` is section 3.1-3.2's (``C(96,11,3)-N-C(256,5,2)-N-C(384,3,2)-N-FC4096-
        FC4096``, predictor ``FC8192-4096-1000-500``, for 145x145 frames; 266 M weights,
        not for a CPU); ``"small"`` the same temporal fusion with 16/32/32 filters and a
        128-wide bottleneck for 48x48 or 64x64 faces. ``module__conv``, ``module__fc``,
        ``module__predictor``, ``module__lrn`` override it.
    front_end : {"none", "invariant", "lrn"}, default="none"
        ``"invariant"``: the illumination-invariant sub-network (section 3.3,
        ``H = τx / (1 + η|F|)``, ``F`` initialised by Algorithm 1 and fine-tuned);
        ``"lrn"``: local response normalisation across frames at the input (Table 5).
    window : int, default=3
        Moving-average window initialising the sub-network's temporal convolution.
    tau, eta : float, default=1.0, 10.0
        Eq. 3's global factor and proportion (``β = 1/τ``, ``α = η/τ`` of eq. 2). The
        paper's grid (Table 1) spans τ 0.5-5, η 0.1-10.
    alpha : float, default=1.0
        Weight of the reconstruction term at the first epoch; 0 trains the predictor alone.
    alpha_decay : float in (0, 1], default=0.9
        ``α_e = alpha · alpha_decay ** e`` at epoch ``e``: the paper decreases ``α``
        gradually "to prevent overfitting of autoencoder" without a schedule; skfer's is
        exponential per epoch (1 keeps it constant).
    beta : "auto" or float, default="auto"
        Weight of the cross-entropy. ``"auto"``: chosen when training starts (after
        pretraining) so that ``β · CE = ce_ratio · α · rec`` on the training clips, CE and
        rec measured by the initialised network (see Notes).
    ce_ratio : float, default=10.0
        "An order of magnitude": the ratio of the two terms at the start (``beta="auto"``).
    pretrain_epochs : int, default=0
        Greedy layer-wise pretraining of the autoencoder on all clips (labelled or not)
        before the joint training: ``pretrain_epochs`` epochs per stage, outer layers first
        (see Notes). 0: none.
    dropout : float, default=0.0
        Dropout in the predictor head.
    on_short : {"raise", "warn", "ignore"}, default="warn"
        A clip with fewer than ``n_frames`` frames: ``"raise"`` a ``ValueError`` naming it;
        ``"warn"``/``"ignore"`` interpolate it in time (with or without a warning).
    classes : array-like or None, default=None
        Must not hold ``-1``.
    lr : float, default=0.001
    max_epochs : int, default=20
    batch_size : int, default=32
    optimizer : {"sgd", "adam", "adamw"} or torch optimizer class, default="adam"
        Adam by default: with ``beta="auto"`` the loss scale depends on the data, which
        Adam's step size does not.
    momentum, weight_decay, patience, monitor, callbacks, device, init_from, random_state,
    verbose
        See :class:`~skfer.neural.BaseNeuralClassifier`.
    validation_fraction : float or None, default=None
        Share of the *labelled* clips held out every epoch (grouped by subject with
        ``groups``); unlabelled clips always train.
    **kwargs
        Nested parameters (``module__*``, ``optimizer__*``, ``callbacks__*``, ...).

    Attributes
    ----------
    classes_, net_, device_, frame_size_, color_, validation_split_, n_epochs_,
    init_report_, history_
        See :class:`~skfer.neural.BaseNeuralClassifier`. ``history_`` also has per batch
        ``ce`` and ``rec`` (the two terms' batch means) and per epoch ``alpha``.
    n_labelled_, n_unlabelled_ : int
        Training clips with and without a label.
    beta_ : float
        The cross-entropy weight used (``beta`` or the one ``"auto"`` chose).
    initial_losses_ : dict
        ``ce`` and ``rec`` measured before training (labelled / all training clips, at most
        256) and the resulting ``ratio`` ``β·CE / (α·rec)``.
    pretrain_history_ : list of dict
        One entry per pretraining epoch: ``stage``, ``epoch``, ``rec`` (mean
        reconstruction loss), ``dur`` (seconds). Empty without pretraining.
    fit_time_ : float
        Seconds spent in ``fit`` (pretraining included).

    Notes
    -----
    Where skfer departs from the paper (or fills in what it leaves open):

    * ``beta="auto"``: the paper picks ``β`` "at the commencement of training" so that the
      softmax term is an order of magnitude above the Euclidean one. skfer measures both
      terms with the network as it starts the joint training (``CE ≈ ln K`` for an
      untrained predictor; ``rec`` after pretraining if any) and sets
      ``β = ce_ratio · α · rec / CE``. Both terms are means (see
      :func:`~skfer.neural.modules_video_autoencoder.semi_supervised_loss`), not the
      paper's sums over a batch of 22.
    * Greedy pretraining (section 5.1): stage ``k`` adds convolution ``k`` and its
      transposed convolution to the intermediate autoencoder and trains only them (the
      layers of earlier stages fixed); the last stage adds the fully connected bottleneck.
      The paper also fine-tunes the whole autoencoder after each stage; skfer leaves that
      to the joint training, which trains every layer. The paper used contrastive
      divergence wording but Caffe's back-propagation; so does skfer (plain gradients on
      the reconstruction error).
    * The front ends see the intensities divided by the training pixels' mean (non-negative,
      about 1) and their output is standardised with statistics of the training clips at
      initialisation; without a front end the input is standardised.
    * α, β of the sub-network are fixed as in the paper; its convolution has no bias (a
      bias breaks the scale invariance). ``tau=1, eta=10`` is inside Table 1's grid.
    * The paper trained on 6.5 million unlabelled clips; any face clips can be the
      unlabelled part here (label ``-1``).

    Examples
    --------
    >>> import numpy as np
    >>> from skfer.utils.estimator_checks import make_clip_data
    >>> X, y = make_clip_data(n_clips=12, frame_size=(24, 24))
    >>> y = y.astype(object); y[::3] = -1                   # a third unlabelled
    >>> net = SemiSupervisedVideoAutoencoder(
    ...     n_frames=9, max_epochs=2, on_short="ignore", random_state=0, verbose=0,
    ...     module__conv=((4, 3, 3, 2, 2), (4, 3, 2, 2, 2), (4, 3, 2, 1, 2)),
    ...     module__fc=(16,), module__predictor=(8,)).fit(X, y)
    >>> net.predict_proba(X).shape, net.n_unlabelled_
    ((12, 2), 4)
    """

    _module_class = VideoAutoencoderNet
    _input_mode = "clips"

    _parameter_constraints: dict = {
        **BaseNeuralClassifier._parameter_constraints,
        "n_frames": [Interval(numbers.Integral, 1, None, closed="left")],
        "preset": [StrOptions(set(VIDEO_AUTOENCODER_PRESETS))],
        "front_end": [StrOptions({"none", "invariant", "lrn"})],
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "tau": [Interval(numbers.Real, 0, None, closed="neither")],
        "eta": [Interval(numbers.Real, 0, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "alpha_decay": [Interval(numbers.Real, 0, 1, closed="right")],
        "beta": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="left")],
        "ce_ratio": [Interval(numbers.Real, 0, None, closed="neither")],
        "pretrain_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "on_short": policy_constraint(),
    }

    def __init__(
        self,
        *,
        n_frames: int = 9,
        preset: str = "small",
        front_end: str = "none",
        window: int = 3,
        tau: float = 1.0,
        eta: float = 10.0,
        alpha: float = 1.0,
        alpha_decay: float = 0.9,
        beta="auto",
        ce_ratio: float = 10.0,
        pretrain_epochs: int = 0,
        dropout: float = 0.0,
        on_short: str = "warn",
        classes=None,
        lr: float = 0.001,
        max_epochs: int = 20,
        batch_size: int = 32,
        optimizer="adam",
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        patience: int | None = None,
        monitor: str = "valid_loss",
        validation_fraction: float | None = None,
        callbacks: list | None = None,
        device: str = "auto",
        init_from=None,
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.n_frames = n_frames
        self.preset = preset
        self.front_end = front_end
        self.window = window
        self.tau = tau
        self.eta = eta
        self.alpha = alpha
        self.alpha_decay = alpha_decay
        self.beta = beta
        self.ce_ratio = ce_ratio
        self.pretrain_epochs = pretrain_epochs
        self.dropout = dropout
        self.on_short = on_short
        super().__init__(
            classes=classes, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
            optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
            patience=patience, monitor=monitor, validation_fraction=validation_fraction,
            callbacks=callbacks,
            device=device, init_from=init_from, random_state=random_state, verbose=verbose,
            **kwargs,
        )

    def _module_kwargs(self) -> dict:
        return {
            "n_frames": self.n_frames, "preset": self.preset, "front_end": self.front_end,
            "window": self.window, "tau": self.tau, "eta": self.eta, "dropout": self.dropout,
        }

    def _check_X(self, X, *, reset: bool) -> list[np.ndarray]:
        clips = super()._check_X(X, reset=reset)
        sources = X.get("source") if isinstance(X, ClipSet) else None
        self._check_short([len(c) for c in clips], sources)
        return TemporalResampler(n_frames=self.n_frames).fit_transform(clips)

    # ----------------------------------------------------------------------- labels
    def _split_labels(self, y, n_clips: int) -> tuple[np.ndarray, np.ndarray]:
        """``(encoded y with -1 for unlabelled clips, labelled mask)``; sets ``classes_``."""
        y = column_or_1d(np.asarray(y, dtype=object) if not isinstance(y, np.ndarray)
                         else y, warn=True)
        if len(y) != n_clips:
            raise ValueError(f"y has {len(y)} labels for {n_clips} clips")
        unlabelled = unlabelled_mask(y)
        if unlabelled.all():
            raise ValueError(
                f"all {n_clips} clips are unlabelled (y == -1): there is nothing to predict. "
                "Give at least some labelled clips of 2 classes (the autoencoder alone is "
                "pretrained on unlabelled clips with pretrain_epochs inside fit)"
            )
        if self.classes is not None and unlabelled_mask(self.classes).any():
            raise ValueError("classes must not hold -1, the label of unlabelled clips")
        values = y.tolist()
        missing = [i for i, v in enumerate(values)
                   if v is None or (isinstance(v, numbers.Real) and np.isnan(v))]
        if missing:
            # A NaN (pandas' missing value) or None would become a class "nan" or "None".
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise ValueError(
                f"y holds {values[missing[0]]!r} at sample {missing[0]}{more}, which is no "
                "label: mark unlabelled clips with -1, as sklearn.semi_supervised does"
            )
        labelled = ~unlabelled
        # The labels proper must be of one kind before np.asarray would turn 'happiness'
        # and 1 into the strings '1' and 'happiness'; _set_classes checks the rest as every
        # network does (check_labels), on the array of one type.
        y_lab = check_labels(y[labelled], "y (its labelled clips, numbered without the -1)",
                             classification=False)
        if y_lab.dtype == object:  # held -1 beside strings: back to one type for np.unique
            y_lab = np.asarray(y_lab.tolist())
        self._set_classes(y_lab)
        y_enc = np.full(n_clips, -1, dtype=np.int64)
        y_enc[labelled] = self._encode(y_lab, len(y_lab))
        return y_enc, labelled

    def _labelled_split(self, y_enc, labelled, groups, rng) -> Bunch:
        """Validation split among the labelled clips; unlabelled clips always train."""
        lab = np.flatnonzero(labelled)
        if groups is not None:
            groups = column_or_1d(groups, warn=True)
            if len(groups) != len(y_enc):
                raise ValueError(f"groups has {len(groups)} entries for {len(y_enc)} clips")
            groups = groups[lab]
        split = self._validation_split(y_enc[lab], groups, rng)
        train = np.sort(np.concatenate([np.flatnonzero(~labelled), lab[split.train]]))
        return Bunch(train=train, valid=lab[split.valid], by=split.by)

    # --------------------------------------------------------------------- training
    def _pretrain(self, module: VideoAutoencoderNet, dataset, device: str) -> list[dict]:
        """Greedy layer-wise pretraining of the autoencoder (outer layers first).

        Hand-written (:func:`skfer.neural._training.train_epochs`): each stage trains other
        parameters through another forward (``reconstruct(z, stage)``), which one skorch
        net does not express.
        """
        history: list[dict] = []
        if not self.pretrain_epochs:
            return history
        loader = DataLoader(dataset, batch_size=self.batch_size, shuffle=True)
        saved = {name: p.requires_grad for name, p in module.named_parameters()}
        module.train()
        try:
            for stage in range(1, module.n_stages + 1):
                for p in module.parameters():
                    p.requires_grad_(False)
                ids = {id(p) for m in module.stage_modules(stage) for p in m.parameters()}
                params = [(n, p) for n, p in module.named_parameters() if id(p) in ids]
                for _, p in params:
                    p.requires_grad_(True)
                # Pretraining reconstructs: no weight decay (as before the one builder).
                opt = build_optimizer(module, self.optimizer, lr=self.lr, momentum=self.momentum,
                                      parameters=params)

                def reconstruction(batch, stage=stage):
                    xb = batch[0].to(device)
                    with torch.no_grad():
                        z = module.normalise(xb)
                    return torch.nn.functional.mse_loss(module.reconstruct(z, stage), z)

                # The growth rule's reference is the first epoch of the first stage.
                epochs = train_epochs(
                    self.pretrain_epochs, lambda: loader, reconstruction, opt, module=module,
                    owner=f"{type(self).__name__} pretraining", rate=self.lr,
                    stage=f" of stage {stage}", first=history[0]["rec"] if history else None,
                )
                start = time.perf_counter()
                for epoch, rec in enumerate(epochs):
                    history.append({"stage": stage, "epoch": epoch, "rec": rec,
                                    "dur": time.perf_counter() - start})
                    if self.verbose:
                        print(f"pretraining stage {stage}/{module.n_stages} epoch {epoch + 1}: "
                              f"reconstruction {rec:.4f}")
                    start = time.perf_counter()
        finally:
            for name, p in module.named_parameters():
                p.requires_grad_(saved[name])
        return history

    @staticmethod
    def _initial_losses(net: _SemiSupervisedNet, dataset) -> dict:
        """Mean CE over labelled clips and mean reconstruction error, untrained predictor.

        Through the one inference path (:meth:`SkferNet.iter_outputs`, evaluation mode,
        the validation iterator's batches), stopping once ``_CALIBRATION_CLIPS`` clips with
        some labelled ones are seen.
        """
        labels = torch.from_numpy(dataset.y)
        ce_sum = ce_n = rec_sum = 0.0
        seen = 0
        with contextlib.closing(net.iter_outputs(dataset, "forward_all")) as outputs:
            for logits, recon, target in outputs:
                yb = labels[seen:seen + len(logits)]
                lab = yb >= 0
                if bool(lab.any()):
                    ce_sum += float(torch.nn.functional.cross_entropy(
                        logits[lab], yb[lab], reduction="sum"))
                    ce_n += int(lab.sum())
                rec_sum += float(torch.nn.functional.mse_loss(recon, target)) * len(logits)
                seen += len(logits)
                if seen >= _CALIBRATION_CLIPS and ce_n:
                    break
        return {"ce": ce_sum / max(ce_n, 1), "rec": rec_sum / max(seen, 1)}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Pretrain (optionally) and train on labelled and unlabelled clips.

        Parameters
        ----------
        X : list of clips ``(T, H, W[, 3])``, ClipSet or ndarray
            All frames of one size; clips are resampled to ``n_frames`` frames.
        y : array-like of shape (n_clips,)
            Labels; ``-1`` (or ``"-1"``) marks an unlabelled clip. The other labels are all
            strings or all numbers (``'happiness'`` beside ``1`` is a ``TypeError``, as for
            every network); NaN or None is a ``ValueError`` (unlabelled clips are ``-1``).
        groups : array-like of shape (n_clips,), default=None
            Subjects, for the validation split among labelled clips.

        Returns
        -------
        self
        """
        started = time.perf_counter()
        self._check_nested()
        clips = self._check_X(X, reset=True)
        y_enc, labelled = self._split_labels(y, len(clips))
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        split = self._labelled_split(y_enc, labelled, groups, rng)
        if self.patience is not None and not len(split.valid):
            raise ValueError(
                f"patience={self.patience} (early stopping) needs validation data: set "
                "validation_fraction"
            )
        train_ds = self._dataset([clips[i] for i in split.train], y_enc[split.train])
        valid_ds = (self._dataset([clips[i] for i in split.valid], y_enc[split.valid])
                    if len(split.valid) else None)
        module_kwargs = self._image_module_kwargs(train_ds)
        source = self._init_source()
        with seeded_torch(device, seed):
            net = _SemiSupervisedNet(
                **self._net_kwargs(module_kwargs, valid_ds, device),
                loss_alpha=self.alpha, loss_beta=1.0, alpha_decay=self.alpha_decay,
            )
            net.initialize()
            sample = torch.stack([train_ds[i][0] for i in
                                  range(min(len(train_ds), _CALIBRATION_CLIPS))])
            net.module_.calibrate(sample.to(device))
            self.init_report_ = None if source is None else self._load_weights(net, source)
            self.pretrain_history_ = self._pretrain(net.module_, train_ds, device)
            losses = self._initial_losses(net, train_ds)
            if self.beta == "auto":
                # β·CE = ce_ratio · α · rec at the start; with α = 0 (predictor alone) the
                # scale is free: β = 1.
                beta = (self.ce_ratio * self.alpha * losses["rec"] / losses["ce"]
                        if self.alpha > 0 and losses["ce"] > 0 else 1.0)
            else:
                beta = float(self.beta)
            net.loss_beta = beta
            ratio = (beta * losses["ce"] / (self.alpha * losses["rec"])
                     if self.alpha > 0 and losses["rec"] > 0 else float("inf"))
            self.initial_losses_ = {**losses, "ratio": ratio}
            net.partial_fit(train_ds, None)
        self._keep_trained(net, device, split)
        self.beta_ = float(beta)
        self.n_labelled_ = int(labelled[split.train].sum())
        self.n_unlabelled_ = int((~labelled[split.train]).sum())
        self.fit_time_ = time.perf_counter() - started
        return self

    # ---------------------------------------------------------------------- inference
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of every clip (the predictor head; the decoder is not run).

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
        """
        check_is_fitted(self, "net_")
        return self._network_outputs(self._dataset(self._check_X(X, reset=False)))

    def encode(self, X) -> np.ndarray:
        """Bottleneck codes of every clip, ``(n_clips, fc[-1])`` (e.g. for another classifier).

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet

        Returns
        -------
        codes : ndarray of shape (n_clips, n_code)
        """
        check_is_fitted(self, "net_")
        return self._network_outputs(self._dataset(self._check_X(X, reset=False)),
                                     features=True)

    def reconstruct(self, X) -> list[np.ndarray]:
        """The autoencoder's reconstruction of every clip, in the network's standardised scale.

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet

        Returns
        -------
        clips : list of ndarray ``(n_frames, H, W[, 3])``, float32
            What the decoder outputs for the standardised front-end output (``target``):
            compare with :meth:`reconstruction_error`, not with the raw pixels.
        """
        check_is_fitted(self, "net_")
        out = []
        dataset = self._dataset(self._check_X(X, reset=False))
        for _, recon, _ in self.net_.iter_outputs(dataset, "forward_all"):
            recon = recon.float().numpy()
            out.extend(np.moveaxis(recon, 2, -1) if self.color_ else recon[:, :, 0])
        return out

    def reconstruction_error(self, X) -> np.ndarray:
        """Mean squared reconstruction error of every clip (eq. 1's second term, per clip).

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet

        Returns
        -------
        errors : ndarray of shape (n_clips,)
        """
        check_is_fitted(self, "net_")
        dataset = self._dataset(self._check_X(X, reset=False))
        errors = [((recon - target) ** 2).flatten(1).mean(1).float().numpy()
                  for _, recon, target in self.net_.iter_outputs(dataset, "forward_all")]
        return np.concatenate(errors) if errors else np.empty(0)
