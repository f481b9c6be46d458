"""``skfer predict``'s default model on real videos and group photos, against ``fer`` (issue 26).

Run (one command; ``--fer`` is the python of a virtual environment holding ``fer`` 25.10.3,
see ``bench_peer_fer.py``; without it only skfer's columns are filled)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_real_video.py \\
        --fer /tmp/fer-venv/bin/python [--photos] [--out /tmp/skfer_real_video.json]

Prints Markdown tables for ``docs/benchmarks.md``; writes the scores and each scored frame's
predictions to ``--out`` (under ``/tmp``: never into the repository, the data's licences
forbid it).

**Videos, per-frame accuracy.** The default model of ``skfer predict`` (the network shipped
inside skfer, ``emonets-fer2013``: ``skfer.models.make_model("emonets-fer2013")``) through
:func:`skfer.prediction.predict_files` (primary face, ``smooth_s=1.0``, as the command),
scored per frame by the argmax of its raw probabilities (the CSV's ``p_<class>``) and of
the smoothed track (``smooth_<class>``), against ``fer``'s video API with its default
detector (``benchmarks/_fer_video.py``: ``Video(path).analyze(FER(), display=False)``), its
per-frame top emotion (fer's first face, as its ``first_face_only`` table; names mapped:
angry -> anger, happy -> happiness, sad -> sadness) and, for comparison with skfer's
smoothed column, fer's probabilities through the same 1-second smoothing
(:func:`skfer.prediction.smooth_track`). Argmax over all 7 classes of each model (a
"surprise" answer is an error). A frame where a tool has no face counts as an error and the
frames with a face are counted beside.

* The six CREMA-D sample clips (``skfer/datasets/data/cremad``, the same files as
  ``cremad_sample`` of the shared data; actor 1001 saying one sentence, 480x360, 29.97 fps,
  56-70 frames): each frame takes its clip's label (ANG DIS FEA HAP NEU SAD -> anger
  disgust fear happiness neutral sadness). The clip label is the acted emotion: the first
  frames of a clip are often still near neutral, so the per-frame score is a floor.
* ``face_videos/single_face.mp4`` of the shared data (640x360, 30 fps, 72 frames, 2.4 s: a
  man, still, then smiling): only 2.4 s long, so instead of one frame a second, every
  6th frame (every 0.2 s, 12 frames) was extracted to ``/tmp``, looked at and labelled by
  eye by this benchmark's author (:data:`SINGLE_FACE_LABELS`: labels only, no pixel of the
  video); both tools are scored on those 12 frames.

**Speed**: frames per second of each tool's processing call (skfer's ``predict_files``
with the model loaded, no output written; fer's ``Video.analyze`` with ``FER()`` built),
both single-threaded (``--threads 1``: torch, OpenCV; fer's TFLite interpreter loaded with
1 thread), after waiting for the machine's 1-minute load to fall below ``--max-load``.

**Group photos** (``--photos``): ``faces_68pt`` of the shared data, photos with faces
hand-annotated with 68 landmarks (``*_with_face_landmarks.xml``, dlib's imglab format: 43
faces in 9 of its 12 photos; the other 3 have no annotation). A face's reference box is its
landmarks' bounding box. skfer: ``predict_files(..., faces="all")``, one row per face found
(its box is the square the face was cut from, FER2013's framing); fer:
``FER().detect_emotions`` per photo. An annotated face counts as found when a predicted box
overlaps it with IoU >= 0.3 or has its centre inside it, each predicted box matched to one
face at most (greedy, best IoU first); boxes matched to no annotated face are counted as
"other boxes" (false detections, or faces nobody annotated).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import load1, wait_for_quiet  # noqa: E402
from _machine import cpu_name  # noqa: E402
from _shared_data import SHARED_DATA  # noqa: E402

#: Hand labels of ``face_videos/single_face.mp4``, by time in seconds (frame = 30 x time):
#: every 6th frame looked at and labelled by eye. 0.6 s is the smile's onset (closed
#: mouth, lip corners and cheeks raised).
SINGLE_FACE_LABELS = {
    0.0: "neutral", 0.2: "neutral", 0.4: "neutral", 0.6: "happiness", 0.8: "happiness",
    1.0: "happiness", 1.2: "happiness", 1.4: "happiness", 1.6: "happiness",
    1.8: "happiness", 2.0: "happiness", 2.2: "happiness",
}
CREMAD = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness",
          "NEU": "neutral", "SAD": "sadness"}
FER_NAMES = {"angry": "anger", "happy": "happiness", "sad": "sadness"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def set_threads(n: int) -> None:
    import cv2
    import torch

    torch.set_num_threads(n)
    cv2.setNumThreads(n)


# -- the tools -------------------------------------------------------------------------------


def run_skfer(paths: list[Path], faces: str, max_load: float | None,
              detector=None) -> tuple[list, dict]:
    """``predict_files`` with the default model; (FilePredictions, timing). ``detector``:
    another face detector for the model's face-tube step (default: the model's own)."""
    from sklearn.base import clone

    from skfer.models import DEFAULT_MODEL, make_model
    from skfer.prediction import FrameModel, predict_files

    model = FrameModel(make_model(DEFAULT_MODEL))
    if detector is not None:
        model.extractor = clone(model.extractor).set_params(detector=detector,
                                                            faces=faces).fit()
    quiet = wait_for_quiet(max_load, what="skfer") if max_load else {"load_before": load1()}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, results = predict_files(model, [str(p) for p in paths], faces=faces, smooth_s=1.0,
                                   details=True, as_frame=False, on_missing="ignore",
                                   on_error="ignore")
    seconds = time.perf_counter() - start
    frames = sum(r.n_frames for r in results if r.ok)
    return results, {"seconds": seconds, "frames": frames, "frames_per_s": frames / seconds,
                     "load_before": quiet["load_before"], "load_after": round(load1(), 2)}


def run_fer(python: str, paths: list[Path], out: Path, images: bool, threads: int,
            max_load: float | None) -> tuple[dict, dict]:
    """``_fer_video.py`` in fer's environment; (its JSON, timing of its processing calls)."""
    cmd = [python, str(ROOT / "benchmarks" / "_fer_video.py"), *map(str, paths), "--out",
           str(out), "--threads", str(threads)] + (["--images"] if images else [])
    quiet = wait_for_quiet(max_load, what="fer") if max_load else {"load_before": load1()}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=out.parent)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    res = json.loads(out.read_text())
    seconds = sum(f["seconds"] for f in res["files"].values())
    frames = sum(f["n_frames"] for f in res["files"].values())
    return res, {"seconds": seconds, "frames": frames, "frames_per_s": frames / seconds,
                 "load_before": quiet["load_before"], "load_after": round(load1(), 2),
                 "fer_version": res["fer_version"]}


