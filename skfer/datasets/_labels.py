"""One expression-label vocabulary shared by every skfer data set.

Data sets name the same expression differently (``angry``/``anger``, ``happy``/``happiness``,
``sad``/``sadness``). Loaders map their names to :data:`EXPRESSIONS` with
:func:`canonical_label`, and keep the set's own names and order in ``Bunch.source_target_names``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["EXPRESSIONS", "canonical_label", "canonical_labels"]

#: The canonical expression names: the six basic expressions, contempt and neutral, and
#: boredom (an emotion of Emo-DB's speech, not a facial expression of the other sets).
EXPRESSIONS: tuple[str, ...] = (
    "anger",
    "boredom",
    "contempt",
    "disgust",
    "fear",
    "happiness",
    "neutral",
    "sadness",
    "surprise",
)

_ALIASES = {
    "anger": "anger",
    "angry": "anger",
    "an": "anger",
    "ang": "anger",
    "boredom": "boredom",
    "contempt": "contempt",
    "co": "contempt",
    "disgust": "disgust",
    "disgusted": "disgust",
    "di": "disgust",
    "dis": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "fe": "fear",
    "fea": "fear",
    "happiness": "happiness",
    "happy": "happiness",
    "joy": "happiness",
    "ha": "happiness",
    "hap": "happiness",
    "neutral": "neutral",
    "ne": "neutral",
    "neu": "neutral",
    "sadness": "sadness",
    "sad": "sadness",
    "sa": "sadness",
    "surprise": "surprise",
    "surprised": "surprise",
    "su": "surprise",
    "sur": "surprise",
}


def canonical_label(name: str, *, source: str | None = None) -> str:
    """Map a data set's expression name to the canonical vocabulary.

    Parameters
    ----------
    name : str
        The name as the data set writes it (case and surrounding blanks ignored).
    source : str, optional
        Where the name came from (a file), used in the error message.

    Raises
    ------
    ValueError
        If the name is not a known expression.
    """
    key = str(name).strip().lower()
    try:
        return _ALIASES[key]
    except KeyError:
        where = f" in {source}" if source else ""
        aliases = ", ".join(sorted(set(_ALIASES) - set(EXPRESSIONS)))
        raise ValueError(
            f"unknown expression label {name!r}{where}; known labels are "
            f"{', '.join(EXPRESSIONS)} (and the aliases {aliases})"
        ) from None


def canonical_labels(names: Iterable[str], *, source: str | None = None) -> list[str]:
    """Vectorised :func:`canonical_label`."""
    return [canonical_label(n, source=source) for n in names]
