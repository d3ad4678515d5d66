"""Serve a gantool web site on 127.0.0.1 with the headers that let onnxruntime-web use threads.

WebAssembly threads need ``SharedArrayBuffer``, which a browser gives only to a cross-origin
isolated page: one served with ``Cross-Origin-Opener-Policy: same-origin`` and
``Cross-Origin-Embedder-Policy: require-corp``. ``python -m http.server`` sends neither (the page
then runs single-threaded and says so); this server sends both.

Usage: ``gantool web --model bundled --out site --serve``, or for a site already written
``python -m gantool.web.serve site --port 8000``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
from pathlib import Path

from gantool.errors import GantoolError
from gantool.web.site import DEFAULT_PORT

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with cross-origin isolation headers, uncached, quiet unless ``verbose``."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript",
                      ".mjs": "text/javascript", ".wasm": "application/wasm", ".onnx": "application/octet-stream",
                      ".json": "application/json"}
    verbose = False

    def end_headers(self) -> None:
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        if self.verbose:
            super().log_message(format, *args)


def make_server(folder: str | Path, host: str = "127.0.0.1", port: int = 0,
                verbose: bool = False) -> http.server.ThreadingHTTPServer:
    """A server of ``folder`` (not yet serving; ``port`` 0 picks a free one: see ``server.server_port``).

    Raises:
        GantoolError: ``folder`` is not a site, or the port is taken.
    """
    site = Path(folder)
    if not (site / "index.html").is_file():
        raise GantoolError(f"{site} has no index.html; write a site first with gantool web --out {site}")
    handler = functools.partial(type("Handler", (IsolatedHandler,), {"verbose": verbose}), directory=str(site))
    try:
        return http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise GantoolError(f"cannot serve on {host}:{port} ({exc.strerror}); pass another `port`") from None


def serve_in_thread(folder: str | Path, host: str = "127.0.0.1", port: int = 0) -> http.server.ThreadingHTTPServer:
    """Start serving ``folder`` in a daemon thread; ``server.shutdown()`` stops it."""
    server = make_server(folder, host, port)
    threading.Thread(target=server.serve_forever, daemon=True, name="gantool-web").start()
    return server


def serve(folder: str | Path, port: int = DEFAULT_PORT, host: str = "127.0.0.1", log=print) -> None:
    """Serve ``folder`` until Ctrl-C."""
    server = make_server(folder, host, port, verbose=True)
    log(f"Serving {folder} at http://{host}:{server.server_port}/ (cross-origin isolated: threads on); Ctrl-C stops")
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            log("Stopped")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gantool.web.serve", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a site written by gantool web")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args()
    try:
        serve(args.folder, args.port)
    except GantoolError as exc:
        parser.exit(2, f"error: {exc}\n")


if __name__ == "__main__":
    main()
