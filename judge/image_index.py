"""Indexing your own images: which files of a folder (or which ``.npz``) are the data, and their fingerprint.

Nothing is decoded here; :mod:`gantool.judge.image_decode` decodes what :func:`index_images` lists.
What counts as data (hidden names, class sub-folders, files beside them) is described once, in
:mod:`gantool.judge.images`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from pathlib import Path

from PIL import Image

from gantool.errors import DataError

HOW_TO_PASS = ("pass `data`: a folder of images (PNG, JPEG, BMP, WebP, GIF, ...), one sub-folder per class "
               "if labelled, or an .npz with a uint8 array 'x'")


@functools.cache
def image_extensions() -> frozenset[str]:
    """Lower-case suffixes (``.png``) of the formats Pillow can open, from its registry."""
    return frozenset(ext for ext, kind in Image.registered_extensions().items() if kind in Image.OPEN)


@dataclasses.dataclass(frozen=True)
class ImageIndex:
    """What :func:`index_images` found.

    Args:
        root: the folder (for an ``.npz``: the folder holding it).
        kind: ``folder`` or ``npz``.
        files: image paths relative to ``root`` (POSIX form), by class then path; the ``.npz``'s name.
        labels: one class index per file; None when unlabeled (an ``.npz`` keeps its labels inside).
        class_names: the class folders' names, sorted (empty when unlabeled).
        ignored: relative paths not used: files beside class folders, files without an image extension.
        fingerprint: sha256 of the files' relative paths, sizes and modification times.
    """

    root: Path
    kind: str
    files: tuple[str, ...]
    labels: tuple[int, ...] | None
    class_names: tuple[str, ...]
    ignored: tuple[str, ...]
    fingerprint: str

    @property
    def where(self) -> Path:
        """The data as the user named it: the folder, or the ``.npz`` file."""
        return self.root / self.files[0] if self.kind == "npz" else self.root


def index_images(data: str | os.PathLike[str]) -> ImageIndex:
    """Index the images of folder ``data`` (recursively) or name the ``.npz`` it is; nothing is decoded.

    Raises:
        DataError: ``data`` does not exist, is another kind of file, or is a folder without any file
            with an image extension.
    """
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(f"`data` {path} does not exist; {HOW_TO_PASS}")
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise DataError(f"`data` {path} is a file but not an .npz; {HOW_TO_PASS}")
        return ImageIndex(path.parent, "npz", (path.name,), None, (), (), _fingerprint(path.parent, [path.name]))
    root_images, root_others = _files_in(path, path, recursive=False)
    classes = {}
    for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images, others = _files_in(folder, path, recursive=True)
        root_others += others
        if images:
            classes[folder.name] = images
    if classes:
        files = [rel for images in classes.values() for rel in images]
        labels = tuple(label for label, images in enumerate(classes.values()) for _ in images)
        ignored = root_images + root_others
    else:
        files, labels, ignored = root_images, None, root_others
    if not files:
        raise DataError(f"`data` {path} holds no file with an image extension; {HOW_TO_PASS}")
    return ImageIndex(path, "folder", tuple(files), labels, tuple(classes), tuple(sorted(ignored)),
                      _fingerprint(path, files))


def _files_in(folder: Path, root: Path, recursive: bool) -> tuple[list[str], list[str]]:
    """(image files, other files) under ``folder`` as sorted POSIX paths relative to ``root``; hidden names skipped."""
    images, others = [], []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for name in names:
            if not name.startswith("."):
                rel = (Path(current) / name).relative_to(root).as_posix()
                (images if Path(name).suffix.lower() in image_extensions() else others).append(rel)
    return sorted(images), sorted(others)


def _fingerprint(root: Path, files) -> str:
    digest = hashlib.sha256()
    for rel in files:
        stat = (root / rel).stat()
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
