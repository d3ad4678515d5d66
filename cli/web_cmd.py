"""``gantool web``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gantool.cli.app import app, handle_errors
from gantool.web.site import DEFAULT_PORT


@app.command()
@handle_errors
def web(
    out: Annotated[Path, typer.Option(help="The site folder to write (index.html, gantool.js, model.onnx, ...).")],
    model: Annotated[Path | None, typer.Option(help="A gantool .onnx file, bundled or bundled-int8 (default: the bundled model).")] = None,
    ort: Annotated[Path | None, typer.Option(help="onnxruntime-web's dist/ folder (npm install onnxruntime-web) to copy into the site, so it works offline; default: the page loads the pinned version from jsDelivr, checked by subresource integrity.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an --out folder that has files in it.")] = False,
    serve: Annotated[bool, typer.Option("--serve", help="Then serve the site on 127.0.0.1 with cross-origin isolation (threads on) until Ctrl-C.")] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = DEFAULT_PORT,
) -> None:
    """Write a static page that draws a model's digits or images in the browser (onnxruntime-web), the
    same ones as gantool sample for the same seed; a model with named classes gets a class picker.
    No TensorFlow, no build step: serve the folder anywhere.

    \b
    Examples:
      gantool web --out site --serve                    # the bundled model, previewed on http://127.0.0.1:8000/
      gantool web --model g.onnx --out site --ort node_modules/onnxruntime-web/dist
      python -m gantool.web.serve site                  # preview a site written before
    """
    from gantool.web.site import build_site

    site = build_site(model, out, ort=ort, force=force)
    for note in site.notes:
        typer.echo(note, err=True)
    source = "its ort/ folder" if site.ort.startswith("./") else site.ort
    typer.echo(f"Wrote {site.path}/ ({len(site.files)} files, {site.size / 1e6:.2f} MB; model {site.model.name}; "
               f"onnxruntime-web {site.ort_version} from {source})")
    if serve:
        from gantool.web.serve import serve as serve_site

        serve_site(site.path, port, log=typer.echo)
    else:
        typer.echo(f"Preview: python -m gantool.web.serve {site.path}  (or gantool web ... --serve)")
