"""Deployment: ONNX graphs of networks (:mod:`.graph`) and fitted baselines (:mod:`.estimators`), ONNX Runtime."""
