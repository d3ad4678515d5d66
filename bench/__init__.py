"""``gantool bench``: run every format of a model side by side on this machine.

A tool above the runtime and the exporters: it reads the format registry
(:mod:`gantool.export.registry`, which imports no converter) and times each file in
its own process (:mod:`gantool.bench.worker`). Exporting a Keras source first needs
the ``train`` extra; benchmarking exported files does not.
"""
