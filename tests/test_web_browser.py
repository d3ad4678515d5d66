"""gantool web in a real browser: Debian's chromium, headless, driven by Playwright.

The sites are served on 127.0.0.1 by :mod:`gantool.web.serve` (cross-origin isolated). What is
checked: the page's ``sample({count: 16, seed: 11})`` against the Python runtime's uint8 digits of
the bundled model (at most 0.1% of pixels off, by one grey level: onnxruntime-web's WebAssembly
kernels round differently from native onnxruntime's), the grid on the canvas and the PNG download
against ``make_grid``, digits asked for by label and by digit code against ``gantool sample
--digit``, no console error and no page error, a site loading onnxruntime-web from a CDN with
subresource integrity and refusing altered bytes (no network is reached from a test: a stand-in
for jsDelivr on another origin serves the npm package's files), a page without cross-origin isolation running
single-threaded and saying so, and readable messages for models a page cannot use.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import shutil
import threading
from functools import partial

import numpy as np
import pytest

from gantool.runtime.generator import Generator
from gantool.runtime.images import make_grid
from gantool.runtime.sampling import draw
from gantool.web.ort import CDN_BASE
from gantool.web.serve import serve_in_thread
from gantool.web.site import build_site

from .image_folders import COLOUR_CLASSES, colour_generator
from .web_support import CHROMIUM, ROOT, need_browser, need_ort_dist, tiny_generator

pytestmark = pytest.mark.slow  # drives Chromium: the full suite's, not the quick tier's

# The bound: at most this share of pixels may differ from Python's, and by at most one grey level.
MAX_SHARE_OFF = 0.001
SEED, COUNT = 11, 16
TIMEOUT_MS = 60_000


class CdnHandler(http.server.SimpleHTTPRequestHandler):
    """A stand-in for jsDelivr on another origin: the npm package's files, with its CORS and CORP headers."""

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cross-Origin-Resource-Policy", "cross-origin")
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


def start(server: http.server.ThreadingHTTPServer) -> http.server.ThreadingHTTPServer:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """One server on 127.0.0.1 for several sites: offline/ (--ort), cdn/ and cdn_altered/ (onnxruntime-web
    from a stand-in CDN on another origin: the npm files, and a copy with one file altered), and sites
    whose model.onnx a page cannot use."""
    dist = need_ort_dist()
    root = tmp_path_factory.mktemp("web")
    build_site("bundled", root / "offline", ort=dist)
    for kind in ("conditional", "digit_code"):
        tiny_generator(root / "offline" / f"{kind}.onnx", kind)
    colour_generator(root / "offline" / "colours.onnx")
    shutil.copyfile(ROOT / "runtime" / "assets" / "classifier.onnx", root / "offline" / "classifier.onnx")
    cdn_root = tmp_path_factory.mktemp("cdn")
    for folder in ("good", "altered"):
        shutil.copytree(dist, cdn_root / folder, ignore=shutil.ignore_patterns("*.map"), copy_function=os.symlink)
    altered = cdn_root / "altered" / "ort.wasm.min.mjs"
    altered.unlink()
    altered.write_bytes((dist / altered.name).read_bytes() + b"\n// altered")
    cdn = start(http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(CdnHandler, directory=str(cdn_root))))
    build_site("bundled", root / "cdn")
    config = json.loads((root / "cdn" / "ort.json").read_text())
    assert config["base"] == CDN_BASE
    for name, folder in (("cdn", "good"), ("cdn_altered", "altered")):
        if name != "cdn":
            shutil.copytree(root / "cdn", root / name)
        base = f"http://localhost:{cdn.server_port}/{folder}/"  # localhost: another origin than 127.0.0.1
        (root / name / "ort.json").write_text(json.dumps({**config, "base": base}))
    for name, model in (("not_a_generator", ROOT / "runtime" / "assets" / "classifier.onnx"), ("garbage", None),
                        ("digit_code", root / "offline" / "digit_code.onnx"), ("colours", root / "offline" / "colours.onnx")):
        shutil.copytree(root / "offline", root / name, ignore=shutil.ignore_patterns("*.onnx"), copy_function=os.symlink)
        target = root / name / "model.onnx"
        shutil.copyfile(model, target) if model else target.write_bytes(b"\x08\x01garbage" * 100)
    (root / "index.html").write_text("sites")
    server = serve_in_thread(root)
    yield root, f"http://127.0.0.1:{server.server_port}"
    for running in (server, cdn):
        running.shutdown()
        running.server_close()


