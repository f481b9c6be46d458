"""
Train the EmoNets ConvNet on a folder of face images, save it, reuse it frozen elsewhere
========================================================================================

Run: ``python examples/pretrained_convnet.py`` (about half a minute on two CPU cores)

EmoNets (Kahou et al. 2015, section 3.1) trains its ConvNet on large still-image sets
(FER2013, TFD) and then only reads per-frame class probabilities from it on the video data
set, where an SVM is trained on aggregated probabilities. This example does the same at toy
scale, on data it writes itself:

1. a *source* data set: a folder of 48x48 grey face images in class folders (the layout of
   FER2013's ``train`` folder), written from skfer's synthetic faces (four expressions, the
   three frames nearest the apex of each clip, faces cropped with their landmark boxes);
2. the ConvNet trained on it (early stopping on a validation split grouped by subject) and
   saved with joblib;
3. a *target* data set of clips of other people, cross-validated by subject with the saved
   network frozen: ``FrozenEstimator(convnet) -> FrameAggregator -> SVC``. The network is
   not refitted in any fold; only the SVM is.

For the real thing (FER2013 -> CK+) see ``benchmarks/bench_convnet.py``.
"""

import shutil
import tempfile
from pathlib import Path

import cv2
import joblib
import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skfer.datasets import landmarks_to_box, load_folder, make_expressions
from skfer.neural import ConvNet
from skfer.preprocessing import FrameAggregator

EXPRESSIONS = ("anger", "happiness", "sadness", "surprise")


def face_48(frame, landmarks):
    """The face of a frame, cropped to its landmark box and resized to the ConvNet's 48x48."""
    x, y, w, h = landmarks_to_box(landmarks)
    x0, y0 = max(int(x), 0), max(int(y), 0)
    x1, y1 = min(int(x + w), frame.shape[1]), min(int(y + h), frame.shape[0])
    return cv2.resize(frame[y0:y1, x0:x1], (48, 48), interpolation=cv2.INTER_AREA)


def synthetic(n_subjects, random_state):
    data = make_expressions(
        n_subjects=n_subjects, n_clips_per_expression=2, expressions=EXPRESSIONS,
        n_frames=(4, 6), frame_size=(96, 96), color=False, low_intensity_fraction=0.0,
        random_state=random_state,
    )
    clips = [
        np.stack([face_48(f, lm) for f, lm in zip(clip, lms)])
        for clip, lms in zip(data.data, data.landmarks)
    ]
    return clips, np.asarray(data.target), np.asarray(data.groups)


work = Path(tempfile.mkdtemp(prefix="skfer_example_"))

# 1. A folder of face images, one folder per class, subject in the file name.
clips, labels, subjects = synthetic(n_subjects=10, random_state=0)
for i, (clip, label, subject) in enumerate(zip(clips, labels, subjects)):
    folder = work / "source" / label
    folder.mkdir(parents=True, exist_ok=True)
    for k, frame in enumerate(clip[-3:]):  # the frames nearest the expression's apex
        cv2.imwrite(str(folder / f"{subject}_{i:03d}_{k}.png"), frame)
source = load_folder(work / "source", color=False, group_from=r"^([^_]+)_")
print(f"source: {len(source.data)} images of {len(set(source.groups))} subjects in {work}")

# 2. Train and save. Narrower than the paper's 64-64-128 filters, with batch normalisation
# and Adam, so that it trains in seconds on a CPU; the paper's defaults are ConvNet().
convnet = ConvNet(
    module__n_filters=(8, 8, 16), batch_norm=True, optimizer="adam", lr=3e-3, max_epochs=15,
    patience=5, batch_size=32, validation_fraction=0.25, random_state=0, verbose=0,
)
convnet.fit(source.data, source.target, groups=source.groups)
history = convnet.history_
print(
    f"trained {convnet.n_epochs_} epochs on {convnet.device_}; best validation accuracy "
    f"{max(history[:, 'valid_acc']):.2f} (validation subjects: "
    f"{sorted(str(g) for g in set(source.groups[convnet.validation_split_.valid]))})"
)
model_file = work / "convnet.joblib"
joblib.dump(convnet, model_file)

# 3. Other people, as clips; the saved network is frozen inside the cross-validated pipeline.
clips, labels, subjects = synthetic(n_subjects=6, random_state=1)
pretrained = joblib.load(model_file)
pipe = Pipeline([
    ("convnet", FrozenEstimator(pretrained)),  # per-frame class probabilities, never refitted
    ("aggregate", FrameAggregator(n_frames=4)),  # EmoNets' fixed-length clip descriptor
    ("svm", SVC(C=10.0)),
])
scores = cross_val_score(pipe, clips, labels, groups=subjects, cv=GroupKFold(n_splits=3))
print(f"target: {len(clips)} clips of {len(set(subjects))} new subjects")
print(f"frozen ConvNet -> FrameAggregator -> SVC, accuracy per fold {scores.round(3)}, "
      f"mean {scores.mean():.3f} (chance {1 / len(set(labels)):.3f})")
shutil.rmtree(work)  # the images and the model file were for this demonstration only
