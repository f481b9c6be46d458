"""Loaders of the extended Cohn-Kanade data set (CK+, Lucey et al. 2010).

Two layouts are read: the original distribution (:func:`load_ckplus`) and the popular 48x48
"CK+48" crop of the last frames of each labelled sequence (:func:`load_ckplus48`). The data is
not shipped with skfer (non-commercial research licence): obtain it from its authors.
"""

from __future__ import annotations

import csv
import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..io.images import list_images, read_image, stack_frames
from ._bunch import check_count, check_folder, class_folders, make_bunch

__all__ = ["CKPLUS_CODES", "load_ckplus", "load_ckplus48", "read_ckplus_landmarks"]

#: CK+ emotion codes of the ``Emotion/*_emotion.txt`` files, in code order.
CKPLUS_CODES: tuple[str, ...] = (
    "neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise",
)

# S005_001_00000011.png: subject, sequence, frame.
_CK_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)$")

_CK_CITE = (
    "Lucey, P., Cohn, J. F., Kanade, T., Saragih, J., Ambadar, Z., Matthews, I. (2010). The "
    "Extended Cohn-Kanade Dataset (CK+): A complete dataset for action unit and "
    "emotion-specified expression. CVPR Workshops, 94-101."
)


def _parse_ck_name(file: Path) -> tuple[str, str, int]:
    m = _CK_NAME.match(file.stem)
    if m is None:
        raise ValueError(
            f"cannot parse CK+ file name {file}: expected Sxxx_nnn_ffffffff.png "
            "(subject, sequence, frame)"
        )
    subject, seq, frame = m.groups()
    return subject, f"{subject}_{seq}", int(frame)


def _ckplus48_rows(root: Path) -> list[tuple[Path, str, str, int, str]]:
    """(file, subject, sequence, frame, label) of every image, from index.csv or file names."""
    index = root / "index.csv"
    if index.is_file():
        rows = []
        with open(index, newline="") as fh:
            reader = csv.DictReader(fh)
            required = {"path", "subject", "sequence", "frame", "label"}
            missing = required - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{index} lacks the column(s) {sorted(missing)}")
            for line, row in enumerate(reader, start=2):
                try:
                    frame = int(row["frame"])
                except ValueError:
                    raise ValueError(
                        f"{index} line {line}: frame {row['frame']!r} is not an integer"
                    ) from None
                file = root / row["path"]
                if not file.is_file():
                    raise FileNotFoundError(f"{index} line {line} lists {row['path']!r}, but "
                                            f"{file} does not exist")
                rows.append((file, row["subject"], row["sequence"], frame, row["label"]))
        if not rows:
            raise ValueError(f"{index} lists no image")
        listed = {r[0].resolve() for r in rows}
        unlisted = sorted(str(f.relative_to(root)) for folder in class_folders(root, "CK+48")
                          for f in list_images(folder) if f.resolve() not in listed)
        if unlisted:
            # index.csv is the set's definition: an image it does not list would be left out
            # silently (and may lack its subject id).
            raise ValueError(f"{len(unlisted)} image(s) of {root} are not listed in {index} "
                             f"({', '.join(unlisted[:3])}{' ...' if len(unlisted) > 3 else ''})"
                             "; add them to index.csv or move them out of the class folders")
        return rows
    rows = []
    for folder in class_folders(root, "CK+48"):
        files = list_images(folder)
        if not files:
            raise ValueError(f"CK+48 class folder {folder} holds no image")
        for file in files:
            subject, seq, frame = _parse_ck_name(file)
            rows.append((file, subject, seq, frame, folder.name))
    if not rows:
        raise ValueError(f"CK+48 folder {root} holds no image in its class folders")
    return rows


