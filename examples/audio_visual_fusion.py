"""
Audio-visual fusion: a face model and a speech model, one ClipSet, one weighted average
=======================================================================================

Run: ``python examples/audio_visual_fusion.py`` (the six CREMA-D clips shipped with skfer:
a smoke run of the plumbing, fit on 4 clips, predict 2; six clips of one actor give no
score), or on a whole audio-visual data set, actor-independently::

    python examples/audio_visual_fusion.py --cremad DIR    # CREMA-D's VideoFlash/*.flv
    python examples/audio_visual_fusion.py --ravdess DIR   # RAVDESS' Actor_*/*.mp4 (speech)

Each video is read once with its sound (:func:`skfer.io.read_video`), into one
:class:`~skfer.ClipSet` whose clips are the frames and whose companions are the sound
track, its sample rate and the actor as ``speaker``. The face tubes are extracted once
(the extractor learns nothing); the tubes keep those companions. Two members then read the
same ``X``: a **visual** model (HOG of the 48x48 face frames, averaged over the clip,
logistic regression) reads the pixels; an **audio** model (``AudioFeatures`` pooled per
clip, standardised per speaker by ``SpeakerNormalizer``, logistic regression) reads the
``audio`` companion. :class:`~skfer.ensemble.WeightedAverageClassifier` fuses their class
probabilities with per-class weights searched on out-of-fold predictions (EmoNets 4.2),
whose folds (``SpeakerKFold``) hold out whole actors. With a data set, each model and the
fusion are scored by ``GroupKFold(5)`` over actors: accuracy and unweighted average recall.

Speaker normalisation is transductive: a test actor is standardised with the statistics of
that actor's own (unlabelled) test clips, so predicting needs several clips of each actor.
"""

import argparse
import re
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import recall_score
from sklearn.model_selection import GroupKFold, KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfer import ClipSet
from skfer.ensemble import WeightedAverageClassifier
from skfer.features import AudioFeatures, HOGFeatures, SpeakerKFold, SpeakerNormalizer
from skfer.io import read_video
from skfer.preprocessing import FaceTubeExtractor, FramePooling

#: Emotion codes in the file names: CREMA-D ``1001_DFA_ANG_XX.flv`` (actor, sentence,
#: emotion, level) and RAVDESS ``02-01-05-01-02-01-12.mp4`` (modality, channel, emotion,
#: intensity, statement, repetition, actor; 02 = video only has no sound, 01 = full AV).
CREMAD = (re.compile(r"^(\d{4})_[A-Z]{3}_([A-Z]{3})_"), {
    "ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness", "NEU": "neutral",
    "SAD": "sadness"})
RAVDESS = (re.compile(r"^01-01-(\d{2})-\d{2}-\d{2}-\d{2}-(\d{2})$"), {
    "01": "neutral", "02": "calm", "03": "happiness", "04": "sadness", "05": "anger",
    "06": "fear", "07": "disgust", "08": "surprise"})


def load_av(files, pattern, codes, *, max_frames=60):
    """Frames, sound and actor of every labelled file (RAVDESS' 'calm' left out, said so)."""
    clips, audio, rates, actors, labels, left_out = [], [], [], [], [], 0
    for f in files:
        m = pattern.match(Path(f).stem)
        if m is None:
            continue  # not an audio-visual recording of the set (e.g. RAVDESS video-only)
        actor, code = (m.group(1), m.group(2)) if pattern is CREMAD[0] else (
            m.group(2), m.group(1))
        if codes[code] == "calm":  # no canonical expression: counted, not silently lost
            left_out += 1
            continue
        video = read_video(f, audio=True, sample_rate=16000, max_frames=max_frames)
        clips.append(video.frames)
        audio.append(video.audio)
        rates.append(video.sample_rate)
        actors.append(actor)
        labels.append(codes[code])
    if left_out:
        print(f"{left_out} 'calm' clips left out (no canonical expression)")
    return ClipSet(clips, audio=audio, sample_rate=rates, speaker=actors), np.array(labels)


def members():
    visual = make_pipeline(HOGFeatures(frame_size=(48, 48)), FramePooling(method="mean"),
                           StandardScaler(), LogisticRegression(C=0.01, max_iter=2000))
    audio = make_pipeline(
        SpeakerNormalizer(AudioFeatures(pooling=["mean", "std", "min", "max"])),
        StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    return [("visual", visual), ("audio", audio)]


def scores(y, pred):
    return f"accuracy {np.mean(pred == y):.3f}, UAR {recall_score(y, pred, average='macro'):.3f}"


def main(argv):
    parser = argparse.ArgumentParser(description="audio-visual fusion, actor-independent")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--cremad", type=Path, help="CREMA-D's folder of .flv videos")
    where.add_argument("--ravdess", type=Path, help="RAVDESS' folder of Actor_* folders")
    # Known options only: the tests run this script with pytest's own command line.
    opts, _ = parser.parse_known_args(argv)
    args = opts.cremad or opts.ravdess
    if args:
        pattern, codes = CREMAD if opts.cremad else RAVDESS
        files = sorted(p for p in args.rglob("*") if p.suffix.lower() in (".flv", ".mp4"))
        X, y = load_av(files, pattern, codes)
    else:
        from skfer.datasets import load_sample_videos

        bunch = load_sample_videos(color=False)  # one actor, six expressions
        X = ClipSet.from_bunch(bunch).replace(speaker=[str(g) for g in bunch.groups])
        y = np.asarray(bunch.target)
    n_actors = len(set(X.get("speaker")))
    print(f"{len(X)} clips, {n_actors} actors, classes {sorted(set(y.tolist()))}")

    # Face tubes once: the tubes are a ClipSet keeping audio, sample_rate and speaker.
    tubes = FaceTubeExtractor(frame_size=(48, 48), on_missing="warn").fit_transform(X)

    if args and n_actors >= 4:
        actors = np.asarray(tubes.get("speaker"))
        outer = GroupKFold(n_splits=min(5, n_actors))
        fusion = WeightedAverageClassifier(members(), cv=SpeakerKFold(3), random_state=0)
        for name, model in [*members(), ("fusion", fusion)]:
            pred = cross_val_predict(model, tubes, y, groups=actors, cv=outer)
            print(f"{name:>7}: {scores(y, pred)} ({outer.n_splits} folds of whole actors)")
        return
    # Too few actors for actor-independent folds: a smoke run, the fusion's own folds
    # splitting clips. Two clips of the (same) actor are predicted: normalisable.
    fusion = WeightedAverageClassifier(members(), cv=KFold(2), n_iter=5, n_local_iter=2,
                                       random_state=0)
    fusion.fit(tubes[:4], y[:4])
    proba = fusion.predict_proba(tubes[4:6])
    print(f"fitted on 4 clips; classes {fusion.classes_.tolist()}")
    print(f"per-class weights (visual, audio):\n{np.round(fusion.weights_, 2)}")
    print(f"clips 4-5: true {y[4:6].tolist()}, predicted "
          f"{fusion.predict(tubes[4:6]).tolist()}, probabilities sum to "
          f"{proba.sum(axis=1).round(3).tolist()}")


if __name__ == "__main__":
    main(sys.argv[1:])
