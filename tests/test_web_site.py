"""``gantool web``: the site it writes on the base install (no TensorFlow), its refusals, the pinned
onnxruntime-web and the preview server's headers."""

from __future__ import annotations

import fnmatch
import json
import tomllib
import urllib.request
from pathlib import Path

import pytest

from gantool.errors import GantoolError
from gantool.web.ort import CDN_BASE, ORT_FILES, ORT_WEB_VERSION, cdn_config, integrity
from gantool.web.serve import ISOLATION_HEADERS, make_server, serve_in_thread
from gantool.web.site import MODEL_NAME, STATIC_FILES, build_site, static_folder

from .conftest import run_gantool_without_tensorflow
from .web_support import ROOT, need_ort_dist, tiny_generator

BUNDLED = ROOT / "runtime" / "assets" / "default.onnx"


def leftovers(parent: Path, name: str) -> list[str]:
    """Temporary folders build_site left beside ``name`` (none, if it cleans up)."""
    return [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")]


def test_web_writes_a_site_without_tensorflow(tmp_path):
    out = tmp_path / "site"
    result = run_gantool_without_tensorflow(tmp_path, "web", "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Wrote {out}/ (8 files, ") and f"onnxruntime-web {ORT_WEB_VERSION} from {CDN_BASE}" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted([*STATIC_FILES, MODEL_NAME, "ort.json"])
    assert (out / MODEL_NAME).read_bytes() == BUNDLED.read_bytes()
    assert json.loads((out / "ort.json").read_text()) == cdn_config()
    assert '<script type="module" src="app.js"></script>' in (out / "index.html").read_text()
    assert not leftovers(tmp_path, "site")


def test_web_ort_copies_onnxruntime_web_into_the_site(tmp_path):
    dist = need_ort_dist()
    # The package folder works as well as its dist/.
    site = build_site("bundled-int8", tmp_path / "offline", ort=dist.parent)
    assert site.ort == "./ort/" and site.ort_version == ORT_WEB_VERSION
    config = json.loads((site.path / "ort.json").read_text())
    assert config == {"version": ORT_WEB_VERSION, "base": "./ort/", "files": ORT_FILES}
    for name in ORT_FILES:
        assert (site.path / "ort" / name).read_bytes() == (dist / name).read_bytes()
    assert (site.path / MODEL_NAME).read_bytes() == (ROOT / "runtime" / "assets" / "default_int8.onnx").read_bytes()
    assert site.size == sum((site.path / f).stat().st_size for f in site.files)


def _not_onnx(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"this is not a protobuf" * 10)
    return path


@pytest.mark.parametrize(("args", "message"), [
    (lambda t: ["--model", t / "missing.onnx"], "does not exist"),
    (lambda t: ["--model", "bundeld"], "neither a model file nor a bundled model"),
    (lambda t: ["--model", ROOT / "runtime" / "assets" / "classifier.onnx"], "is not a float (batch, latent_dim)"),
    (lambda t: ["--model", _not_onnx(t)], "is not a loadable ONNX model"),
    (lambda t: ["--model", ROOT / "tests" / "data" / "tiny_generator.tflite"], "a page runs .onnx models"),
    (lambda t: ["--ort", t], "lacks onnxruntime-web's ort.wasm.min.mjs"),
    (lambda t: ["--ort", t / "nowhere"], "is not a folder"),
])
def test_web_refuses_bad_input_in_one_line(tmp_path, args, message):
    out = tmp_path / "site"
    result = run_gantool_without_tensorflow(tmp_path, "web", "--out", out, *args(tmp_path))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr
    assert not out.exists() and not leftovers(tmp_path, "site")


def test_web_refuses_a_points_model(tmp_path):
    model = tiny_generator(tmp_path / "points.onnx", "points")
    with pytest.raises(GantoolError, match="draws points, not images"):
        build_site(model, tmp_path / "site")
    assert not (tmp_path / "site").exists() and not leftovers(tmp_path, "site")


def test_web_keeps_a_folder_with_files_unless_forced(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    result = run_gantool_without_tensorflow(tmp_path, "web", "--out", out)
    assert result.returncode == 2 and "--force" in result.stderr
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    result = run_gantool_without_tensorflow(tmp_path, "web", "--out", out, "--force")
    assert result.returncode == 0, result.stderr
    assert not (out / "mine.txt").exists() and (out / MODEL_NAME).is_file()
    assert not leftovers(tmp_path, "site")
    # A failed --force leaves the old site as it was.
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(GantoolError):
        build_site(tmp_path / "missing.onnx", out, force=True)
    assert sorted(p.name for p in out.iterdir()) == before


def test_web_fills_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    site = build_site(None, tmp_path / "empty")
    assert MODEL_NAME in site.files


def test_pinned_onnxruntime_web_is_package_json_s():
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert package["dependencies"]["onnxruntime-web"] == ORT_WEB_VERSION
    assert lock["packages"]["node_modules/onnxruntime-web"]["version"] == ORT_WEB_VERSION
    dist = need_ort_dist()
    for name, expected in ORT_FILES.items():
        assert integrity(dist / name) == expected, f"{name}: the pinned digest is not the installed file's"


def test_static_files_ship_in_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["gantool.web"]
    for path in static_folder().iterdir():
        assert any(fnmatch.fnmatch(f"static/{path.name}", p) for p in patterns), path.name
    assert set(STATIC_FILES) == {p.name for p in static_folder().iterdir()}


def test_preview_server_sends_cross_origin_isolation_headers(tmp_path):
    site = build_site(None, tmp_path / "site")
    server = serve_in_thread(site.path)
    try:
        base = f"http://127.0.0.1:{server.server_port}/"
        with urllib.request.urlopen(base) as reply:
            for name, value in ISOLATION_HEADERS.items():
                assert reply.headers[name] == value
        with urllib.request.urlopen(base + "gantool.js") as reply:
            assert reply.headers["Content-Type"].startswith("text/javascript")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(GantoolError, match="no index.html"):
        make_server(tmp_path)


def test_python_and_javascript_agree_on_shared_facts():
    """Facts written in both languages: onnxruntime-web's files, the batch per run, the assumed value range,
    the metadata key. One home each in Python; gantool.js and contract.js must say the same."""
    import json
    import re
    from importlib import resources

    from gantool.runtime.contract import ASSUMED_VALUE_RANGE, METADATA_KEY
    from gantool.runtime.generator import DEFAULT_BATCH
    from gantool.web.ort import ORT_FILES

    static = resources.files("gantool.web") / "static"
    gantool_js, contract_js = (static / "gantool.js").read_text(), (static / "contract.js").read_text()

    def constant(source: str, name: str):
        match = re.search(rf"const {name} = (.+?);", source)
        assert match, f"no const {name}"
        return json.loads(match.group(1))

    assert constant(gantool_js, "ORT_FILES") == list(ORT_FILES)
    assert constant(gantool_js, "DEFAULT_BATCH") == DEFAULT_BATCH
    assert tuple(constant(contract_js, "ASSUMED_VALUE_RANGE")) == ASSUMED_VALUE_RANGE
    assert constant(contract_js, "METADATA_KEY") == METADATA_KEY
