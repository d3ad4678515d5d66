"""gantool: train a DCGAN digit generator, export it, and run it on edge CPUs.

The top-level package stays import-light: it holds the version, the typed
errors shared by every subpackage and the command line. TensorFlow is only
imported inside the commands that train or export.
"""

__version__ = "0.1.0"

