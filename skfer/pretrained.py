"""Networks trained by skfer's own code, shipped inside the package: nothing is downloaded.

Each shipped network is a file of tensors (read with ``torch.load(weights_only=True)``:
loading runs no code, unlike a pickle) and a model card (JSON): the estimator and its
parameters, the classes, the exact input it expects (grey 48x48 face crops, framed as in
training), the training data and its terms of use, the command that reproduces it, its
measured scores, and the SHA-256 of the weights (a damaged or replaced file is refused).

>>> from skfer import pretrained
>>> pretrained.available()
['emonets-fer2013', 'facenet2expnet-fer2013-stage1']
>>> net = pretrained.load("emonets-fer2013")      # a fitted ConvNet
>>> net.classes_.tolist()
['anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness', 'surprise']

The same network starts a fine-tuning (``ConvNet(init_from="emonets-fer2013")``), is the
named model ``"emonets-fer2013"`` of :func:`skfer.models.make_model` and ``skfer models``,
and is scored without training by ``skfer evaluate --model emonets-fer2013 --test-data``.
``"facenet2expnet-fer2013-stage1"`` is FaceNet2ExpNet's stage-1 student (label-free, under
dlib's face network): not a classifier by itself, it starts the stage 2 of the named model
``"facenet2expnet"`` (``FaceNet2ExpNet(init_from=...)``).
"""

from .neural._pretrained import (
    DATA_DIR,
    PretrainedWeightsError,
    available,
    card,
    export,
    load,
    self_test_input,
)

__all__ = [
    "DATA_DIR", "PretrainedWeightsError", "available", "card", "export", "load",
    "self_test_input",
]
