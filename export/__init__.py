"""Export: Keras generator -> static graphs (ONNX, TFLite), each validated against its source."""
