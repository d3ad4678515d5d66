"""The onnxruntime-web a page loads: the pinned version, its files and their subresource integrity.

A site loads onnxruntime-web's WebAssembly build: three files of its npm package's ``dist/``
folder (:data:`ORT_FILES`). Without ``ort``, the page fetches them from jsDelivr at the pinned
:data:`ORT_WEB_VERSION`, each checked against the sha384 digest below (subresource integrity:
the browser refuses a file whose bytes differ). With ``ort``, :func:`copy_ort` copies them from a
local npm install into the site, which then needs no network.

The version is the one ``package.json`` pins (``tests/test_web_site.py`` checks that the two agree and
that the digests are those of the installed package's files).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

from gantool.errors import GantoolError

ORT_WEB_VERSION = "1.30.0"
CDN_BASE = f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{ORT_WEB_VERSION}/dist/"
# What the page loads: the WebAssembly-only build's module, its Emscripten glue, the binary.
# Digests of the npm package's files (jsDelivr serves them byte for byte).
ORT_FILES = {
    "ort.wasm.min.mjs": "sha384-SfFfy/pvthiOsgaw3KX0bV5TfQ6Iq+oY9KutMe4SxIuHH4cl+DCSD4rTsYOoG1tJ",
    "ort-wasm-simd-threaded.mjs": "sha384-XcXA/MtAf0WpB8e023xQH9CM7RIjiugakT7x99DIwpFf7k56BIFFcAPerIF7FDad",
    "ort-wasm-simd-threaded.wasm": "sha384-vjBJ1z7qrhkTyYsNqKeF6c7N+nOJSU94czEo+tvZcu8G75JparGq9kB+kTnEUNVM",
}
# The site folder the local copy goes to.
LOCAL_FOLDER = "ort"


def integrity(path: Path) -> str:
    """The subresource-integrity string of a file: ``sha384-`` and its base64 digest."""
    digest = hashlib.sha384(Path(path).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")


def find_ort_files(folder: str | Path) -> Path:
    """The folder holding onnxruntime-web's files: ``folder`` itself or its ``dist/``.

    Args:
        folder: an npm install's ``node_modules/onnxruntime-web/dist`` (or the package folder above it).

    Raises:
        GantoolError: no such folder, or some of :data:`ORT_FILES` are not in it.
    """
    root = Path(folder)
    if not root.is_dir():
        raise GantoolError(f"`ort` {root} is not a folder; pass the dist/ folder of onnxruntime-web "
                           f"({install_hint()})")
    for candidate in (root, root / "dist"):
        if all((candidate / name).is_file() for name in ORT_FILES):
            return candidate
    missing = [name for name in ORT_FILES if not (root / name).is_file()]
    raise GantoolError(f"`ort` {root} lacks onnxruntime-web's {', '.join(missing)}; pass the dist/ folder of "
                       f"onnxruntime-web ({install_hint()})")


def install_hint() -> str:
    return f"npm install onnxruntime-web@{ORT_WEB_VERSION}, then node_modules/onnxruntime-web/dist"


def installed_version(dist: Path) -> str | None:
    """The version in the ``package.json`` beside ``dist`` (None when there is none)."""
    try:
        return str(json.loads((dist.parent / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def copy_ort(source: str | Path, site: Path) -> dict:
    """Copy onnxruntime-web's files from ``source`` into ``site/ort/``; return the page's ``ort.json``.

    The digests are those of the files copied, so the page checks what it was given.
    """
    dist = find_ort_files(source)
    target = site / LOCAL_FOLDER
    target.mkdir()
    files = {}
    for name in ORT_FILES:
        shutil.copyfile(dist / name, target / name)
        files[name] = integrity(target / name)
    return {"version": installed_version(dist) or "unknown", "base": f"./{LOCAL_FOLDER}/", "files": files}


def cdn_config() -> dict:
    """The page's ``ort.json`` for the pinned version on jsDelivr."""
    return {"version": ORT_WEB_VERSION, "base": CDN_BASE, "files": dict(ORT_FILES)}
