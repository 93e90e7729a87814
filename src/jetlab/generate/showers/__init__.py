"""Offline electromagnetic shower simulation with the GFlash parametrization (hep-ex/0001020).

``simulate(get_geometry("calogan"), "e+", energies_gev, rng)`` returns showers in the array layout and
units of a public dataset: ``calogan`` (CaloGAN, arXiv:1705.02355) or ``challenge2`` (CaloChallenge
dataset 2), both described in :mod:`jetlab.physics.calorimeter`; ``binning_xml`` writes the CaloChallenge
binning file of a cylindrical geometry.
"""

from jetlab.generate.showers.simulate import PARTICLES, simulate
from jetlab.physics.calorimeter import GEOMETRIES, ShowerUsageError, binning_xml, get_geometry

__all__ = ["GEOMETRIES", "PARTICLES", "ShowerUsageError", "binning_xml", "get_geometry", "simulate"]
