"""The EmoNets frame ConvNet (Kahou et al. 2015, section 3.1.2) as a scikit-learn classifier."""

from __future__ import annotations

import numbers

from ..utils._param_validation import FrameSize
from ..utils._sklearn import Interval, Options, StrOptions
from ._base import BaseFrameClassifier
from ._optim import add_rate_group
from .modules import EmoNetsConvNet

__all__ = ["ConvNet"]


class ConvNet(BaseFrameClassifier):
    """EmoNets' ConvNet: a frame classifier for 48x48 grey faces, trained with skorch.

    Trains :class:`~skfer.neural.modules.EmoNetsConvNet` (three 5x5 convolution stages of
    64, 64 and 128 filters, max then average pooling, response normalisation, a softmax
    layer) on every frame of the training clips, with random 40x40 crops and horizontal
    flips in training and the centre crop at test. A clip's probabilities average its
    frames' (or take its last frame); :meth:`transform` gives the per-frame probabilities
    as sequences, so ``Pipeline([ConvNet(), FrameAggregator(), SVC()])`` is the paper's clip
    classifier (section 3.1.4), and ``FrozenEstimator(fitted_convnet)`` reuses a network
    trained on another data set without refitting it per fold.

    Parameters
    ----------
    crop_size : (int, int), default=(40, 40)
        Training crops (random) and test crop (centre); frames must be at least this size.
    flip : bool, default=True
        Random horizontal flips (p = 0.5) of training frames.
    batch_norm : bool, default=False
        Batch normalisation after each convolution. Off by default as in the paper; it
        speeds training up (it allows larger learning rates) and is worth trying.
    dropout : float, default=0.0
        Dropout before the softmax layer (and before ``hidden_units``). Off by default as in
        the paper, whose regularisation is the crop/flip augmentation and weight decay.
    hidden_units : int, default=0
        A hidden fully connected ReLU layer of this width before the softmax layer (not in
        the paper; 0: none).
    rotation : float, default=0.0
        Training-time random rotation, up to this many degrees either way, before the crop
        (:class:`~skfer.neural.modules.RandomAffine`; not in the paper).
    zoom : float, default=0.0
        Training-time random scaling by up to this fraction either way (not in the paper).
    erasing : float, default=0.0
        Probability of random erasing of a training crop
        (:class:`~skfer.neural.modules.RandomErasing`; not in the paper).
    test_views : {1, 2, 10}, default=1
        Crops classified at test time, their probabilities averaged: the centre crop (the
        paper), it and its mirror, or the centre and four corner crops and their mirrors.
        Read at inference: ``set_params(test_views=10)`` needs no refit.
    head_epochs : int, default=0
        Fine-tuning (with ``init_from``): the first ``head_epochs`` epochs train only the
        layers after the convolutions (hidden and output layers); the convolutional stages
        are frozen until then (skorch's ``Freezer``/``Unfreezer``).
    body_lr : float or None, default=None
        Learning rate of the convolutional stages (``None``: ``lr``); e.g. a tenth of
        ``lr`` to adapt a pretrained body more slowly than a new head.
    freeze_bn_stats : bool, default=False
        Keep the batch-norm running statistics as loaded during training
        (:class:`~skfer.neural.modules.EmoNetsConvNet`).
    clip_aggregation : {"mean", "last"}, default="mean"
        How :meth:`predict_proba` scores a clip: mean of its frames' probabilities, or its
        last frame's (the apex of a posed sequence).
    transform_output : {"proba", "features"}, default="proba"
        :meth:`transform` gives per-frame class probabilities (EmoNets' input to the
        aggregation) or the 3,200 penultimate features (128 maps of 5x5).
    classes : array-like or None, default=None
    lr : float, default=0.01
    max_epochs : int, default=100
    batch_size : int, default=128
    optimizer : {"sgd", "adam", "adamw"} or torch optimizer class, default="sgd"
    momentum : float, default=0.9
    weight_decay : float, default=0.004
    patience : int or None, default=10
    monitor : str, default="valid_loss"
    validation_fraction : float or None, default=0.1
    callbacks : list or None, default=None
    device : str, default="auto"
    init_from : str, path, fitted ConvNet or None, default=None
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=1
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"``: mixed-precision forward passes (``torch.autocast``) with channels-last
        images, about twice as fast on CPUs with bfloat16 instructions; probabilities differ
        slightly from float32.
    **kwargs
        Nested parameters: ``module__n_filters``, ``module__kernel_size``, ``module__lrn``
        (see :class:`~skfer.neural.modules.EmoNetsConvNet`), ``optimizer__*``,
        ``criterion__*``, ``iterator_train__*``, ``iterator_valid__*``, ``callbacks__*``.

        See :class:`~skfer.neural.BaseNeuralClassifier` for the shared parameters:
        grouped validation split, seeding, devices, callbacks (Optuna pruning), init_from
        (fine-tuning).

    Attributes
    ----------
    classes_, net_, device_, frame_size_, color_, validation_split_, n_epochs_, init_report_,
    history_
        See :class:`~skfer.neural.BaseNeuralClassifier`.

    Notes
    -----
    Where skfer departs from the paper (cuda-convnet, ``layers-18pct`` configuration):

    * SGD with momentum 0.9 and weight decay 0.004 as the paper, but one learning rate
      (0.01, PyTorch's mean-over-batch gradients) instead of 0.001 for filters and 0.002
      for biases; biases get no weight decay, and the softmax layer gets the same 0.004
      instead of cuda-convnet's ``wc=1`` (set ``optimizer__param_groups`` to change it).
    * The paper stopped after 453 epochs on its competition data; skfer early-stops on a
      validation split (``patience``) restoring the best epoch's weights.
    * Layer details the paper leaves out (padding, pooling rounding, where the ReLU sits,
      same-map response normalisation) and PyTorch's default initialisation: see
      :class:`~skfer.neural.modules.EmoNetsConvNet`.
    * Inputs are standardised with the training pixels' mean and standard deviation
      (stored in the module); registration and isotropic smoothing (section 3.1.1) are
      separate pipeline steps.
    * skfer's additions, all off by default: batch normalisation, dropout, a hidden layer
      (``hidden_units``), random rotation and scaling (``rotation``, ``zoom``), random
      erasing, several test views (``test_views``), and the fine-tuning controls
      (``head_epochs``, ``body_lr``, ``freeze_bn_stats``). The network shipped in
      :mod:`skfer.pretrained` uses batch norm, dropout 0.4, 512 hidden units, rotations of
      up to 10 degrees and 10% scaling, label smoothing 0.1 and 2 test views
      (``docs/benchmarks.md``).

    Examples
    --------
    >>> from skfer.utils.estimator_checks import make_clip_data
    >>> X, y = make_clip_data(n_clips=12, frame_size=(24, 24))
    >>> net = ConvNet(crop_size=(20, 20), max_epochs=2, module__n_filters=(4, 4, 8),
    ...               random_state=0, verbose=0).fit(X, y)
    >>> net.predict_proba(X).shape, net.transform(X)[0].shape[1]
    ((12, 2), 2)
    """

    _module_class = EmoNetsConvNet

    _parameter_constraints: dict = {
        **BaseFrameClassifier._parameter_constraints,
        "crop_size": [FrameSize()],
        "flip": ["boolean"],
        "batch_norm": ["boolean"],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "hidden_units": [Interval(numbers.Integral, 0, None, closed="left")],
        "rotation": [Interval(numbers.Real, 0, 180, closed="both")],
        "zoom": [Interval(numbers.Real, 0, 1, closed="left")],
        "erasing": [Interval(numbers.Real, 0, 1, closed="both")],
        "test_views": [Options(numbers.Integral, {1, 2, 10})],
        "head_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "body_lr": [Interval(numbers.Real, 0, None, closed="left"), None],
        "freeze_bn_stats": ["boolean"],
        "clip_aggregation": [StrOptions({"mean", "last"})],
        "transform_output": [StrOptions({"proba", "features"})],
        "precision": [StrOptions({"float32", "bfloat16"})],
    }

    def __init__(
        self,
        *,
        crop_size=(40, 40),
        flip: bool = True,
        batch_norm: bool = False,
        dropout: float = 0.0,
        hidden_units: int = 0,
        rotation: float = 0.0,
        zoom: float = 0.0,
        erasing: float = 0.0,
        test_views: int = 1,
        head_epochs: int = 0,
        body_lr: float | None = None,
        freeze_bn_stats: bool = False,
        clip_aggregation: str = "mean",
        transform_output: str = "proba",
        classes=None,
        lr: float = 0.01,
        max_epochs: int = 100,
        batch_size: int = 128,
        optimizer="sgd",
        momentum: float = 0.9,
        weight_decay: float = 0.004,
        patience: int | None = 10,
        monitor: str = "valid_loss",
        validation_fraction: float | None = 0.1,
        callbacks: list | None = None,
        device: str = "auto",
        init_from=None,
        random_state=None,
        verbose: int = 1,
        precision: str = "float32",
        **kwargs,
    ):
        self.crop_size = crop_size
        self.flip = flip
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.hidden_units = hidden_units
        self.rotation = rotation
        self.zoom = zoom
        self.erasing = erasing
        self.test_views = test_views
        self.head_epochs = head_epochs
        self.body_lr = body_lr
        self.freeze_bn_stats = freeze_bn_stats
        self.clip_aggregation = clip_aggregation
        self.transform_output = transform_output
        self.precision = precision
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
            "crop_size": tuple(self.crop_size),
            "flip": self.flip,
            "batch_norm": self.batch_norm,
            "dropout": self.dropout,
            "hidden_units": int(self.hidden_units),
            "rotation": float(self.rotation),
            "zoom": float(self.zoom),
            "erasing": float(self.erasing),
            "test_views": int(self.test_views),
            "freeze_bn_stats": bool(self.freeze_bn_stats),
        }

    #: fnmatch pattern of the convolutional stages' parameters (the "body").
    _body = "stage*"

    def _callbacks(self) -> list:
        out = super()._callbacks()
        if self.head_epochs:
            from skorch.callbacks import Freezer, Unfreezer

            out += [("freeze_body", Freezer([self._body])),
                    ("unfreeze_body", Unfreezer([self._body], at=int(self.head_epochs) + 1))]
        return out

    def _net_kwargs(self, module_kwargs: dict, valid_ds, device: str) -> dict:
        kwargs = super()._net_kwargs(module_kwargs, valid_ds, device)
        return add_rate_group(kwargs, [self._body], self.body_lr)

    def _network_outputs(self, dataset, *, features: bool = False):
        # test_views is read at inference, so set_params(test_views=10) needs no refit.
        self.net_.module_.augment.test_views = int(self.test_views)
        return super()._network_outputs(dataset, features=features)

    def _check_geometry(self, size: tuple[int, int]) -> None:
        if size[0] < self.crop_size[0] or size[1] < self.crop_size[1]:
            raise ValueError(
                f"frames of {size[0]}x{size[1]} pixels are smaller than crop_size "
                f"{tuple(self.crop_size)}; resize the faces (EmoNets: 48x48) or lower crop_size"
            )
