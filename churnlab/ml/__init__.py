"""Training-time code (data fetch, training, ONNX export, evaluation). Serving never imports it."""
