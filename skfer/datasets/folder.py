"""Loader of a generic folder of class subfolders holding videos, frame folders or images."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..io.images import IMAGE_EXTENSIONS, natural_key, read_frame_folder, read_image
from ..io.video import read_video
from ..utils.frame_policy import apply_policy, check_policy
from ._bunch import check_count, check_folder, class_folders, make_bunch

__all__ = ["load_folder"]

_DESCR = """Folder data set
---------------
Read from {root}: {n} clips in {n_classes} class folders ({kinds}). {groups}
"""


def _groups_from_csv(file: Path) -> dict[str, str]:
    with open(file, newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"path", "group"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{file} must have the columns 'path' and 'group', "
                             f"has {reader.fieldnames}")
        return {row["path"].strip().replace("\\", "/"): row["group"].strip() for row in reader}


def _group_of(entry: Path, root: Path, table: dict[str, str] | None,
              group_from: Callable[[str], object] | str | re.Pattern | None) -> object:
    if table is not None:
        rel = entry.relative_to(root).as_posix()
        for key in (rel, entry.name):
            if key in table:
                return table[key]
        raise ValueError(f"{entry} is not listed in {root / 'groups.csv'} "
                         f"(as {rel!r} or {entry.name!r})")
    if callable(group_from):
        return group_from(entry.name)
    m = re.search(group_from, entry.name)
    if m is None:
        raise ValueError(f"group_from pattern {getattr(group_from, 'pattern', group_from)!r} "
                         f"does not match the file name {entry.name!r} ({entry})")
    return m.group(1) if m.re.groups else m.group(0)


def load_folder(
    path: str | os.PathLike,
    *,
    color: bool = True,
    max_frames: int | None = None,
    group_from: Callable[[str], object] | str | re.Pattern | None = None,
    on_missing: str = "warn",
) -> Bunch:
    """Load a folder of class subfolders, each holding videos, frame folders or images.

    Parameters
    ----------
    path : str or path-like
        Folder with one subfolder per class, named with an expression name any data set uses
        (``angry``, ``happiness``, ``sad``, ...). Each entry of a class folder is one clip: a
        subfolder of frame images (one clip, frames in natural order), an image file (a
        one-frame clip), or any other file, read as a video (any format OpenCV or FFmpeg
        reads). Hidden files (``.name``) are ignored.
    color : bool, default=True
        ``True`` gives RGB clips ``(T, H, W, 3)``, ``False`` grey ``(T, H, W)``.
    max_frames : int, optional
        Keep at most this many frames of each video or frame folder.
    group_from : callable or str or re.Pattern, optional
        How to get each clip's group (subject) when there is no ``groups.csv``: a callable
        taking the entry's file name, or a regular expression searched in it (its first
        capture group, else the whole match). A ``groups.csv`` in ``path`` with the columns
        ``path`` (relative to ``path``, or the bare file name) and ``group`` takes precedence.
        Without either, ``groups`` is None.
    on_missing : {"raise", "warn", "ignore"}, default="warn"
        What happens when a video is truncated, holds undecodable frames or changes
        resolution (:func:`skfer.io.read_video`): raise at the first, one warning for the
        whole set, or only record. The records are in ``skipped`` under every policy.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: list of clips, classes in sorted folder order and entries in natural order;
        ``target``; ``groups`` (or None); ``target_names`` / ``source_target_names``:
        canonical and folder names, sorted; ``filenames``; ``fps``: the videos' frame rate
        (``nan`` for images and frame folders); ``kinds``: ``"video"``, ``"frames"`` or
        ``"image"`` per clip; ``skipped``: per clip a tuple of
        :class:`~skfer.utils.frame_policy.SkippedFrames` (``clip_index`` set; empty for
        images, frame folders and whole videos); ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist.
    ValueError
        If it is empty, a class folder name is not an expression, a class folder is empty, an
        image lies outside the class folders, a file cannot be read, frames of one frame
        folder differ in size, a group cannot be found (each naming the folder or file), or
        ``max_frames`` < 1.
    TypeError
        If ``max_frames`` is not an integer.
    SkippedFramesError
        Under ``on_missing="raise"``, if a video is truncated, holds undecodable frames or
        changes resolution (see :func:`skfer.io.read_video`).
    """
    root = check_folder(path, "data set")
    max_frames = check_count(max_frames, "max_frames")
    table = _groups_from_csv(root / "groups.csv") if (root / "groups.csv").is_file() else None
    with_groups = table is not None or group_from is not None
    check_policy(on_missing)
    data, labels, files, groups, fps, kinds, skipped = [], [], [], [], [], [], []
    folders = class_folders(root, "data set")
    for folder in folders:
        entries = sorted((e for e in folder.iterdir() if not e.name.startswith(".")),
                         key=natural_key)
        if not entries:
            raise ValueError(f"class folder {folder} is empty")
        for entry in entries:
            if entry.is_dir():
                clip, rate, kind = read_frame_folder(entry, color=color, max_frames=max_frames), \
                    float("nan"), "frames"
            elif entry.suffix.lower() in IMAGE_EXTENSIONS:
                clip, rate, kind = read_image(entry, color=color)[None], float("nan"), "image"
            else:
                # "warn" is applied once for the whole set below, with clip indices.
                video = read_video(entry, color=color, max_frames=max_frames,
                                   on_missing="raise" if on_missing == "raise" else "ignore")
                clip, rate, kind = video.frames, video.fps, "video"
                skipped.append(tuple(replace(r, clip_index=len(data)) for r in video.skipped))
            if kind != "video":
                skipped.append(())
            data.append(clip)
            labels.append(folder.name)
            files.append(str(entry))
            fps.append(rate)
            kinds.append(kind)
            if with_groups:
                groups.append(_group_of(entry, root, table, group_from))
    group_note = (f"groups from {'groups.csv' if table is not None else 'group_from'}: "
                  f"{len(set(map(str, groups)))} groups." if with_groups else
                  "No groups.csv and no group_from: groups is None.")
    apply_policy([r for clip in skipped for r in clip], on_missing,
                  "left out or letterboxed while reading the videos")
    return make_bunch(
        data, labels, skipped=skipped, source_target_names=[f.name for f in folders],
        filenames=files,
        groups=groups if with_groups else None, fps=np.array(fps), kinds=np.array(kinds),
        descr=_DESCR.format(root=root, n=len(data), n_classes=len(folders),
                            kinds=", ".join(sorted(set(kinds))), groups=group_note),
    )
