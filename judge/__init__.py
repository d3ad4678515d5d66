"""Judging generated digits: classifier statistics, metrics, evaluation and reports.

TensorFlow-free (numpy + onnxruntime through :mod:`gantool.runtime`). The shipped
classifier itself lives in :mod:`gantool.runtime.classifier`, since ``sample --digit``
filters with it; this package turns its outputs into figures (classifier-FID, MNIST
score, class KL, precision/recall) and compares them with real digits.
"""
