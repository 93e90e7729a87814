"""jetlab.represent."""
