"""Tracking the primary face between detections (EmoNets, Kahou et al. 2016, section 3.1.3).

The parts of :class:`~skfer.preprocessing.FaceTubeExtractor` that follow a face across
frames, on grey working frames shrunk to :data:`WORK_WIDTH` pixels:

* :func:`associate` links the boxes of successive detected frames into tubes, one per person;
* :func:`template_track` follows the face on frames skipped by the detection stride
  (normalised cross-correlation);
* :func:`histogram_search` fills frames where detection failed (grey-histogram match);
* :func:`locate_undetected` applies both to the runs of frames between detections;
* :func:`face_orientation` asks the detector whether the tube's face is upright.

Boxes are ``(x, y, w, h)`` rows, as everywhere in skfer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..utils.pixels import pixel_unit, to_uint8
from ..utils.pixels import to_grey_frame as grey
from .box_smoothing import box_intersection, box_iou

__all__ = [
    "HIST_BINS",
    "SearchParams",
    "WORK_WIDTH",
    "WorkFrames",
    "associate",
    "face_orientation",
    "grey",  # skfer.utils.pixels.to_grey_frame, re-exported (face_tubes takes it from here)
    "grey_histogram",
    "histogram_search",
    "locate_undetected",
    "patch_bounds",
    "pixel_unit",  # the scale rule of skfer.utils.pixels, re-exported
    "template_track",
    "tube_confidence",
    "turn_box_back",
    "Orientation",
    "MIN_HITS",
    "ORIENTATION_SAMPLE",
    "TURNS",
    "to_uint8",
    "work_frame",
    "work_scale",
    "fill_run",
]

#: Tracking and histogram search run on frames shrunk to this width (faces stay > 20 px on
#: the videos this targets, and the search cost falls with the square of the scale).
WORK_WIDTH = 320
#: Bins of the grey-level histograms compared by :func:`histogram_search`.
HIST_BINS = 32
#: Detections of the primary face that give a tube full evidence (all of the detector's runs
#: when it ran fewer times, e.g. on a short clip): a face seen once or twice in a clip where
#: the detector ran many times is more likely a false positive that never repeats.
MIN_HITS = 5
#: Most of the detector's runs that :func:`face_orientation` repeats on turned frames
#: (spread evenly over the clip), which bounds its cost on long clips.
ORIENTATION_SAMPLE = 16
#: Counter-clockwise turns (degrees, ``np.rot90``'s sense) tried by :func:`face_orientation`:
#: upside down first, the commonest wrong orientation (a camera mounted or held upside down).
TURNS = (180, 90, 270)


@dataclass(frozen=True)
class SearchParams:
    """How far tracking and filling look for the face (FaceTubeExtractor's parameters).

    Attributes
    ----------
    search_radius : float
        Neighbourhood searched, in box sides around the previous box.
    max_gap : int
        Farthest a failed run is filled from each located side, in frames.
    max_hist_distance : float
        Largest Bhattacharyya distance accepted by the histogram search.
    """

    search_radius: float
    max_gap: int
    max_hist_distance: float


def work_scale(width: int) -> float:
    """Factor from frame pixels to working-frame pixels (see ``WORK_WIDTH``)."""
    return min(1.0, WORK_WIDTH / width)


def work_frame(frame: np.ndarray, unit: float, scale: float) -> np.ndarray:
    """Grey uint8 version of a frame at the working scale, for tracking and filling."""
    g = to_uint8(grey(frame), unit)
    if scale < 1:
        g = cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return g


class WorkFrames:
    """Working frames (:func:`work_frame`) of a clip, built on first use and kept.

    ``cache`` may hold frames built beforehand (by the decoding thread of
    :meth:`FaceTubeExtractor.transform_files`).
    """

    def __init__(
        self,
        clip: np.ndarray | Sequence[np.ndarray],
        unit: float,
        cache: list[np.ndarray | None] | None = None,
    ) -> None:
        self.clip = clip
        self.unit = unit
        self.scale = work_scale(clip[0].shape[1])
        self.cache: list[np.ndarray | None] = [None] * len(clip) if cache is None else cache

    def __call__(self, t: int) -> np.ndarray:
        img = self.cache[t]
        if img is None:
            img = self.cache[t] = work_frame(self.clip[t], self.unit, self.scale)
        return img


def same_face_score(prev: np.ndarray, box: np.ndarray) -> float | None:
    """How well ``box`` continues a face last seen at ``prev`` (higher is better), or
    ``None`` when it cannot be the same face: they must overlap (IoU >= 0.3) or have
    centres within half the mean side and sizes within a factor 1.5."""
    iou = float(box_iou(prev, box))
    side = (np.sqrt(prev[2] * prev[3]) + np.sqrt(box[2] * box[3])) / 2
    dist = np.hypot(
        prev[0] + prev[2] / 2 - box[0] - box[2] / 2,
        prev[1] + prev[3] / 2 - box[1] - box[3] / 2,
    ) / max(side, 1e-9)
    ratio = np.sqrt(box[2] * box[3] / max(prev[2] * prev[3], 1e-9))
    if iou >= 0.3 or (dist < 0.5 and 1 / 1.5 < ratio < 1.5):
        return iou + 1 - dist
    return None


def link_returning(tubes: list[dict[int, tuple[np.ndarray, float]]]) -> list[list[int]]:
    """Group the tubes of one face that left and came back (a gap longer than
    ``associate``'s): indices into ``tubes``, one list per person, by first appearance.

    A tube that starts after another ended continues it when its first box is where the
    other's last box was (:func:`same_face_score`; a face that comes back elsewhere is a
    new person as far as boxes can tell). Candidates are joined greedily, best score first;
    tubes that overlap in time are different people and never joined.
    """
    order = sorted(range(len(tubes)), key=lambda k: min(tubes[k]))
    groups: list[list[int]] = []
    for k in order:
        start = min(tubes[k])
        first = tubes[k][start][0]
        best, best_score = None, -np.inf
        for group in groups:
            end = max(tubes[group[-1]])
            if end >= start:
                continue
            score = same_face_score(tubes[group[-1]][end][0], first)
            if score is not None and score > best_score:
                best, best_score = group, score
        if best is None:
            groups.append([k])
        else:
            best.append(k)
    return groups


def associate(
    detections: dict[int, tuple[np.ndarray, np.ndarray]], max_skip: int
) -> list[dict[int, tuple[np.ndarray, float]]]:
    """Link the boxes of successive detected frames into tubes (one per person).

    A box continues a tube whose last box is at most ``max_skip`` frames earlier when they
    overlap (IoU >= 0.3) or, failing that, when their centres are within half the mean
    side and their sizes differ by less than a factor 1.5. Candidate pairs are matched
    greedily by ``IoU + 1 - centre distance / mean side``; unmatched boxes start new tubes.
    """
    tubes: list[dict[int, tuple[np.ndarray, float]]] = []
    for t in sorted(detections):
        boxes, scores = detections[t]
        pairs = []
        for j, tube in enumerate(tubes):
            last = max(tube)
            if t - last > max_skip:
                continue
            prev = tube[last][0]
            for i, box in enumerate(boxes):
                score = same_face_score(prev, box)
                if score is not None:
                    pairs.append((score, i, j))
        used_boxes: set[int] = set()
        used_tubes: set[int] = set()
        for _, i, j in sorted(pairs, reverse=True):
            if i in used_boxes or j in used_tubes:
                continue
            tubes[j][t] = (boxes[i], float(scores[i]))
            used_boxes.add(i)
            used_tubes.add(j)
        for i in range(len(boxes)):
            if i not in used_boxes:
                tubes.append({t: (boxes[i], float(scores[i]))})
    return tubes


def patch_bounds(box: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Integer ``x0, y0, x1, y1`` of a box clipped to the frame, or None when empty."""
    x0, y0 = int(round(box[0])), int(round(box[1]))
    x1, y1 = int(round(box[0] + box[2])), int(round(box[1] + box[3]))
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, shape[1]), min(y1, shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def grey_histogram(img: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    b = patch_bounds(box, img.shape)
    if b is None:
        return None
    hist = cv2.calcHist([img[b[1] : b[3], b[0] : b[2]]], [0], None, [HIST_BINS], [0, 256])
    return cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)


def histogram_search(
    img: np.ndarray, box: np.ndarray, reference: np.ndarray, radius: float
) -> tuple[np.ndarray, float]:
    """Best same-size region near ``box`` by grey-histogram match (EmoNets section 3.1.3;
    the paper matches colour-intensity histograms, skfer grey ones, as it tracks on grey).

    Shifts of the box on a grid of step ``max(1, side / 8)`` pixels, up to ``radius`` box
    sides in x and y, are scored by the Bhattacharyya distance between the region's
    32-bin grey histogram and ``reference``.

    Parameters
    ----------
    img : ndarray of shape (H, W), uint8
    box : ndarray of shape (4,)
        ``x, y, w, h`` of the temporally closest box.
    reference : ndarray
        Normalised histogram of the face to find (from :func:`grey_histogram`).
    radius : float
        Search radius in box sides.

    Returns
    -------
    box : ndarray of shape (4,)
        The best region.
    distance : float
        Its Bhattacharyya distance (0 = identical histograms, 1 = disjoint).
    """
    side = max(min(box[2], box[3]), 1.0)
    step = max(1.0, side / 8)
    n = int(np.floor(radius * side / step))
    best, best_d = box, np.inf
    for dy in range(-n, n + 1):
        for dx in range(-n, n + 1):
            cand = np.array([box[0] + dx * step, box[1] + dy * step, box[2], box[3]])
            hist = grey_histogram(img, cand)
            if hist is None:
                continue
            d = cv2.compareHist(reference, hist, cv2.HISTCMP_BHATTACHARYYA)
            # Ties (e.g. flat regions) keep the smallest shift: stay put when unsure.
            if d < best_d - 1e-12:
                best, best_d = cand, d
    return best, float(best_d)


def template_track(
    img: np.ndarray, template: np.ndarray, prev: np.ndarray, radius: float
) -> np.ndarray:
    """Locate ``template`` near box ``prev`` by normalised cross-correlation."""
    th, tw = template.shape
    margin = int(np.ceil(radius * max(prev[2], prev[3])))
    x0 = max(int(round(prev[0])) - margin, 0)
    y0 = max(int(round(prev[1])) - margin, 0)
    x1 = min(int(round(prev[0] + prev[2])) + margin, img.shape[1])
    y1 = min(int(round(prev[1] + prev[3])) + margin, img.shape[0])
    window = img[y0:y1, x0:x1]
    if window.shape[0] < th or window.shape[1] < tw or th < 2 or tw < 2:
        return prev.copy()
    res = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
    _, _, _, (mx, my) = cv2.minMaxLoc(res)
    return np.array([x0 + mx, y0 + my, prev[2], prev[3]], dtype=float)


def locate_undetected(
    work: WorkFrames,
    primary: dict[int, tuple[np.ndarray, float]],
    found: dict[int, Any],
    boxes: np.ndarray,
    status: np.ndarray,
    search: SearchParams,
) -> None:
    """Track skipped frames and fill failed ones of the primary tube, in place.

    Runs of frames between two detections of the primary face that the detector never
    saw (skipped by the stride) are tracked forward from the earlier detection
    (:func:`template_track`, status ``"tracked"``); runs where detection was tried and
    failed, and the runs before the first and after the last detection, are filled by
    :func:`fill_run` (status ``"filled"``, or left ``"missing"``).

    Parameters
    ----------
    work : WorkFrames
        Working frames of the clip.
    primary : dict of int to (box, score)
        The primary tube's detections, by frame.
    found : dict of int to detector output
        Every frame the detector ran on.
    boxes : ndarray of shape (T, 4)
        Boxes of the primary face, ``(x, y, w, h)`` in frame pixels; completed in place.
    status : ndarray of shape (T,) of object
        Frame statuses; completed in place.
    search : SearchParams
    """
    n = len(work.cache)
    scale = work.scale
    det = sorted(primary)
    # Runs of frames between detections of the primary face (and before/after them).
    runs = [(a + 1, b) for a, b in zip(det, det[1:]) if b - a > 1]
    if det[0] > 0:
        runs.insert(0, (0, det[0]))
    if det[-1] < n - 1:
        runs.append((det[-1] + 1, n))
    for start, stop in runs:
        before = start - 1 if start > 0 else None
        after = stop if stop < n else None
        tried = any(t in found for t in range(start, stop))
        if not tried and before is not None and after is not None:
            # Skipped by the stride between two detections: track forward.
            tpl_box = boxes[before] * scale
            b = patch_bounds(tpl_box, work(before).shape)
            if b is None:
                continue
            template = work(before)[b[1] : b[3], b[0] : b[2]]
            # The template is the in-frame part of the box: track it, keep the box size.
            offset = np.array([b[0] - tpl_box[0], b[1] - tpl_box[1], 0.0, 0.0])
            prev = np.array([b[0], b[1], b[2] - b[0], b[3] - b[1]], dtype=float)
            for t in range(start, stop):
                prev = template_track(work(t), template, prev, search.search_radius)
                full = np.r_[prev[:2], tpl_box[2:]] - offset
                boxes[t], status[t] = full / scale, "tracked"
            continue
        fill_run(work, start, stop, before, after, boxes, status, search)


def fill_run(
    work: WorkFrames,
    start: int,
    stop: int,
    before: int | None,
    after: int | None,
    boxes: np.ndarray,
    status: np.ndarray,
    search: SearchParams,
) -> None:
    """Fill frames ``start..stop-1`` by histogram search, walking out from located frames.

    Each frame is searched around the box of its temporally closest located neighbour,
    against the histogram of the face detected at that side of the run. A side's walk
    stops at ``max_gap`` frames or at the first frame whose best match is farther than
    ``max_hist_distance`` (the face is gone), leaving the rest ``"missing"``.
    """
    scale = work.scale
    for anchor, step in ((before, 1), (after, -1)):
        if anchor is None:
            continue
        ref = grey_histogram(work(anchor), boxes[anchor] * scale)
        if ref is None:
            continue
        t = anchor + step
        while start <= t < stop and abs(t - anchor) <= search.max_gap:
            other = after if step == 1 else before
            # The other side's walk takes the frames temporally closer to it.
            if other is not None and abs(t - other) < abs(t - anchor):
                break
            if status[t] != "missing":
                break
            box, dist = histogram_search(
                work(t), boxes[t - step] * scale, ref, search.search_radius
            )
            if dist > search.max_hist_distance:
                break
            boxes[t], status[t] = box / scale, "filled"
            t += step


def tube_confidence(
    primary: dict[int, tuple[np.ndarray, float]],
    found: dict[int, Any],
    boxes: np.ndarray,
    status: np.ndarray,
    window: int,
) -> np.ndarray:
    """Per-frame confidence in [0, 1] of the primary tube, from what the tracker knows.

    ``tube = interior * evidence`` where *interior* is the fraction of the detector's runs on
    frames between the tube's first and last detection that found the tube's face (a real
    face is found again and again; scattered false detections, e.g. on an upside-down face,
    leave runs in between that find nothing or another box), and *evidence* is
    ``min(1, hits / min(MIN_HITS, runs))`` (a face found once in a clip where the detector ran
    often is a false positive that never repeats). A detected frame gets ``tube`` times its
    *agreement* with the median box of the tube's other detections within ``window`` frames:
    1 up to a distance ``d`` of 0.25, falling linearly to 0 at ``d = 1``, with ``d`` the
    centre distance in box sides plus ``|log2|`` of the ratio of sides (boxes jumping). Tracked
    and filled frames take the lower confidence of the detected frames around them; missing
    frames get 0. Detector scores are not used: they are not comparable across detectors
    (Haar's level weights are unbounded; a function detector gives 1); they stay in the
    :class:`~skfer.preprocessing.FaceTube` record.
    """
    n = len(status)
    hits = np.array(sorted(primary))
    runs = np.array(sorted(found))
    inside = int(((runs >= hits[0]) & (runs <= hits[-1])).sum())
    interior = len(hits) / max(inside, 1)
    evidence = min(1.0, len(hits) / min(MIN_HITS, len(runs)))
    side = np.sqrt(boxes[hits, 2] * boxes[hits, 3])
    centre = boxes[hits, :2] + boxes[hits, 2:] / 2
    agree = np.ones(len(hits))
    for k, t in enumerate(hits):
        near = (np.abs(hits - t) <= window) & (hits != t)
        if not near.any():
            continue  # nothing to compare with: interior and evidence speak for the frame
        ref_side = float(np.median(side[near]))
        dist = np.hypot(*(centre[k] - np.median(centre[near], axis=0))) / max(ref_side, 1e-9)
        dist += abs(np.log2(max(side[k], 1e-9) / max(ref_side, 1e-9)))
        agree[k] = float(np.clip((1.0 - dist) / 0.75, 0.0, 1.0))
    conf = np.zeros(n)
    conf[hits] = interior * evidence * agree
    located = np.flatnonzero((status != "missing") & ~np.isin(np.arange(n), hits))
    if located.size:
        pos = np.searchsorted(hits, located)
        before = conf[hits[np.maximum(pos - 1, 0)]]
        after = conf[hits[np.minimum(pos, len(hits) - 1)]]
        conf[located] = np.minimum(before, after)
    return conf


def turn_box_back(box: np.ndarray, turn: int, shape: tuple[int, ...]) -> np.ndarray:
    """A box found in a frame turned ``turn`` degrees counter-clockwise, in pixels of the
    frame as it is.

    Parameters
    ----------
    box : array-like of shape (4,)
        ``x, y, w, h`` in pixels of ``np.rot90(frame, turn // 90)``.
    turn : {90, 180, 270}
    shape : tuple
        Shape of the frame as it is, ``(H, W[, 3])``.

    Returns
    -------
    box : ndarray of shape (4,)
        The same region as ``x, y, w, h`` in pixels of the frame as it is.
    """
    height, width = shape[:2]
    x, y, w, h = box
    if turn == 90:  # np.rot90(frame, 1) puts the frame's pixel (x, y) at (y, W - x)
        return np.array([width - y - h, x, h, w], dtype=float)
    if turn == 180:
        return np.array([width - x - w, height - y - h, w, h], dtype=float)
    if turn == 270:  # np.rot90(frame, 3) puts it at (H - y, x)
        return np.array([y, height - x - w, h, w], dtype=float)
    raise ValueError(f"turn must be one of 90, 180, 270, got {turn}")


@dataclass(frozen=True)
class Orientation:
    """What :func:`face_orientation` found.

    Attributes
    ----------
    turn : int
        Counter-clockwise turn (degrees) of the frames in which the detector found the
        tube's face in most of the compared frames and in more of them than in the frames
        as they are; 0 when no turn did.
    hits : int
        Compared frames in which the face was found in the frames turned by ``turn``, until
        the turn had won (so a lower bound; 0 when ``turn`` is 0).
    upright_hits : int
        Compared frames in which the detector found the tube's face as they are.
    n_frames : int
        Frames compared (the detector's runs, at most :data:`ORIENTATION_SAMPLE`).
    n_calls : int
        Detector runs on turned frames.
    """

    turn: int = 0
    hits: int = 0
    upright_hits: int = 0
    n_frames: int = 0
    n_calls: int = 0


def face_orientation(
    frame: Callable[[int], np.ndarray],
    detect: Callable[[np.ndarray, str], tuple[np.ndarray, np.ndarray]],
    primary: dict[int, tuple[np.ndarray, float]],
    found: dict[int, Any],
    boxes: np.ndarray,
    status: np.ndarray,
    name: str = "",
) -> Orientation:
    """Whether the detector finds the primary face more often in turned frames.

    A frontal detector also fires, now and then, on an upside-down or sideways face (the
    mouth and nostrils taken for eyes, or a part of the face taken for a whole one); such
    detections can repeat often enough to make a tube of full confidence whose box sits
    on, or off, a face nobody can read an expression from. The detector itself can tell:
    turned upright, the face is found on (nearly) every frame. So the detector's runs
    (at most :data:`ORIENTATION_SAMPLE`, spread evenly) are repeated on the frames turned by
    each of :data:`TURNS`, and a turn *wins* when it finds the face in most of these frames
    and in more of them than the frames as they are found the tube's face (a tie keeps the
    frames as they are; "most" keeps a turn's occasional false detections on a face that
    upright runs often miss from outvoting them).
    A detection in a turned frame is the tube's face when, turned back, it shares at least
    half of the smaller box's area with the tube's box at that frame (the temporally
    closest located box where the frame has none): an off-centre or partial false
    detection still lies on the face the turned frame shows whole.

    A turn's runs stop as soon as it has won or cannot win any more, so a tube whose face
    was found on every run costs no run at all, and one found on all but ``k`` runs costs
    at most ``k`` runs per turn.

    Parameters
    ----------
    frame : callable
        ``frame(t)``: frame ``t`` as the detector takes it (uint8).
    detect : callable
        ``detect(frame, where)`` as :func:`skfer.preprocessing.face_detection.as_detector`
        returns it.
    primary : dict of int to (box, score)
        The primary tube's detections, by frame.
    found : dict of int to detector output
        Every frame the detector ran on.
    boxes : ndarray of shape (T, 4)
        The primary face's boxes (NaN where missing).
    status : ndarray of shape (T,)
        Frame statuses (``"missing"`` where no box).
    name : str
        The clip, for the detector's output check ("clip 3").

    Returns
    -------
    Orientation
    """
    runs = np.array(sorted(found))
    if len(runs) > ORIENTATION_SAMPLE:
        runs = runs[np.linspace(0, len(runs) - 1, ORIENTATION_SAMPLE).round().astype(int)]
    upright = sum(int(t) in primary for t in runs)
    need = max(upright, len(runs) // 2)  # a turn wins with more hits than this
    located = np.flatnonzero(status != "missing")
    calls = 0
    for turn in TURNS:
        hits = 0
        for k, t in enumerate(runs):
            if hits > need or hits + len(runs) - k <= need:
                break  # this turn has won, or cannot win any more
            img = frame(int(t))
            turned = np.ascontiguousarray(np.rot90(img, turn // 90))
            found_boxes, _ = detect(turned, f"{name}, frame {t} turned {turn} degrees: ")
            calls += 1
            tube_box = boxes[located[np.abs(located - t).argmin()]]
            for box in found_boxes:
                back = turn_box_back(box, turn, img.shape)
                smaller = min(back[2] * back[3], tube_box[2] * tube_box[3])
                if box_intersection(back, tube_box) >= 0.5 * smaller:
                    hits += 1
                    break
        if hits > need:
            return Orientation(turn, hits, upright, len(runs), calls)
    return Orientation(0, 0, upright, len(runs), calls)
