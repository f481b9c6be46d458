import numpy as np
import pytest

from skfer.base import same_container
from skfer.datasets._labels import EXPRESSIONS, canonical_label
from skfer.utils.validation import check_clip, check_clips, check_sequences


def test_clip_shapes_accepted():
    assert check_clip(np.zeros((4, 8, 8))).shape == (4, 8, 8)
    assert check_clip(np.zeros((4, 8, 8, 3), np.uint8)).shape == (4, 8, 8, 3)
    assert check_clip(np.zeros((8, 8))).shape == (1, 8, 8)  # one image
    assert check_clip([np.zeros((8, 8)), np.ones((8, 8))]).shape == (2, 8, 8)


@pytest.mark.parametrize(
    "clip, pattern",
    [
        (np.zeros((0, 8, 8)), r"clip 5: the clip has zero frames"),
        (np.zeros(8), r"clip 5: expected a clip of shape .* got shape \(8,\)"),
        (np.zeros((2, 8, 8, 2)), r"got shape \(2, 8, 8, 2\)"),
        (np.zeros((32, 32, 3)), r"looks like one colour image"),
        (np.array([[[np.nan]]]), r"clip 5: NaN or infinite pixel value at frame 0"),
        (np.array([["a"]]), r"numeric"),
    ],
)
def test_bad_clip_errors_name_index_and_problem(clip, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        check_clip(clip, index=5)


def test_frames_of_different_sizes():
    with pytest.raises(ValueError, match="frame 0 is \\(8, 8\\) but frame 2 is \\(9, 8\\)"):
        check_clip([np.zeros((8, 8)), np.zeros((8, 8)), np.zeros((9, 8))])


def test_source_in_message_and_colour_policy():
    with pytest.raises(ValueError, match=r"clip 0 \(a.mp4\): colour frames"):
        check_clips([np.zeros((2, 4, 4))], color=True, sources=["a.mp4"])
    with pytest.raises(ValueError, match="grey frames"):
        check_clip(np.zeros((2, 4, 4, 3)), color=False)


def test_check_clips_containers():
    assert len(check_clips(np.zeros((5, 8, 8)))) == 5  # 5 images
    assert check_clips(np.zeros((5, 8, 8)))[0].shape == (1, 8, 8)
    assert check_clips(np.zeros((5, 8, 8, 3)))[0].shape == (1, 8, 8, 3)
    assert check_clips(np.zeros((5, 2, 8, 8)))[0].shape == (2, 8, 8)
    assert check_clips(np.zeros((5, 2, 8, 8, 3)))[0].shape == (2, 8, 8, 3)
    with pytest.raises(ValueError, match="X is empty"):
        check_clips([])
    with pytest.raises(TypeError, match="list of clips"):
        check_clips("video.mp4")
    with pytest.raises(ValueError, match="got shape \\(5, 8\\)"):
        check_clips(np.zeros((5, 8)))


def test_check_sequences():
    seqs = check_sequences(np.arange(6.0).reshape(3, 2))
    assert [s.shape for s in seqs] == [(1, 2)] * 3
    assert check_sequences(np.zeros((2, 4, 3)))[1].shape == (4, 3)
    with pytest.raises(ValueError, match="sequence 1 has 3"):
        check_sequences([np.zeros((2, 2)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match="sequence 0: NaN or infinite value at frame 1"):
        check_sequences([np.array([[0.0], [np.nan]])])
    with pytest.raises(ValueError, match="4 were seen during fit"):
        check_sequences([np.zeros((2, 2))], n_features=4)


def test_same_container():
    clips = [np.ones((2, 3, 3)), np.ones((2, 3, 3))]
    assert isinstance(same_container(clips, clips), list)
    assert same_container(np.ones((2, 2, 3, 3)), clips).shape == (2, 2, 3, 3)
    images = [np.ones((1, 3, 3))] * 4
    assert same_container(np.ones((4, 3, 3)), images).shape == (4, 3, 3)
    ragged = [np.ones((2, 3, 3)), np.ones((1, 3, 3))]
    assert isinstance(same_container(np.ones((2, 2, 3, 3)), ragged), list)


def test_label_vocabulary():
    assert canonical_label(" Happy ") == "happiness"
    assert canonical_label("angry") == "anger"
    assert canonical_label("sad") == "sadness"
    assert set(EXPRESSIONS) == {canonical_label(e) for e in EXPRESSIONS}
    with pytest.raises(ValueError, match=r"unknown expression label 'bored' in x.csv"):
        canonical_label("bored", source="x.csv")
