"""Write a gantool web site: a static page that samples a generator in the browser.

The site is plain files, no build step: ``index.html`` and ``app.js`` (the page), ``gantool.js``
(the JavaScript runtime, the same API as :mod:`gantool.runtime`) with ``contract.js`` (the contract,
read from the ONNX file), ``random.js`` and ``ziggurat.js`` (numpy's random stream, ported),
``model.onnx`` (the generator, contract inside) and ``ort.json`` (where the page loads
onnxruntime-web from, with each file's integrity); with ``ort``, an ``ort/`` folder holding
onnxruntime-web itself. docs/web.md says how it works.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from gantool.errors import GantoolError
from gantool.web.ort import cdn_config, copy_ort

# Where `gantool web --serve` (and `python -m gantool.web.serve`) previews a site.
DEFAULT_PORT = 8000

# The page's files, copied from the package's static/ folder.
STATIC_FILES = ("index.html", "app.js", "gantool.js", "contract.js", "random.js", "ziggurat.js")
MODEL_NAME = "model.onnx"


@dataclasses.dataclass(frozen=True)
class Site:
    """What :func:`build_site` wrote.

    Args:
        path: the site folder.
        files: its files, relative to ``path``.
        size: their bytes in all.
        model: the model file it was made from.
        ort: where the page loads onnxruntime-web from (the CDN's URL, or ``ort/``).
        ort_version: the onnxruntime-web version it loads.
        notes: what the user should know (a contract read from the graph).
    """

    path: Path
    files: tuple[str, ...]
    size: int
    model: Path
    ort: str
    ort_version: str
    notes: tuple[str, ...] = ()


def static_folder() -> Path:
    return Path(str(resources.files("gantool.web") / "static"))


def check_model(model: str | Path | None):
    """Open ``model`` with the Python runtime and return it, if a page can draw it.

    Raises:
        GantoolError: no such model, not a generator, a .tflite file, or a model that draws no images.
    """
    from gantool.runtime.backends import file_kind
    from gantool.runtime.generator import Generator, resolve_model

    path = resolve_model(model)
    if file_kind(path).format != "onnx":
        raise GantoolError(f"`model` {path} is a {path.suffix} file; a page runs .onnx models (export one with "
                           "gantool export --format onnx)")
    generator = Generator.load(path, threads=1, spin_wait=False)
    if not generator.contract.is_image:
        raise GantoolError(f"`model` {path} draws {generator.contract.output_kind}, not images; a page shows image grids")
    return generator


def check_out(out: Path, force: bool) -> None:
    """Refuse an ``out`` that is a file, or a folder with files in it unless ``force``."""
    from gantool.runtime.files import check_output_folder

    check_output_folder(out)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise GantoolError(f"`out` {out} is a folder with files in it; pass `force` to replace it, or choose another folder")


def build_site(model: str | Path | None, out: str | Path, ort: str | Path | None = None, force: bool = False) -> Site:
    """Write a static site that samples ``model`` in the browser to folder ``out``.

    The site is written to a temporary folder beside ``out`` and renamed onto it when complete,
    so a failure leaves no half-written ``out``; an existing ``out`` is replaced only then.

    Args:
        model: what ``gantool sample`` takes: None or ``bundled``, ``bundled-int8``, or a gantool ``.onnx``.
        out: the site folder to write.
        ort: onnxruntime-web's ``dist/`` folder (of an npm install) to copy into the site, so that it
            works offline; None: the page loads the pinned version from jsDelivr.
        force: replace an ``out`` that has files in it.

    Returns:
        What was written (:class:`Site`).

    Raises:
        GantoolError: a missing or unusable model, an ``ort`` folder without onnxruntime-web's files,
            or an ``out`` that exists and is not empty (without ``force``).

    Example:
        >>> build_site("bundled", "site").files[:2]
        ('app.js', 'gantool.js')
    """
    target = Path(out)
    check_out(target, force)
    generator = check_model(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        for name in STATIC_FILES:
            shutil.copyfile(static_folder() / name, staging / name)
        shutil.copyfile(generator.path, staging / MODEL_NAME)
        config = copy_ort(ort, staging) if ort is not None else cdn_config()
        (staging / "ort.json").write_text(json.dumps(config, indent=2) + "\n")
        _make_readable(staging)
        _replace_folder(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    files = tuple(sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()))
    size = sum((target / name).stat().st_size for name in files)
    return Site(target, files, size, generator.path, config["base"], config["version"],
                tuple(note for note in (generator.contract_note,) if note))


def _make_readable(folder: Path) -> None:
    """mkdtemp makes a 0700 folder: give the site the usual umask-based modes, so a web server can read it."""
    umask = os.umask(0)
    os.umask(umask)
    for path in (folder, *folder.rglob("*")):
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def _replace_folder(staging: Path, target: Path) -> None:
    """Rename ``staging`` onto ``target``; an existing ``target`` is moved aside first and removed after."""
    if not target.exists():
        os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    old.rmdir()
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
