"""``skfer train``: fit a named model on a whole data set and save it with its model card."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..utils._atomic import check_output_dir
from .evaluate import (
    add_data_arguments,
    add_folds_argument,
    add_n_jobs_argument,
    check_format_options,
    extract_if_needed,
    prepare_data,
    set_device,
)

__all__ = ["add_train_parser"]


def add_train_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="fit a named model on a whole data set and save it (joblib + model card)",
        description=(
            "Fit a named model on every clip of the embedded synthetic data (default) or of "
            "--data DIR, and save the fitted pipeline (joblib) with a model card "
            "(<out stem>.card.json) beside it. A model trained on whole frames starts with "
            "its face-tube extractor, so `skfer predict` runs it on any video."
        ),
    )
    add_data_arguments(p)
    p.add_argument("--out", type=Path, default=Path("model.joblib"), help="model file to write")
    p.add_argument(
        "--evaluate", action="store_true",
        help="cross-validate first (as `skfer evaluate`) and record the score in the card",
    )
    add_folds_argument(p, "folds of --evaluate")
    add_n_jobs_argument(p, "face tubes and --evaluate folds in parallel (joblib)")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from sklearn.pipeline import Pipeline

    from .._model_card import describe, save_model
    from ..evaluation import evaluate
    from ..models import face_tube_step, make_model
    from .evaluate import _default_folds

    # Arguments, model name, device and the model file's folder are checked before the work.
    if args.folds is not None and not args.evaluate:
        raise ValueError("--folds is the number of folds of --evaluate; add --evaluate")
    check_format_options(args, args.format)
    if args.out.is_dir():
        raise IsADirectoryError(f"--out {args.out} is a folder; give the model file's name")
    check_output_dir(args.out.parent, f"--out {args.out}: folder")
    # Platt probabilities: `skfer predict` gives per-frame class probabilities.
    model = make_model(args.model, faces="given", random_state=args.random_state,
                       probability=True)
    set_device(model, args.device)
    bunch, data_name, fmt, faces = prepare_data(args, args.format, args.data)
    print(f"data: {data_name}: {len(bunch.data)} clips; model {args.model} (faces: {faces})")
    clips, tube_counts = extract_if_needed(bunch, faces, not args.no_progress, args.n_jobs)
    score = None
    if args.evaluate:
        n_splits = args.folds or _default_folds(bunch.groups)
        # The plain SVM scores as the Platt one predicts, in a fifth of the time.
        plain = make_model(args.model, faces="given", random_state=args.random_state)
        set_device(plain, args.device)
        report = evaluate(plain, clips, bunch.target, bunch.groups, n_splits=n_splits,
                          name=args.model, n_jobs=args.n_jobs, progress=not args.no_progress)
        print(report.summary())
        score = {"accuracy_mean": report.accuracy_mean, "accuracy_std": report.accuracy_std,
                 "protocol": report.protocol}
    model.fit(clips, bunch.target)
    frame_size = None
    if faces == "detect":
        # The tubes were extracted once above; the saved model starts with the same step,
        # so that it takes whole video frames.
        extractor = face_tube_step().fit()
        model = Pipeline([("faces", extractor)] + model.steps)
        frame_size = list(extractor.frame_size)
    elif len(clips):
        frame_size = list(clips[0].shape[1:3])
    card = describe(
        model, args.model, frame_size=frame_size, faces=faces, data=f"{data_name} ({fmt})",
        n_clips=len(bunch.data), score=score,
    )
    if tube_counts is not None:
        card.params["face_tube_frames"] = tube_counts
    path, card_file = save_model(model, args.out, card)
    print(f"model: {path}\nmodel card: {card_file}\n"
          f"classes: {', '.join(card.classes)}; trained on {card.device}")
    return 0

