"""
Per-class weighted ensembles, SVM stacking and an Optuna study, all subject-grouped
===================================================================================

Run: ``python examples/ensemble_and_tuning.py``

On the embedded synthetic data (faces detected by skfer's face tubes once, up front), two
members look at different things: HOG of the apex frame and the pixel change from the first
to the last frame. EmoNets (Kahou et al., 2015, section 4) combined its models with one
weight per model and per class found by random search on held-out predictions; here those
predictions are cross-fitted by subject inside ``fit``. Then an Optuna study tunes the SVM
of one member inside the weighted average (``hog__...``, a parameter of the ensemble) under
GroupKFold, stored in an SQLite file so that it can be resumed.
"""

import optuna
import sklearn
from optuna.distributions import FloatDistribution
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from skfer.datasets import make_expressions
from skfer.ensemble import SVMStackingClassifier, WeightedAverageClassifier
from skfer.features import HOGFeatures, PixelFeatures
from skfer.model_selection import sqlite_storage, tune
from skfer.preprocessing import FaceTubeExtractor, FramePooling

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Metadata routing lets cross_val_score hand the subject ids to the ensembles' fit too, so
# their inner cross-fitting is subject-grouped as well (otherwise it falls back to
# StratifiedKFold and the held-out predictions share subjects with the training folds).
sklearn.set_config(enable_metadata_routing=True)
data = make_expressions(n_subjects=10, random_state=0)
# Face tubes learn nothing, so extracting them once before cross-validation leaks nothing.
faces = FaceTubeExtractor(frame_size=(48, 48)).fit_transform(data.data)
y, groups = data.target, data.groups
cv = GroupKFold(n_splits=5)

members = [
    ("hog", make_pipeline(HOGFeatures(), FramePooling(method="last"),
                          CalibratedClassifierCV(SVC(C=10.0), ensemble=False))),
    ("delta", make_pipeline(PixelFeatures(frame_size=(24, 24)), FramePooling(method="delta"),
                            PCA(20), LogisticRegression(C=0.1, max_iter=2000))),
]
models = {name: est for name, est in members}
models["weighted average"] = WeightedAverageClassifier(
    members, cv=3, random_state=0).set_fit_request(groups=True)
models["SVM stacking"] = SVMStackingClassifier(
    members, cv=3, random_state=0).set_fit_request(groups=True)
for name, model in models.items():
    scores = cross_val_score(model, faces, y, cv=cv, params={"groups": groups})
    print(f"{name:<17} {scores.mean():.3f} ± {scores.std():.3f}")

# The ensemble's members are its parameters ("hog__..."), so an Optuna study can tune a
# member inside the ensemble: each trial cross-fits and weighs the members again, and the
# routed subject ids keep both the outer and the inner folds subject-independent.
C = "hog__calibratedclassifiercv__estimator__C"
study = tune(
    models["weighted average"], {C: FloatDistribution(0.1, 100, log=True)},
    faces, y, groups, cv=5, n_trials=4, random_state=0,
    storage=sqlite_storage("skfer_example_study.db"), study_name="weighted-average-hog-C",
)
print(f"Optuna: {len(study.trials)} trials in skfer_example_study.db, "
      f"best C={study.best_params[C]:.3g}, accuracy {study.best_value:.3f}")
