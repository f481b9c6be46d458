"""Cross-validation of CK+48 benchmarks under both protocols, a fold at a time.

The papers' CK+ protocol (10 folds of subjects dealt by ascending id,
:class:`~skfer.model_selection.AscendingSubjectKFold`) and skfer's default (10-fold
``GroupKFold`` by subject) in one loop: each fold's row is appended to a JSON-lines log as
it comes, so an interrupted run still reports its finished folds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from skfer.model_selection import AscendingSubjectKFold


def run_protocols(protocols, X, y, groups, run_fold: Callable[..., dict], rows, log: Path,
                  timing: Callable[[dict], str], *, n_folds: int = 10,
                  max_folds: int | None = None) -> dict[str, list[dict]]:
    """``run_fold(train, test, seed)`` on every fold of every protocol.

    Each row gets ``protocol``, ``fold`` and ``n_test``, is appended to ``log`` and printed
    with ``timing(row)``; at the end a markdown table of ``rows`` (mean ± std over the
    folds). ``max_folds`` runs only the first folds of each protocol.
    """
    splitters = {"groupkfold": GroupKFold(n_folds),
                 "ascending": AscendingSubjectKFold(n_folds)}
    results: dict[str, list[dict]] = {}
    for protocol in protocols:
        results[protocol] = []
        for k, (train, test) in enumerate(splitters[protocol].split(X, y, groups)):
            if max_folds is not None and k >= max_folds:
                break
            row = run_fold(train, test, k)
            row.update(protocol=protocol, fold=k, n_test=int(len(test)))
            results[protocol].append(row)
            with open(log, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(protocol, k, {r: round(row[r], 3) for r in rows}, timing(row), flush=True)
    print("\n| model | " + " | ".join(f"{p} (mean ± std)" for p in results) + " |")
    print("|---|" + "---|" * len(results))
    for name in rows:
        cells = []
        for fold_rows in results.values():
            acc = np.array([r[name] for r in fold_rows])
            cells.append(f"{acc.mean():.3f} ± {acc.std():.3f} ({len(acc)} folds)")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return results
