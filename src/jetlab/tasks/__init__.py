"""Lightning tasks: classification (and later anomaly detection, generation)."""