# -- videos ----------------------------------------------------------------------------------


def fer_tracks(res: dict, path: Path, classes: list[str]) -> np.ndarray:
    """``(T, 7)`` fer probabilities of its first face per frame, in skfer's class order;
    NaN where fer found no face."""
    labels = [FER_NAMES.get(c, c) for c in res["labels"]]
    order = [labels.index(c) for c in classes]
    frames = res["files"][str(path)]["frames"]
    out = np.full((len(frames), len(classes)), np.nan)
    for i, faces in enumerate(frames):
        if faces:
            out[i] = np.asarray(faces[0][4:], dtype=float)[order]
    return out


def argmax_labels(proba: np.ndarray, classes: list[str]) -> np.ndarray:
    """Per row the top class, ``""`` where the row is NaN (no face)."""
    ok = np.isfinite(proba).all(axis=1)
    out = np.full(len(proba), "", dtype=object)
    out[ok] = np.asarray(classes, dtype=object)[np.nanargmax(proba[ok], axis=1)]
    return out


def video_scores(skfer_results: list, fer_res: dict | None) -> list[dict]:
    """One record per video: truth and each column's per-frame predictions on the scored
    frames."""
    from skfer.prediction import smooth_track

    records = []
    for r in skfer_results:
        path = Path(r.path)
        classes = r.classes
        if r.path.endswith("single_face.mp4"):
            times = sorted(SINGLE_FACE_LABELS)
            idx = np.array([int(round(t * r.fps)) for t in times])
            truth = [SINGLE_FACE_LABELS[t] for t in times]
            name = "single_face.mp4 (hand-labelled frames)"
        else:
            idx = np.arange(r.n_frames)
            truth = [CREMAD[path.stem.split("_")[2]]] * r.n_frames
            name = path.name
        rows = np.searchsorted(r.frame, idx)  # primary face: one row per frame
        cols = {"skfer raw": argmax_labels(r.proba[rows], classes),
                "skfer smoothed": argmax_labels(r.smooth[rows], classes)}
        probas = {"skfer": r.proba[rows]}
        if fer_res is not None:
            fp = fer_tracks(fer_res, path, classes)
            times = np.arange(len(fp)) / r.fps
            cols["fer raw"] = argmax_labels(fp[idx], classes)
            cols["fer smoothed (1 s, skfer's rule)"] = argmax_labels(
                smooth_track(times, fp, 1.0)[idx], classes)
            probas["fer"] = fp[idx]
        records.append({
            "video": name, "truth": truth, "frames": idx.tolist(),
            "predictions": {k: v.tolist() for k, v in cols.items()},
            "probabilities": {tool: proba_stats(p, classes, truth)
                              for tool, p in probas.items()},
        })
    return records


