"""Motion bag-of-words with a synchrony autoencoder (EmoNets 3.3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _torch_threads import one_torch_thread  # noqa: F401  (fixture)

from skfer import ClipSet
from skfer.features import Chi2KernelTransformer, MotionBagOfWords
from skfer.neural.synchrony_autoencoder import SynchronyAutoencoderModule

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(
    block_size=(4, 8, 8), superblock_size=(6, 12, 12), stride=(3, 6, 6), n_components=8,
    n_hidden=6, n_descriptor_components=5, n_words=4, n_train_blocks=200, max_epochs=2,
    learning_rate=1e-3, random_state=0,
)


def _clips(n=4, frames=20, size=24, seed=0):
    rng = np.random.RandomState(seed)
    return [rng.rand(frames, size, size) for _ in range(n)]


def test_synchrony_unit_by_hand():
    sae = SynchronyAutoencoderModule(2, 1)
    with torch.no_grad():
        sae.weight.copy_(torch.tensor([[1.0, 2.0]]))
        sae.bias_hidden.fill_(-1.0)
    x = torch.tensor([[1.0, 1.0]])  # f = 3, h = sigmoid(9 - 1), x_hat = h f w
    h = 1 / (1 + np.exp(-8.0))
    assert float(sae.encode(x).detach()) == pytest.approx(h, rel=1e-6)
    np.testing.assert_allclose(sae(x).detach().numpy(), [[3 * h, 6 * h]], rtol=1e-6)


def test_histograms_sum_to_one_and_deterministic():
    clips = _clips()
    bow = MotionBagOfWords(**SMALL).fit(clips)
    hist = bow.transform(clips)
    assert hist.shape == (4, 4) and np.isfinite(hist).all()
    np.testing.assert_allclose(hist.sum(axis=1), 1.0)
    again = MotionBagOfWords(**SMALL).fit(clips).transform(clips)
    np.testing.assert_array_equal(hist, again)
    assert len(bow.loss_curve_) == 2


def test_short_clip_and_too_few_superblocks_are_refused():
    clips = _clips()
    X = ClipSet(clips[:3] + [clips[3][:5]], source=["a", "b", "c", "short.flv"])
    with pytest.raises(ValueError, match=r"clip 3 \(short.flv\): 5 frames"):
        MotionBagOfWords(**SMALL).fit(X)
    with pytest.raises(ValueError, match="training super-blocks"):
        MotionBagOfWords(**{**SMALL, "n_words": 500}).fit(clips)
    with pytest.raises(ValueError, match="must fit in superblock_size"):
        MotionBagOfWords(**{**SMALL, "block_size": (8, 8, 8)}).fit(clips)


def test_smoke_crema_d_face_tubes_end_to_end():
    # A smoke test only: six clips of one actor cannot measure accuracy.
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from skfer.datasets import load_sample_videos
    from skfer.preprocessing import FaceTubeExtractor

    data = load_sample_videos(color=False, audio=False)
    tubes = FaceTubeExtractor(frame_size=(48, 48)).fit_transform(ClipSet.from_bunch(data))
    y = np.asarray(data.target)
    model = make_pipeline(
        MotionBagOfWords(
            **{**SMALL, "superblock_size": (14, 20, 20), "block_size": (10, 16, 16),
               "stride": (7, 10, 10), "n_components": 20, "n_hidden": 16,
               "n_descriptor_components": 10, "n_words": 8, "n_train_blocks": 500}
        ),
        Chi2KernelTransformer(),
        SVC(kernel="precomputed"),
    )
    model.fit(tubes[:5], y[:5])
    pred = model.predict(tubes[5:])
    assert pred.shape == (1,) and pred[0] in set(y[:5])
