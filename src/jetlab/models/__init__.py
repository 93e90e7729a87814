"""jetlab.models."""
