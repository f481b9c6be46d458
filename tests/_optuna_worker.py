"""Worker process of tests/test_optuna.py: runs trials of one shared Optuna study.

Usage: python tests/_optuna_worker.py STORAGE_URL STUDY_NAME N_TRIALS SEED
"""

import sys

import numpy as np
from optuna.distributions import FloatDistribution
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfer.model_selection import tune


def main(storage: str, study_name: str, n_trials: int, seed: int) -> None:
    X, y = make_classification(120, n_features=8, n_informative=4, random_state=0)
    groups = np.arange(len(y)) // 6
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
    tune(
        pipe, {"logisticregression__C": FloatDistribution(1e-3, 1e2, log=True)}, X, y, groups,
        cv=3, n_trials=n_trials, storage=storage, study_name=study_name, random_state=seed,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
