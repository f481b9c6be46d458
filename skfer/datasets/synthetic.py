"""Synthetic facial-expression clips from one public-domain face: skfer's embedded data set.

:func:`make_expressions` needs no download. It warps a real face (see
:mod:`skfer.datasets._face_template`) into several synthetic *subjects* (own face geometry, skin
tone, texture, idle expression, possibly mirrored) and animates each from neutral to the apex of a
basic expression by moving groups of the 68 iBUG landmarks, roughly following the action units of
the Facial Action Coding System (brow raiser/lowerer, upper-lid raiser, lid tightener, nose
wrinkler, upper-lip raiser, lip-corner puller/depressor, lip stretcher, lip presser, jaw drop).
Each frame is rendered with a piecewise-affine (Delaunay) warp composed with the head pose
(translation, in-plane rotation, scale), pasted on a background, then lit (global gain, lateral
side-light gradient, colour cast) and corrupted by sensor noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from sklearn.utils import Bunch, check_random_state

from skfer.datasets._face_template import FLIP_PERMUTATION, TEMPLATE_SIZE, load_face_template
from skfer.datasets._labels import canonical_label
from skfer.utils.landmark_scheme import IBUG68_GROUPS
from skfer.utils.pixels import to_grey

__all__ = ["make_expressions", "landmarks_to_box"]

DEFAULT_EXPRESSIONS: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "happiness",
    "sadness",
    "surprise",
)

# iBUG 68-point groups ("right" is the subject's right, the image's left): the scheme's
# groups (skfer.utils.landmark_scheme), then the finer subsets the expression motions move.
_JAW = IBUG68_GROUPS["jaw"]
_BROWS = np.concatenate([IBUG68_GROUPS["right_brow"], IBUG68_GROUPS["left_brow"]])
_INNER_BROWS = np.array([20, 21, 22, 23])
_MID_BROWS = np.array([19, 24])
_OUTER_BROWS = np.array([17, 18, 25, 26])
_NOSE_BOTTOM = IBUG68_GROUPS["lower_nose"]
_EYES = np.concatenate([IBUG68_GROUPS["right_eye"], IBUG68_GROUPS["left_eye"]])
_UPPER_LIDS = np.array([37, 38, 43, 44])
_LOWER_LIDS = np.array([40, 41, 46, 47])
_MOUTH = np.concatenate([IBUG68_GROUPS["outer_lips"], IBUG68_GROUPS["inner_lips"]])
_CORNERS = np.array([48, 54, 60, 64])
_UPPER_LIP = np.array([49, 50, 51, 52, 53, 61, 62, 63])
_LOWER_LIP = np.array([55, 56, 57, 58, 59, 65, 66, 67])
_INNER_LIP = IBUG68_GROUPS["inner_lips"]
_NOSE = np.concatenate([IBUG68_GROUPS["nose_bridge"], IBUG68_GROUPS["lower_nose"]])
_CHEEKS = np.array([1, 2, 3, 4, 12, 13, 14, 15])
# How much each point follows a jaw drop (chin = 1).
_JAW_DROP = {
    3: 0.1,
    4: 0.25,
    5: 0.45,
    6: 0.7,
    7: 0.9,
    8: 1.0,
    9: 0.9,
    10: 0.7,
    11: 0.45,
    12: 0.25,
    13: 0.1,
    55: 0.8,
    56: 0.85,
    57: 0.85,
    58: 0.85,
    59: 0.8,
    65: 0.85,
    66: 0.85,
    67: 0.85,
    48: 0.35,
    54: 0.35,
    60: 0.4,
    64: 0.4,
}
# Region of each landmark, for the per-clip and per-subject "style" gains of the motion.
_REGIONS = {"brows": _BROWS, "lids": _EYES, "nose": _NOSE, "mouth": _MOUTH, "jaw": _JAW}

# Box rule, calibrated on OpenCV's default Haar frontal cascade run on the template (it returns a
# square from about 0.25 face-width above the eyebrows to a little above the chin, cheek to cheek):
# centre = eye centre + _BOX_CENTRE_ALONG_NOSE * (nose tip - eye centre), side = _BOX_SIDE_PER_JAW *
# |landmark 16 - landmark 0|. Both terms ignore brow and mouth motion, so the box does not jump
# with the expression.
_BOX_CENTRE_ALONG_NOSE = 0.45
_BOX_SIDE_PER_JAW = 1.08


def landmarks_to_box(landmarks: np.ndarray) -> np.ndarray:
    """Ground-truth face boxes from 68-point landmarks, comparable to a Viola-Jones detection.

    The box is square, centred at ``e + 0.45 (n - e)`` with ``e`` the mean of the twelve eye
    points (36-47) and ``n`` the nose tip (30), with side ``1.08 |p16 - p0|`` (the jaw width at
    the ears). On the template face this reproduces the box returned by OpenCV's
    ``haarcascade_frontalface_default.xml``: roughly eyebrows (plus a strip of forehead) to just
    above the chin, cheek to cheek.

    Parameters
    ----------
    landmarks : array-like of shape (68, 2) or (T, 68, 2)
        x, y landmarks in iBUG 68-point order.

    Returns
    -------
    boxes : ndarray of shape (4,) or (T, 4)
        ``x, y, w, h`` per face.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape[-2:] != (68, 2):
        raise ValueError(f"landmarks must have shape (..., 68, 2), got {pts.shape}")
    eyes = pts[..., 36:48, :].mean(axis=-2)
    centre = eyes + _BOX_CENTRE_ALONG_NOSE * (pts[..., 30, :] - eyes)
    side = _BOX_SIDE_PER_JAW * np.linalg.norm(pts[..., 16, :] - pts[..., 0, :], axis=-1)
    return np.concatenate([centre - side[..., None] / 2, side[..., None], side[..., None]], axis=-1)


