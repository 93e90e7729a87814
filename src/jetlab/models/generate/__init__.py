"""Generative models of jets (``task="generate"``)."""
