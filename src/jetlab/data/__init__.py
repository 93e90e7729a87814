"""jetlab.data."""
