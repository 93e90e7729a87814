"""jetlab.generate."""
