"""
Predict on many video files on a Dask cluster, unchanged code, through joblib
=============================================================================

Run: ``python examples/dask_predict.py`` (half a minute on two CPU cores). The cluster part
needs Dask (``pip install "dask[distributed]"``, an optional dependency of skfer); without
it the example says so and runs the same call on joblib's own process pool.

:func:`skfer.prediction.predict_files` processes files in parallel with joblib
(``n_jobs``). joblib can hand its tasks to a Dask cluster: inside
``joblib.parallel_backend("dask")`` the same call runs every file on the cluster's workers,
with no other change. Here the cluster is a :class:`dask.distributed.LocalCluster` of two
single-threaded worker processes on this machine; with a ``Client`` connected to a real
scheduler (``Client("tcp://scheduler:8786")``) it would be the cluster's machines.

The model is a HOG + SVM pipeline fitted on skfer's synthetic faces; the files are the six
CREMA-D clips shipped with skfer (``copies`` times over, as a stand-in for a folder of
videos).
"""

from __future__ import annotations

import time

import joblib
import numpy as np

from skfer.datasets import make_expressions, sample_videos_path
from skfer.models import make_model
from skfer.prediction import predict_files


def fit_model():
    data = make_expressions(n_subjects=3, random_state=0)
    return make_model("hog-svm", faces="detect", probability=True).fit(data.data, data.target)


def run(model=None, *, copies: int = 1, n_workers: int = 2, processes: bool = True,
        compare: bool = False) -> dict:
    """Predict on the sample clips on a local Dask cluster; return timings and the table.

    ``compare`` also times the same call without parallelism, for the speed-up (and
    warms the workers up first, so that their imports are not timed).
    """
    model = fit_model() if model is None else model
    files = sorted(sample_videos_path().glob("*.flv")) * copies
    out: dict = {"files": len(files)}
    if compare:
        start = time.perf_counter()
        predict_files(model, files, n_jobs=1, as_frame=False)
        out["sequential_s"] = time.perf_counter() - start
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print("dask is not installed (pip install 'dask[distributed]'); "
              f"running on joblib's own pool of {n_workers} processes instead")
        start = time.perf_counter()
        out["table"] = predict_files(model, files, n_jobs=n_workers, as_frame=False)
        out["parallel_s"] = time.perf_counter() - start
        return out
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                      dashboard_address=None) as cluster, Client(cluster):
        # The only Dask-specific line: joblib sends predict_files' tasks to the cluster.
        with joblib.parallel_backend("dask"):
            if compare:  # workers import skfer and OpenCV once: not part of the speed-up
                predict_files(model, files[:n_workers], as_frame=False)
            start = time.perf_counter()
            out["table"] = predict_files(model, files, as_frame=False)
        out["parallel_s"] = time.perf_counter() - start
    out["dask"] = True
    return out


if __name__ == "__main__":
    result = run()
    table = result["table"]
    for name in np.unique(table["file"]):
        rows = table[table["file"] == name]
        print(f"{name.rsplit('/', 1)[-1]}: {rows['prediction'][0]} ({len(rows)} frames)")
    print(f"{result['files']} files in {result['parallel_s']:.1f} s "
          f"({'Dask cluster' if result.get('dask') else 'joblib processes'})")
