"""Training: MNIST loading, the DCGAN, and the ``gantool train`` loop.

Importing this package is cheap; TensorFlow is imported inside the functions
that build models or datasets.
"""
