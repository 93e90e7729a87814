"""Anomaly detection: autoencoders trained on background jets (``task="anomaly"``)."""
