"""From raw video to what the models consume.

* face tubes: :class:`FaceTubeExtractor` (EmoNets 3.1.3) with a pluggable detector (an
  estimator such as :class:`HaarFaceDetector`, the default, whose parameters tune through
  the extractor as ``detector__*``) and the box smoothing rules of :mod:`.box_smoothing`;
  the tubes come in a :class:`skfer.ClipSet` with per-frame ``status`` and ``boxes``;
* illumination: :class:`MinMaxImageScaler` (CS229 3.2), :class:`IsotropicSmoothing` (INface IS,
  EmoNets 3.1.1); :class:`LightingChange` adds seeded lighting ramps and flicker (to test
  invariance);
* time: :class:`FrameAggregator` (EmoNets 3.1.4), :class:`TemporalResampler` (DTAGN),
  :class:`FramePooling`;
* mouths: :class:`MouthRegion` (EmoNets 3.4, bag of mouths);
* landmarks: :class:`LandmarkDetector`, :class:`LandmarkNormalizer` (DTAGN eq. 3-4); the
  point schemes' index table is :mod:`skfer.utils.landmark_scheme`.

Boxes are ``(x, y, w, h)`` in pixels everywhere; frame sizes are ``frame_size=(height,
width)``; missing-data policies are ``on_missing={"raise", "warn", "ignore"}``.
"""

from .box_smoothing import box_iou, smooth_tube_boxes
from .face_detection import FaceDetector, HaarFaceDetector, as_detector
from .face_tubes import FaceTube, FaceTubeExtractor, histogram_search
from .illumination import (
    IsotropicSmoothing,
    MinMaxImageScaler,
    isotropic_luminance,
    neumann_laplacian_eigenvalues,
)
from .landmarks import (
    IBUG68_TO_INTRAFACE49,
    NOSE_TIP_INDEX,
    LandmarkDetector,
    LandmarkNormalizer,
    default_predictor_path,
    flip_permutation,
    select_landmarks,
)
from .lighting import LightingChange
from .mouth import MOUTH_BOX, MOUTH_INDICES_68, MouthRegion
from .registration import FaceRegistration
from .temporal import (
    FrameAggregator,
    FramePooling,
    TemporalResampler,
    aggregation_indices,
    resample_positions,
)

__all__ = [
    "FaceDetector",
    "FaceRegistration",
    "FaceTube",
    "FaceTubeExtractor",
    "FrameAggregator",
    "FramePooling",
    "HaarFaceDetector",
    "IBUG68_TO_INTRAFACE49",
    "IsotropicSmoothing",
    "LandmarkDetector",
    "LandmarkNormalizer",
    "LightingChange",
    "MOUTH_BOX",
    "MOUTH_INDICES_68",
    "MinMaxImageScaler",
    "MouthRegion",
    "NOSE_TIP_INDEX",
    "TemporalResampler",
    "aggregation_indices",
    "as_detector",
    "box_iou",
    "default_predictor_path",
    "flip_permutation",
    "histogram_search",
    "isotropic_luminance",
    "neumann_laplacian_eigenvalues",
    "resample_positions",
    "select_landmarks",
    "smooth_tube_boxes",
]
