"""jetlab: deep learning on collider jets.

Generate labelled jets with Pythia 8 + FastJet (or read the public datasets), build every
representation the architectures need, train and compare models with the physicists' metrics.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