def load_ckplus48(path: str | os.PathLike) -> Bunch:
    """Load CK+48: the last frames of each labelled CK+ sequence, grey 48x48, by class folder.

    Parameters
    ----------
    path : str or path-like
        Folder with one subfolder per class (``anger``, ``contempt``, ``disgust``, ``fear``,
        ``happy``, ``sadness``, ``surprise``) and optionally ``index.csv`` with the columns
        ``path, subject, sequence, frame, label``. Without ``index.csv`` subject, sequence and
        frame are parsed from the CK+ file names ``S005_001_00000011.png`` and the label is the
        class folder.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: list of clips ``(T, 48, 48)`` uint8, one per sequence, frames in frame order,
        clips in order of first appearance (``index.csv``) or sorted by class then name;
        ``target``: canonical labels; ``groups``: subject ids (``S010``) for
        subject-independent cross-validation; ``target_names`` / ``source_target_names``: the
        canonical and the folder class names in sorted folder order; ``filenames``: the
        sequence id of each clip; ``frame_ids``: list of int arrays, the CK+ frame numbers;
        ``frame_files``: list of lists of the image files; ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the folder or an image listed in ``index.csv`` is missing (naming the line).
    ValueError
        If the folder is empty, a class folder holds no image, an image lies outside the class
        folders, an image of the class folders is not listed in ``index.csv``, a label is
        unknown, a file name cannot be parsed, an image cannot be read (each naming the
        file), frames of one sequence differ in size, or one sequence carries two labels.
    """
    root = check_folder(path, "CK+48")
    rows = _ckplus48_rows(root)
    by_seq: dict[str, list] = defaultdict(list)
    for row in rows:
        by_seq[row[2]].append(row)  # dict keeps first-appearance order
    data, labels, groups, seqs, frame_ids, frame_files = [], [], [], [], [], []
    for seq, members in by_seq.items():
        members.sort(key=lambda r: r[3])
        seq_labels = {r[4] for r in members}
        if len(seq_labels) > 1:
            raise ValueError(f"CK+48 sequence {seq} carries several labels {sorted(seq_labels)}")
        files = [r[0] for r in members]
        data.append(stack_frames([read_image(f, color=False) for f in files], files))
        labels.append(members[0][4])
        groups.append(members[0][1])
        seqs.append(seq)
        frame_ids.append(np.array([r[3] for r in members]))
        frame_files.append([str(f) for f in files])
    folder_names = sorted({r[4] for r in rows})
    return make_bunch(
        data, labels, source_target_names=folder_names, filenames=seqs, groups=groups,
        frame_ids=frame_ids, frame_files=frame_files, label_files=[f[0] for f in frame_files],
        descr=_DESCR48.format(root=root, n=len(data), n_subjects=len(set(groups))),
    )


_DESCR48 = f"""CK+48 (extended Cohn-Kanade, 48x48 crops)
------------------------------------------
Read from {{root}}: {{n}} clips of {{n_subjects}} subjects.
Each clip holds the last frames (towards the expression apex) of one labelled CK+ posed
sequence, grey 48x48. ``groups`` are the CK+ subject ids: use them (GroupKFold) for
subject-independent evaluation. Non-commercial research licence; not shipped with skfer.

{_CK_CITE}
"""


def read_ckplus_landmarks(path: str | os.PathLike) -> np.ndarray:
    """Read one CK+ landmark file (68 lines ``x y``) as a ``(68, 2)`` float32 array (x, y).

    Raises
    ------
    ValueError
        If the file does not hold 68 pairs of numbers.
    """
    path = Path(path)
    try:
        pts = np.loadtxt(path, dtype=np.float32, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"cannot parse CK+ landmark file {path}: {exc}") from exc
    if pts.shape != (68, 2):
        raise ValueError(f"CK+ landmark file {path} holds {pts.shape} values, expected (68, 2)")
    return pts


def _read_emotion(file: Path) -> int:
    try:
        code = float(file.read_text().split()[0])
    except (IndexError, ValueError):
        raise ValueError(f"CK+ emotion file {file} does not hold a number") from None
    if code != int(code) or not 0 <= code < len(CKPLUS_CODES):
        raise ValueError(f"CK+ emotion file {file} holds code {code}, expected 0-7")
    return int(code)