def proba_stats(proba: np.ndarray, classes: list[str], truth: list[str]) -> dict:
    """On the frames with a face: mean probability of the true class and of neutral, and
    how often the true class is among the two most probable (top-2)."""
    ok = np.isfinite(proba).all(axis=1)
    k = np.array([classes.index(t) for t in truth])[ok]
    p = proba[ok]
    p_true = p[np.arange(len(p)), k]
    rank = (p > p_true[:, None]).sum(axis=1)
    return {"p_true": float(p_true.mean()), "p_neutral": float(p[:, classes.index("neutral")]
                                                               .mean()),
            "top2": float(np.mean(rank <= 1))}


def why_table(records: list[dict]) -> str:
    """Per video and tool: mean probability of the true class, of neutral, top-2 rate."""
    tools = list(records[0]["probabilities"])
    lines = ["| video | " + " | ".join(f"{t}: mean p(true) / p(neutral) / top-2"
                                        for t in tools) + " |", "|---|" + "---|" * len(tools)]
    for rec in records:
        cells = [f"{s['p_true']:.2f} / {s['p_neutral']:.2f} / {s['top2']:.2f}"
                 for s in (rec["probabilities"][t] for t in tools)]
        lines.append(f"| {rec['video']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def video_table(records: list[dict]) -> str:
    columns = list(records[0]["predictions"])
    head = "| video | label | frames | " + " | ".join(columns) + " | faces found (skfer / fer) |"
    lines = [head, "|" + "---|" * (len(columns) + 4)]

    def cell(truth, pred) -> str:
        truth, pred = np.asarray(truth), np.asarray(pred)
        return f"{np.mean(truth == pred):.2f} ({int(np.sum(truth == pred))})"

    def found(rec_list) -> str:
        out = []
        for col in ("skfer raw", "fer raw"):
            if col in rec_list[0]["predictions"]:
                n = sum(sum(p != "" for p in r["predictions"][col]) for r in rec_list)
                out.append(str(n))
        return " / ".join(out)

    for rec in records:
        labels = sorted(set(rec["truth"]), key=rec["truth"].index)
        lines.append(f"| {rec['video']} | {', '.join(labels)} | {len(rec['truth'])} | "
                     + " | ".join(cell(rec["truth"], rec["predictions"][c]) for c in columns)
                     + f" | {found([rec])} |")
    crema = [r for r in records if not r["video"].startswith("single_face")]
    if crema:
        truth = sum((r["truth"] for r in crema), [])
        lines.append(f"| **6 CREMA-D clips** | 6 classes | {len(truth)} | "
                     + " | ".join(cell(truth, sum((r["predictions"][c] for r in crema), []))
                                  for c in columns) + f" | {found(crema)} |")
    return "\n".join(lines)


def confusion_note(records: list[dict]) -> str:
    """What each tool answered on each CREMA-D clip (raw), most frequent first."""
    lines = []
    for rec in records:
        parts = []
        for col in ("skfer raw", "fer raw"):
            if col not in rec["predictions"]:
                continue
            values, counts = np.unique(np.asarray(rec["predictions"][col], dtype=object)
                                       .astype(str), return_counts=True)
            top = sorted(zip(counts, values), reverse=True)[:3]
            parts.append(f"{col.split()[0]}: " + ", ".join(f"{v or 'no face'} {c}"
                                                           for c, v in top))
        lines.append(f"* {rec['video']}: " + "; ".join(parts))
    return "\n".join(lines)


# -- photos ----------------------------------------------------------------------------------


def annotated_faces(folder: Path) -> dict[str, np.ndarray]:
    """Photo name -> ``(F, 4)`` landmark bounding boxes ``(x0, y0, x1, y1)``."""
    out: dict[str, np.ndarray] = {}
    for xml in sorted(folder.glob("*_with_face_landmarks.xml")):
        for image in ET.parse(xml).getroot().iter("image"):
            boxes = []
            for box in image.iter("box"):
                pts = np.array([[float(p.get("x")), float(p.get("y"))]
                                for p in box.iter("part")])
                boxes.append([*pts.min(0), *pts.max(0)])
            out[image.get("file")] = np.array(boxes).reshape(-1, 4)
    return out


def match(truth: np.ndarray, boxes: np.ndarray, min_iou: float = 0.3) -> np.ndarray:
    """``(F,)`` bool: which annotated faces are found. One-to-one, a pair counts with IoU >=
    min_iou or the predicted box's centre inside the face's box; greedy by IoU."""
    hit = np.zeros(len(truth), bool)
    if not len(truth) or boxes is None or not len(boxes):
        return hit
    b = np.c_[boxes[:, :2], boxes[:, :2] + boxes[:, 2:]]  # xywh -> x0 y0 x1 y1
    ix = np.clip(np.minimum(truth[:, None, 2], b[None, :, 2])
                 - np.maximum(truth[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(truth[:, None, 3], b[None, :, 3])
                 - np.maximum(truth[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    iou = inter / (area(truth)[:, None] + area(b)[None, :] - inter)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    inside = ((cx[None] >= truth[:, None, 0]) & (cx[None] <= truth[:, None, 2])
              & (cy[None] >= truth[:, None, 1]) & (cy[None] <= truth[:, None, 3]))
    ok = (iou >= min_iou) | inside
    score = np.where(ok, iou + 1e-6, -1.0)
    used_b = set()
    for t, k in sorted(np.argwhere(ok).tolist(), key=lambda tk: -score[tk[0], tk[1]]):
        if not hit[t] and k not in used_b:
            hit[t] = True
            used_b.add(k)
    return hit


def photos(args, model_threads: int) -> tuple[str, dict]:
    folder = SHARED_DATA / "faces_68pt"
    truth = annotated_faces(folder)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".jpg")
    from skfer.preprocessing.face_detection import HaarFaceDetector

    def boxes_of(results: list) -> dict[str, np.ndarray]:
        return {Path(r.path).name: (r.boxes[r.status != "missing"] if r.ok
                                    else np.zeros((0, 4))) for r in results}

    skfer_boxes = boxes_of(run_skfer(paths, "all", None)[0])
    # The same with the detector on the photo's own pixels instead of shrunk to 320 wide.
    full_boxes = boxes_of(run_skfer(paths, "all", None, HaarFaceDetector(detect_width=None))[0])
    fer_boxes = {}
    if args.fer:
        res, _ = run_fer(args.fer, paths, args.work / "fer_photos.json", True, model_threads,
                         None)
        fer_boxes = {Path(k).name: np.array([f[:4] for f in v["frames"][0]],
                                            dtype=float).reshape(-1, 4)
                     for k, v in res["files"].items()}
    lines = ["| photo | annotated faces | skfer found | skfer other boxes | fer found | "
             "fer other boxes |", "|---|---|---|---|---|---|"]
    totals = np.zeros(5, int)
    record: dict = {}
    sizes, hits = [], {"skfer": [], "fer": [], "full": []}  # per annotated face
    full_found = full_other = 0
    for p in paths:
        t = truth.get(p.name)
        sb, fb = skfer_boxes[p.name], fer_boxes.get(p.name)
        if t is None:
            cells = ["not annotated", "-", f"{len(sb)} boxes", "-",
                     "-" if fb is None else f"{len(fb)} boxes"]
        else:
            s_hit, f_hit = match(t, sb), match(t, fb)
            sizes += (t[:, 2:] - t[:, :2]).max(axis=1).tolist()
            hits["skfer"] += s_hit.tolist()
            hits["fer"] += f_hit.tolist()
            full_hit = match(t, full_boxes[p.name])
            hits["full"] += full_hit.tolist()
            full_found += int(full_hit.sum())
            full_other += len(full_boxes[p.name]) - int(full_hit.sum())
            s_found, f_found = int(s_hit.sum()), int(f_hit.sum())
            row = [len(t), s_found, len(sb) - s_found, f_found,
                   (len(fb) - f_found) if fb is not None else 0]
            totals += row
            cells = [str(v) for v in row]
            if fb is None:
                cells[3:] = ["-", "-"]
        record[p.name] = cells
        lines.append(f"| {p.name} | " + " | ".join(cells) + " |")
    lines.append(f"| **{len(truth)} annotated photos** | " + " | ".join(
        f"**{v}**" if args.fer or i < 3 else "-" for i, v in enumerate(totals)) + " |")
    sizes_a = np.asarray(sizes)
    by_size = ["| annotated face (landmark box, longer side) | faces | skfer found | skfer, "
               "detector at full size | fer found |", "|---|---|---|---|---|"]
    for lo, hi in ((0, 40), (40, 60), (60, 10_000)):
        m = (sizes_a >= lo) & (sizes_a < hi)
        by_size.append(f"| {lo}-{hi - 1 if hi < 10_000 else ''} px | {int(m.sum())} | "
                       f"{int(np.asarray(hits['skfer'])[m].sum())} | "
                       f"{int(np.asarray(hits['full'])[m].sum())} | "
                       + (f"{int(np.asarray(hits['fer'])[m].sum())} |" if args.fer else "- |"))
    note = (f"annotated faces' landmark boxes: {sizes_a.min():.0f}-{sizes_a.max():.0f} px "
            f"(median {np.median(sizes_a):.0f}) on their longer side; skfer with its detector "
            f"at full size (HaarFaceDetector(detect_width=None)): {full_found} found, "
            f"{full_other} other boxes")
    return ("\n".join(lines) + "\n\n" + "\n".join(by_size) + f"\n\n{note}",
            {"per_photo": record, "totals": totals.tolist(), "by_size": by_size,
             "full_size_detector": [full_found, full_other]})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fer", default=None, metavar="PYTHON",
                   help="python of a virtual environment with fer 25.10.3")
    p.add_argument("--photos", action="store_true", help="also the group photos")
    p.add_argument("--no-videos", action="store_true", help="only the photos")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-load", type=float, default=1.3,
                   help="wait until the 1-minute load is below this before each timing "
                        "(0: do not wait)")
    p.add_argument("--work", type=Path, default=Path("/tmp/skfer_real_video"))
    p.add_argument("--out", type=Path, default=Path("/tmp/skfer_real_video.json"))
    args = p.parse_args()
    if str(args.out.resolve()).startswith(str(ROOT)) or str(args.work.resolve()).startswith(
            str(ROOT)):
        raise SystemExit("--out and --work must lie outside the repository (data licences)")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    args.work.mkdir(parents=True, exist_ok=True)
    set_threads(args.threads)
    max_load = args.max_load or None
    out: dict = {"machine": f"{cpu_name()}, {len(os.sched_getaffinity(0))} cores",
                 "threads": args.threads, "date": time.strftime("%Y-%m-%d")}

    if not args.no_videos:
        from skfer.datasets import sample_videos_path

        videos = sorted(sample_videos_path().glob("*.flv"))
        single = SHARED_DATA / "face_videos" / "single_face.mp4"
        if single.exists():
            videos.append(single)
        else:
            log(f"{single} not found: scored on the CREMA-D clips only")
        results, s_time = run_skfer(videos, "primary", max_load)
        fer_res, f_time = None, None
        if args.fer:
            fer_res, f_time = run_fer(args.fer, videos, args.work / "fer_videos.json", False,
                                      args.threads, max_load)
        records = video_scores(results, fer_res)
        out |= {"videos": records, "skfer_speed": s_time, "fer_speed": f_time}
        print("\n" + video_table(records))
        print("\n" + confusion_note(records))
        print("\n" + why_table(records))
        for name, t in (("skfer predict_files (emonets-fer2013)", s_time),
                        ("fer Video.analyze (FER())", f_time)):
            if t is not None:
                print(f"\n{name}: {t['frames']} frames in {t['seconds']:.1f} s = "
                      f"{t['frames_per_s']:.1f} frames/s, {args.threads} thread(s), load "
                      f"{t['load_before']:.2f} before, {t['load_after']:.2f} after")
    if args.photos:
        table, record = photos(args, args.threads)
        out["photos"] = record
        print("\n" + table)
    print(f"\nmachine: {out['machine']}; {out['date']}")
    args.out.write_text(json.dumps(out, indent=1, default=str))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
