"""jetlab.tasks."""
