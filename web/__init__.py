"""gantool web: a static page that samples a generator in the browser with onnxruntime-web.

:func:`build_site` writes the site (``gantool web --model MODEL --out DIR``); the page's
``gantool.js`` mirrors :mod:`gantool.runtime` (``Generator.load``, ``sample``, ``latents``) and draws
the same digits for the same seed. :mod:`gantool.web.serve` previews it on 127.0.0.1 with the
cross-origin isolation headers that let onnxruntime-web use threads. Imports the runtime only (no
TensorFlow).

Example::

    from gantool.web import build_site
    site = build_site("bundled", "site")      # then: python -m gantool.web.serve site
"""

from gantool.web.site import Site, build_site

__all__ = ["Site", "build_site"]