def _outward(points: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """+1 for points right of the face midline (image), -1 left: 'outward' horizontal direction."""
    midline = points[27:31, 0].mean()
    return np.sign(points[idx, 0] - midline)


def _expression_motion(name: str, points: np.ndarray) -> tuple[np.ndarray, bool]:
    """Apex displacement of the 68 landmarks for one expression, in inter-ocular units.

    The motions follow the prototypical action units of each basic expression (Ekman & Friesen's
    FACS; e.g. happiness = AU6 cheek raiser + AU12 lip-corner puller, surprise = AU1+2 brow raiser
    + AU5 upper-lid raiser + AU26 jaw drop). Returns the displacement (y down) and whether teeth
    show when the mouth opens.
    """
    d = np.zeros((68, 2))

    def move(idx, out: float = 0.0, dy: float = 0.0) -> None:
        idx = np.asarray(idx)
        d[idx, 0] += out * _outward(points, idx)
        d[idx, 1] += dy

    def drop(amount: float) -> None:
        for i, w in _JAW_DROP.items():
            d[i, 1] += amount * w

    teeth = False
    if name == "anger":  # AU4 brow lowerer, AU7 lid tightener, AU23/24 lip tightener/presser
        move(_INNER_BROWS, out=-0.06, dy=0.13)
        move(_MID_BROWS, dy=0.08)
        move(_OUTER_BROWS, dy=0.03)
        move(_UPPER_LIDS, dy=0.04)
        move(_LOWER_LIDS, dy=-0.03)
        move(_CORNERS, out=-0.05)
        move(_UPPER_LIP, dy=0.03)
        move(_LOWER_LIP, dy=-0.05)
        move([31, 35], out=0.03)
    elif name == "disgust":  # AU9 nose wrinkler, AU10 upper-lip raiser, AU4
        move(_INNER_BROWS, out=-0.03, dy=0.08)
        move(_UPPER_LIDS, dy=0.02)
        move(_LOWER_LIDS, dy=-0.05)
        move(_NOSE_BOTTOM, dy=-0.05)
        move([31, 35], out=0.03)
        move([30], dy=-0.03)
        move([49, 50, 51, 52, 53], dy=-0.12)
        move([61, 62, 63], dy=-0.10)
        move(_CORNERS, out=-0.02, dy=0.03)
        move([56, 57, 58], dy=-0.03)
        teeth = True
    elif name == "fear":  # AU1+2+4 brows raised and drawn together, AU5, AU20 lip stretcher, AU26
        move(_BROWS, dy=-0.12)
        move(_INNER_BROWS, out=-0.04, dy=-0.06)
        move(_UPPER_LIDS, dy=-0.07)
        move(_LOWER_LIDS, dy=-0.02)
        move(_CORNERS, out=0.10, dy=0.03)
        drop(0.12)
        move(_LOWER_LIP, dy=0.05)
        teeth = True
    elif name == "happiness":  # AU6 cheek raiser, AU12 lip-corner puller
        move(_CORNERS, out=0.10, dy=-0.12)
        move([49, 53], out=0.05, dy=-0.05)
        move([50, 52, 61, 63], dy=-0.03)
        move([55, 59], out=0.06, dy=-0.04)
        move([56, 57, 58], dy=0.03)
        move([65, 66, 67], dy=0.06)
        move(_LOWER_LIDS, dy=-0.05)
        move(_UPPER_LIDS, dy=0.02)
        move(_CHEEKS, out=0.03)
        move(_OUTER_BROWS, dy=0.02)
        teeth = True
    elif name == "sadness":  # AU1+4 inner brow raised, AU15 lip-corner depressor, AU17 chin raiser
        move(_INNER_BROWS, out=-0.03, dy=-0.12)
        move([17, 26], dy=0.05)
        move([18, 25], dy=0.02)
        move(_UPPER_LIDS, dy=0.04)
        move(_CORNERS, out=-0.02, dy=0.12)
        move([49, 53], dy=0.03)
        move([56, 57, 58], dy=-0.04)
        move([65, 66, 67], dy=-0.02)
        move([7, 8, 9], dy=-0.03)
    elif name == "surprise":  # AU1+2 brow raiser, AU5 upper-lid raiser, AU26/27 jaw drop
        move(_BROWS, dy=-0.22)
        move(_UPPER_LIDS, dy=-0.09)
        move(_LOWER_LIDS, dy=0.02)
        drop(0.35)
        move(_CORNERS, out=-0.06)
        move([50, 51, 52], dy=-0.03)
    elif name == "contempt":  # unilateral AU12 + AU14 on the subject's left side
        move([54, 64], out=0.07, dy=-0.07)
        move([53], dy=-0.03)
        move([55], dy=-0.02)
        move([46, 47], dy=-0.02)
    elif name != "neutral":
        raise ValueError(f"no motion model for expression {name!r}")
    return d, teeth


@dataclass
class _Subject:
    """One synthetic person: texture, neutral landmarks, scale unit, idle expression and style."""

    texture: np.ndarray  # (S, S, 3) float32 RGB in [0, 255]
    source_points: np.ndarray  # (68, 2) landmarks of the texture (the template, maybe mirrored)
    points: np.ndarray  # (68, 2) the subject's neutral landmarks in template pixels
    anchors: np.ndarray  # (n_anchor, 2) extra warp points (forehead, neck, canvas border)
    triangles: np.ndarray  # (n_tri, 3) Delaunay triangles over source_points + anchors
    unit: float  # inter-ocular distance in template pixels
    style: dict  # region name -> gain on the expression motion
    mouth_color: np.ndarray


def _delaunay(points: np.ndarray, size: int) -> np.ndarray:
    """Delaunay triangles (vertex indices) of points inside a size x size canvas."""
    subdiv = cv2.Subdiv2D((-2, -2, size + 4, size + 4))
    for x, y in points:
        subdiv.insert((float(x), float(y)))
    tris = subdiv.getTriangleList().reshape(-1, 3, 2)
    # Map the returned vertex coordinates back to indices (nearest input point).
    dist = np.linalg.norm(tris[:, :, None, :] - points[None, None, :, :], axis=-1)
    idx = dist.argmin(axis=-1)
    keep = (dist.min(axis=-1) < 1e-3).all(axis=1) & (np.ptp(np.sort(idx, 1), axis=1) > 0)
    idx = idx[keep]
    return idx[np.array([len(set(t)) == 3 for t in idx], dtype=bool)]


def _anchors(points: np.ndarray, unit: float, size: int) -> np.ndarray:
    """Extra warp points: forehead above the brows, neck below the jaw, and the canvas border."""
    forehead = points[[17, 19, 21, 22, 24, 26]] - [0.0, 0.45 * unit]
    neck = points[[4, 6, 8, 10, 12]] + [0.0, 0.35 * unit]
    s = size - 1.0
    h = s / 2
    border = np.array(
        [[0, 0], [h, 0], [s, 0], [s, h], [s, s], [h, s], [0, s], [0, h]], dtype=np.float64
    )
    return np.vstack([forehead, neck, border])


def _subject_geometry(points: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Per-subject shape offset: face width and length, eye distance and size, nose, mouth."""
    p = points.copy()
    unit = np.linalg.norm(p[42:48].mean(0) - p[36:42].mean(0))
    centre_x = p[27:31, 0].mean()
    eye_y = p[36:48, 1].mean()
    p[_JAW, 0] = centre_x + (p[_JAW, 0] - centre_x) * (1 + rng.uniform(-0.08, 0.08))  # face width
    lower = p[:, 1] > eye_y  # face length below the eye line
    p[lower, 1] = eye_y + (p[lower, 1] - eye_y) * (1 + rng.uniform(-0.07, 0.07))
    spread = rng.uniform(-0.07, 0.07) * unit / 2  # eye distance: eyes and brows move apart together
    left_first = 1.0 if p[36, 0] < p[45, 0] else -1.0
    p[np.r_[17:22, 36:42], 0] -= left_first * spread
    p[np.r_[22:27, 42:48], 0] += left_first * spread
    for eye in (np.arange(36, 42), np.arange(42, 48)):
        c = p[eye].mean(0)
        p[eye] = c + (p[eye] - c) * (1 + rng.uniform(-0.12, 0.12))  # eye size
    p[_BROWS, 1] += rng.uniform(-0.07, 0.07) * unit  # brow height
    nose = rng.uniform(-0.07, 0.07) * unit  # nose length
    p[_NOSE_BOTTOM, 1] += nose
    p[30, 1] += nose
    p[29, 1] += nose / 2
    c = p[33, 0]
    p[_NOSE_BOTTOM, 0] = c + (p[_NOSE_BOTTOM, 0] - c) * (1 + rng.uniform(-0.15, 0.15))  # nose width
    c = p[_MOUTH, 0].mean()
    p[_MOUTH, 0] = c + (p[_MOUTH, 0] - c) * (1 + rng.uniform(-0.12, 0.12))  # mouth width
    p[_MOUTH, 1] += rng.uniform(-0.05, 0.05) * unit  # mouth height
    return p


def _subject_texture(
    image: np.ndarray, points: np.ndarray, rng: np.random.RandomState
) -> np.ndarray:
    """Per-subject appearance: skin tone and tint, contrast, gamma, blotchy texture, moles."""
    size = image.shape[0]
    img = image.astype(np.float32) / 255.0
    img = img ** rng.uniform(0.8, 1.25)  # gamma
    mean = img.mean()
    img = (img - mean) * rng.uniform(0.8, 1.2) + mean  # contrast
    tint = rng.uniform(-1, 1)
    img = (
        img * np.array([1 + 0.07 * tint, 1.0, 1 - 0.07 * tint], np.float32) * rng.uniform(0.6, 1.15)
    )
    # Low-frequency multiplicative texture (skin blotches, shading) plus fine grain.
    low = cv2.resize(
        rng.normal(0, 1, (6, 6)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
    )
    fine = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 0.8)
    img = img * (1 + 0.06 * low + 0.03 * fine)[:, :, None]
    # A few moles/freckles inside the face.
    hull = cv2.convexHull(points[_JAW].astype(np.float32)).reshape(-1, 2)
    moles = np.zeros(img.shape[:2], np.float32)
    for _ in range(rng.randint(0, 5)):
        x, y = rng.uniform(points[_JAW].min(0), points[_JAW].max(0))
        if cv2.pointPolygonTest(hull, (float(x), float(y)), False) > 0:
            cv2.circle(moles, (int(x), int(y)), 1, 1.0, -1)
    moles = cv2.GaussianBlur(moles, (0, 0), 0.7)[:, :, None]  # soft brown spots, not holes
    img = img * (1 - 0.5 * moles) + np.float32([0.35, 0.22, 0.15]) * 0.5 * moles
    return np.clip(img * 255.0, 0, 255)


def _make_subject(
    image: np.ndarray, points: np.ndarray, expressions: list[str], rng: np.random.RandomState
) -> _Subject:
    """Draw one synthetic subject from the template (``expressions`` feed its idle expression)."""
    size = image.shape[0]
    if rng.rand() < 0.5:  # mirrored face: a different-looking person with the same landmark order
        image = image[:, ::-1]
        points = np.column_stack([size - 1 - points[:, 0], points[:, 1]])[FLIP_PERMUTATION]
    source = points
    unit = float(np.linalg.norm(points[42:48].mean(0) - points[36:42].mean(0)))
    # The portrait smiles: take half a smile off so that the neutral face is closer to neutral.
    points = points - 0.5 * _expression_motion("happiness", points)[0] * unit
    points = _subject_geometry(points, rng)
    unit = float(np.linalg.norm(points[42:48].mean(0) - points[36:42].mean(0)))
    # Idle expression: a faint mixture of expressions in the neutral face, so that subjects differ
    # by as much as a weak expression does.
    names = [n for n in expressions if n != "neutral"] or ["happiness"]
    weights = rng.dirichlet(np.ones(len(names))) * rng.uniform(0.0, 0.3)
    idle = sum(w * _expression_motion(n, points)[0] for w, n in zip(weights, names))
    points = points + idle * unit
    anchors = _anchors(source, unit, size)
    return _Subject(
        texture=_subject_texture(image, source, rng),
        source_points=source,
        points=points,
        anchors=anchors,
        triangles=_delaunay(np.vstack([source, anchors]), size),
        unit=unit,
        style={k: rng.uniform(0.8, 1.2) for k in _REGIONS},
        mouth_color=rng.uniform([40, 8, 12], [80, 25, 30]),
    )


def _background(height: int, width: int, rng: np.random.RandomState) -> np.ndarray:
    """A static background: colour gradient, soft blobs and a few blurred rectangles."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height)[:, :, None]
    # Muted colours: a grey level plus a moderate tint.
    c0, c1 = (rng.uniform(30, 220, (2, 1)) + rng.uniform(-45, 45, (2, 3))).astype(np.float32)
    bg = c0 + (c1 - c0) * (ramp - ramp.min()) / (np.ptp(ramp) + 1e-6)
    blobs = cv2.resize(
        rng.normal(0, 1, (4, 5, 3)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    bg = bg + 18 * blobs
    for _ in range(rng.randint(0, 4)):
        x0, y0 = rng.randint(0, width), rng.randint(0, height)
        w, h = rng.randint(10, width // 2), rng.randint(10, height // 2)
        color = tuple(float(c) for c in rng.uniform(30, 220) + rng.uniform(-45, 45, 3))
        cv2.rectangle(bg, (x0, y0), (x0 + w, y0 + h), color, -1)
    return cv2.GaussianBlur(bg, (0, 0), 2.0)


def _head_mask(size: int, points: np.ndarray) -> np.ndarray:
    """Soft elliptical mask of the head (face, hair, top of the neck) in the template canvas."""
    mask = np.zeros((size, size), np.float32)
    cx = points[27:31, 0].mean()
    cy = points[[19, 24, 8], 1].mean()
    axes = (int(0.4 * size), int(0.47 * size))
    cv2.ellipse(mask, (int(round(cx)), int(round(cy))), axes, 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), size / 40)


def _pose_matrices(centre: np.ndarray, scale: float, angle: float, pivot: np.ndarray) -> np.ndarray:
    """2x3 similarity mapping template pixels to frame pixels (pivot -> centre)."""
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    rot = np.array([[c, -s], [s, c]])
    return np.hstack([rot, (centre - rot @ pivot)[:, None]])


@lru_cache(maxsize=4)
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y coordinates of every frame pixel (float32, read-only)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xx.flags.writeable = False
    yy.flags.writeable = False
    return xx, yy


def _render_face(
    subject: _Subject,
    mask: np.ndarray,
    warp_points: np.ndarray,
    pose: np.ndarray,
    height: int,
    width: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-affine warp of the subject texture to ``warp_points``, composed with the pose.

    One ``cv2.remap`` per frame: each frame pixel goes back through the pose to the template
    canvas, finds its destination triangle there and goes back through that triangle's affine map
    to the source texture.
    """
    size = subject.texture.shape[0]
    src = np.vstack([subject.source_points, subject.anchors]).astype(np.float32)
    dst = warp_points.astype(np.float32)
    tri = subject.triangles
    # Triangle-id raster of the deformed face, in the template canvas.
    ids = np.full((size, size), -1, np.int32)
    fixed = np.round(dst * 16).astype(np.int32)
    inverse = np.empty((len(tri), 2, 3), np.float64)
    for k, t in enumerate(tri):
        cv2.fillConvexPoly(ids, fixed[t], int(k), lineType=cv2.LINE_8, shift=4)
        inverse[k] = cv2.getAffineTransform(dst[t], src[t])
    # Frame -> template canvas, then per triangle template canvas -> texture: compose the two
    # affine maps once per triangle instead of once per pixel.
    inv_pose = np.vstack([cv2.invertAffineTransform(pose), [0.0, 0.0, 1.0]])
    composed = (inverse @ inv_pose).astype(np.float32)  # (n_tri, 2, 3)
    xx, yy = _pixel_grid(height, width)
    u = inv_pose[0, 0] * xx + inv_pose[0, 1] * yy + np.float32(inv_pose[0, 2])
    v = inv_pose[1, 0] * xx + inv_pose[1, 1] * yy + np.float32(inv_pose[1, 2])
    k = ids[
        np.clip(np.rint(v), 0, size - 1).astype(np.intp),
        np.clip(np.rint(u), 0, size - 1).astype(np.intp),
    ]
    outside = (u < 0) | (u > size - 1) | (v < 0) | (v > size - 1) | (k < 0)
    k = np.maximum(k, 0)
    map_x = composed[k, 0, 0] * xx + composed[k, 0, 1] * yy + composed[k, 0, 2]
    map_y = composed[k, 1, 0] * xx + composed[k, 1, 1] * yy + composed[k, 1, 2]
    map_x[outside] = -10.0  # outside the head canvas: alpha 0 there
    map_y[outside] = -10.0
    face = cv2.remap(
        subject.texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    alpha = cv2.remap(
        mask, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return face, alpha


def _draw_mouth(
    frame: np.ndarray,
    landmarks: np.ndarray,
    subject: _Subject,
    teeth: bool,
    scale: float,
    rest_opening: float,
) -> None:
    """Paint the mouth cavity (and upper teeth) between the inner lips when the mouth is open."""
    inner = landmarks[_INNER_LIP]
    opening = np.linalg.norm(landmarks[66] - landmarks[62])
    extra = opening - rest_opening  # the template's own (slightly parted) lips are already textured
    if extra < 0.5:
        return
    h, w = frame.shape[:2]
    cavity = np.zeros((h, w), np.float32)
    cv2.fillPoly(cavity, [np.round(inner * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
    layer = np.broadcast_to(subject.mouth_color.astype(np.float32), frame.shape).copy()
    if teeth:
        upper = landmarks[[60, 61, 62, 63, 64]]
        band = np.vstack([upper, (upper + [0.0, 0.45 * opening])[::-1]])
        tmask = np.zeros((h, w), np.float32)
        cv2.fillPoly(tmask, [np.round(band * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
        tmask = np.minimum(tmask, cavity)[:, :, None]
        layer = layer * (1 - tmask) + np.float32([225, 220, 205]) * tmask
    a = cv2.GaussianBlur(cavity, (0, 0), max(0.4, 0.5 * scale))[:, :, None] * min(1.0, extra / 3.0)
    frame *= 1 - a
    frame += a * layer


def _smooth_ramp(n: int, onset: float, peak: float) -> np.ndarray:
    """Expression intensity over n frames: 0 until ``onset``, smoothstep to 1 at ``peak``."""
    t = np.linspace(0.0, 1.0, n)
    z = np.clip((t - onset) / max(peak - onset, 1e-6), 0.0, 1.0)
    return z * z * (3 - 2 * z)


def _clip_poses(n: int, height: int, width: int, unit: float, rng: np.random.RandomState) -> tuple:
    """Head trajectory: centre, scale and in-plane angle per frame (linear drift plus a wobble)."""
    t = np.linspace(0.0, 1.0, n)
    phase = rng.uniform(0, 2 * np.pi, 3)
    face = rng.uniform(0.40, 0.52) * min(height, width)  # jaw width in frame pixels
    scale0 = face / (2.0 * unit)  # template jaw width is about two inter-ocular units
    scale = scale0 * (1 + (rng.uniform(0.88, 1.12) - 1) * t)
    angle = np.deg2rad(
        rng.uniform(-8, 8)
        + (rng.uniform(-8, 8) - rng.uniform(-8, 8)) / 2 * t
        + 1.5 * np.sin(2 * np.pi * t + phase[0])
    )
    start = np.array([width / 2, height / 2]) + rng.uniform(-1, 1, 2) * [
        0.12 * width,
        0.08 * height,
    ]
    drift = rng.uniform(-1, 1, 2) * [0.1 * width, 0.06 * height]
    wobble = 1.5 * np.column_stack([np.sin(3 * t + phase[1]), np.sin(4 * t + phase[2])])
    centre = start + t[:, None] * drift + wobble
    return centre, scale, angle


def _transform(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    return points @ pose[:, :2].T + pose[:, 2]


def _render_clip(
    subject: _Subject,
    mask: np.ndarray,
    expression: str,
    n: int,
    height: int,
    width: int,
    apex: float,
    rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one clip; returns frames (n, H, W, 3) uint8, landmarks (n, 68, 2), intensity (n,)."""
    motion, teeth = _expression_motion(expression, subject.points)
    gains = np.ones(68)
    for region, idx in _REGIONS.items():  # per-subject style times per-clip variation
        gains[idx] = subject.style[region] * rng.uniform(0.75, 1.25)
    motion = motion * gains[:, None] * subject.unit
    # Forehead anchors follow the brows a little, so a brow raise lifts the forehead skin.
    n_anchor = len(subject.anchors)
    anchor_motion = np.zeros((n_anchor, 2))
    anchor_motion[:6, 1] = 0.4 * motion[[17, 19, 21, 22, 24, 26], 1]
    rest_opening = float(np.linalg.norm(subject.source_points[66] - subject.source_points[62]))
    intensity = apex * _smooth_ramp(n, rng.uniform(0.0, 0.3), rng.uniform(0.65, 1.0))

    centre, scale, angle = _clip_poses(n, height, width, subject.unit, rng)
    shapes = subject.points[None] + intensity[:, None, None] * motion[None]
    pivot = np.array([subject.points[27:31, 0].mean(), subject.points[[30, 36, 45], 1].mean()])
    poses = np.stack([_pose_matrices(centre[i], scale[i], angle[i], pivot) for i in range(n)])
    landmarks = np.stack([_transform(shapes[i], poses[i]) for i in range(n)])
    # Keep the whole face in the frame: shift the trajectory, or shrink it if it is too large.
    margin = 2.0
    lo, hi = landmarks.min(axis=(0, 1)), landmarks.max(axis=(0, 1))
    room = np.array([width - 1 - 2 * margin, height - 1 - 2 * margin])
    shrink = min(1.0, float(np.min(room / (hi - lo))))
    if shrink < 1.0:
        mid = (lo + hi) / 2
        centre = mid + (centre - mid) * shrink
        scale = scale * shrink
        poses = np.stack([_pose_matrices(centre[i], scale[i], angle[i], pivot) for i in range(n)])
        landmarks = np.stack([_transform(shapes[i], poses[i]) for i in range(n)])
        lo, hi = landmarks.min(axis=(0, 1)), landmarks.max(axis=(0, 1))
    shift = np.maximum(margin - lo, 0) - np.maximum(
        hi - (np.array([width, height]) - 1 - margin), 0
    )
    poses[:, :, 2] += shift
    landmarks += shift

    background = _background(height, width, rng)
    # Illumination: global gain drifting within the clip, lateral side light, colour cast.
    gain = rng.uniform(0.65, 1.25) * (1 + rng.uniform(-0.15, 0.15) * np.linspace(0, 1, n))
    side = np.linspace(rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), n)
    cast = rng.uniform(0.9, 1.1, 3).astype(np.float32)
    ramp_x = ((np.arange(width, dtype=np.float32) - width / 2) / (width / 2))[None, :, None]
    sigma = rng.uniform(1.5, 5.0)
    noise_rng = np.random.default_rng(rng.randint(0, 2**31 - 1))  # float32 normals, much faster

    frames = np.empty((n, height, width, 3), np.uint8)
    for i in range(n):
        warp_points = np.vstack([shapes[i], subject.anchors + intensity[i] * anchor_motion])
        face, alpha = _render_face(subject, mask, warp_points, poses[i], height, width)
        frame = background * (1 - alpha[:, :, None]) + face * alpha[:, :, None]
        _draw_mouth(frame, landmarks[i], subject, teeth, scale[i], rest_opening * scale[i])
        light = (gain[i] * (1 + side[i] * ramp_x) * cast).astype(np.float32)
        frame = frame * light + np.float32(sigma) * noise_rng.standard_normal(
            frame.shape, dtype=np.float32
        )
        frames[i] = np.clip(np.round(frame), 0, 255).astype(np.uint8)
    return frames, landmarks, intensity


#: Renders of one clip :func:`make_expressions` tries before giving up (``face_check``).
_MAX_RENDERS = 10


def _front_end_check():
    """A function telling whether the named models' face-tube step accepts a clip.

    The step itself decides (its ``on_missing="raise"`` policy), so the generator follows
    whatever the front end accepts rather than a copy of its rules.
    """
    from ..models import face_tube_step
    from ..utils.frame_policy import SkippedFramesError

    extractor = face_tube_step().fit()

    def accepts(clip: np.ndarray) -> bool:
        try:
            extractor.transform([clip])
        except SkippedFramesError:
            return False
        return True

    return accepts


def _frame_counts(
    n_frames: int | tuple[int, int], n_clips: int, rng: np.random.RandomState
) -> np.ndarray:
    if isinstance(n_frames, (int, np.integer)):
        low = high = int(n_frames)
    else:
        low, high = (int(v) for v in n_frames)
    if low < 2 or high < low:
        raise ValueError(
            "n_frames must be an int >= 2 or a (min, max) pair with 2 <= min <= max, got "
            f"{n_frames!r}"
        )
    return rng.randint(low, high + 1, n_clips)


def make_expressions(
    n_subjects: int = 8,
    n_clips_per_expression: int = 2,
    expressions: Sequence[str] = DEFAULT_EXPRESSIONS,
    n_frames: int | tuple[int, int] = (8, 16),
    frame_size: tuple[int, int] = (120, 160),
    color: bool = True,
    low_intensity_fraction: float = 0.3,
    random_state: int | np.random.RandomState | None = None,
    face_check: bool = True,
) -> Bunch:
    """Generate synthetic clips of faces going from neutral to the apex of an expression.

    Every subject is derived from one real public-domain face (the NASA portrait of Eileen
    Collins shipped with scikit-image) by a per-subject shape offset (face width and length, eye
    distance and size, brow height, nose length and width, mouth width and height), appearance
    (gamma, contrast, skin tone, blotchy texture, moles, optional mirroring) and a faint idle
    expression. Each clip animates the subject's landmarks from neutral (intensity 0) to the apex
    (intensity ``apex_intensity``) of one expression along a smoothstep ramp, with action-unit-like
    motions of the brows, eyelids, nose, lips and jaw, scaled per subject and per clip. Frames are
    rendered with a piecewise-affine Delaunay warp under a moving head pose (translation, in-plane
    rotation up to about 10 degrees, scale change up to 12 %), on a random static background, with
    a global illumination gain drifting within the clip, a lateral side-light gradient, a colour
    cast and Gaussian sensor noise.

    Parameters
    ----------
    n_subjects : int, default=8
        Number of synthetic subjects (the ``groups``).
    n_clips_per_expression : int, default=2
        Clips of each expression per subject.
    expressions : sequence of str, default=DEFAULT_EXPRESSIONS
        ``("anger", "disgust", "fear", "happiness", "sadness", "surprise")``.
        Expressions to render; any names accepted by
        :func:`skfer.datasets._labels.canonical_label` (``contempt`` and ``neutral`` included).
    n_frames : int or (int, int), default=(8, 16)
        Frames per clip, fixed or drawn uniformly from the inclusive range.
    frame_size : (int, int), default=(120, 160)
        Frame height and width in pixels (at least 64 each).
    color : bool, default=True
        RGB clips ``(T, H, W, 3)`` if true, grey ``(T, H, W)`` otherwise.
    low_intensity_fraction : float, default=0.3
        Fraction of clips (on average) whose apex intensity is drawn from ``[0.35, 0.65]`` instead
        of ``[0.75, 1.0]``.
    random_state : int, RandomState instance or None, default=None
        Seed of every random choice.
    face_check : bool, default=True
        Give only clips that the named models' face-tube front end
        (:func:`skfer.models.face_tube_step`, which ``skfer train`` and ``skfer evaluate`` run)
        accepts: a clip in which the Haar detector finds no trustworthy face (a face found in
        too few frames, or detections that disagree) is rendered again from a new draw of its
        pose, lighting and noise (same subject, expression and length), at most 10 times.
        Every other clip is exactly what the seed gives without the check. ``False`` skips the
        face detection this costs (about as long as the rendering).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` : list of uint8 clips; ``target`` : ndarray of canonical label strings;
        ``groups`` : ndarray of int subject ids; ``target_names`` : the expressions, in order;
        ``landmarks`` : list of ``(T, 68, 2)`` float arrays (x, y in frame pixels, iBUG order);
        ``boxes`` : list of ``(T, 4)`` float arrays ``x, y, w, h`` from :func:`landmarks_to_box`;
        ``intensity`` : list of ``(T,)`` per-frame expression intensities; ``apex_intensity`` :
        ndarray of the per-clip apex intensity; ``DESCR`` : this description.

    Examples
    --------
    >>> from skfer.datasets.synthetic import make_expressions
    >>> ds = make_expressions(n_subjects=2, n_clips_per_expression=1, random_state=0)
    >>> len(ds.data), ds.data[0].shape[1:], ds.landmarks[0].shape[1:]
    (12, (120, 160, 3), (68, 2))
    """
    if int(n_subjects) < 1 or int(n_clips_per_expression) < 1:
        raise ValueError(
            f"n_subjects and n_clips_per_expression must be >= 1, got {n_subjects}, "
            f"{n_clips_per_expression}"
        )
    names = [canonical_label(e, source="make_expressions(expressions=...)") for e in expressions]
    if not names or len(set(names)) != len(names):
        raise ValueError(
            "expressions must be a non-empty list of distinct expressions, got "
            f"{list(expressions)!r}"
        )
    height, width = (int(v) for v in frame_size)
    if height < 64 or width < 64:
        raise ValueError(f"frame_size must be at least (64, 64), got {frame_size!r}")
    if not 0.0 <= low_intensity_fraction <= 1.0:
        raise ValueError(f"low_intensity_fraction must be in [0, 1], got {low_intensity_fraction}")
    rng = check_random_state(random_state)
    image, points = load_face_template()

    n_clips = int(n_subjects) * len(names) * int(n_clips_per_expression)
    lengths = _frame_counts(n_frames, n_clips, rng)
    subject_seeds = rng.randint(0, 2**31 - 1, int(n_subjects))
    clip_seeds = rng.randint(0, 2**31 - 1, n_clips)
    accepts = _front_end_check() if face_check else None
    data, landmarks, boxes, intensities, apexes, target, groups = [], [], [], [], [], [], []
    k = 0
    for s in range(int(n_subjects)):
        subject = _make_subject(image, points, names, np.random.RandomState(subject_seeds[s]))
        mask = _head_mask(TEMPLATE_SIZE, subject.points)
        for name in names:
            for _ in range(int(n_clips_per_expression)):
                for attempt in range(_MAX_RENDERS):
                    # The first render is the seed's own; later ones draw anew, so a clip
                    # the front end refuses changes and no other clip does.
                    crng = np.random.RandomState(
                        clip_seeds[k] if attempt == 0 else [clip_seeds[k], attempt])
                    low = crng.rand() < low_intensity_fraction
                    apex = crng.uniform(0.35, 0.65) if low else crng.uniform(0.75, 1.0)
                    if name == "neutral":
                        apex = 0.0
                    frames, lms, inten = _render_clip(
                        subject, mask, name, int(lengths[k]), height, width, apex, crng
                    )
                    if not color:
                        frames = to_grey(frames)
                    if accepts is None or accepts(frames):
                        break
                else:
                    raise ValueError(
                        f"make_expressions: no render of clip {k} (subject {s}, {name}) out of "
                        f"{_MAX_RENDERS} has a face the face-tube front end accepts at "
                        f"frame_size={frame_size}; pass face_check=False to keep such clips"
                    )
                data.append(frames)
                landmarks.append(lms)
                boxes.append(landmarks_to_box(lms))
                intensities.append(inten)
                apexes.append(apex)
                target.append(name)
                groups.append(s)
                k += 1
    return Bunch(
        data=data,
        target=np.array(target),
        groups=np.array(groups, dtype=np.int64),
        target_names=np.array(names),
        landmarks=landmarks,
        boxes=boxes,
        intensity=intensities,
        apex_intensity=np.array(apexes),
        DESCR=make_expressions.__doc__,
    )
