"""Milliseconds for 64 digits in headless Chromium (onnxruntime-web, wasm) beside native onnxruntime.

Usage:
    python benchmarks/web_speed.py [--model bundled] [--rounds 7] [--calls 5] [--screenshot docs/web_screenshot.png]

Writes a site with ``gantool web --ort node_modules/onnxruntime-web/dist`` (npm ci first), serves it
on 127.0.0.1 with cross-origin isolation, and opens it in Debian's chromium (``/usr/bin/chromium``,
headless, through Playwright) twice: with 1 and with 2 WebAssembly threads (``?threads=N``). Every
candidate draws ``sample(count=64, seed)`` (latents, inference and the uint8 conversion; seeds vary
per call) ``--calls`` times per round, after 3 warm-up calls; rounds interleave the candidates, so
load on the machine hits them alike; medians over every call. The native candidates are
``gantool.runtime.Generator.load(threads=N, spin_wait=...)`` in this process. Also prints the size of
the site with and without ``--ort``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORT_DIST = ROOT / "node_modules" / "onnxruntime-web" / "dist"
COUNT = 64

BROWSER_CALLS = """async ([count, calls, firstSeed]) => {
    const generator = window.gantoolPage.generator;
    const times = [];
    for (let i = 0; i < calls; i++) {
        const started = performance.now();
        await generator.sample({ count, seed: firstSeed + i });
        times.push(performance.now() - started);
    }
    return times;
}"""


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=5, help="timed calls per candidate per round")
    parser.add_argument("--screenshot", type=Path, help="also save a screenshot of the page (seed 0, 64 digits)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from gantool.runtime.generator import Generator
    from gantool.web.serve import serve_in_thread
    from gantool.web.site import build_site

    work = Path(tempfile.mkdtemp(prefix="web_speed."))
    site = build_site(args.model, work / "offline", ort=ORT_DIST)
    cdn_site = build_site(args.model, work / "cdn")
    sizes = {"with --ort": folder_bytes(site.path), "without --ort": folder_bytes(cdn_site.path)}
    server = serve_in_thread(site.path)
    base = f"http://127.0.0.1:{server.server_port}/"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        candidates = {}
        user_agent = ""
        for threads in (1, 2):
            page = browser.new_context().new_page()
            page.on("pageerror", lambda error: sys.exit(f"page error: {error}"))
            page.goto(f"{base}?seed=0&count={COUNT}&threads={threads}")
            page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=120_000)
            if page.evaluate("document.body.dataset.state") != "ready":
                sys.exit(page.inner_text("#error"))
            if threads == 1 and args.screenshot:
                page.set_viewport_size({"width": 1000, "height": 800})
                page.screenshot(path=str(args.screenshot), full_page=True)
            backend = page.evaluate("window.gantoolPage.generator.backend")
            user_agent = page.evaluate("navigator.userAgent")
            page.evaluate(BROWSER_CALLS, [COUNT, 3, 1000])
            name = f"Chromium, onnxruntime-web {backend['version']} wasm SIMD, {backend['threads']} thread(s)"
            candidates[name] = lambda calls, seed, page=page: page.evaluate(BROWSER_CALLS, [COUNT, calls, seed])
        for threads in (1, 2):
            for spin in (True, False):
                generator = Generator.load(args.model, threads=threads, spin_wait=spin)
                for seed in range(3):
                    generator.sample(COUNT, seed)

                def native(calls, seed, generator=generator):
                    times = []
                    for i in range(calls):
                        started = time.perf_counter()
                        generator.sample(COUNT, seed + i)
                        times.append((time.perf_counter() - started) * 1000)
                    return times

                import onnxruntime

                label = f"Python, onnxruntime {onnxruntime.__version__} native, {threads} thread(s)"
                candidates[label + ("" if spin else ", no spin-wait")] = native
        times = {name: [] for name in candidates}
        for round_index in range(args.rounds):
            for name, run in candidates.items():
                times[name] += run(args.calls, 10_000 + round_index * args.calls)
        browser.close()
    server.shutdown()

    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{COUNT} digits, model {args.model}, {args.rounds} rounds x {args.calls} calls, medians; {user_agent}")
    print("| engine | ms for 64 digits | digits/s |")
    print("| --- | --- | --- |")
    for name, median in medians.items():
        print(f"| {name} | {median:.1f} | {COUNT / median * 1000:.0f} |")
    for what, size in sizes.items():
        print(f"site {what}: {size / 1e6:.2f} MB")
    if args.json:
        args.json.write_text(json.dumps({"medians_ms": medians, "site_bytes": sizes, "user_agent": user_agent}, indent=2))


if __name__ == "__main__":
    main()
