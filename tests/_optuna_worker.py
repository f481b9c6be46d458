"""Worker process of the Optuna tests: runs trials of one shared Optuna study.

Usage: python tests/_optuna_worker.py STORAGE_URL STUDY_NAME N_TRIALS SEED
       [--sleep SECONDS] [--heartbeat SECONDS]

``--sleep`` pauses in every transform of the pipeline (twice per fold: the fit's and the
scoring's), so that a test can SIGKILL the worker in the middle of a trial.
"""

import argparse
import time
from functools import partial

import numpy as np
from optuna.distributions import FloatDistribution
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skfer.model_selection import HEARTBEAT_INTERVAL, tune

SPACE = {"logisticregression__C": FloatDistribution(1e-3, 1e2, log=True)}


def _pause(X, seconds: float):
    time.sleep(seconds)
    return X


def main(storage: str, study_name: str, n_trials: int, seed: int, sleep: float = 0.0,
         heartbeat: int | None = HEARTBEAT_INTERVAL):
    """Run ``n_trials`` trials of the study; the pipeline pauses ``sleep`` s per transform."""
    X, y = make_classification(120, n_features=8, n_informative=4, random_state=0)
    groups = np.arange(len(y)) // 6
    steps = [FunctionTransformer(partial(_pause, seconds=sleep))] if sleep else []
    pipe = make_pipeline(*steps, StandardScaler(), LogisticRegression(max_iter=200))
    return tune(
        pipe, SPACE, X, y, groups, cv=3, n_trials=n_trials, storage=storage,
        study_name=study_name, random_state=seed, heartbeat_interval=heartbeat,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("storage")
    parser.add_argument("study_name")
    parser.add_argument("n_trials", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--heartbeat", type=int, default=HEARTBEAT_INTERVAL)
    args = parser.parse_args()
    main(args.storage, args.study_name, args.n_trials, args.seed, args.sleep, args.heartbeat)