@pytest.fixture(scope="module")
def browser():
    sync_playwright = need_browser()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def open_page(browser, url: str):
    """A page at ``url`` with its console errors and page errors collected; any request off this machine refused."""
    context = browser.new_context(accept_downloads=True)
    context.route("https://**/*", lambda route: route.abort())
    page = context.new_page()
    errors = []
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.goto(url)
    page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=TIMEOUT_MS)
    return page, errors


def compare(js: np.ndarray, python: np.ndarray) -> tuple[int, int]:
    """(pixels differing, max difference), asserting the bound."""
    diff = np.abs(js.astype(np.int16) - python.astype(np.int16))
    differing, worst = int((diff > 0).sum()), int(diff.max())
    assert worst <= 1 and differing <= MAX_SHARE_OFF * diff.size, f"{differing} of {diff.size} pixels differ, max {worst}"
    return differing, worst


def page_sample(page, model: str | None, **request) -> np.ndarray:
    """``sample(request)`` in the page, of its own generator or of ``model`` loaded by gantool.js."""
    pixels, shape = page.evaluate("""async ([model, request]) => {
        const { Generator } = await import("./gantool.js");
        const generator = model ? await Generator.load(model) : window.gantoolPage.generator;
        const { pixels, shape } = await generator.sample(request);
        return [Array.from(pixels), shape];
    }""", [model, request])
    return np.asarray(pixels, dtype=np.uint8).reshape(shape)


def canvas_grid(page) -> np.ndarray:
    """The grid canvas's grey pixels (its red channel), (height, width)."""
    height, width, red = page.evaluate("""() => {
        const canvas = document.getElementById("grid");
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        return [canvas.height, canvas.width, Array.from(data.filter((_, i) => i % 4 === 0))];
    }""")
    return np.asarray(red, dtype=np.uint8).reshape(height, width)


@pytest.fixture(scope="module")
def python_digits():
    return Generator.load("bundled").sample(COUNT, SEED)


@pytest.fixture(scope="module")
def offline_page(browser, sites):
    _, base = sites
    page, errors = open_page(browser, f"{base}/offline/?seed={SEED}&count={COUNT}&threads=2&digit=3")
    yield page, errors
    page.context.close()


def test_page_draws_the_same_digits_as_python(offline_page, python_digits, tmp_path):
    page, errors = offline_page
    assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#error")
    js = page_sample(page, None, count=COUNT, seed=SEED)
    differing, worst = compare(js, python_digits)
    print(f"\nbrowser vs Python, bundled model, seed {SEED}: {differing} of {js.size} pixels differ, max {worst}")
    status = page.inner_text("#status")
    assert f"{COUNT} samples of digit 3, seed {SEED}:" in status and "wasm · SIMD · 2 threads" in status, status
    assert page.evaluate("crossOriginIsolated")
    # The bundled model's latent names its digit (recipe default): the picker shows the URL's digit.
    assert page.is_visible("#digit-label") and page.input_value("#digit") == "3"
    assert "ignored" not in page.inner_text("#note")
    # The canvas holds gantool sample --digit 3's grid (make_grid: 4 columns, 2 black pixels between digits).
    expected = make_grid(draw(Generator.load("bundled"), COUNT, SEED, 4, digit=3).samples, cols=4)
    compare(canvas_grid(page), expected)
    with page.expect_download() as download:
        page.click("#download")
    from PIL import Image

    png = Image.open(io.BytesIO(download.value.path().read_bytes()))
    assert download.value.suggested_filename == f"gantool_seed{SEED}_count{COUNT}_digit3.png"
    compare(np.asarray(png.convert("L")), expected)
    page.screenshot(path=str(tmp_path / "web.png"), full_page=True)
    assert (tmp_path / "web.png").stat().st_size > 10_000
    assert not errors, errors


def test_digits_by_label_and_by_digit_code_match_python(offline_page, sites):
    page, errors = offline_page
    root, _ = sites
    for kind, digit in (("conditional", None), ("conditional", 3), ("digit_code", 7)):
        generator = Generator.load(root / "offline" / f"{kind}.onnx")
        python = draw(generator, 12, 5, 4, digit=digit).samples
        js = page_sample(page, f"{kind}.onnx", count=12, seed=5, digit=digit)
        compare(js, python)
    assert not errors, errors


def test_url_digit_sets_the_first_grid_of_a_model_that_names_digits(browser, sites):
    root, base = sites
    page, errors = open_page(browser, f"{base}/digit_code/?seed=5&count=12&digit=7")
    try:
        assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#error")
        assert page.is_visible("#digit-label") and page.input_value("#digit") == "7"
        assert "12 samples of digit 7, seed 5:" in page.inner_text("#status")
        python = draw(Generator.load(root / "offline" / "digit_code.onnx"), 12, 5, 4, digit=7).samples
        compare(canvas_grid(page), make_grid(python, cols=4))
        assert not errors, errors
    finally:
        page.context.close()