def load_ckplus(
    path: str | os.PathLike,
    *,
    include_unlabelled: bool = False,
    last_frames: int | None = None,
    color: bool = False,
) -> Bunch:
    """Load the original CK+ distribution: image sequences, emotion labels and landmarks.

    Parameters
    ----------
    path : str or path-like
        Folder holding ``cohn-kanade-images/Sxxx/nnn/*.png``, ``Emotion/Sxxx/nnn/*_emotion.txt``
        (one float code: 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy,
        6 sadness, 7 surprise) and optionally ``Landmarks/Sxxx/nnn/*_landmarks.txt``.
    include_unlabelled : bool, default=False
        CK+ validated an emotion for 327 of its 593 sequences. By default only those are
        loaded and the ids of the others are listed in ``unlabelled_sequences``; with ``True``
        the others are loaded too with the target ``"unlabelled"`` (last in ``target_names``;
        it is not an expression: drop it before training a classifier).
    last_frames : int, optional
        Keep only the last ``last_frames`` frames of each sequence (the apex end; CK+48 keeps
        3). Full sequences of 640x490 frames take gigabytes. ``None`` keeps all; it must be
        >= 1 (``-0`` would keep every frame, a negative value drop the first ones).
    color : bool, default=False
        CK+ is mostly grey; ``True`` returns RGB frames.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: list of clips, sequences sorted by subject then sequence; ``target``;
        ``groups``: subject ids; ``target_names`` / ``source_target_names``: canonical and CK+
        names in code order (0-7); ``filenames``: the sequence folders; ``frame_ids``;
        ``landmarks``: per clip a ``(T, 68, 2)`` float32 array (x, y pixels) or ``None``
        where the sequence has no landmark files (all ``None`` without ``Landmarks/``);
        ``unlabelled_sequences``; ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If ``cohn-kanade-images`` or ``Emotion`` is missing.
    ValueError
        If no sequence is found, an emotion/landmark/image file is malformed (naming it), or
        ``last_frames`` < 1.
    TypeError
        If ``last_frames`` is not an integer.
    """
    root = check_folder(path, "CK+")
    images, emotion, lmk_root = root / "cohn-kanade-images", root / "Emotion", root / "Landmarks"
    for folder in (images, emotion):
        if not folder.is_dir():
            raise FileNotFoundError(f"CK+ folder {root} lacks {folder.name}/")
    seq_dirs = sorted(d for d in images.glob("S*/*") if d.is_dir())
    if not seq_dirs:
        raise ValueError(f"{images} holds no Sxxx/nnn sequence folder")
    last_frames = check_count(last_frames, "last_frames")
    data, labels, groups, files_out, frame_ids, landmarks, unlabelled = [], [], [], [], [], [], []
    for seq_dir in seq_dirs:
        subject, seq = seq_dir.parent.name, seq_dir.name
        emo_files = list((emotion / subject / seq).glob("*_emotion.txt"))
        if not emo_files and not include_unlabelled:
            unlabelled.append(f"{subject}_{seq}")
            continue
        if len(emo_files) > 1:
            raise ValueError(f"sequence {subject}/{seq} has several emotion files {emo_files}")
        label = CKPLUS_CODES[_read_emotion(emo_files[0])] if emo_files else "unlabelled"
        if not emo_files:
            unlabelled.append(f"{subject}_{seq}")
        frames = list_images(seq_dir)
        if not frames:
            raise ValueError(f"CK+ sequence folder {seq_dir} holds no image")
        if last_frames is not None:
            frames = frames[-last_frames:]
        data.append(stack_frames([read_image(f, color=color) for f in frames], frames))
        labels.append(label)
        groups.append(subject)
        files_out.append(str(seq_dir))
        frame_ids.append(np.array([_parse_ck_name(f)[2] for f in frames]))
        lmk_files = [lmk_root / subject / seq / f"{f.stem}_landmarks.txt" for f in frames]
        present = [p.is_file() for p in lmk_files]
        if any(present) and not all(present):
            missing = [str(p) for p, ok in zip(lmk_files, present) if not ok]
            raise ValueError(f"sequence {subject}/{seq} lacks landmark files {missing[:3]}")
        landmarks.append(np.stack([read_ckplus_landmarks(p) for p in lmk_files])
                         if all(present) else None)
    names = list(CKPLUS_CODES)
    if not data:
        raise ValueError(f"CK+ folder {root} holds no labelled sequence")
    bunch = _make_ck_bunch(data, labels, names, files_out, groups, frame_ids, landmarks,
                           include_unlabelled, root)
    bunch.unlabelled_sequences = unlabelled
    return bunch


def _make_ck_bunch(data, labels, names, files, groups, frame_ids, landmarks, include_unlabelled,
                   root) -> Bunch:
    descr = (
        f"CK+ (extended Cohn-Kanade)\n--------------------------\nRead from {root}: "
        f"{len(data)} sequences of {len(set(groups))} subjects, from neutral onset to apex. "
        "``groups`` are subject ids. Non-commercial research licence; not shipped with "
        f"skfer.\n\n{_CK_CITE}\n"
    )
    if include_unlabelled:
        # "unlabelled" is no expression: map it outside make_bunch's canonical vocabulary.
        mask = np.array([lab == "unlabelled" for lab in labels])
        bunch = make_bunch(data, [lab if lab != "unlabelled" else "neutral" for lab in labels],
                           source_target_names=names, filenames=files, groups=groups,
                           frame_ids=frame_ids, landmarks=landmarks, descr=descr)
        target = bunch.target.astype(object)
        target[mask] = "unlabelled"
        bunch.target = target.astype(str)
        bunch.target_names = np.append(bunch.target_names, "unlabelled")
        bunch.source_target_names = np.append(bunch.source_target_names, "unlabelled")
        return bunch
    return make_bunch(data, labels, source_target_names=names, filenames=files, groups=groups,
                      frame_ids=frame_ids, landmarks=landmarks, descr=descr)
