"""jetlab.metrics."""