def test_a_colour_model_s_page_says_images_and_names_its_classes(browser, sites, offline_page):
    root, base = sites
    assert offline_page[0].title() == "gantool: digits drawn in your browser"  # the bundled model draws digits
    page, errors = open_page(browser, f"{base}/colours/?seed=5&count=12&label=b_green")
    try:
        assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#error")
        assert page.title() == "gantool: images drawn in your browser" and "digits" not in page.inner_text("h1")
        assert page.inner_text("#digit-word") == "class" and page.input_value("#digit") == "1"
        names = page.evaluate("[...document.getElementById('digit').options].map((o) => o.text)")
        assert names == ["any", *COLOUR_CLASSES]
        assert "12 samples of b_green, seed 5:" in page.inner_text("#status")
        python = draw(Generator.load(root / "offline" / "colours.onnx"), 12, 5, 4, digit=1).samples
        compare(canvas_grid(page), make_grid(python, cols=4)[..., 0])
        compare(page_sample(page, None, count=12, seed=5, label="b_green"), python)
        assert not errors, errors
    finally:
        page.context.close()


def test_gantool_js_refuses_what_it_cannot_do_with_a_readable_error(offline_page):
    page, errors = offline_page
    messages = page.evaluate("""async () => {
        const { Generator } = await import("./gantool.js");
        const attempts = [
            () => Generator.load("classifier.onnx"),
            () => Generator.load("missing.onnx"),
            () => window.gantoolPage.generator.sample({ count: 2, seed: 0, digit: 12 }),
            () => window.gantoolPage.generator.sample({ count: 2, seed: -1 }),
            () => window.gantoolPage.generator.sample({ count: 0 }),
        ];
        const out = [];
        for (const attempt of attempts) {
            try { await attempt(); out.push("no error"); } catch (error) { out.push(`${error.name}: ${error.message}`); }
        }
        return out;
    }""")
    expected = ["is not a float (batch, latent_dim)", "HTTP 404", "`digit` must be in 0..9, got 12",
                "`seed` must be a non-negative integer", "`count` must be a positive integer"]
    for message, part in zip(messages, expected, strict=True):
        assert message.startswith("GantoolError: ") and part in message, message
    assert not [e for e in errors if "404" not in e], errors


def test_cdn_site_loads_with_subresource_integrity(browser, sites, python_digits):
    _, base = sites
    page, errors = open_page(browser, f"{base}/cdn/?seed={SEED}&count={COUNT}")
    try:
        assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#error")
        compare(page_sample(page, None, count=COUNT, seed=SEED), python_digits)
        assert not errors, errors
    finally:
        page.context.close()


def test_altered_cdn_file_is_refused(browser, sites):
    _, base = sites
    page, errors = open_page(browser, f"{base}/cdn_altered/")
    try:
        assert page.evaluate("document.body.dataset.state") == "error"
        assert "cannot load onnxruntime-web 1.30.0" in page.inner_text("#error")
        assert not [e for e in errors if e.startswith("page error")], errors
    finally:
        page.context.close()


@pytest.mark.parametrize(("site", "message"), [("not_a_generator", "is not a float (batch, latent_dim)"),
                                               ("garbage", "is not a loadable ONNX model")])
def test_unusable_model_shows_a_readable_message(browser, sites, site, message):
    _, base = sites
    page, errors = open_page(browser, f"{base}/{site}/")
    try:
        assert page.evaluate("document.body.dataset.state") == "error"
        assert message in page.inner_text("#error")
        assert page.is_visible("#error")
        assert not [e for e in errors if e.startswith("page error")], errors
    finally:
        page.context.close()


def test_without_isolation_the_page_runs_single_threaded_and_says_so(browser, sites, python_digits):
    root, _ = sites

    class Plain(http.server.SimpleHTTPRequestHandler):  # what python -m http.server sends: no isolation headers
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Plain, directory=str(root / "offline")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page, errors = open_page(browser, f"http://127.0.0.1:{server.server_port}/?seed={SEED}&count={COUNT}")
        assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#error")
        assert not page.evaluate("crossOriginIsolated")
        assert "1 thread · " in page.inner_text("#status") and "single-threaded" in page.inner_text("#status")
        compare(page_sample(page, None, count=COUNT, seed=SEED), python_digits)
        assert not errors, errors
        page.context.close()
    finally:
        server.shutdown()
        server.server_close()
