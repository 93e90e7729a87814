"""jetlab.report."""
