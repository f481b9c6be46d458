"""
From real video files to clip descriptors: face tubes, illumination, mouths, time
=================================================================================

Run: ``python examples/video_front_end.py``

Uses the six CREMA-D clips shipped inside skfer (actor 1001, one per emotion, ODbL/DbCL).
EmoNets (Kahou et al., 2015) turned each video into a 48x48 face tube (3.1.3), normalised
the lighting (3.1.1), cropped mouths from 96x96 tubes (3.1.5) and brought per-frame vectors
to a fixed number of frames (3.1.4); this script runs those steps and prints what each one
recorded about the clips.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import Pipeline

from skfer.datasets import load_sample_videos
from skfer.features import HOGFeatures
from skfer.preprocessing import (
    FaceTubeExtractor,
    FrameAggregator,
    IsotropicSmoothing,
    MouthRegion,
)

videos = load_sample_videos()
print(f"{len(videos.data)} clips: " + ", ".join(
    f"{label} ({len(clip)} frames)" for label, clip in zip(videos.target, videos.data)))

# 1. Face tubes: Viola-Jones every 8th frame, tracking between, smoothed boxes, 96x96 crops.
#    The tubes come in a ClipSet whose per-frame "status" companion travels to the
#    FrameAggregator below, which leaves the frames without a face out (EmoNets 3.1.4).
tubes = FaceTubeExtractor(frame_size=(96, 96)).fit_transform(videos.data)
for label, status in zip(videos.target, tubes.get("status")):
    counts = {str(s): int(np.sum(status == s)) for s in np.unique(status)}
    print(f"  {label:<10} frame status: {counts}")

# 2. Mouths (fixed fractional box of the tube, as EmoNets did) and a whole-face descriptor:
#    IS lighting normalisation -> HOG per frame -> 10-frame fixed-length vector.
mouths = MouthRegion(frame_size=(32, 48)).fit_transform(tubes)
print(f"mouth crops: {mouths[0].shape} per clip (frames, height, width)")
descriptor = Pipeline([
    ("light", IsotropicSmoothing(normalize=True)),
    ("hog", HOGFeatures(frame_size=(48, 48))),
    ("time", FrameAggregator(n_frames=10)),
])
X = descriptor.fit_transform(tubes)
print(f"clip descriptors: {X.shape} (clips, 10 frames x 900 HOG values)")

# %%
# The apex (last) frame of every face tube, after the lighting normalisation, and its mouth
# crop: what the descriptor and the bag of mouths read.
lit = IsotropicSmoothing(normalize=True).fit_transform(tubes)
fig, axes = plt.subplots(2, len(videos.data), figsize=(10, 3.6))
for col, label in enumerate(videos.target):
    axes[0, col].imshow(lit[col][-1], cmap="gray")
    axes[0, col].set_title(str(label))
    axes[1, col].imshow(mouths[col][-1], cmap="gray")
for ax in axes.flat:
    ax.set_axis_off()
fig.suptitle("face tubes after isotropic smoothing (top), mouth crops (bottom)")
plt.show()
